"""The 0001_dppdl migration deploys Dppdl once; a second run is up to date; clients load it."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from dppdl.chain import paths
from dppdl.chain.clients import CONTRACT_NAME, DppdlClient
from dppdl.chain.compiler import Artifact
from dppdl.chain.deploy import run_migrations
from dppdl.chain.deployment import load_deployment

pytestmark = pytest.mark.contracts


def test_migration_deploys_once_and_client_loads(
    w3: Web3, dev_accounts: list[LocalAccount], artifacts: dict[str, Artifact],
    chain_snapshot: str, tmp_path: Path,
) -> None:
    # Execute
    first = run_migrations(account=dev_accounts[0], w3=w3, deployment_dir=tmp_path,
                           migrations_dir=paths.migrations_dir(), artifacts=artifacts)
    second = run_migrations(account=dev_accounts[0], w3=w3, deployment_dir=tmp_path,
                            migrations_dir=paths.migrations_dir(), artifacts=artifacts)
    # Assert
    assert CONTRACT_NAME in first.contracts and not first.up_to_date
    assert second.up_to_date and not second.deployed
    address = first.contracts[CONTRACT_NAME].address
    assert second.contracts[CONTRACT_NAME].address == address
    client = DppdlClient.from_deployment(load_deployment(w3=w3, deployment_dir=tmp_path), w3)
    assert client.address == address and client.task_count() == 0
