"""Credibility rounds on-chain: label the others' DP-GAN samples, score, report, signal done."""

from __future__ import annotations

import numpy as np
import torch

from dppdl.chain.clients import PartyInfo, PartyStatus, TaskInfo
from dppdl.party.context import PartyContext, all_or_raise
from dppdl.party.payloads import (
    PayloadError,
    decode_labels,
    decode_sample_index,
    decode_samples,
    encode_label_sets,
    encode_sample_chunks,
    encode_sample_index,
)
from dppdl.party.waiting import wait_until
from dppdl.protocol import credibility as cred

ZERO = bytes(32)


def active_mask(roster: list[PartyInfo]) -> np.ndarray:
    """Roster-indexed mask of the credible set, read from the chain."""
    return np.array([p.status == PartyStatus.CREDIBLE for p in roster], dtype=bool)


def my_index(ctx: PartyContext, roster: list[PartyInfo]) -> int:
    for p in roster:
        if p.address == ctx.address:
            return p.index
    raise RuntimeError(f"{ctx.address} is not in the roster of task {ctx.task_id}")


def publish_samples(ctx: PartyContext, samples: np.ndarray) -> bytes:
    """Store every round's samples; the digest to post on-chain: of the one samples blob, or,
    when the rounds take several chunks, of an index of them (`SampleCache` reads both)."""
    chunks = encode_sample_chunks(samples)
    if len(chunks) == 1:
        return ctx.put(chunks[0][0])
    stored = ctx.put_many([blob for blob, _ in chunks])
    return ctx.put(encode_sample_index(
        [(d, rounds) for d, (_, rounds) in zip(stored, chunks, strict=True)]))  # fmt: skip


class SampleCache:
    """Each publisher's samples, fetched as needed and checked against their digests. A plain
    samples blob is held whole (it is at most one chunk); of an indexed one, only the chunk of
    the round asked for last, so a labeller holds at most one chunk per publisher."""

    def __init__(self, ctx: PartyContext) -> None:
        self.ctx = ctx
        self._index: dict[bytes, list[tuple[bytes, int]] | None] = {}  # None: a plain blob
        self._held: dict[bytes, tuple[int, np.ndarray]] = {}  # first round, rounds held
        self._per_round: dict[bytes, int] = {}  # samples per round, the same in every chunk

    def round_of(self, publisher: PartyInfo, round: int) -> torch.Tensor:
        digest = publisher.samples_digest
        first, block = self._held.get(digest, (0, None))
        if block is None or not first <= round < first + len(block):
            first, block = self._fetch(digest, round)
            count = self._per_round.setdefault(digest, int(block.shape[1]))
            if block.shape[1] != count:
                raise PayloadError("samples chunks hold different numbers of samples per round")
            self._held[digest] = (first, block)
        return torch.from_numpy(block[round - first])

    def _fetch(self, digest: bytes, round: int) -> tuple[int, np.ndarray]:
        """(first round, samples) of the blob or chunk that holds `round`."""
        rounds = self.ctx.spec.epochs + 1
        if digest not in self._index:
            data = self.ctx.get(digest)
            self._index[digest] = decode_sample_index(data, rounds=rounds)
            if self._index[digest] is None:
                return 0, decode_samples(data, rounds=rounds)
        first = 0  # a plain blob stays held whole: only a bad round number finds no chunk
        for chunk, count in self._index[digest] or []:
            if round < first + count:
                return first, decode_samples(self.ctx.get(chunk), rounds=count)
            first += count
        raise IndexError(f"round {round} is not among the {rounds} rounds of samples")


def post_labels(
    ctx: PartyContext, samples: SampleCache, *, epoch: int, roster: list[PartyInfo]
) -> None:
    """Label round `epoch` of every other credible party's samples; one transaction for all.
    `roster` is the one the phase began with (the credible set changes only when it closes)."""
    me = my_index(ctx, roster)
    publishers = [p for p in roster if p.index != me and p.status == PartyStatus.CREDIBLE]
    mine = [ZERO] * len(publishers)
    if ctx.may_have_acted(epoch):
        with ctx.metrics.timed("chain"):
            mine = ctx.client.labels_digests(
                ctx.task_id, epoch, [(ctx.address, p.address) for p in publishers]
            )
    sets: dict[str, np.ndarray] = {}
    for p, posted in zip(publishers, mine, strict=True):
        if posted != ZERO:
            continue  # posted before a restart
        with ctx.metrics.timed("training"):
            sets[p.address] = ctx.participant.label(samples.round_of(p, epoch))
    if sets:  # one blob for all publishers, its digest posted for each
        digest = ctx.put(encode_label_sets(sets))
        posts = [(address, digest) for address in sets]
        ctx.send(epoch, ctx.client.post_labels, task_id=ctx.task_id, labels=posts)


