"""The local nonce counter: lazy start from the chain, consecutive, thread-safe, resync."""

from __future__ import annotations

import threading

import pytest

from dppdl.chain.tx import NonceManager, connect
from dppdl.errors import RpcUnavailableError


class FakeChain:
    """Counts how often the pending nonce was asked for; `pending` is settable."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.calls = 0

    def fetch(self) -> int:
        self.calls += 1
        return self.pending


def test_starts_from_pending_count_lazily_then_counts_locally() -> None:
    chain = FakeChain(pending=7)
    nonces = NonceManager(chain.fetch)
    assert chain.calls == 0
    assert [nonces.take() for _ in range(5)] == [7, 8, 9, 10, 11]
    assert chain.calls == 1  # no round trip per transaction


def test_resync_restarts_from_the_chain() -> None:
    chain = FakeChain(pending=3)
    nonces = NonceManager(chain.fetch)
    nonces.take()
    nonces.take()
    chain.pending = 10  # e.g. another process sent with the same key
    assert nonces.resync() == 10
    assert nonces.take() == 10
    assert chain.calls == 2


def test_threads_get_unique_consecutive_nonces() -> None:
    nonces = NonceManager(FakeChain(pending=0).fetch)
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            n = nonces.take()
            with lock:
                taken.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(800))


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "ws://127.0.0.1:8545", "localhost:8545"])
def test_connect_names_the_url_on_failure(url: str) -> None:
    with pytest.raises(RpcUnavailableError, match=f"no JSON-RPC node answers at {url}"):
        connect(url, timeout=1.0)
