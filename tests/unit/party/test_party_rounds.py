"""score_and_report over a fake chain (a silent labeller, both label blob formats) and the
label payloads themselves."""

from __future__ import annotations

import hashlib
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dppdl.chain.clients import PartyStatus
from dppdl.party.metrics import Metrics
from dppdl.party.payloads import (
    LABEL_SETS_MAGIC,
    PayloadError,
    decode_labels,
    encode_label_sets,
    encode_labels,
)
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
        get_many=lambda digests: [blobs[d] for d in digests],
        checkpoint=SimpleNamespace(get=lambda k, d=None: store.get(k, d), put=store.__setitem__),
        send=lambda epoch, call, **kw: call(**kw), may_have_acted=lambda epoch: True,
    )
    ctx.logs, ctx.store, ctx.the_roster = logs, store, roster
    chain.roster = roster
    return ctx


def run_round(posting: list[int], *, single: tuple[int, ...] = ()) -> Any:
    """Labellers in `posting` post the same labels; those in `single` as the one-publisher .npy
    blob of older agents, the others as a label-sets blob that also holds another publisher."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, COUNT)
    blobs, posted = {}, {}
    for j in posting:
        other = ADDRESSES[1 + j % 3]  # a publisher besides party 0, with fewer samples
        sets = {other: rng.integers(0, 10, COUNT - 3), ADDRESSES[0].upper(): truth}
        blob = encode_labels(truth) if j in single else encode_label_sets(sets)
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


def test_label_blobs_of_both_formats_score_alike() -> None:
    new, _ = run_round(posting=[1, 2, 3])
    mixed, chain = run_round(posting=[1, 2, 3], single=(2,))
    assert new.store["credibility:0"] == mixed.store["credibility:0"]
    assert chain.sent == [(1, [])]


# -- label payloads ------------------------------------------------------------------------------

def test_label_sets_give_each_publisher_its_own_labels() -> None:
    a, b = ADDRESSES[1], ADDRESSES[2]
    blob = encode_label_sets({a: np.array([1, 2, 3]), b.upper(): np.array([9, 0])})
    assert blob.startswith(LABEL_SETS_MAGIC)
    assert decode_labels(blob, count=3, publisher=a.upper()).tolist() == [1, 2, 3]
    assert decode_labels(blob, count=2, publisher=b).tolist() == [9, 0]
    with pytest.raises(PayloadError, match="no labels for"):
        decode_labels(blob, count=3, publisher=ADDRESSES[3])
    with pytest.raises(PayloadError, match="shape"):
        decode_labels(blob, count=4, publisher=a)


def _with_header(header: bytes, body: bytes) -> bytes:
    return LABEL_SETS_MAGIC + len(header).to_bytes(4, "big") + header + body


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (_with_header(b"not json", b""), "malformed header"),
        (_with_header(b'[["0xa", "x"]]', b"\x01"), "malformed header"),
        (_with_header(b'[["0xa", 2]]', b"\x01"), "does not match its length"),
        (_with_header(b'[["0xa", -1]]', b""), "does not match its length"),
        (_with_header(b'[["0xa", 1], ["0xa", 1]]', b"\x01\x02"), "twice"),
        (_with_header(b'[["0xa", 1]]', b"\x0c"), "outside 0..9"),
        (LABEL_SETS_MAGIC + b"\x00\x00\x01\x00[", "malformed header"),
        (b"not a blob", "not a valid .npy"),
    ],
)
def test_malformed_label_blobs_are_refused(blob: bytes, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        decode_labels(blob, count=1, publisher="0xA")
