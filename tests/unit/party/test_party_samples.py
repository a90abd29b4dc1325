"""A publisher's DP-GAN samples for every round: one blob, or chunks and an index of them when
the rounds outgrow a blob (90 epochs of 213 samples are 79 MB; storage takes 64 MiB)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import cast
from unittest.mock import patch

import numpy as np
import pytest
import torch

from dppdl.chain.clients import PartyInfo
from dppdl.party import rounds
from dppdl.party.context import PartyContext
from dppdl.party.payloads import (
    SAMPLES_INDEX_MAGIC,
    PayloadError,
    decode_sample_index,
    decode_samples,
    encode_sample_chunks,
)
from dppdl.party.rounds import SampleCache
from storage import BlobStore
from storage.directory import DirectoryStore

ROUNDS, U = 7, 3
PER_ROUND = U * 32 * 32 * 4  # float32 bytes of one round

BareContext = Callable[[BlobStore], PartyContext]  # the bare_context fixture (conftest)


def samples() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal((ROUNDS, U, 1, 32, 32)).astype(np.float32)


def context(bare_context: BareContext, tmp_path: Path) -> PartyContext:
    ctx = bare_context(DirectoryStore(tmp_path / "blobs"))
    ctx.spec = SimpleNamespace(epochs=ROUNDS - 1)  # type: ignore[assignment]
    return ctx


def publish(ctx: PartyContext, data: np.ndarray, chunk_bytes: int) -> bytes:
    with patch.object(rounds, "encode_sample_chunks",
                      partial(encode_sample_chunks, chunk_bytes=chunk_bytes)):  # fmt: skip
        return rounds.publish_samples(ctx, data)


@pytest.mark.parametrize("chunk_bytes, sizes", [
    (10**9, [7]), (3 * PER_ROUND, [3, 3, 1]), (PER_ROUND, [1] * 7), (1, [1] * 7),
])  # fmt: skip
def test_chunks_hold_whole_rounds_within_the_limit(chunk_bytes: int, sizes: list[int]) -> None:
    chunks = encode_sample_chunks(samples(), chunk_bytes=chunk_bytes)
    assert [r for _, r in chunks] == sizes
    parts = [decode_samples(b, rounds=r) for b, r in chunks]
    assert np.array_equal(np.concatenate(parts), samples())


@pytest.mark.parametrize("chunk_bytes", [10**9, 2 * PER_ROUND])
def test_every_round_reads_back_from_one_blob_or_from_chunks(
    bare_context: BareContext, tmp_path: Path, chunk_bytes: int
) -> None:
    # Prepare
    ctx = context(bare_context, tmp_path)
    digest = publish(ctx, samples(), chunk_bytes)
    publisher = cast(PartyInfo, SimpleNamespace(samples_digest=digest))
    fetched: list[bytes] = []
    get = ctx.get
    ctx.get = lambda d: fetched.append(d) or get(d)  # type: ignore[method-assign]
    # Execute: the rounds in order, as a labeller reads them, then one again
    cache = SampleCache(ctx)
    got = [cache.round_of(publisher, r) for r in range(ROUNDS)]
    again = cache.round_of(publisher, 1)
    # Assert: the same samples; an index only when the rounds took several chunks, each chunk
    # fetched once in order (and again only when an earlier round is asked for after it)
    assert all(torch.equal(g, torch.from_numpy(samples()[r])) for r, g in enumerate(got))
    assert torch.equal(again, torch.from_numpy(samples()[1]))
    indexed = get(digest).startswith(SAMPLES_INDEX_MAGIC)
    assert indexed == (chunk_bytes < ROUNDS * PER_ROUND)
    assert len(fetched) == (1 + 4 + 1 if indexed else 1)  # index, 4 chunks, chunk 0 again
    first, held = cache._held[digest]
    assert (first, len(held)) == ((0, 2) if indexed else (0, ROUNDS))


def test_chunks_with_different_sample_counts_are_refused(
    bare_context: BareContext, tmp_path: Path
) -> None:
    # Prepare: an index whose second chunk holds 2 samples a round, the first 3
    ctx = context(bare_context, tmp_path)
    wide = encode_sample_chunks(samples()[:3], chunk_bytes=10**9)[0][0]
    narrow = encode_sample_chunks(samples()[3:, :2], chunk_bytes=10**9)[0][0]
    digests = ctx.put_many([wide, narrow])
    index = rounds.encode_sample_index([(digests[0], 3), (digests[1], ROUNDS - 3)])
    publisher = cast(PartyInfo, SimpleNamespace(samples_digest=ctx.put(index)))
    cache = SampleCache(ctx)
    # Execute and assert
    assert cache.round_of(publisher, 2).shape[0] == U
    with pytest.raises(PayloadError, match="different numbers of samples"):
        cache.round_of(publisher, 3)


def _index(body: object) -> bytes:
    return SAMPLES_INDEX_MAGIC + json.dumps(body).encode()


@pytest.mark.parametrize("blob, match", [
    (_index("not a list"), "malformed"),
    (SAMPLES_INDEX_MAGIC + b"{", "malformed"),
    (_index([["zz", 7]]), "malformed"),
    (_index([]), "expected 7 in all"),
    (_index([["ab" * 32, 3], ["cd" * 32, 3]]), "expected 7 in all"),
    (_index([["ab" * 31, 7]]), "expected 7 in all"),
    (_index([["ab" * 32, 0], ["cd" * 32, 7]]), "expected 7 in all"),
])  # fmt: skip
def test_malformed_sample_indexes_are_refused(blob: bytes, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        decode_sample_index(blob, rounds=ROUNDS)


def test_a_plain_samples_blob_is_not_an_index() -> None:
    ((blob, _),) = encode_sample_chunks(samples())
    assert decode_sample_index(blob, rounds=ROUNDS) is None