def previous_row(ctx: PartyContext, epoch: int, n: int) -> np.ndarray | None:
    saved = ctx.checkpoint.get(f"credibility:{epoch - 1}") if epoch > 0 else None
    return None if saved is None else np.array(saved, dtype=np.float64)


def score_and_report(
    ctx: PartyContext, *, epoch: int, task: TaskInfo, roster: list[PartyInfo]
) -> None:
    """Collect the labels of my round-`epoch` samples, update my credibility row, signal done.
    `task` and `roster` are as the phase began (its deadline and credible set)."""
    me = my_index(ctx, roster)
    n = len(roster)
    labellers = [p for p in roster if p.index != me and p.status == PartyStatus.CREDIBLE]

    def posted() -> tuple[dict[int, bytes], list[PartyInfo]]:
        """The labels posted so far, and the roster read with them."""
        digests, now = ctx.client.labels_digests_and_roster(
            ctx.task_id, epoch, [(p.address, ctx.address) for p in labellers]
        )
        return {p.index: d for p, d in zip(labellers, digests, strict=True) if d != ZERO}, now

    def all_posted() -> tuple[dict[int, bytes], list[PartyInfo]] | None:
        found = posted()
        return found if len(found[0]) == len(labellers) else None

    result = wait_until(
        ctx, all_posted, deadline_block=task.phase_deadline,
        what=f"labels of my epoch-{epoch} samples",
    )  # fmt: skip
    if result is None:  # score with the labels that came: a silent labeller agrees with none
        with ctx.metrics.timed("chain"):
            result = posted()
        silent = [p.address[:10] for p in labellers if p.index not in result[0]]
        ctx.log(f"epoch {epoch}: no labels from {', '.join(silent)} by the deadline")
    digests, roster_now = result
    count = ctx.participant.sample_count
    blobs = all_or_raise(ctx.get_many(list(digests.values())))  # fetched together
    labels = {j: decode_labels(blob, count=count, publisher=ctx.address)
              for j, blob in zip(digests, blobs, strict=True)}  # fmt: skip
    active = active_mask(roster)  # the credible set when the round started, as the reference
    raw = np.zeros((n, n))
    raw[me] = cred.raw_row(labels, owner=me, n_parties=n)
    fresh = cred.normalise(raw, active=active)
    old = previous_row(ctx, epoch, n)
    if old is None:
        c = fresh
    else:
        prev = np.zeros((n, n))
        prev[me] = old
        c = cred.update(cred.normalise(prev, active=active), fresh, active=active)
    row = c[me]
    ctx.checkpoint.put(f"credibility:{epoch}", [float(v) for v in row])
    ctx.metrics.credibility[str(epoch)] = [float(v) for v in row]
    still = active_mask(roster_now)  # a party removed meanwhile can no longer be reported
    threshold_ppm = task.params.credibility_threshold_ppm  # 0: the paper's (2/3)(1/n)
    flagged = cred.reports(c, active=active, threshold_ppm=threshold_ppm)[me]
    reported = [roster[j].address for j in np.flatnonzero(flagged & still)]
    if reported:
        ctx.log(f"epoch {epoch}: reporting {', '.join(a[:10] for a in reported)} as low quality")
    ctx.send(epoch, ctx.client.signal_done, task_id=ctx.task_id, reports=reported,
             roster_size=n)


def credibility_row(ctx: PartyContext, *, epoch: int, roster: list[PartyInfo]) -> np.ndarray:
    """My credibility row after round `epoch - 1`, renormalised over today's credible set."""
    n = len(roster)
    me = my_index(ctx, roster)
    saved = ctx.checkpoint.get(f"credibility:{epoch - 1}")
    if saved is None:
        raise RuntimeError(f"no credibility row for round {epoch - 1} in the checkpoint")
    c = np.zeros((n, n))
    c[me] = saved
    return cred.normalise(c, active=active_mask(roster))[me]
