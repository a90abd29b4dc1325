"""Deployment records and migration discovery, without a node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dppdl.chain.deploy import MigrationError, discover_steps
from dppdl.chain.deployment import (
    ContractRecord,
    Deployment,
    DeploymentChainMismatchError,
    StepRecord,
    read_record,
    record_path,
    write_record,
)
from dppdl.errors import UserError


def _deployment() -> Deployment:
    rec = ContractRecord(
        name="Counter", address="0x5FbDB2315678afecb367f032d93F642f64180aa3", tx_hash="0x01",
        block_number=1, abi_digest="a", bytecode_digest="b", args_digest="c",
        compiler_version="0.8.30", step="0001_counter", deployed_at="t", abi=[],
    )
    step = StepRecord(name="0001_counter", source_digest="d", ran_at="t",
                      uses={"Counter": rec.address}, deploys=["Counter"], tx_hashes=["0x01"])
    return Deployment(chain_id=31337, deployer="0xabc", contracts={"Counter": rec},
                      steps={"0001_counter": step})


def test_record_roundtrips_through_the_file(tmp_path: Path) -> None:
    dep = _deployment()
    path = record_path(tmp_path, 31337)
    write_record(dep, path)
    loaded = read_record(path, chain_id=31337)
    assert path.name == "31337.json"
    assert loaded is not None
    assert loaded.to_json() == dep.to_json()
    assert loaded.address("Counter") == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert read_record(tmp_path / "1.json", chain_id=1) is None


def test_record_for_another_chain_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "31337.json"
    write_record(_deployment(), path)
    with pytest.raises(DeploymentChainMismatchError, match="is for chain 31337.*chain 1;"):
        read_record(path, chain_id=1)


def test_bad_records_are_user_errors(tmp_path: Path) -> None:
    (tmp_path / "1.json").write_text("{not json")
    (tmp_path / "2.json").write_text(json.dumps({"format": 99, "chain_id": 2}))
    with pytest.raises(UserError, match="not valid JSON"):
        read_record(tmp_path / "1.json", chain_id=1)
    with pytest.raises(UserError, match="format 99"):
        read_record(tmp_path / "2.json", chain_id=2)
    with pytest.raises(UserError, match="no contract 'Nope'"):
        _deployment().address("Nope")


def test_steps_are_discovered_in_order_and_validated(tmp_path: Path) -> None:
    for name in ("0002_wire.py", "0001_core.py", "README.md", "_helper.py", "12_bad.py"):
        (tmp_path / name).write_text("")
    assert [p.name for p in discover_steps(tmp_path)] == ["0001_core.py", "0002_wire.py"]
    (tmp_path / "0002_again.py").write_text("")
    with pytest.raises(MigrationError, match="share the number 0002"):
        discover_steps(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MigrationError, match="no migration steps"):
        discover_steps(empty)
