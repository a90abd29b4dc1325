"""What one party agent holds: chain client, blob store, keys, learner, checkpoint, metrics."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import torch
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from dppdl.chain.clients import DppdlClient, PartyInfo, TaskInfo
from dppdl.chain.deployment import load_deployment
from dppdl.chain.keystore import load_eth_keystore
from dppdl.chain.tx import TxSender, connect
from dppdl.crypto.keys import PartyKeys
from dppdl.errors import ConfigError, UserError
from dppdl.learning.data import MnistData, Setting, load_mnist, make_partition
from dppdl.learning.participant import Participant, participant_for_shard
from dppdl.party.checkpoint import Checkpoint
from dppdl.party.config import LABEL_BEHAVIOURS, PartyConfig
from dppdl.party.metrics import Metrics
from dppdl.party.spec import TaskSpec
from storage import BlobStore, open_store
from storage.cid import cid_from_digest, digest_from_cid

Log = Callable[[str], None]


def build_participant(
    *, spec: TaskSpec, config: PartyConfig, data: MnistData
) -> tuple[Participant, torch.Tensor, torch.Tensor]:
    """This party's learner on its shard, exactly as the reference runner builds party `index`."""
    d = config.data
    if d.n_parties != spec.n_parties:
        raise ConfigError(f"data.n_parties is {d.n_parties} but the task has {spec.n_parties}")
    shard = make_partition(
        setting=cast(Setting, d.setting),  # checked against SETTINGS by DataConfig
        n_parties=d.n_parties,
        seed=d.seed,
        n_train=int(data.train_x.shape[0]),
    )[d.index]
    labels = config.behaviour if config.behaviour in LABEL_BEHAVIOURS else "honest"
    participant = participant_for_shard(
        shard, data=data, limit=d.limit, model_name=spec.model,  # type: ignore[arg-type]
        seed=d.seed, train_config=spec.train, gan_config=spec.gan, collab=spec.collab,
        behaviour=labels,  # type: ignore[arg-type]
    )
    test_x, test_y = data.test_x, data.test_y
    if d.test_limit is not None:
        test_x, test_y = test_x[: d.test_limit], test_y[: d.test_limit]
    return participant, test_x, test_y


class RecordingSender(TxSender):
    """A TxSender that books every mined receipt's gas to the metrics of the current epoch."""

    def __init__(self, w3: Web3, account: LocalAccount, *, metrics: Metrics) -> None:
        super().__init__(w3, account)
        self.metrics = metrics
        self.epoch = 0

    def on_mined(self, receipt: Any) -> None:
        self.metrics.record_tx(self.epoch, receipt)


def key_password(config: PartyConfig) -> str:
    password = os.environ.get(config.password_env)
    if password is None:
        raise UserError(f"set {config.password_env} to the password of this party's key files")
    return password


T = TypeVar("T")

_POOL_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
STORAGE_THREADS = 8  # storage requests one process keeps in flight at most, over its agents


