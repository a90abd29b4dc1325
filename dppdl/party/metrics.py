"""What a party measures about itself: time per kind of work, gas and transactions per epoch."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

KINDS = ("training", "dpgan", "crypto", "storage", "chain", "waiting")


@dataclass
class Span:
    """One open `Metrics.timed` block; its ``kind`` may be changed before it closes."""

    kind: str
    start: float  # when it last (re)started running
    cpu_start: float  # this thread's CPU clock then
    elapsed: float = 0.0  # its exclusive seconds before that
    cpu_elapsed: float = 0.0  # and its exclusive CPU seconds of this thread


class Metrics:
    """Accumulates seconds per kind (in all and per chain phase; wall, and the thread's CPU per
    phase), gas/tx per chain epoch, JSON-RPC round trips, accuracy and credibility per round."""

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
        self.prepared_from_cache: bool = bool(state.get("prepared_from_cache", False))
        # JSON-RPC round trips and the methods (and eth_call selectors) they carried
        self.rpc: dict[str, int] = defaultdict(int, state.get("rpc", {}))
        # The same per chain phase ("setup" before the task starts, "0" benchmarking, "t"
        # epoch t): the agent sets `phase` whenever it reads the task.
        self.phase: str = "setup"
        self.phase_seconds: dict[str, dict[str, float]] = defaultdict(
            lambda: defaultdict(float),
            {k: defaultdict(float, v) for k, v in state.get("phase_seconds", {}).items()},
        )
        self.phase_rpc: dict[str, dict[str, int]] = defaultdict(
            lambda: defaultdict(int),
            {k: defaultdict(int, v) for k, v in state.get("phase_rpc", {}).items()},
        )
        # CPU seconds of the agent's own thread per phase and kind: what the work costs the
        # party itself, apart from the wait for a core or a reply on a shared machine
        self.phase_cpu_seconds: dict[str, dict[str, float]] = defaultdict(
            lambda: defaultdict(float),
            {k: defaultdict(float, v) for k, v in state.get("phase_cpu_seconds", {}).items()},
        )
        self._open = threading.local()  # per thread: the stack of open spans

    @contextmanager
    def timed(self, kind: str) -> Iterator[Span]:
        """Charge the block's wall time to ``kind``, exclusively: while a nested block of another
        kind runs (a blob fetched inside a chain poll), that time is charged to the inner kind
        only, so the kinds add up to the time spent. The yielded span's kind may be changed
        (to "waiting" for a poll that found nothing new) and the whole block moves with it."""
        if kind not in KINDS:
            raise ValueError(f"unknown time kind {kind!r}")
        stack: list[Span] = self._open.__dict__.setdefault("stack", [])
        now, cpu = time.perf_counter(), time.thread_time()
        if stack:  # pause the enclosing span
            stack[-1].elapsed += now - stack[-1].start
            stack[-1].cpu_elapsed += cpu - stack[-1].cpu_start
        span = Span(kind, now, cpu)
        stack.append(span)
        try:
            yield span
        finally:
            now, cpu = time.perf_counter(), time.thread_time()
            stack.pop()
            if stack:  # resume the enclosing span
                stack[-1].start, stack[-1].cpu_start = now, cpu
            if span.kind not in KINDS:  # checked after the stack is restored
                raise ValueError(f"unknown time kind {span.kind!r}")
            spent = span.elapsed + now - span.start
            self.seconds[span.kind] += spent
            self.phase_seconds[self.phase][span.kind] += spent
            self.phase_cpu_seconds[self.phase][span.kind] += span.cpu_elapsed + cpu - span.cpu_start

    def add_cpu(self, kind: str, seconds: float) -> None:
        """Charge CPU that helper threads spent for this agent (its storage requests in flight
        together) to ``kind``; their wall time is in the caller's span already."""
        if kind not in KINDS:
            raise ValueError(f"unknown time kind {kind!r}")
        self.phase_cpu_seconds[self.phase][kind] += seconds

    def record_tx(self, epoch: int, receipt: Any) -> None:
        self.gas[str(epoch)] += int(receipt["gasUsed"])
        self.transactions[str(epoch)] += 1

    def record_rpc(self, key: str, count: int) -> None:
        self.rpc[key] += count
        self.phase_rpc[self.phase][key] += count

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
            "prepared_from_cache": self.prepared_from_cache,
            "rpc": dict(self.rpc),
            "phase_seconds": {k: dict(v) for k, v in self.phase_seconds.items()},
            "phase_rpc": {k: dict(v) for k, v in self.phase_rpc.items()},
            "phase_cpu_seconds": {k: dict(v) for k, v in self.phase_cpu_seconds.items()},
        }
