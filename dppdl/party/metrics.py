"""What a party measures about itself: time per kind of work, gas and transactions per epoch."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KINDS = ("training", "dpgan", "crypto", "storage", "chain", "waiting")


class Metrics:
    """Accumulates seconds per kind, gas/tx per chain epoch, accuracy and credibility per round."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.seconds: dict[str, float] = defaultdict(float, state.get("seconds", {}))
        self.gas: dict[str, int] = defaultdict(int, state.get("gas", {}))
        self.transactions: dict[str, int] = defaultdict(int, state.get("transactions", {}))
        self.accuracy: dict[str, float] = dict(state.get("accuracy", {}))
        self.credibility: dict[str, list[float]] = dict(state.get("credibility", {}))
        self.points: dict[str, int] = dict(state.get("points", {}))  # balance after round r
        self.bytes_stored: int = int(state.get("bytes_stored", 0))
        self.dp_epsilon_spent: float | None = state.get("dp_epsilon_spent")

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        if kind not in KINDS:
            raise ValueError(f"unknown time kind {kind!r}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[kind] += time.perf_counter() - start

    def record_tx(self, epoch: int, receipt: Any) -> None:
        self.gas[str(epoch)] += int(receipt["gasUsed"])
        self.transactions[str(epoch)] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": dict(self.seconds),
            "gas": dict(self.gas),
            "transactions": dict(self.transactions),
            "accuracy": self.accuracy,
            "credibility": self.credibility,
            "points": self.points,
            "bytes_stored": self.bytes_stored,
            "dp_epsilon_spent": self.dp_epsilon_spent,
        }
