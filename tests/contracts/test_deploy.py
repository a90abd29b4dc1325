"""Migrations on a real Anvil: idempotent, restart-aware, explicit redeploy, one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from dppdl.chain.compiler import Artifact, compile_contracts
from dppdl.chain.deploy import MigrationError, run_migrations
from dppdl.chain.deployment import (
    Deployment,
    DeploymentChainMismatchError,
    load_deployment,
    write_record,
)
from dppdl.chain.reverts import revert_class
from dppdl.errors import DeploymentMissingError

pytestmark = pytest.mark.contracts

FIXTURES = Path(__file__).parent / "fixtures"
STEPS = FIXTURES / "migrations"


def _run(w3: Web3, account: LocalAccount, tmp: Path, artifacts: dict[str, Artifact], *,
         migrations_dir: Path = STEPS, redeploy: bool = False) -> Deployment:
    return run_migrations(w3=w3, account=account, deployment_dir=tmp / "deployments",
                          migrations_dir=migrations_dir, artifacts=artifacts, redeploy=redeploy)


def test_second_run_deploys_nothing_and_says_up_to_date(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str, tmp_path: Path,
) -> None:
    # Execute
    first = _run(w3, dev_accounts[0], tmp_path, fixture_artifacts)
    block = w3.eth.block_number
    second = _run(w3, dev_accounts[0], tmp_path, fixture_artifacts)
    # Assert
    assert first.deployed == ["Counter", "Registry"] and not first.up_to_date
    assert first.steps_run == ["0001_counter", "0002_registry"]
    assert second.up_to_date and second.deployed == [] and second.steps_run == []
    assert any(m.startswith("up to date: 2 contracts on chain 31337") for m in second.log)
    assert w3.eth.block_number == block  # not a single transaction
    rec = second.contracts["Counter"]
    assert rec.address == first.address("Counter")
    assert rec.bytecode_digest == fixture_artifacts["Counter"].bytecode_digest
    assert rec.abi_digest == fixture_artifacts["Counter"].abi_digest
    assert rec.compiler_version.startswith("0.8.30")
    assert w3.eth.get_transaction_receipt(rec.tx_hash)["blockNumber"] == rec.block_number
    registry = second.contract(w3, "Registry")
    assert registry.functions.counter().call() == rec.address  # the wiring step ran


def test_fresh_chain_state_under_the_same_chain_id_redeploys(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str, tmp_path: Path,
) -> None:
    # Prepare: deploy, then wind the chain back as a restarted Anvil would be
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    _run(w3, dev_accounts[0], tmp_path, fixture_artifacts)
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    with pytest.raises(DeploymentMissingError, match="not at its recorded address"):
        load_deployment(w3=w3, deployment_dir=tmp_path / "deployments")
    # Execute
    again = _run(w3, dev_accounts[0], tmp_path, fixture_artifacts)
    # Assert
    assert again.deployed == ["Counter", "Registry"]
    assert any("no code at" in m for m in again.log)
    loaded = load_deployment(w3=w3, deployment_dir=tmp_path / "deployments")
    assert loaded.contract(w3, "Counter").functions.limit().call() == 10


def test_changed_bytecode_is_reported_and_replaced_only_with_redeploy(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str, tmp_path: Path,
) -> None:
    # Prepare: deploy, then change the Counter's code
    first = _run(w3, dev_accounts[0], tmp_path, fixture_artifacts)
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "contracts", src)
    counter_sol = src / "Counter.sol"
    counter_sol.write_text(counter_sol.read_text().replace("next > limit", "next >= limit + 1"))
    changed = compile_contracts(source_dir=src, build_dir=tmp_path / "build")
    # Execute
    kept = _run(w3, dev_accounts[0], tmp_path, changed)
    replaced = _run(w3, dev_accounts[0], tmp_path, changed, redeploy=True)
    after = _run(w3, dev_accounts[0], tmp_path, changed)
    # Assert
    assert kept.stale == {"Counter": "bytecode changed"} and kept.deployed == []
    assert kept.address("Counter") == first.address("Counter")
    assert any("--redeploy" in m for m in kept.log)
    assert replaced.deployed == ["Counter"]  # the Registry's code did not change
    new_counter = replaced.address("Counter")
    assert new_counter != first.address("Counter")
    assert replaced.address("Registry") == first.address("Registry")
    assert "0002_registry" in replaced.steps_run  # the wiring step ran again...
    assert replaced.contract(w3, "Registry").functions.counter().call() == new_counter
    assert after.up_to_date and after.stale == {}


def test_failing_step_raises_decoded_and_keeps_earlier_deployments(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str, tmp_path: Path,
) -> None:
    # Prepare: a second step whose wiring call reverts with a custom error
    steps = tmp_path / "steps"
    steps.mkdir()
    shutil.copy(STEPS / "0001_counter.py", steps)
    (steps / "0002_bad.py").write_text(
        "def migrate(ctx):\n"
        "    ctx.deploy('Registry')\n"
        "    ctx.send(ctx.contract('Registry').functions.setCounter("
        "'0x0000000000000000000000000000000000000000'))\n"
    )
    # Execute / Assert
    with pytest.raises(revert_class("RegistryZeroAddress")):
        _run(w3, dev_accounts[0], tmp_path, fixture_artifacts, migrations_dir=steps)
    kept = load_deployment(w3=w3, deployment_dir=tmp_path / "deployments")
    assert set(kept.contracts) == {"Counter", "Registry"}
    (steps / "0003_nomigrate.py").write_text("x = 1\n")
    (steps / "0002_bad.py").unlink()
    with pytest.raises(MigrationError, match="defines no `migrate"):
        _run(w3, dev_accounts[0], tmp_path, fixture_artifacts, migrations_dir=steps)


def test_missing_and_foreign_records_are_one_line_errors(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str, tmp_path: Path,
) -> None:
    with pytest.raises(DeploymentMissingError,
                       match=r"no deployment for chain 31337 in .*; run `dppdl deploy --rpc"):
        load_deployment(w3=w3, deployment_dir=tmp_path / "none")
    dep = _run(w3, dev_accounts[0], tmp_path, fixture_artifacts)
    foreign = tmp_path / "foreign.json"
    dep.chain_id = 5
    write_record(dep, foreign)
    with pytest.raises(DeploymentChainMismatchError, match="is for chain 5"):
        load_deployment(w3=w3, path=foreign)
