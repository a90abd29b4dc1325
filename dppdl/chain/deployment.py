"""The deployment record deployments/<chainId>.json: read, check against the chain, write."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from dppdl.chain.reverts import register_abi
from dppdl.chain.tx import connect
from dppdl.errors import ChainError, DeploymentMissingError, UserError
from dppdl.files import atomic_write

FORMAT = 1  # bumped when the record layout changes


class DeploymentChainMismatchError(ChainError, UserError):
    """A deployment record belongs to another chain id than the node's."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContractRecord:
    """Where one contract lives and what was deployed there."""

    name: str  # contract name in contracts/ (the artifact)
    address: str
    tx_hash: str
    block_number: int
    abi_digest: str
    bytecode_digest: str
    args_digest: str  # sha256 of the ABI-encoded constructor arguments
    compiler_version: str
    step: str
    deployed_at: str
    abi: list[dict[str, Any]] = field(repr=False)


@dataclass
class StepRecord:
    """One migration step that ran: what it used, so the runner can tell if it must run again."""

    name: str
    source_digest: str  # sha256 of the step file
    ran_at: str
    uses: dict[str, str]  # record key -> address, for ctx.deploy and ctx.address
    deploys: list[str]  # record keys deployed (or kept) by ctx.deploy
    tx_hashes: list[str]


@dataclass
class Deployment:
    """Addresses and provenance of the contracts on one chain (+ the last run's outcome)."""

    chain_id: int
    deployer: str
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    updated_at: str = ""
    path: Path | None = None
    # Outcome of the run that produced this object (not stored in the file).
    deployed: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)  # key -> reason
    steps_run: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        """True when the run changed nothing on chain and nothing is stale."""
        return not self.deployed and not self.steps_run and not self.stale

    def address(self, key: str) -> str:
        try:
            return self.contracts[key].address
        except KeyError:
            where = self.path or f"the deployment for chain {self.chain_id}"
            raise DeploymentMissingError(
                f"no contract {key!r} in {where}; known: {', '.join(sorted(self.contracts))}"
            ) from None

    def contract(self, w3: Web3, key: str) -> Contract:
        """A web3 contract bound to the recorded address and ABI."""
        record = self.contracts.get(key)
        if record is None:
            self.address(key)  # raises the one-line error
            raise AssertionError("unreachable")
        return w3.eth.contract(address=Web3.to_checksum_address(record.address), abi=record.abi)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain_id": self.chain_id,
            "deployer": self.deployer,
            "updated_at": self.updated_at,
            "contracts": {k: asdict(v) for k, v in sorted(self.contracts.items())},
            "steps": {k: asdict(v) for k, v in sorted(self.steps.items())},
        }

    def summary(self) -> dict[str, Any]:
        """What the CLI prints with --json."""
        return {
            "chain_id": self.chain_id,
            "file": str(self.path) if self.path else None,
            "up_to_date": self.up_to_date,
            "deployed": self.deployed,
            "stale": self.stale,
            "steps_run": self.steps_run,
            "contracts": {k: v.address for k, v in sorted(self.contracts.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, path: Path | None = None) -> Deployment:
        if data.get("format") != FORMAT:
            raise UserError(f"deployment record {path} has format {data.get('format')}, "
                            f"expected {FORMAT}; delete it and run `dppdl deploy` again")
        return cls(
            chain_id=int(data["chain_id"]),
            deployer=str(data["deployer"]),
            updated_at=str(data.get("updated_at", "")),
            contracts={k: ContractRecord(**v) for k, v in data.get("contracts", {}).items()},
            steps={k: StepRecord(**v) for k, v in data.get("steps", {}).items()},
            path=path,
        )


def record_path(deployment_dir: Path, chain_id: int) -> Path:
    return Path(deployment_dir) / f"{chain_id}.json"


def read_record(path: Path, *, chain_id: int) -> Deployment | None:
    """The record at `path` (None if absent); refuses a record for another chain id."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"deployment record {path} is not valid JSON: {exc}") from None
    dep = Deployment.from_json(data, path=path)
    if dep.chain_id != chain_id:
        raise DeploymentChainMismatchError(
            f"deployment record {path} is for chain {dep.chain_id}, but the node is chain "
            f"{chain_id}; refusing to use it"
        )
    return dep


def write_record(dep: Deployment, path: Path) -> None:
    text = json.dumps(dep.to_json(), indent=1) + "\n"
    atomic_write(path, text.encode(), mode=0o644)  # the record is public information
    dep.path = path


def has_code(w3: Web3, address: str) -> bool:
    return len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0


def load_deployment(
    *,
    rpc_url: str | None = None,
    w3: Web3 | None = None,
    deployment_dir: Path = Path("deployments"),
    path: Path | None = None,
    check_code: bool = True,
) -> Deployment:
    """The deployment for the node's chain; one-line errors if missing, foreign or not on chain."""
    if w3 is None:
        if rpc_url is None:
            raise UserError("load_deployment needs rpc_url= or w3=")
        w3 = connect(rpc_url)
    chain_id = w3.eth.chain_id
    url = rpc_url or getattr(w3.provider, "endpoint_uri", None) or "URL"
    file = Path(path) if path is not None else record_path(deployment_dir, chain_id)
    dep = read_record(file, chain_id=chain_id)
    if dep is None or not dep.contracts:
        raise DeploymentMissingError(
            f"no deployment for chain {chain_id} in {file.parent}/; run `dppdl deploy --rpc {url}`"
        )
    for key, rec in dep.contracts.items():
        if check_code and not has_code(w3, rec.address):
            raise DeploymentMissingError(
                f"contract {key} is not at its recorded address {rec.address} on chain "
                f"{chain_id} (a restarted devnet?); run `dppdl deploy --rpc {url}`"
            )
        register_abi(rec.abi)
    return dep
