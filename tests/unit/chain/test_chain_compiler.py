"""The compiler front end: artifacts, digest cache, solc errors, size warning, missing packages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dppdl.chain import compiler, paths
from dppdl.chain.compiler import Artifact, CompileError, ContractSizeWarning, compile_contracts
from dppdl.errors import UserError

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures" / "contracts"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Artifact]]:
    """The fixture contracts copied to a temp dir and compiled once: (sources, build, artifacts)."""
    root = tmp_path_factory.mktemp("compiler")
    shutil.copytree(FIXTURES, root / "src")
    return root / "src", root / "build", compile_contracts(
        source_dir=root / "src", build_dir=root / "build")


def test_artifacts_hold_abi_code_and_digests(compiled: tuple[Path, Path, dict[str, Artifact]]
                                             ) -> None:
    _, build, artifacts = compiled
    assert set(artifacts) == {"Counter", "Registry"}
    counter = artifacts["Counter"]
    assert counter.source == "Counter.sol"
    assert counter.compiler_version.startswith("0.8.30+commit.")
    assert counter.bytecode.startswith("0x6") and counter.deployable
    assert counter.bytecode_digest == compiler.bytecode_digest(counter.bytecode)
    assert counter.abi_digest == compiler.abi_digest(counter.abi)
    assert {e["name"] for e in counter.abi if e["type"] == "error"} == {
        "CounterTooLarge", "CounterNotOwner"}
    assert (build / "Counter.json").exists()


def test_unchanged_sources_hit_the_cache(compiled: tuple[Path, Path, dict[str, Artifact]],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sources, build, first = compiled
    monkeypatch.setattr(compiler, "_run_solc", lambda *a: pytest.fail("solc ran on a cache hit"))
    assert compile_contracts(source_dir=sources, build_dir=build) == first


def test_oversized_contract_warns(compiled: tuple[Path, Path, dict[str, Artifact]],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sources, build, _ = compiled
    monkeypatch.setattr(compiler, "MAX_DEPLOYED_SIZE", 500)  # Counter is ~770 bytes
    with pytest.warns(ContractSizeWarning, match="Counter"):
        compile_contracts(source_dir=sources, build_dir=build)


def test_comment_change_keeps_bytecode_digest_but_code_change_does_not(
    compiled: tuple[Path, Path, dict[str, Artifact]], tmp_path: Path
) -> None:
    # Prepare
    _, _, first = compiled
    src = tmp_path / "src"
    shutil.copytree(FIXTURES, src)
    counter_sol = src / "Counter.sol"
    # Execute
    counter_sol.write_text(counter_sol.read_text() + "\n// a comment\n")
    commented = compile_contracts(source_dir=src, build_dir=tmp_path / "b")
    counter_sol.write_text(counter_sol.read_text().replace("next > limit", "next >= limit + 1"))
    changed = compile_contracts(source_dir=src, build_dir=tmp_path / "b")
    # Assert
    assert commented["Counter"].bytecode_digest == first["Counter"].bytecode_digest
    assert changed["Counter"].bytecode_digest != first["Counter"].bytecode_digest
    assert changed["Registry"].bytecode_digest == first["Registry"].bytecode_digest


def test_solc_errors_surface_with_their_message(tmp_path: Path) -> None:
    src = tmp_path / "bad"
    src.mkdir()
    (src / "Bad.sol").write_text("pragma solidity ^0.8.0; contract Bad { function f( }")
    with pytest.raises(CompileError, match="ParserError"):
        compile_contracts(source_dir=src, build_dir=tmp_path / "b")


def test_missing_sources_and_packages_are_one_line_user_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no Solidity sources"):
        compile_contracts(source_dir=empty, build_dir=tmp_path / "b")
    monkeypatch.setattr(paths, "devnet_dir", lambda: tmp_path / "nodevnet")
    with pytest.raises(UserError, match="make bootstrap"):
        compile_contracts(source_dir=FIXTURES, build_dir=tmp_path / "b")
