"""Disputes over blobs that do not open: receivers file, uploaders answer, third parties vote."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dppdl.chain.clients import (
    DisputeInfo,
    DisputeOutcome,
    DisputeState,
    PartyStatus,
    RequestInfo,
    RequestState,
    TaskParams,
)
from dppdl.chain.reverts import UnknownRevert, revert_class
from dppdl.crypto.blob import Slot
from dppdl.crypto.onion import open_blob, open_with_key
from dppdl.errors import DecryptionError
from dppdl.party.context import PartyContext
from dppdl.party.waiting import pause, sleep, wait_until
from storage import BlobNotFound, IntegrityError, StorageUnavailable

# Outcomes that mark the uploader: its blob stays out of the receiver's sum, and the other
# senders reveal their slot keys with it (as for a sender that never uploaded).
AGAINST_UPLOADER = (DisputeOutcome.UNANSWERED, DisputeOutcome.RECEIVER_WON)
# A vote that lost a race (someone's majority settled it, or the window closed meanwhile).
LATE_VOTE = tuple(revert_class(name) for name in (
    "DisputeAlreadyVoted", "DisputeWrongState", "DisputeVoteClosed", "DisputeVoterIneligible"))
# Blocks past a dispute's last window that a party waits for someone to settle it.
SETTLE_SLACK_BLOCKS = 5
# Polls for a committed request's UploadCommitted log before giving up. A node can answer a
# view with a block's state before that block's logs are stored (seen once on Anvil with four
# processes on two cores: the log query at the commit block came back empty).
LOG_LAG_POLLS = 25


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def slot_of(request: RequestInfo) -> Slot:
    """The public slot a request's blob is bound to (layers 2 and 3 authenticate it)."""
    return Slot(
        task=request.task_id,
        epoch=request.epoch,
        sender=_addr(request.uploader),
        receiver=_addr(request.receiver),
        request_id=request.request_id,
    )


def committed_hashes(ctx: PartyContext, request: RequestInfo) -> tuple[bytes, bytes]:
    """(blob digest, key hash) committed for `request`, read from its UploadCommitted event."""
    return committed_hashes_of(ctx, [request])[request.request_id]


def committed_hashes_of(
    ctx: PartyContext, requests: list[RequestInfo]
) -> dict[int, tuple[bytes, bytes]]:
    """`committed_hashes` of several committed requests, from one log query."""
    if not requests:
        return {}
    ids = [r.request_id for r in requests]
    span = {"from_block": max(0, min(r.commit_block for r in requests) - 1),
            "to_block": max(r.commit_block for r in requests)}  # fmt: skip
    found: dict[int, tuple[bytes, bytes]] = {}
    for attempt in range(LOG_LAG_POLLS + 1):
        if attempt:  # the node showed the commitment's state before its block's logs
            sleep(ctx)
        missing = [rid for rid in ids if rid not in found]
        with ctx.metrics.timed("chain"):
            found.update(ctx.client.upload_commitments(ctx.task_id, missing, **span))
        if len(found) == len(ids):
            return {rid: found[rid] for rid in ids}
    missing = [rid for rid in ids if rid not in found]
    raise RuntimeError(f"no UploadCommitted event for request(s) {missing}")


def _fetch(ctx: PartyContext, digest: bytes) -> tuple[bytes | None, str | None]:
    """The committed blob, or None and why not (a missing or corrupt blob is the uploader's)."""
    return _fetched(ctx.get_many([digest])[0])


def _fetched(outcome: bytes | Exception) -> tuple[bytes | None, str | None]:
    """`_fetch` of an outcome of `PartyContext.get_many`; any other error is raised."""
    if isinstance(outcome, (BlobNotFound, IntegrityError)):
        return None, f"not retrievable: {outcome}"
    if isinstance(outcome, Exception):
        raise outcome
    return outcome, None


def _size_problem(ctx: PartyContext, vec: np.ndarray) -> str | None:
    n, bits = ctx.spec.n_params, ctx.spec.codec.ring_bits
    if vec.shape[0] != n:
        return f"{vec.shape[0]} entries, the model has {n}"
    if 8 * vec.dtype.itemsize != bits:
        return f"{8 * vec.dtype.itemsize}-bit words, the task's ring is {bits}-bit"
    return None


# -- the receiver ------------------------------------------------------------------------------
def file_dispute(ctx: PartyContext, request: RequestInfo, *, blob_digest: bytes,
                 key_hash: bytes) -> bool:  # fmt: skip
    """Dispute `request` once (a restart finds it filed); False if the chain refused it."""
    with ctx.metrics.timed("chain"):
        if ctx.client.dispute(request.request_id).state != DisputeState.NONE:
            return True
    try:
        ctx.send(request.epoch, ctx.client.file_dispute, request_id=request.request_id,
                 blob_digest=blob_digest, key_hash=key_hash)  # fmt: skip
    except revert_class("DisputeWrongState"):
        return True  # our own earlier transaction landed meanwhile
    except (revert_class("DisputeWindowClosed"), revert_class("PointsInsufficientBalance")) as exc:
        ctx.log(f"epoch {request.epoch}: cannot dispute request {request.request_id}: {exc}")
        return False
    ctx.log(f"epoch {request.epoch}: disputed request {request.request_id} "
            f"(uploader {request.uploader[:10]})")  # fmt: skip
    return True


