"""Fixtures for the Dppdl contract tests: one deployment per session, a snapshot per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dppdl_world import World
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from dppdl.chain.clients import CONTRACT_NAME
from dppdl.chain.compiler import Artifact
from dppdl.chain.tx import TxSender


@pytest.fixture(scope="session")
def dppdl_contract(w3: Web3, dev_accounts: list[LocalAccount],
                   artifacts: dict[str, Artifact]) -> Contract:
    """The Dppdl contract deployed once on the session Anvil by the last dev account."""
    art = artifacts[CONTRACT_NAME]
    address, _ = TxSender(w3, dev_accounts[-1]).deploy(art)
    return w3.eth.contract(address=address, abi=art.abi)


@pytest.fixture
def world(dppdl_contract: Contract, chain_snapshot: str, w3: Web3,
          dev_accounts: list[LocalAccount]) -> Iterator[World]:
    """Requester = dev account 0, parties = dev accounts 1..8; the chain reverts afterwards."""
    yield World(w3=w3, contract=dppdl_contract, accounts=dev_accounts[:9])
