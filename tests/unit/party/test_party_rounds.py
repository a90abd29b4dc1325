"""score_and_report over a fake chain: what a publisher does when a labeller stays silent."""

from __future__ import annotations

import hashlib
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np

from dppdl.chain.clients import PartyStatus
from dppdl.party.metrics import Metrics
from dppdl.party.payloads import encode_labels
from dppdl.party.rounds import ZERO, score_and_report

COUNT = 20
ADDRESSES = [f"0x{i:040x}" for i in range(1, 5)]  # party 0 publishes, 1..3 label


class FakeChain:
    """Labels digests per labeller, a block number that advances on every read."""

    def __init__(self, posted: dict[str, bytes]) -> None:
        self.posted = posted
        self.block = 100
        self.sent: list[tuple[int, list[str]]] = []
        self.roster: list[Any] = []  # read with the labels
        self.w3 = SimpleNamespace(eth=self)

    @property
    def block_number(self) -> int:
        self.block += 1
        return self.block

    def labels_digests(self, task_id: int, epoch: int, pairs: list[tuple[str, str]]) -> list:
        return [self.posted.get(labeler, ZERO) for labeler, _ in pairs]

    def labels_digests_and_roster(self, task_id: int, epoch: int,
                                  pairs: list[tuple[str, str]]) -> tuple[list, list]:  # fmt: skip
        return self.labels_digests(task_id, epoch, pairs), self.roster

    def signal_done(self, *, task_id: int, reports: list[str], roster_size: int) -> None:
        assert roster_size == len(ADDRESSES)
        self.sent.append((task_id, list(reports)))


def fake_context(chain: FakeChain, blobs: dict[bytes, bytes]) -> Any:
    roster = [SimpleNamespace(address=a, index=i, status=PartyStatus.CREDIBLE)
              for i, a in enumerate(ADDRESSES)]  # fmt: skip
    store: dict[str, Any] = {}
    logs: list[str] = []
    ctx = SimpleNamespace(
        address=ADDRESSES[0], task_id=1, client=chain, metrics=Metrics(), cancel=threading.Event(),
        serve=None, config=SimpleNamespace(poll_interval=0.0), log=logs.append,
        participant=SimpleNamespace(sample_count=COUNT), get=blobs.__getitem__,
        checkpoint=SimpleNamespace(get=lambda k, d=None: store.get(k, d), put=store.__setitem__),
        send=lambda epoch, call, **kw: call(**kw), may_have_acted=lambda epoch: True,
    )
    ctx.logs, ctx.store, ctx.the_roster = logs, store, roster
    chain.roster = roster
    return ctx


def run_round(posting: list[int]) -> Any:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, COUNT)
    blobs, posted = {}, {}
    for j in posting:
        blob = encode_labels(truth)
        digest = hashlib.sha256(blob + bytes([j])).digest()
        blobs[digest], posted[ADDRESSES[j]] = blob, digest
    chain = FakeChain(posted)
    ctx = fake_context(chain, blobs)
    task = SimpleNamespace(phase_deadline=105, params=SimpleNamespace(credibility_threshold_ppm=0))
    score_and_report(ctx, epoch=0, task=task, roster=ctx.the_roster)
    return ctx, chain


def test_a_labeller_silent_past_the_deadline_gets_no_credibility_and_is_reported() -> None:
    ctx, chain = run_round(posting=[1, 2])
    row = ctx.store["credibility:0"]
    assert row[3] == 0.0 and row[1] == row[2] == 0.5  # the two who labelled keep their scores
    assert chain.sent == [(1, [ADDRESSES[3]])]
    assert any("no labels from" in line for line in ctx.logs)


def test_when_everyone_labels_nobody_is_reported() -> None:
    ctx, chain = run_round(posting=[1, 2, 3])
    assert np.allclose(ctx.store["credibility:0"][1:], 1 / 3)
    assert chain.sent == [(1, [])]