def storage_pool() -> ThreadPoolExecutor:
    """The process's helper threads for storage requests in flight together (made once)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(STORAGE_THREADS, thread_name_prefix="dppdl-storage")
        return _POOL


def _outcome(call: Callable[[Any], Any], item: Any) -> tuple[Any, float]:
    """(call(item) or the exception it raised, CPU seconds of this thread it took)."""
    start = time.thread_time()
    try:
        result = call(item)
    except Exception as exc:  # handed to the caller, which raises or judges it
        result = exc
    return result, time.thread_time() - start


def all_or_raise(outcomes: Sequence[T | Exception]) -> list[T]:
    """The results of a batch of storage requests, or the first error among them raised."""
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return cast(list[T], list(outcomes))


@dataclass
class PartyContext:
    """The parts an agent composes; built once by `open_context`."""

    config: PartyConfig
    task_id: int
    account: LocalAccount
    client: DppdlClient
    store: BlobStore
    keys: PartyKeys
    spec: TaskSpec
    participant: Participant
    test_x: torch.Tensor
    test_y: torch.Tensor
    checkpoint: Checkpoint
    metrics: Metrics
    log: Log
    # Progress that must change together with the learner's weights ("updated", "aggregated"
    # epochs and the epoch's Δw): saved in the same file as the weights, so a crash between
    # the two cannot apply an update twice.
    learner_marks: dict[str, Any] = field(default_factory=dict)
    # The task's epoch when this process first read it: a step of a later epoch cannot have
    # been taken before a crash or restart, so it needs no on-chain "did I already?" check.
    first_epoch: int | None = None
    # Set by a simulation to stop this agent (another in-process agent failed).
    cancel: threading.Event = field(default_factory=threading.Event)
    # Duties owed to others while waiting (disputes, mask-key reveals), set by the agent;
    # called with the latest block number when the caller has it (None: read it); returns
    # the block number it used.
    serve: Callable[[int | None], int] | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def address_bytes(self) -> bytes:
        return bytes.fromhex(self.address[2:])

    def may_have_acted(self, epoch: int) -> bool:
        """Whether an earlier process of this party may have acted in `epoch` (a restart)."""
        return self.first_epoch is None or epoch <= self.first_epoch

    # -- chain -----------------------------------------------------------------------------
    def task(self) -> TaskInfo:
        with self.metrics.timed("chain"):
            return self.client.task(self.task_id)

    def roster(self) -> list[PartyInfo]:
        with self.metrics.timed("chain"):
            return self.client.roster(self.task_id)

    def snapshot(self) -> tuple[TaskInfo, list[PartyInfo], int]:
        """Task and roster as of one state, and the latest block number (one batch)."""
        with self.metrics.timed("chain"):
            return self.client.snapshot(self.task_id)

    def block(self) -> int:
        with self.metrics.timed("chain"):
            return int(self.client.w3.eth.block_number)

    def send(self, epoch: int, call: Callable[..., Any], **kwargs: Any) -> Any:
        """Send one transaction through the typed client; its gas is booked to chain `epoch`."""
        sender = self.client.sender
        assert isinstance(sender, RecordingSender)
        sender.epoch = epoch
        with self.metrics.timed("chain"):
            return call(**kwargs)

    # -- storage ---------------------------------------------------------------------------
    def put(self, data: bytes) -> bytes:
        """Store a blob; returns its 32-byte sha2-256 digest (what goes on-chain)."""
        with self.metrics.timed("storage"):
            cid = self.store.put(data)
        self.metrics.bytes_stored += len(data)
        return digest_from_cid(cid)

    def get(self, digest: bytes) -> bytes:
        """Fetch and verify the blob whose digest the chain holds."""
        with self.metrics.timed("storage"):
            return self.store.get(cid_from_digest(digest))

    def put_many(self, blobs: Sequence[bytes]) -> list[bytes]:
        """`put` of several blobs, their requests in flight together; the digests in order."""
        cids = all_or_raise(self._in_flight(self.store.put, blobs))
        self.metrics.bytes_stored += sum(len(b) for b in blobs)
        return [digest_from_cid(c) for c in cids]

    def get_many(self, digests: Sequence[bytes]) -> list[bytes | Exception]:
        """`get` of several blobs, their requests in flight together: each blob, or the error
        fetching it raised (the caller decides whose fault that is)."""
        cids = [cid_from_digest(d) for d in digests]
        return cast(list[bytes | Exception], self._in_flight(self.store.get, cids))

    def _in_flight(self, call: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`call` on each item in storage helper threads (inline for one item); results or
        exceptions in order. The wall time is storage; the helpers' CPU is booked to it too."""
        with self.metrics.timed("storage"):
            if len(items) < 2:
                return [_outcome(call, item)[0] for item in items]
            done = list(storage_pool().map(lambda item: _outcome(call, item), items))
        self.metrics.add_cpu("storage", sum(cpu for _, cpu in done))
        return [outcome for outcome, _ in done]

    # -- checkpoints -----------------------------------------------------------------------
    def save_learner(self, **marks: Any) -> None:
        """Persist the learner's weights together with progress marks, atomically."""
        self.learner_marks.update(marks)
        self.checkpoint.save_state(
            "learner", {"participant": self.participant.state_dict(), "marks": self.learner_marks}
        )
        self.checkpoint.put("metrics", self.metrics.to_json())


def open_context(
    *, config: PartyConfig, task_id: int, log: Log, data: MnistData | None = None,
    w3: Web3 | None = None,
) -> PartyContext:  # fmt: skip
    """Connect to chain and storage, load keys, fetch the task spec, restore the checkpoint."""
    password = key_password(config)
    checkpoint = Checkpoint(config.state_dir / f"task-{task_id}")
    metrics = Metrics(checkpoint.get("metrics"))
    w3 = w3 or connect(config.rpc_url, sink=metrics.record_rpc)
    deployment = load_deployment(w3=w3, deployment_dir=config.deployments)
    account = Account.from_key(load_eth_keystore(config.key_file, password=password))
    keys = PartyKeys.load(config.box_key_file, password=password)
    client = DppdlClient.from_deployment(
        deployment, w3, RecordingSender(w3, account, metrics=metrics)
    )
    store = open_store(
        list(config.storage), replication=config.replication, token=config.storage_token
    )
    client.require_task(task_id)
    info = client.task(task_id)
    spec = TaskSpec.from_json_bytes(store.get(cid_from_digest(info.params.spec_digest)))
    participant, test_x, test_y = build_participant(
        spec=spec, config=config, data=data if data is not None else load_mnist()
    )
    owner = checkpoint.get("address")
    if owner is not None and owner != account.address:
        raise UserError(f"{checkpoint.folder} belongs to {owner}, not {account.address}")
    checkpoint.put("address", account.address)
    state = checkpoint.load_state("learner")
    marks: dict[str, Any] = {}
    if state is not None:
        participant.load_state_dict(state["participant"])
        marks = state["marks"]
    return PartyContext(
        config=config,
        task_id=task_id,
        account=account,
        client=client,
        store=store,
        keys=keys,
        spec=spec,
        participant=participant,
        test_x=test_x,
        test_y=test_y,
        checkpoint=checkpoint,
        metrics=metrics,
        log=log,
        learner_marks=marks,
    )