class BlobChecker:
    """A receiver's check of each committed blob as it arrives, well inside the dispute window.

    A blob that cannot be fetched or peeled (layers 3 and 2), or has the wrong size, gets one
    dispute and stays out of the sum; the blobs that open are kept for `open_sum`.
    """

    def __init__(self, ctx: PartyContext) -> None:
        self.ctx = ctx
        self.good: dict[int, bytes] = {}  # request id -> blob that opened
        self.bad: dict[int, RequestInfo] = {}  # request id -> request whose blob did not

    def check(self, requests: Iterable[RequestInfo]) -> None:
        new = [r for r in requests if r.state == RequestState.COMMITTED
               and r.request_id not in self.good and r.request_id not in self.bad]  # fmt: skip
        hashes = committed_hashes_of(self.ctx, new)
        fetched = self.ctx.get_many([hashes[r.request_id][0] for r in new])  # together
        for request, outcome in zip(new, fetched, strict=True):
            rid = request.request_id
            digest, key_hash = hashes[rid]
            data, problem = _fetched(outcome)
            if data is not None:
                problem = self._open_problem(request, data)
            if problem is None and data is not None:
                self.good[rid] = data
            else:
                self.reject(request, problem or "unknown", blob_digest=digest, key_hash=key_hash)

    def reject(self, request: RequestInfo, problem: str, *, blob_digest: bytes | None = None,
               key_hash: bytes | None = None) -> None:  # fmt: skip
        """Keep `request`'s blob out of the sum and dispute it."""
        self.good.pop(request.request_id, None)
        self.bad[request.request_id] = request
        self.ctx.log(f"epoch {request.epoch}: the blob from {request.uploader[:10]} does not "
                     f"open ({problem}); filing a dispute")  # fmt: skip
        if blob_digest is None or key_hash is None:
            blob_digest, key_hash = committed_hashes(self.ctx, request)
        file_dispute(self.ctx, request, blob_digest=blob_digest, key_hash=key_hash)

    def _open_problem(self, request: RequestInfo, data: bytes) -> str | None:
        with self.ctx.metrics.timed("crypto"):
            try:
                vec = open_blob(data, slot=slot_of(request), receiver_keys=self.ctx.keys)
            except DecryptionError as exc:
                return str(exc)
        return _size_problem(self.ctx, vec)

    def outcomes(self) -> dict[int, DisputeOutcome]:
        """Wait (bounded by the dispute windows) until every dispute I filed has settled.

        Outcome NONE stands for a dispute the chain refused or that nobody settled in time.
        """
        ctx, bad = self.ctx, list(self.bad.values())
        if not bad:
            return {}
        params = ctx.task().params

        def read() -> list[DisputeInfo]:
            return [ctx.client.dispute(r.request_id) for r in bad]

        def settled() -> dict[int, DisputeOutcome] | None:
            infos = read()
            if any(d.state in (DisputeState.FILED, DisputeState.ANSWERED) for d in infos):
                return None
            return {d.request_id: d.outcome for d in infos}

        last_filed = max(d.filed_block for d in read())
        done = wait_until(
            ctx,
            settled,
            deadline_block=last_filed + params.answer_window + params.vote_window
            + SETTLE_SLACK_BLOCKS,
            what=f"the settlement of {len(bad)} dispute(s)",
        )
        return done if done is not None else {d.request_id: d.outcome for d in read()}


