"""One training epoch on-chain: local update, one download request, one upload commit, aggregate."""

from __future__ import annotations

import numpy as np
import torch

from dppdl.chain.clients import (
    PartyInfo,
    PartyStatus,
    RequestInfo,
    RequestState,
    TaskInfo,
    UploadCommitment,
)
from dppdl.crypto.blob import Slot
from dppdl.crypto.errors import SenderBlobError
from dppdl.crypto.exchange import encrypt_for, open_sum
from dppdl.crypto.masks import PairwiseMasks
from dppdl.party.context import PartyContext
from dppdl.party.disputes import AGAINST_UPLOADER, BlobChecker
from dppdl.party.reveals import collect_reveals
from dppdl.party.rounds import active_mask, my_index
from dppdl.party.waiting import wait_until
from dppdl.protocol import points
from dppdl.protocol.selection import magnitude_order, sell

RESIDUALS = "residuals"  # checkpoint state: receiver address -> what my sales still owe it


def addr(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def masks_for(ctx: PartyContext, roster: list[PartyInfo]) -> PairwiseMasks:
    return PairwiseMasks(
        keys=ctx.keys,
        address=ctx.address_bytes,
        peer_publics={addr(p.address): p.public_key for p in roster},
    )


def local_update(ctx: PartyContext, *, epoch: int) -> np.ndarray:
    """One local epoch of SGD (once per epoch, even across restarts); returns Δw."""
    if ctx.learner_marks.get("updated") == epoch:
        return ctx.learner_marks["delta"].numpy()
    with ctx.metrics.timed("training"):
        delta = ctx.participant.local_update()
    ctx.save_learner(updated=epoch, delta=torch.from_numpy(delta))
    return delta


def request_downloads(ctx: PartyContext, *, epoch: int, c_row: np.ndarray,
                      roster: list[PartyInfo]) -> None:  # fmt: skip
    """d_i^j = min(c_i^j·d_i, cap_j) for every credible j, escrowed in one transaction."""
    if ctx.may_have_acted(epoch):
        with ctx.metrics.timed("chain"):
            if ctx.client.requests_by_receiver(ctx.task_id, epoch, ctx.address):
                return  # requested before a restart
    me = my_index(ctx, roster)
    n = len(roster)
    credibility = np.zeros((n, n))
    credibility[me] = c_row
    balances = np.zeros(n, dtype=np.int64)
    balances[me] = roster[me].balance
    row = points.allocations(
        credibility=credibility,
        balances=balances,
        n_params=ctx.spec.n_params,
        privacy_ppm=np.array([p.privacy_ppm for p in roster], dtype=np.int64),
        active=active_mask(roster),
    )[me]
    ctx.checkpoint.put(f"allocation:{epoch}", [int(v) for v in row])
    orders = [(roster[j].address, int(row[j])) for j in np.flatnonzero(row)]
    if not orders:
        ctx.log(f"epoch {epoch}: no budget or credible uploader; requesting nothing")
        return
    ctx.send(epoch, ctx.client.request_downloads, task_id=ctx.task_id, requests=orders)


def upload(
    ctx: PartyContext, *, task: TaskInfo, delta: np.ndarray, roster: list[PartyInfo]
) -> None:
    """Seal what I sell every receiver that bought from me (top-k of Δw, with error feedback of
    Δw + what it is still owed); commit all blobs in one tx. `task` as the epoch began."""
    epoch = task.epoch
    others = [p for p in roster if p.address != ctx.address and p.status == PartyStatus.CREDIBLE]

    def requests() -> dict[str, list[RequestInfo]]:
        return ctx.client.requests_by_receivers(ctx.task_id, epoch, [p.address for p in others])

    def all_requested() -> dict[str, list[RequestInfo]] | None:
        found = requests()
        return found if all(found.values()) else None

    # Each receiver requests from all its uploaders in one transaction, so once it has
    # requested, its sender set (which the masks need) is complete.
    by_receiver = wait_until(
        ctx,
        all_requested,
        deadline_block=task.request_deadline,
        what=f"every party's epoch-{epoch} download request",
    )
    if by_receiver is None:  # past the deadline: serve those who did request
        with ctx.metrics.timed("chain"):
            by_receiver = requests()
    mine = [r for rs in by_receiver.values() for r in rs
            if r.uploader == ctx.address and r.state == RequestState.PENDING]  # fmt: skip
    if not mine:
        return
    if ctx.config.behaviour == "no-upload":
        ctx.log(f"epoch {epoch}: behaviour no-upload, ignoring {len(mine)} request(s)")
        return
    codec = ctx.spec.codec
    clipped = 0  # most entries beyond ±clip in any one sale
    masks = masks_for(ctx, roster)
    feedback = ctx.spec.collab.error_feedback
    owed: dict[str, np.ndarray] = (ctx.checkpoint.load_state(RESIDUALS) or {}) if feedback else {}
    order = None if feedback else magnitude_order(delta)
    sealed: list[tuple[RequestInfo, bytes, bytes]] = []  # (request, blob, key commitment)
    fresh_keys: dict[str, str] = {}
    still_owed: dict[str, np.ndarray] = {}
    for request in mine:
        senders = [addr(r.uploader) for r in by_receiver[request.receiver]]
        residual = owed.get(request.receiver, np.zeros_like(delta)) if feedback else None
        sparse, rest = sell(delta, k=request.amount, residual=residual, order=order)
        if rest is not None:
            still_owed[request.receiver] = rest
        slot = Slot(
            task=ctx.task_id,
            epoch=epoch,
            sender=ctx.address_bytes,
            receiver=addr(request.receiver),
            request_id=request.request_id,
        )
        with ctx.metrics.timed("crypto"):
            clipped = max(clipped, codec.clipped(sparse))
            blob = encrypt_for(
                sparse, slot=slot, masks=masks, senders=senders, codec=codec
            )
        data = corrupt(blob.data) if ctx.config.behaviour == "corrupt-upload" else blob.data
        sealed.append((request, data, blob.key_commitment))
        fresh_keys[str(request.request_id)] = blob.fresh_key.hex()
    digests = ctx.put_many([data for _, data, _ in sealed])  # stored together
    commits = [
        UploadCommitment(request_id=request.request_id, blob_digest=digest, key_hash=key_hash)
        for (request, _, key_hash), digest in zip(sealed, digests, strict=True)
    ]
    if clipped:
        ctx.log(f"epoch {epoch}: up to {clipped} sold entries lay beyond the codec's "
                f"±{codec.clip} and were clipped")  # fmt: skip
    ctx.checkpoint.put(
        f"fresh_keys:{epoch}", {**ctx.checkpoint.get(f"fresh_keys:{epoch}", {}), **fresh_keys}
    )
    ctx.send(epoch, ctx.client.commit_uploads, task_id=ctx.task_id, commits=commits)
    if feedback:  # after the commit: a restart before it recomputes the same sales
        ctx.checkpoint.save_state(RESIDUALS, {**owed, **still_owed})


def aggregate(
    ctx: PartyContext, *, task: TaskInfo, roster: list[PartyInfo], own_update: np.ndarray
) -> None:
    """Fetch and check my blobs (disputing bad ones), refund what never came, open the sum of
    the good ones and fold it into my model with my own update ``own_update`` (once)."""
    epoch = task.epoch
    if ctx.learner_marks.get("aggregated") == epoch:
        return
    checker = BlobChecker(ctx)

    def arrived() -> tuple[list[RequestInfo]] | None:  # a 1-tuple: truthy when I bought none
        now = ctx.client.requests_by_receiver(ctx.task_id, epoch, ctx.address)
        checker.check(now)  # a bad blob is disputed while the dispute window is open
        return (now,) if all(r.state != RequestState.PENDING for r in now) else None

    found = wait_until(
        ctx, arrived, deadline_block=task.upload_deadline,
        what=f"the uploads I bought in epoch {epoch}",
    )  # fmt: skip
    if found is not None:
        final = found[0]
    else:
        _refund_missing(ctx, epoch)
        final = ctx.client.requests_by_receiver(ctx.task_id, epoch, ctx.address)
        checker.check(final)
    if not final:  # I bought nothing this epoch
        ctx.save_learner(aggregated=epoch)
        return
    if checker.bad and not _disputes_won(ctx, checker, epoch):
        ctx.save_learner(aggregated=epoch)
        return
    committed = [r for r in final if r.state == RequestState.COMMITTED
                 and r.request_id not in checker.bad]  # fmt: skip
    dropped = [r for r in final if r.state == RequestState.REFUNDED or r.request_id in checker.bad]
    if len(committed) < 2:
        ctx.log(
            f"epoch {epoch}: only {len(committed)} good upload(s) arrived; a sum of fewer than "
            "two senders is not opened"
        )
        ctx.save_learner(aggregated=epoch)
        return
    blobs = {addr(r.uploader): checker.good[r.request_id] for r in committed}
    revealed = (
        collect_reveals(
            ctx,
            epoch=epoch,
            senders=[r.uploader for r in committed],
            dropped=[r.uploader for r in dropped],
        )
        if dropped
        else None
    )
    try:
        with ctx.metrics.timed("crypto"):
            total = open_sum(
                blobs,
                task=ctx.task_id,
                epoch=epoch,
                request_ids={addr(r.uploader): r.request_id for r in final},
                masks=masks_for(ctx, roster),
                expected_senders=[addr(r.uploader) for r in final],
                revealed=revealed,
                ring_bits=ctx.spec.codec.ring_bits,
            )
            update = ctx.spec.codec.decode(total)
    except SenderBlobError as exc:  # every blob opened alone, so this is rare: dispute, skip
        bad = next(r for r in committed if addr(r.uploader) == exc.sender)
        checker.reject(bad, str(exc))
        ctx.log(f"epoch {epoch}: the sum is not opened this epoch")
        ctx.save_learner(aggregated=epoch)
        return
    with ctx.metrics.timed("training"):
        ctx.participant.apply_aggregate(update, own_update=own_update, n_senders=len(committed))
    ctx.checkpoint.put(f"opened:{epoch}", sorted(r.uploader for r in committed))
    ctx.save_learner(aggregated=epoch)


def _disputes_won(ctx: PartyContext, checker: BlobChecker, epoch: int) -> bool:
    """Wait for my disputes to settle; the others reveal keys only for disputes I won."""
    outcomes = checker.outcomes()
    lost = {rid: o for rid, o in outcomes.items() if o not in AGAINST_UPLOADER}
    for rid, outcome in lost.items():
        how = "was refused or not settled in time" if outcome == 0 else f"ended {outcome.name}"
        ctx.log(f"epoch {epoch}: the dispute on request {rid} {how}: without the other "
                "senders' slot keys for its sender, the sum is not opened")  # fmt: skip
    return not lost


def _refund_missing(ctx: PartyContext, epoch: int) -> None:
    from dppdl.chain.reverts import revert_class

    pending = [
        r.request_id
        for r in ctx.client.requests_by_receiver(ctx.task_id, epoch, ctx.address)
        if r.state == RequestState.PENDING
    ]
    if not pending:
        return
    ctx.log(f"epoch {epoch}: refunding {len(pending)} request(s) that were never committed")
    try:
        ctx.send(epoch, ctx.client.refund_requests, request_ids=pending)
    except revert_class("RefundNotPending"):
        pass  # someone else refunded them first


def corrupt(blob: bytes) -> bytes:
    """Behaviour corrupt-upload: flip a bit of layer 2's tag after sealing (it no longer opens)."""
    return blob[:-1] + bytes([blob[-1] ^ 0x01])
