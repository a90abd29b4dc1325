"""PartyContext.put_many / get_many: blobs stored and fetched with their requests in flight
together, results in order, each failed fetch handed back, the helpers' CPU booked."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from dppdl.party.context import PartyContext
from storage import BlobStore
from storage.directory import DirectoryStore
from storage.errors import BlobNotFound

BareContext = Callable[[BlobStore], PartyContext]  # the bare_context fixture (conftest)


class CountingStore(DirectoryStore):
    """A directory store that records which threads served its requests."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: set[str] = set()

    def put(self, data: Any) -> str:
        self.threads.add(threading.current_thread().name)
        return super().put(data)

    def get(self, cid: str) -> bytes:
        self.threads.add(threading.current_thread().name)
        return super().get(cid)


def context(bare_context: BareContext, tmp_path: Path) -> tuple[PartyContext, CountingStore]:
    store = CountingStore(tmp_path / "blobs")
    return bare_context(store), store


def test_put_many_and_get_many_keep_order_and_run_beside_the_caller(
    bare_context: BareContext, tmp_path: Path
) -> None:
    # Prepare
    ctx, store = context(bare_context, tmp_path)
    blobs = [bytes([i]) * (1000 + i) for i in range(5)]
    # Execute
    digests = ctx.put_many(blobs)
    fetched = ctx.get_many(digests)
    # Assert: sha2-256 digests in order, the same bytes back, served by the helper threads
    assert digests == [hashlib.sha256(b).digest() for b in blobs]
    assert fetched == blobs
    assert any(name.startswith("dppdl-storage") for name in store.threads)
    assert ctx.metrics.bytes_stored == sum(len(b) for b in blobs)
    phase = ctx.metrics.phase_seconds[ctx.metrics.phase]
    assert phase["storage"] > 0 and ctx.metrics.phase_cpu_seconds[ctx.metrics.phase]["storage"] > 0


def test_get_many_hands_back_each_failed_fetch(bare_context: BareContext, tmp_path: Path) -> None:
    ctx, _ = context(bare_context, tmp_path)
    (kept,) = ctx.put_many([b"kept"])  # one blob: stored inline
    missing = hashlib.sha256(b"never stored").digest()
    first, second, third = ctx.get_many([kept, missing, kept])
    assert first == third == b"kept"
    assert isinstance(second, BlobNotFound)


def test_put_many_raises_what_a_put_raised(bare_context: BareContext, tmp_path: Path) -> None:
    ctx, store = context(bare_context, tmp_path)
    store.max_size = 10
    with pytest.raises(Exception, match="10"):
        ctx.put_many([b"small", b"x" * 100])
    assert cast(int, ctx.metrics.bytes_stored) == 0
