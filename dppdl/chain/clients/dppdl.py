"""Typed client of the Dppdl contract: tasks, benchmarking, points and disputes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from dppdl.chain.clients.types import (
    DisputeInfo,
    DisputeOutcome,
    DisputeState,
    PartyInfo,
    PointTotals,
    RequestInfo,
    TaskInfo,
    TaskParams,
    TaskState,
    UploadCommitment,
    as_bytes32,
    snapshot_agrees,
)
from dppdl.chain.deployment import Deployment
from dppdl.chain.tx import TxSender
from dppdl.chain.views import Topic, Views
from dppdl.errors import ChainError, ConfigError, UserError

CONTRACT_NAME = "Dppdl"  # the compiled contract and its key in deployments/<chainId>.json

# Gas limits (base, per item) for the per-epoch batched calls, instead of an eth_estimateGas
# each (on Anvil an estimate re-runs the call several times; it was 1.5-4.5 ms of an agent's
# wall time per call at P4). Unused gas is refunded, so a limit above the cost costs nothing.
# Measured (benchmarks/gas.py at n = 4, 15, 50): postLabels 27k + 28.6k per post,
# requestDownloads 34k + 29.3k per order into fresh slots, commitUploads 31k + 18.6k per
# commitment. Costliest with 7 items (tests/contracts/test_points.py, which checks these
# limits): postLabels 227k, commitUploads 161k, requestDownloads 239k into fresh slots, 286k
# into reused slots archiving disputable commitments and 299k refunding stale requests (each
# a first missed upload): 1.37-1.71x under the limits. The largest limit, for 255 items, is
# 12.8M gas, under Anvil's 30M block gas limit.
BATCH_GAS: dict[str, tuple[int, int]] = {
    "postLabels": (60_000, 40_000),
    "requestDownloads": (60_000, 50_000),
    "commitUploads": (60_000, 30_000),
}


def batch_gas(function: str, items: int) -> int:
    """The gas limit of one batched `function` call carrying `items` entries."""
    base, per_item = BATCH_GAS[function]
    return base + per_item * items


class DppdlClient:
    """One party's (or requester's) handle on the deployed Dppdl contract.

    Transactions are signed by `sender` (a TxSender); reverts raise the named ContractRevert
    subclass of the custom error (e.g. `PointsInsufficientBalance`). Views need no sender.
    """

    def __init__(
        self, contract: Contract, sender: TxSender | None = None, *, views: Views | None = None
    ) -> None:
        if contract.address is None:
            raise ConfigError("the Dppdl contract object has no address")
        self.contract = contract
        # eth_calls with the ABI read once; building it registers the contract's errors
        self.views = views or Views(contract.w3, contract.address, contract.abi)
        self.sender = sender
        self._topics: dict[str, str] = {}  # event name -> topic 0

    @classmethod
    def from_deployment(
        cls, deployment: Deployment, w3: Web3, sender: TxSender | None = None
    ) -> DppdlClient:
        return cls(deployment.contract(w3, CONTRACT_NAME), sender)

    def with_sender(self, sender: TxSender) -> DppdlClient:
        """The same contract, signing with another account."""
        return DppdlClient(self.contract, sender, views=self.views)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @property
    def w3(self) -> Web3:
        return self.contract.w3

    # -- lifecycle ---------------------------------------------------------------------------
    def publish_task(self, *, params: TaskParams) -> int:
        """Publish a task (the sender becomes its requester); returns the new task id."""
        receipt = self._send(self.contract.functions.publishTask(params.to_abi()))
        return int(self._event(receipt, "TaskPublished")[0]["taskId"])

    def join(
        self, *, task_id: int, public_key: bytes, privacy_ppm: int, samples_digest: bytes
    ) -> TxReceipt:
        """The init transaction; the join that fills the roster also starts the task."""
        as_bytes32(public_key, "public_key")
        as_bytes32(samples_digest, "samples_digest")
        fn = self.contract.functions.join(task_id, public_key, privacy_ppm, samples_digest)
        return self._send(fn, gas=self._phase_gas(task_id, base=250_000, per_party=20_000))

    def start_task(self, *, task_id: int) -> TxReceipt:
        return self._send(self.contract.functions.startTask(task_id))

    def cancel_task(self, *, task_id: int) -> TxReceipt:
        return self._send(self.contract.functions.cancelTask(task_id))

    def signal_done(
        self, *, task_id: int, reports: Sequence[str] = (), roster_size: int | None = None
    ) -> TxReceipt:
        """Done with the current phase (with this phase's low-quality reports, if any).
        `roster_size`: the task's roster length if the caller has it (saves a view call)."""
        fn = self.contract.functions.signalDone(task_id, _addrs(reports))
        gas = self._phase_gas(task_id, base=150_000, per_party=20_000, roster=roster_size)
        return self._send(fn, gas=gas + 12_000 * len(reports))

    def advance_epoch(self, *, task_id: int) -> TxReceipt:
        fn = self.contract.functions.advanceEpoch(task_id)
        return self._send(fn, gas=self._phase_gas(task_id, base=100_000, per_party=20_000))

    # -- benchmarking ------------------------------------------------------------------------
    def post_labels(self, *, task_id: int, labels: Sequence[tuple[str, bytes]]) -> TxReceipt:
        """One transaction with the labels digest for each (publisher, labels_digest)."""
        posts = [(Web3.to_checksum_address(p), as_bytes32(d, "labels_digest")) for p, d in labels]
        fn = self.contract.functions.postLabels(task_id, posts)
        return self._send(fn, gas=batch_gas("postLabels", len(posts)))

    def report(self, *, task_id: int, targets: Sequence[str]) -> TxReceipt:
        return self._send(self.contract.functions.report(task_id, _addrs(targets)))

    # -- points ------------------------------------------------------------------------------
    def request_downloads(
        self, *, task_id: int, requests: Sequence[tuple[str, int]]
    ) -> list[int]:
        """Escrow points for (uploader, count) pairs in one tx; returns the request ids."""
        orders = [(Web3.to_checksum_address(u), int(c)) for u, c in requests]
        fn = self.contract.functions.requestDownloads(task_id, orders)
        receipt = self._send(fn, gas=batch_gas("requestDownloads", len(orders)))
        return [int(e["requestId"]) for e in self._event(receipt, "DownloadRequested")]

    def commit_uploads(
        self, *, task_id: int, commits: Sequence[UploadCommitment]
    ) -> TxReceipt:
        """Commit blob digests and key hashes for requests addressed to the sender."""
        fn = self.contract.functions.commitUploads(task_id, [c.to_abi() for c in commits])
        return self._send(fn, gas=batch_gas("commitUploads", len(commits)))

    def refund_requests(self, *, request_ids: Sequence[int]) -> TxReceipt:
        return self._send(self.contract.functions.refundRequests(list(request_ids)))

    # -- recovery ----------------------------------------------------------------------------
    def post_reveal(self, *, task_id: int, receiver: str, digest: bytes) -> TxReceipt:
        """Record the digest of my slot keys with `receiver`'s dropped senders this epoch."""
        fn = self.contract.functions.revealMaskKeys(
            task_id, _addr(receiver), as_bytes32(digest, "digest")
        )
        return self._send(fn)

    # -- disputes ----------------------------------------------------------------------------
    def file_dispute(self, *, request_id: int, blob_digest: bytes, key_hash: bytes) -> TxReceipt:
        return self._send(self.contract.functions.fileDispute(
            request_id, as_bytes32(blob_digest, "blob_digest"), as_bytes32(key_hash, "key_hash")))

    def answer_dispute(self, *, request_id: int, fresh_key: bytes) -> TxReceipt:
        return self._send(
            self.contract.functions.answerDispute(request_id, as_bytes32(fresh_key, "fresh_key"))
        )

    def vote_dispute(self, *, request_id: int, blob_valid: bool) -> TxReceipt:
        """Vote on an answered dispute; the deciding vote also settles it, hence the fixed
        bound (an estimate taken before another vote lands would be too low)."""
        fn = self.contract.functions.voteDispute(request_id, bool(blob_valid))
        return self._send(fn, gas=250_000)

    def settle_dispute(self, *, request_id: int) -> TxReceipt:
        return self._send(self.contract.functions.settleDispute(request_id))

    # -- views -------------------------------------------------------------------------------
    def require_task(self, task_id: int) -> None:
        """A one-line UserError unless `task_id` names a published task."""
        count = self.task_count()
        if not 1 <= task_id <= count:
            known = f"tasks 1..{count}" if count else "no tasks yet; publish one first"
            raise UserError(f"no task {task_id} on this deployment ({known})")

    def task_count(self) -> int:
        return int(self.views.call("taskCount"))

    def task(self, task_id: int) -> TaskInfo:
        return self._task_info(task_id, self.views.call("getTask", task_id))

    @staticmethod
    def _task_info(task_id: int, row: Any) -> TaskInfo:
        params, st, requester, phase_dl, request_dl, upload_dl = row
        return TaskInfo(
            task_id=task_id, params=TaskParams.from_abi(params), requester=requester,
            state=TaskState(st[0]), epoch=st[1], joined=st[2], credible=st[3],
            done_count=st[4], phase_start=st[5], minted=st[6], phase_deadline=phase_dl,
            request_deadline=request_dl, upload_deadline=upload_dl,
        )

    def roster(self, task_id: int) -> list[PartyInfo]:
        rows = self.views.call("getRoster", task_id)
        return [PartyInfo.from_abi(t) for t in rows]

    def party(self, task_id: int, party: str) -> PartyInfo:
        return PartyInfo.from_abi(self.views.call("getParty", task_id, _addr(party)))

    def balance_of(self, task_id: int, party: str) -> int:
        return int(self.views.call("balanceOf", task_id, _addr(party)))

    def escrow_of(self, task_id: int, party: str) -> int:
        return int(self.views.call("escrowOf", task_id, _addr(party)))

    def upload_cap(self, task_id: int, party: str) -> int:
        return int(self.views.call("uploadCap", task_id, _addr(party)))

    def point_totals(self, task_id: int) -> PointTotals:
        minted, balances, escrow, held = self.views.call("pointTotals", task_id)
        return PointTotals(minted=minted, balances=balances, escrow=escrow, held=held)

    def held_of(self, task_id: int) -> int:
        return int(self.views.call("heldOf", task_id))

    def request_id_of(self, task_id: int, epoch: int, receiver: str, uploader: str) -> int:
        return int(self.views.call("requestIdOf", task_id, epoch, _addr(receiver), _addr(uploader)))

    def request(self, request_id: int) -> RequestInfo:
        return RequestInfo.from_abi(self.views.call("getRequest", request_id))

    def requests_by_receiver(self, task_id: int, epoch: int, receiver: str) -> list[RequestInfo]:
        rows = self.views.call("requestsByReceiver", task_id, epoch, _addr(receiver))
        return [RequestInfo.from_abi(t) for t in rows]

    def requests_by_receivers(
        self, task_id: int, epoch: int, receivers: Sequence[str]
    ) -> dict[str, list[RequestInfo]]:
        """`requests_by_receiver` for several receivers in one JSON-RPC batch round trip."""
        rows = self.views.call_many(
            [("requestsByReceiver", (task_id, epoch, _addr(r))) for r in receivers]
        )
        return {r: [RequestInfo.from_abi(t) for t in row]
                for r, row in zip(receivers, rows, strict=True)}  # fmt: skip

    def requests_by_uploader(self, task_id: int, epoch: int, uploader: str) -> list[RequestInfo]:
        rows = self.views.call("requestsByUploader", task_id, epoch, _addr(uploader))
        return [RequestInfo.from_abi(t) for t in rows]

    def labels_digest(self, task_id: int, epoch: int, labeler: str, publisher: str) -> bytes:
        return bytes(
            self.views.call("labelsDigest", task_id, epoch, _addr(labeler), _addr(publisher))
        )

    def labels_digests(
        self, task_id: int, epoch: int, pairs: Sequence[tuple[str, str]]
    ) -> list[bytes]:
        """`labels_digest` for several (labeler, publisher) pairs in one batch round trip."""
        return [bytes(d) for d in self.views.call_many(_labels_calls(task_id, epoch, pairs))]

    def labels_digests_and_roster(
        self, task_id: int, epoch: int, pairs: Sequence[tuple[str, str]]
    ) -> tuple[list[bytes], list[PartyInfo]]:
        """`labels_digests` and `roster`, in one batch round trip."""
        calls = [*_labels_calls(task_id, epoch, pairs), ("getRoster", (task_id,))]
        *digests, rows = self.views.call_many(calls)
        return [bytes(d) for d in digests], [PartyInfo.from_abi(t) for t in rows]

    def task_and_roster(
        self, task_id: int, *, attempts: int = 20, pause: float = 0.05
    ) -> tuple[TaskInfo, list[PartyInfo]]:
        """`task` and `roster` as of one state: a consistent snapshot (see `snapshot`)."""
        task, roster, _ = self.snapshot(task_id, attempts=attempts, pause=pause)
        return task, roster

    def snapshot(
        self, task_id: int, *, attempts: int = 20, pause: float = 0.05
    ) -> tuple[TaskInfo, list[PartyInfo], int]:
        """`task` and `roster` as of one state, and the latest block number, in one round trip.

        The block number and both views are read in one batch, and read again until the task's
        counts agree with the roster (`snapshot_agrees`). Pinning the views to a block number
        would not make them a snapshot: Anvil answers a call at the head block from its live
        state, which a block being mined is already changing, so the roster can predate the
        task and show a party that the phase's close just removed (it did, in CI)."""
        for attempt in range(attempts):
            if attempt:
                time.sleep(pause)
            head, (task_abi, rows) = self.views.head_and_call_many(
                [("getTask", (task_id,)), ("getRoster", (task_id,))]
            )
            task = self._task_info(task_id, task_abi)
            roster = [PartyInfo.from_abi(t) for t in rows]
            if snapshot_agrees(task, roster):
                return task, roster, head
        raise ChainError(f"the node's task and roster views of task {task_id} disagreed in "
                         f"{attempts} reads (joined {task.joined}, credible {task.credible}, "
                         f"{len(roster)} roster entries)")

    def has_reported(self, task_id: int, epoch: int, reporter: str, target: str) -> bool:
        """Whether `reporter` reported `target` in phase `epoch` (0 = benchmarking)."""
        return bool(self.views.call("hasReported", task_id, epoch, _addr(reporter), _addr(target)))

    def reports_by(self, task_id: int, epoch: int, reporter: str) -> list[str]:
        """The parties `reporter` reported in phase `epoch`."""
        return list(self.views.call("reportsBy", task_id, epoch, _addr(reporter)))

    def reveals(
        self, task_id: int, epoch: int, receiver: str, *, from_block: int = 0
    ) -> dict[str, bytes]:
        """sender -> digest of the mask-key reveals posted for `receiver` in `epoch` (events);
        `from_block` (e.g. the epoch's start) bounds the log scan."""
        logs = self.contract.events.MaskKeysRevealed.get_logs(
            argument_filters={"taskId": task_id, "receiver": _addr(receiver)},
            from_block=from_block,
        )
        return {str(e["args"]["sender"]): bytes(e["args"]["digest"]) for e in logs
                if int(e["args"]["epoch"]) == epoch}

    def dispute(self, request_id: int) -> DisputeInfo:
        d, key_hash, revealed = self.views.call("getDispute", request_id)
        return DisputeInfo(
            request_id=request_id, state=DisputeState(d[0]), outcome=DisputeOutcome(d[1]),
            filed_block=d[2], answered_block=d[3], voters=d[4], valid_votes=d[5],
            invalid_votes=d[6], deposit=d[7], held_payment=d[8], key_hash=bytes(key_hash),
            revealed_key=bytes(revealed),
        )

    def disputes_filed(
        self, task_id: int, *, from_block: int, to_block: int | None = None
    ) -> tuple[int, list[tuple[int, int]]]:
        """(block, request id) of each DisputeFiled of the task from `from_block` on, and the
        head: `to_block` if given, else the latest block number, read in the same round trip.
        Raw logs: the ids are indexed topics, so nothing needs web3's event decoding."""
        topics = [self._topic("DisputeFiled"), _word(task_id)]
        if to_block is None:
            head, logs = self.views.head_and_logs(topics, from_block=from_block)
        else:
            head = to_block
            logs = self.views.logs(topics, from_block=from_block, to_block=to_block)
        return head, [(int(log["blockNumber"], 16), int(log["topics"][2], 16)) for log in logs]

    def upload_commitments(
        self, task_id: int, request_ids: Sequence[int], *, from_block: int, to_block: int
    ) -> dict[int, tuple[bytes, bytes]]:
        """(blob digest, key hash) of each request's UploadCommitted event in the block range,
        by request id. Raw logs: the id is an indexed topic and the hashes are fixed words of
        the data (receiver, amount, blobDigest, keyHash)."""
        ids: list[str] = [_word(i) for i in request_ids]
        topics: list[Topic] = [self._topic("UploadCommitted"), _word(task_id), ids]
        logs = self.views.logs(topics, from_block=from_block, to_block=to_block)
        found = {}
        for log in logs:
            data = bytes.fromhex(str(log["data"])[2:])
            found[int(log["topics"][2], 16)] = (data[64:96], data[96:128])
        return found

    def _topic(self, event: str) -> str:
        """topic 0 of one of the contract's events (hex)."""
        if event not in self._topics:
            found = [e for e in self.contract.abi
                     if e.get("type") == "event" and e.get("name") == event]  # fmt: skip
            self._topics[event] = "0x" + event_abi_to_log_topic(found[0]).hex()  # type: ignore[arg-type]
        return self._topics[event]

    def has_voted(self, request_id: int, voter: str) -> bool:
        return bool(self.views.call("hasVoted", request_id, _addr(voter)))

    # -- events ------------------------------------------------------------------------------
    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """The decoded `name` events of this contract in `receipt`, as plain dicts of args."""
        return self._event(receipt, name)

    # -- internals ---------------------------------------------------------------------------
    def _phase_gas(
        self, task_id: int, *, base: int, per_party: int, roster: int | None = None
    ) -> int:
        """A gas limit for calls whose cost depends on who else acted first.

        The join that fills the roster mints for everyone, and the done signal that completes a
        phase closes it (removals, next epoch); an estimate taken before another party's
        transaction lands is too low then. Unused gas is refunded, so a bound sized by the
        roster costs nothing extra. Measured: a close costs about 42k + 5.9k per party + 6.4k
        per removal, and each report carried 7.6k (tests/contracts/test_benchmarking.py).
        """
        if roster is None:
            roster = int(self.views.call("getTask", task_id)[0][2])
        return base + per_party * roster

    def _send(self, fn: ContractFunction, *, gas: int | None = None) -> TxReceipt:
        if self.sender is None:
            raise ChainError("this DppdlClient has no TxSender; build it with sender= to transact")
        receipt = self.sender.send(fn, gas=gas)
        assert not isinstance(receipt, bytes)  # wait=True returns the receipt
        return receipt

    def _event(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        logs = self.contract.events[name]().process_receipt(receipt, errors=DISCARD)
        return [dict(log["args"]) for log in logs]


def _labels_calls(
    task_id: int, epoch: int, pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, tuple[Any, ...]]]:
    return [("labelsDigest", (task_id, epoch, _addr(a), _addr(b))) for a, b in pairs]


def _word(value: int) -> str:
    """An integer as an indexed topic: one 32-byte word, hex."""
    return "0x" + value.to_bytes(32, "big").hex()


def _addr(value: str) -> str:
    return Web3.to_checksum_address(value)


def _addrs(values: Iterable[str]) -> list[str]:
    return [Web3.to_checksum_address(v) for v in values]
