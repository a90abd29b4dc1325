"""Run numbered, idempotent migration steps (migrations/NNNN_name.py); keep the record."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from dppdl.chain import paths
from dppdl.chain.compiler import Artifact, compile_contracts
from dppdl.chain.deployment import (
    ContractRecord,
    Deployment,
    DeploymentChainMismatchError,
    StepRecord,
    has_code,
    load_deployment,
    read_record,
    record_path,
    utc_now,
    write_record,
)
from dppdl.chain.reverts import register_abi
from dppdl.chain.tx import TxSender, connect
from dppdl.errors import ChainError, DeploymentMissingError, UserError

__all__ = [
    "Deployment",
    "DeploymentChainMismatchError",
    "MigrationContext",
    "MigrationError",
    "discover_steps",
    "load_deployment",
    "run_migrations",
]

STEP_FILE = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.py$")


class MigrationError(ChainError, UserError):
    """A migration step is malformed or failed."""


def discover_steps(migrations_dir: Path) -> list[Path]:
    """Step files NNNN_name.py in order; a duplicate number is an error."""
    if not migrations_dir.is_dir():
        raise UserError(f"migrations folder not found: {migrations_dir}")
    steps = sorted(p for p in migrations_dir.iterdir() if STEP_FILE.match(p.name))
    numbers = [p.name[:4] for p in steps]
    dupes = sorted({n for n in numbers if numbers.count(n) > 1})
    if dupes:
        raise MigrationError(f"two migration steps share the number {dupes[0]} in {migrations_dir}")
    if not steps:
        raise MigrationError(f"no migration steps (NNNN_name.py) in {migrations_dir}")
    return steps


def _load_step(path: Path) -> Callable[[MigrationContext], None]:
    spec = importlib.util.spec_from_file_location(f"dppdl_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise MigrationError(f"cannot load migration step {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    migrate = getattr(module, "migrate", None)
    if not callable(migrate):
        raise MigrationError(f"migration step {path} defines no `migrate(ctx)` function")
    return migrate


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MigrationContext:
    """What a migration step may do: deploy, look up, send, call (see migrations/README.md)."""

    def __init__(
        self,
        *,
        step: str,
        sender: TxSender,
        artifacts: Mapping[str, Artifact],
        record: Deployment,
        redeploy: bool,
        log: Callable[[str], None],
    ) -> None:
        self.step = step
        self.sender = sender
        self.w3: Web3 = sender.w3
        self.account: LocalAccount = sender.account
        self.chain_id: int = sender.chain_id
        self._artifacts = artifacts
        self._record = record
        self._redeploy = redeploy
        self._log = log
        self.uses: dict[str, str] = {}
        self.deploys: list[str] = []
        self.tx_hashes: list[str] = []

    def log(self, message: str) -> None:
        self._log(f"[{self.step}] {message}")

    def artifact(self, name: str) -> Artifact:
        art = self._artifacts.get(name)
        if art is None:
            raise MigrationError(
                f"step {self.step}: no compiled contract named {name!r}; "
                f"known: {', '.join(sorted(self._artifacts))}"
            )
        return art

    def deploy(
        self, name: str, *args: Any, gas: int | None = None, alias: str | None = None
    ) -> str:
        """Deploy contract `name` (recorded under `alias` or `name`) unless it is already there."""
        key = alias or name
        art = self.artifact(name)
        data = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*args)
        encoded = bytes(HexBytes(data.data_in_transaction))[len(HexBytes(art.bytecode)):]
        args_digest = _sha256(encoded)
        rec = self._record.contracts.get(key)
        if rec is not None and rec.step != self.step:
            raise MigrationError(f"step {self.step} deploys {key}, already deployed by {rec.step}")
        if rec is not None:
            reasons = []
            if rec.bytecode_digest != art.bytecode_digest:
                reasons.append("bytecode changed")
            if rec.args_digest != args_digest:
                reasons.append("constructor arguments changed")
            if not reasons or not self._redeploy:
                if reasons:
                    self._record.stale[key] = ", ".join(reasons)
                    self.log(f"{key} at {rec.address} is stale ({', '.join(reasons)}); "
                             "kept (rerun with --redeploy to replace it)")
                self.uses[key] = rec.address
                if key not in self.deploys:
                    self.deploys.append(key)
                return rec.address
            self.log(f"{key}: {', '.join(reasons)}; redeploying")
        address, receipt = self.sender.deploy(art, *args, gas=gas)
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        self._record.contracts[key] = ContractRecord(
            name=name, address=address, tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]), abi_digest=art.abi_digest,
            bytecode_digest=art.bytecode_digest, args_digest=args_digest,
            compiler_version=art.compiler_version, step=self.step, deployed_at=utc_now(),
            abi=art.abi,
        )
        self._record.stale.pop(key, None)
        self._record.deployed.append(key)
        self.uses[key] = address
        self.deploys.append(key)
        self.tx_hashes.append(tx_hash)
        self.log(f"deployed {key} at {address} (gas {receipt['gasUsed']})")
        return address

    def address(self, key: str) -> str:
        rec = self._record.contracts.get(key)
        if rec is None:
            raise DeploymentMissingError(
                f"step {self.step}: {key} is not deployed yet (deploy it in an earlier step)"
            )
        self.uses[key] = rec.address
        return rec.address

    def contract(self, key: str) -> Contract:
        rec = self._record.contracts.get(key)
        address = self.address(key)
        abi = rec.abi if rec is not None else self.artifact(key).abi
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def send(self, fn: ContractFunction, *, gas: int | None = None, value: int = 0) -> TxReceipt:
        """Sign, send and wait; a revert raises its decoded ContractRevert subclass."""
        receipt = self.sender.send(fn, gas=gas, value=value, wait=True)
        assert isinstance(receipt, Mapping)
        self.tx_hashes.append(HexBytes(receipt["transactionHash"]).to_0x_hex())
        self.log(f"sent {fn.fn_name} to {fn.address} (gas {receipt['gasUsed']})")
        return receipt  # type: ignore[return-value]

    def call(self, fn: ContractFunction) -> Any:
        return fn.call()


def _prune_missing(w3: Web3, dep: Deployment, log: Callable[[str], None]) -> None:
    """Forget recorded contracts without code (e.g. a restarted Anvil under the same chain id)."""
    for key in list(dep.contracts):
        rec = dep.contracts[key]
        if not has_code(w3, rec.address):
            log(f"{key}: no code at {rec.address} (fresh chain state?); will deploy")
            del dep.contracts[key]


def _step_current(
    step: StepRecord | None, source_digest: str, dep: Deployment, redeploy: bool
) -> bool:
    if step is None or step.source_digest != source_digest:
        return False
    for key, address in step.uses.items():
        rec = dep.contracts.get(key)
        if rec is None or rec.address != address:
            return False
    return not (redeploy and any(key in dep.stale for key in step.deploys))


def _stale_by_digest(dep: Deployment, artifacts: Mapping[str, Artifact]) -> None:
    for key, rec in dep.contracts.items():
        art = artifacts.get(rec.name)
        if art is not None and art.bytecode_digest != rec.bytecode_digest:
            dep.stale[key] = "bytecode changed"


def run_migrations(
    *,
    account: LocalAccount,
    rpc_url: str | None = None,
    w3: Web3 | None = None,
    deployment_dir: Path = Path("deployments"),
    migrations_dir: Path | None = None,
    source_dir: Path | None = None,
    build_dir: Path | None = None,
    artifacts: Mapping[str, Artifact] | None = None,
    redeploy: bool = False,
    log: Callable[[str], None] | None = None,
) -> Deployment:
    """Run every step not yet applied on this chain; write deployments/<chainId>.json.

    Re-running on an unchanged chain deploys nothing (`Deployment.up_to_date`). A contract whose
    bytecode changed is reported in `Deployment.stale` and replaced only with redeploy=True.
    """
    if w3 is None:
        if rpc_url is None:
            raise UserError("run_migrations needs rpc_url= or w3=")
        w3 = connect(rpc_url)
    steps = discover_steps(Path(migrations_dir) if migrations_dir else paths.migrations_dir())
    if artifacts is None:
        artifacts = compile_contracts(source_dir=source_dir, build_dir=build_dir)
    for art in artifacts.values():
        register_abi(art.abi)
    sender = TxSender(w3, account)
    path = record_path(deployment_dir, sender.chain_id)
    dep = read_record(path, chain_id=sender.chain_id) or Deployment(
        chain_id=sender.chain_id, deployer=account.address
    )
    messages = dep.log
    emit = log or (lambda _m: None)

    def say(message: str) -> None:
        messages.append(message)
        emit(message)

    _prune_missing(w3, dep, say)
    _stale_by_digest(dep, artifacts)
    try:
        for step_path in steps:
            _run_step(step_path, dep, sender=sender, artifacts=artifacts, redeploy=redeploy,
                      log=say)
    finally:  # keep what earlier steps deployed even when a later step fails
        if dep.deployed or dep.steps_run or _record_differs(path, dep):
            if dep.deployed:
                dep.deployer = account.address
            dep.updated_at = utc_now()
            write_record(dep, path)
    dep.path = path
    if dep.up_to_date:
        n = len(dep.contracts)
        say(f"up to date: {n} contract{'' if n == 1 else 's'} on chain {dep.chain_id} ({path})")
    elif dep.stale and not dep.deployed and not dep.steps_run:
        say("no changes deployed; stale: "
            + "; ".join(f"{k} ({r})" for k, r in sorted(dep.stale.items()))
            + " -- rerun with --redeploy to replace them")
    return dep


def _run_step(
    step_path: Path,
    dep: Deployment,
    *,
    sender: TxSender,
    artifacts: Mapping[str, Artifact],
    redeploy: bool,
    log: Callable[[str], None],
) -> None:
    """Run one step unless it is current; record what it used, deployed and sent."""
    name = step_path.stem
    digest = _sha256(step_path.read_bytes())
    if _step_current(dep.steps.get(name), digest, dep, redeploy):
        return
    ctx = MigrationContext(step=name, sender=sender, artifacts=artifacts, record=dep,
                           redeploy=redeploy, log=log)
    migrate = _load_step(step_path)
    try:
        migrate(ctx)
    finally:
        if ctx.tx_hashes:
            dep.steps_run.append(name)
    dep.steps[name] = StepRecord(name=name, source_digest=digest, ran_at=utc_now(),
                                 uses=ctx.uses, deploys=ctx.deploys, tx_hashes=ctx.tx_hashes)


def _record_differs(path: Path, dep: Deployment) -> bool:
    """True when the steps/contracts part of the file differs from `dep` (e.g. pruned entries)."""
    try:
        on_disk = read_record(path, chain_id=dep.chain_id)
    except UserError:
        return True
    if on_disk is None:
        return True
    fresh = dep.to_json()
    old = on_disk.to_json()
    return (fresh["contracts"], fresh["steps"]) != (old["contracts"], old["steps"])