# -- every party, while it waits ---------------------------------------------------------------
class DisputeDuties:
    """What a party owes every dispute of its task: answer those on its uploads, vote on the
    others' (credible third parties only), settle any whose window has passed. Each duty is
    done once: the chain's dispute state and `hasVoted` say what is left after a restart."""

    def __init__(self, ctx: PartyContext) -> None:
        self.ctx = ctx
        self.open: dict[int, RequestInfo] = {}  # unsettled disputes of the task, by request id
        self._from_block = 0
        self._finished: set[int] = set()  # no duty left for me (voted, answered, gave up)
        self._params: TaskParams | None = None

    def serve(self, *, head: int | None = None) -> int:
        """Scan for new disputes up to block `head` (None: the latest, read with the scan in one
        round trip) and do my duties; returns the head scanned to."""
        head = self._scan(head)
        for rid in sorted(self.open):
            self._serve_one(self.open[rid])
        return head

    def settle_before_exit(self) -> None:
        """Serve until every open dispute of the task has settled, bounded by its windows."""
        ctx = self.ctx
        self.serve()
        while self.open:
            params = self._task_params()
            last = max(ctx.client.dispute(rid).filed_block for rid in self.open)
            last += params.answer_window + params.vote_window + SETTLE_SLACK_BLOCKS
            if ctx.block() > last:
                ctx.log(f"{len(self.open)} dispute(s) still unsettled after block {last}")
                return
            pause(ctx)  # serves: answers, votes, settles

    # -- internals ------------------------------------------------------------------------
    def _task_params(self) -> TaskParams:
        if self._params is None:
            self._params = self.ctx.task().params
        return self._params

    def _scan(self, head: int | None) -> int:
        ctx = self.ctx
        if head is not None and head < self._from_block:
            return head
        with ctx.metrics.timed("chain"):
            head, filed = ctx.client.disputes_filed(
                ctx.task_id, from_block=self._from_block, to_block=head
            )
            for _, rid in filed:
                if rid not in self.open:
                    self.open[rid] = ctx.client.request(rid)
        # the logs may reach past `head` (a block mined between the two reads): not again
        self._from_block = max([head, *(block for block, _ in filed)]) + 1
        return head

    def _serve_one(self, request: RequestInfo) -> None:
        ctx, rid = self.ctx, request.request_id
        with ctx.metrics.timed("chain"):
            d = ctx.client.dispute(rid)
        me = ctx.address
        if d.state == DisputeState.SETTLED:
            del self.open[rid]
            if me in (request.receiver, request.uploader):
                ctx.log(f"epoch {request.epoch}: dispute on request {rid} settled: "
                        f"{d.outcome.name}")  # fmt: skip
            return
        if rid not in self._finished:
            if d.state == DisputeState.FILED and request.uploader == me:
                self._answer(request)
            elif d.state == DisputeState.ANSWERED and me not in (request.receiver,
                                                                 request.uploader):
                self._vote(request, d)
        self._settle_if_due(request, d)

    def _answer(self, request: RequestInfo) -> None:
        ctx, rid = self.ctx, request.request_id
        key = ctx.checkpoint.get(f"fresh_keys:{request.epoch}", {}).get(str(rid))
        self._finished.add(rid)
        if key is None:
            ctx.log(f"epoch {request.epoch}: no fresh key kept for request {rid}; cannot answer")
            return
        try:
            ctx.send(request.epoch, ctx.client.answer_dispute, request_id=rid,
                     fresh_key=bytes.fromhex(key))  # fmt: skip
        except (revert_class("DisputeWrongState"), revert_class("DisputeAnswerWindowClosed")) as e:
            ctx.log(f"epoch {request.epoch}: could not answer the dispute on request {rid}: {e}")
            return
        ctx.log(f"epoch {request.epoch}: answered the dispute of {request.receiver[:10]} on "
                f"request {rid} with the blob's fresh key")  # fmt: skip

    def _vote(self, request: RequestInfo, d: DisputeInfo) -> None:
        ctx, rid = self.ctx, request.request_id
        with ctx.metrics.timed("chain"):
            credible = ctx.client.party(ctx.task_id, ctx.address).status == PartyStatus.CREDIBLE
            voted = ctx.client.has_voted(rid, ctx.address)
        if not credible or voted:
            self._finished.add(rid)
            return
        valid, why = self._verdict(request, d)
        if valid is None:
            return  # storage unreachable: try again on the next poll
        self._finished.add(rid)
        try:
            ctx.send(request.epoch, ctx.client.vote_dispute, request_id=rid, blob_valid=valid)
        except LATE_VOTE:
            return
        except UnknownRevert as exc:
            if not exc.message.startswith("out of gas"):
                raise
            # Another vote landed first and made mine the settling one, which costs more gas
            # than estimated: it did not count, so vote again on the next poll.
            self._finished.discard(rid)
            ctx.log(f"epoch {request.epoch}: vote on request {rid} ran out of gas; retrying")
            return
        ctx.log(f"epoch {request.epoch}: voted {'valid' if valid else 'invalid'} on the dispute "
                f"on request {rid} ({why})")  # fmt: skip

    def _verdict(self, request: RequestInfo, d: DisputeInfo) -> tuple[bool | None, str]:
        """Does the blob open under the revealed key (layer 2 only; layer 1 still hides it)?"""
        ctx = self.ctx
        digest, _ = committed_hashes(ctx, request)
        try:
            data, problem = _fetch(ctx, digest)
        except StorageUnavailable as exc:
            return None, str(exc)
        if data is None:
            return False, problem or "not retrievable"
        with ctx.metrics.timed("crypto"):
            try:
                vec = open_with_key(data, slot=slot_of(request), fresh_key=d.revealed_key,
                                    commitment=d.key_hash)  # fmt: skip
            except DecryptionError as exc:
                return False, str(exc)
        problem = _size_problem(ctx, vec)
        return (False, problem) if problem else (True, "it opens")

    def _settle_if_due(self, request: RequestInfo, d: DisputeInfo) -> None:
        params = self._task_params()
        if d.state == DisputeState.FILED:
            due = d.filed_block + params.answer_window
        elif d.state == DisputeState.ANSWERED:
            due = d.answered_block + params.vote_window
        else:
            return
        if self.ctx.block() <= due:
            return
        try:
            self.ctx.send(request.epoch, self.ctx.client.settle_dispute,
                          request_id=request.request_id)  # fmt: skip
        except (revert_class("DisputeNotSettleable"), revert_class("DisputeWrongState")):
            pass  # another party settled it first
