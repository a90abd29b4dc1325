"""Counting JSON-RPC round trips: the keys each POST is tallied under.

A round trip is one HTTP POST to the node (`dppdl.chain.http_provider` reports each one); a
batch request is one round trip carrying several methods. `eth_call`s are also tallied by the
4-byte selector of the function they call, so a benchmark can say which views an agent reads
how often (`selector_names` maps them back).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from dppdl.chain.abi import selector

Sink = Callable[[str, int], None]  # (key, count): "round_trips", a method, or "call:<selector>"


def request_keys(calls: Iterable[tuple[str, Any]]) -> list[str]:
    """The tally keys of one round trip's (method, params) calls: each method, and for an
    `eth_call` also "call:<4-byte selector>"."""
    keys = []
    for method, params in calls:
        keys.append(str(method))
        if method == "eth_call":
            tx = (params or [{}])[0] or {}
            data = str(tx.get("data") or tx.get("input") or "") if isinstance(tx, dict) else ""
            keys.append(f"call:{data[:10]}")
    return keys


def selector_names(abi: Iterable[dict[str, Any]]) -> dict[str, str]:
    """'0x1234abcd' -> function name, for every function of a contract ABI."""
    return {"0x" + selector(item).hex(): str(item["name"])
            for item in abi if item.get("type") == "function"}  # fmt: skip


def named(counts: dict[str, int], names: dict[str, str]) -> Counter[str]:
    """The counts with every "call:<selector>" key renamed "call:<function>" where known."""
    out: Counter[str] = Counter()
    for key, value in counts.items():
        if key.startswith("call:"):
            key = "call:" + names.get(key[5:], key[5:])
        out[key] += value
    return out
