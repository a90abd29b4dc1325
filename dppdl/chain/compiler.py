"""Compile contracts/ with the pinned solc (py-solc-x over our solcjs wrapper), cached by digest."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

from dppdl.chain import paths
from dppdl.errors import ChainError, UserError
from dppdl.files import atomic_write

log = logging.getLogger(__name__)

# EIP-170: the largest deployed bytecode mainnet accepts (devnets may allow more).
MAX_DEPLOYED_SIZE = 24_576
# Bumped when the layout of the cache file changes.
CACHE_FORMAT = 1

SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    # Ganache 7.9 lacks Cancun opcodes (MCOPY, TSTORE): shanghai runs on both devnets.
    "evmVersion": "shanghai",
    # No metadata hash in the bytecode: comments and whitespace do not change the digest.
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
    },
}


class CompileError(ChainError, UserError):
    """solc rejected the sources; the message holds solc's own error messages."""


class ContractSizeWarning(UserWarning):
    """A contract's deployed bytecode exceeds the EIP-170 limit of 24,576 bytes."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    source: str  # source path relative to the source dir, e.g. "Points.sol"
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-prefixed hex ("0x" for interfaces)
    deployed_bytecode: str  # runtime code, 0x-prefixed hex
    abi_digest: str  # sha256 hex of the canonical ABI JSON
    bytecode_digest: str  # sha256 hex of the creation code bytes
    compiler_version: str  # e.g. "0.8.30+commit.73712a01"

    @property
    def deployable(self) -> bool:
        return len(self.bytecode) > 2

    @property
    def deployed_size(self) -> int:
        return (len(self.deployed_bytecode) - 2) // 2


def abi_digest(abi: list[dict[str, Any]]) -> str:
    canonical = json.dumps(abi, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def bytecode_digest(bytecode_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(bytecode_hex.removeprefix("0x"))).hexdigest()


def _solc() -> Path:
    paths.require_devnet_package(paths.devnet_dir() / "node_modules" / "solc", "the solc package")
    binary = paths.require_devnet_package(paths.solc_binary(), "the solc wrapper")
    if shutil.which("node") is None:
        raise UserError("node (Node.js) is not on PATH; it runs the pinned solc compiler")
    return binary


def _compiler_key() -> str:
    """What identifies the compiler without starting it: the solc package version + our wrapper."""
    pkg = paths.devnet_dir() / "node_modules" / "solc" / "package.json"
    version = json.loads(pkg.read_text())["version"]
    wrapper = hashlib.sha256(paths.solc_binary().read_bytes()).hexdigest()
    return f"{version}:{wrapper}"


def compiler_version(binary: Path | None = None) -> str:
    """The full version the compiler reports, e.g. "0.8.30+commit.73712a01"."""
    out = subprocess.run(
        [str(binary or _solc()), "--version"], capture_output=True, text=True, check=True
    ).stdout
    full = out.strip().splitlines()[-1].removeprefix("Version:").strip()
    return full.removesuffix(".Emscripten.clang")


def read_sources(source_dir: Path) -> dict[str, str]:
    """All *.sol files below `source_dir`, keyed by their relative POSIX path."""
    if not source_dir.is_dir():
        raise UserError(f"contract sources not found: {source_dir} is not a directory")
    files = sorted(source_dir.rglob("*.sol"))
    if not files:
        raise UserError(f"no Solidity sources (*.sol) in {source_dir}")
    return {f.relative_to(source_dir).as_posix(): f.read_text() for f in files}


def _cache_key(sources: dict[str, str], compiler: str) -> str:
    blob = json.dumps(
        {"format": CACHE_FORMAT, "sources": sources, "settings": SETTINGS, "compiler": compiler},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _load_cache(cache_file: Path, key: str) -> dict[str, Artifact] | None:
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    return {name: Artifact(**fields) for name, fields in data["artifacts"].items()}


def _store_cache(build_dir: Path, key: str, artifacts: dict[str, Artifact]) -> None:
    for art in artifacts.values():  # one readable file per contract, for people and other tools
        atomic_write(build_dir / f"{art.name}.json", json.dumps(asdict(art), indent=1).encode(),
                     mode=0o644)  # artifacts are public
    payload = {"key": key, "artifacts": {n: asdict(a) for n, a in artifacts.items()}}
    atomic_write(build_dir / "cache.json", json.dumps(payload).encode(), mode=0o644)


def _run_solc(sources: dict[str, str], source_dir: Path, binary: Path) -> dict[str, Any]:
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    try:
        output = solcx.compile_standard(
            standard_input, base_path=str(source_dir), solc_binary=binary, allow_empty=True
        )
    except SolcError as exc:
        raise CompileError(f"solc rejected the contracts in {source_dir}:\n{exc.message}") from None
    for err in output.get("errors", []):
        if err.get("severity") != "error":
            log.warning("solc: %s", err.get("formattedMessage", err.get("message", "")).strip())
    return output


def _artifacts_from(output: dict[str, Any], version: str) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    for source, contracts in sorted(output.get("contracts", {}).items()):
        for name, data in sorted(contracts.items()):
            if name in artifacts:
                raise CompileError(
                    f"contract name {name} is defined twice ({artifacts[name].source}, {source})"
                )
            code = "0x" + data["evm"]["bytecode"]["object"]
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode=code,
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
                abi_digest=abi_digest(data["abi"]),
                bytecode_digest=bytecode_digest(code),
                compiler_version=version,
            )
    return artifacts


def _warn_sizes(artifacts: dict[str, Artifact]) -> None:
    for art in artifacts.values():
        if art.deployed_size > MAX_DEPLOYED_SIZE:
            warnings.warn(
                f"{art.name}: deployed bytecode is {art.deployed_size} bytes, over the "
                f"EIP-170 limit of {MAX_DEPLOYED_SIZE}; public chains will refuse it",
                ContractSizeWarning,
                stacklevel=3,
            )


def compile_contracts(
    *, source_dir: Path | None = None, build_dir: Path | None = None
) -> dict[str, Artifact]:
    """Compile every *.sol under `source_dir` (default <repo>/contracts) into artifacts by name.

    The result is cached in `build_dir` (default <repo>/build/contracts) under a digest of the
    sources, the settings and the compiler, so an unchanged tree compiles once.
    """
    source_dir = Path(source_dir) if source_dir is not None else paths.contracts_dir()
    build_dir = Path(build_dir) if build_dir is not None else paths.build_dir()
    binary = _solc()
    sources = read_sources(source_dir)
    key = _cache_key(sources, _compiler_key())
    cached = _load_cache(build_dir / "cache.json", key)
    if cached is not None:
        _warn_sizes(cached)
        return cached
    output = _run_solc(sources, source_dir, binary)
    artifacts = _artifacts_from(output, compiler_version(binary))
    _store_cache(build_dir, key, artifacts)
    _warn_sizes(artifacts)
    return artifacts
