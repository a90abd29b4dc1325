"""Dropout recovery: uploaders reveal slot keys with dropped senders; receivers collect."""

from __future__ import annotations

from dppdl.chain.clients import DisputeState, RequestInfo, RequestState
from dppdl.party.context import PartyContext
from dppdl.party.disputes import AGAINST_UPLOADER
from dppdl.party.payloads import decode_reveal, encode_reveal
from dppdl.party.waiting import wait_until


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def _dropped_for(ctx: PartyContext, theirs: list[RequestInfo]) -> tuple[list[bytes], int] | None:
    """(senders dropped from a receiver's sum, how many remain), or None while undecided.

    Dropped: refunded senders, and senders whose blob the receiver disputed and that lost the
    dispute (the keys wait for a majority of third parties, so a false dispute unmasks nobody).
    """
    dropped: list[bytes] = []
    arrived = 0
    for r in theirs:
        if r.state == RequestState.REFUNDED:
            dropped.append(_addr(r.uploader))
            continue
        dispute = ctx.client.dispute(r.request_id)
        if dispute.state in (DisputeState.FILED, DisputeState.ANSWERED):
            return None
        if dispute.state == DisputeState.SETTLED and dispute.outcome in AGAINST_UPLOADER:
            dropped.append(_addr(r.uploader))
        else:
            arrived += 1
    return dropped, arrived


def serve_reveals(ctx: PartyContext, *, epoch: int, head: int, upload_deadline: int) -> None:
    """For each receiver I uploaded to whose other senders dropped out, reveal once.

    Nothing can be owed before the epoch's upload deadline (`head` is the latest block): a
    sender drops out only by a refund, which comes after it, and the chain takes no reveal
    before it either. So a poll before the deadline costs no reads."""
    from dppdl.party.epoch import masks_for

    if head <= upload_deadline:
        return
    key = f"reveals:{epoch}"
    done = set(ctx.checkpoint.get(key, []))
    client = ctx.client
    committed = [
        r
        for r in client.requests_by_uploader(ctx.task_id, epoch, ctx.address)
        if r.state == RequestState.COMMITTED and r.receiver not in done
    ]
    if not committed:
        return
    finished = {p.address for p in ctx.roster()  # receivers done with this epoch need nothing
                if p.done_epoch is not None and p.done_epoch >= epoch}  # fmt: skip
    for request in committed:
        if request.receiver in finished:
            done.add(request.receiver)
            ctx.checkpoint.put(key, sorted(done))
            continue
        theirs = client.requests_by_receiver(ctx.task_id, epoch, request.receiver)
        if any(r.state == RequestState.PENDING for r in theirs):
            continue  # not settled yet: refunds come only after the upload deadline
        if client.dispute(request.request_id).state != DisputeState.NONE:
            done.add(request.receiver)  # my own blob is disputed: I am the one left out
            ctx.checkpoint.put(key, sorted(done))
            continue
        decided = _dropped_for(ctx, theirs)
        if decided is None:
            continue  # a dispute to this receiver is still open
        dropped, arrived = decided
        if not dropped:
            continue  # a dispute may still come until the receiver is done with the epoch
        if arrived < 2:
            # With me as the only sender left, my slot keys would unmask my own vector.
            ctx.log(f"epoch {epoch}: not revealing to {request.receiver[:10]}: I am its only "
                    "remaining sender")
        else:
            keys = masks_for(ctx, ctx.roster()).reveal_slot_keys(
                task=ctx.task_id,
                epoch=epoch,
                receiver=_addr(request.receiver),
                round_id=0,
                dropped=dropped,
            )
            digest = ctx.put(
                encode_reveal(receiver=_addr(request.receiver), epoch=epoch, keys=keys)
            )
            ctx.send(
                epoch,
                client.post_reveal,
                task_id=ctx.task_id,
                receiver=request.receiver,
                digest=digest,
            )
            ctx.log(
                f"epoch {epoch}: revealed slot keys with {len(dropped)} dropped sender(s) "
                f"for {request.receiver[:10]}"
            )
        done.add(request.receiver)
        ctx.checkpoint.put(key, sorted(done))


def collect_reveals(ctx: PartyContext, *, epoch: int, senders: list[str],
                    dropped: list[str]) -> dict[bytes, dict[bytes, bytes]]:  # fmt: skip
    """Wait for every arrived sender's reveal for me this epoch; return sender -> {dropped: key}."""
    task = ctx.task()

    def found() -> dict[str, bytes] | None:
        posted = ctx.client.reveals(ctx.task_id, epoch, ctx.address,
                                    from_block=task.phase_start)
        have = {s: posted[s] for s in senders if s in posted}
        return have if len(have) == len(senders) else None

    digests = wait_until(
        ctx,
        found,
        deadline_block=task.phase_deadline,
        what=f"mask-key reveals for {len(dropped)} dropped sender(s)",
    )
    if digests is None:
        raise RuntimeError(f"epoch {epoch}: not every sender revealed its slot keys in time")
    return {
        _addr(s): decode_reveal(ctx.get(d), receiver=ctx.address_bytes, epoch=epoch)
        for s, d in digests.items()
    }
