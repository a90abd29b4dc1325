"""The HTTP client's pieces that need no node (the node-backed suite is in tests/integration)."""

from __future__ import annotations

import io
import os

import pytest

from storage.errors import IntegrityError
from storage.http_client import HttpStore, _read_at_most


def test_an_unannounced_body_is_cut_soon_after_the_limit() -> None:
    body = io.BytesIO(os.urandom(2_000_000))
    with pytest.raises(IntegrityError, match="too much"):
        _read_at_most(body, 4096, IntegrityError("too much"))  # type: ignore[arg-type]
    assert body.tell() < 1_000_000  # stopped reading: one chunk past the limit


def test_an_unannounced_body_at_the_limit_is_read_whole() -> None:
    exact = os.urandom(4096)
    assert _read_at_most(io.BytesIO(exact), 4096, IntegrityError("")) == exact  # type: ignore[arg-type]


def test_a_closed_store_refuses_requests() -> None:
    store = HttpStore("http://127.0.0.1:9")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.has("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
