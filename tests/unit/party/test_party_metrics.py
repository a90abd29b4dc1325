"""Metrics.timed: nested kinds are charged exclusively, and a span can change its kind."""

from __future__ import annotations

import time

import pytest

from dppdl.party.metrics import Metrics


def test_nested_time_goes_to_the_inner_kind_only() -> None:
    # Prepare
    m = Metrics()
    # Execute: 0.05 s of chain around 0.1 s of storage
    start = time.perf_counter()
    with m.timed("chain"):
        time.sleep(0.025)
        with m.timed("storage"):
            time.sleep(0.1)
        time.sleep(0.025)
    total = time.perf_counter() - start
    # Assert: the kinds add up to the wall time, and storage is not also counted as chain
    assert m.seconds["storage"] >= 0.1
    assert 0.05 <= m.seconds["chain"] < 0.1
    assert m.seconds["chain"] + m.seconds["storage"] == pytest.approx(total, abs=0.005)


def test_a_span_can_be_rebooked_before_it_closes() -> None:
    m = Metrics()
    with m.timed("chain") as span:
        time.sleep(0.02)
        with m.timed("crypto"):
            time.sleep(0.02)
        span.kind = "waiting"
    assert m.seconds["chain"] == 0.0
    assert m.seconds["waiting"] >= 0.02 and m.seconds["crypto"] >= 0.02
    with pytest.raises(ValueError, match="unknown time kind"), m.timed("sleeping"):
        pass


def test_time_and_round_trips_are_also_booked_to_the_current_phase_and_survive_a_reload() -> None:
    m = Metrics()
    with m.timed("training"):
        time.sleep(0.01)
    m.phase = "2"
    with m.timed("chain"):
        time.sleep(0.01)
    m.record_rpc("eth_call", 3)
    again = Metrics(m.to_json())
    assert set(again.phase_seconds) == {"setup", "2"}
    assert again.phase_seconds["setup"]["training"] == pytest.approx(m.seconds["training"])
    assert again.phase_seconds["2"]["chain"] == pytest.approx(m.seconds["chain"])
    assert "chain" not in again.phase_seconds["setup"]
    assert again.phase_rpc == {"2": {"eth_call": 3}} and again.rpc == {"eth_call": 3}


def test_the_threads_cpu_is_booked_per_kind_apart_from_sleeping_and_survives_a_reload() -> None:
    m = Metrics()
    with m.timed("chain"):
        time.sleep(0.05)  # waiting for a reply: wall time, next to no CPU
        with m.timed("crypto"):
            until = time.thread_time() + 0.05
            while time.thread_time() < until:  # 50 ms of this thread's CPU
                pass
    cpu = Metrics(m.to_json()).phase_cpu_seconds["setup"]
    assert cpu["crypto"] >= 0.05
    assert cpu["chain"] < 0.02 < m.phase_seconds["setup"]["chain"]
    assert cpu["crypto"] <= m.phase_seconds["setup"]["crypto"] + 0.005  # CPU never exceeds wall
