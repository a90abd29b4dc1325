"""Counting JSON-RPC round trips: an HTTP session whose every response is tallied by method.

A round trip is one HTTP POST to the node; a batch request is one round trip carrying several
methods. `eth_call`s are also tallied by the 4-byte selector of the function they call, so a
benchmark can say which views an agent reads how often (`selector_names` maps them back).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import requests

from dppdl.chain.abi import selector

Sink = Callable[[str, int], None]  # (key, count): "round_trips", a method, or "call:<selector>"


def counting_session(sink: Sink) -> requests.Session:
    """A requests session for web3's HTTPProvider that reports each round trip to `sink`."""
    lock = threading.Lock()

    def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        keys = ["round_trips", *_keys(response.request.body)]
        with lock:
            for key in keys:
                sink(key, 1)

    session = requests.Session()
    session.hooks["response"].append(on_response)
    return session


def _keys(body: Any) -> list[str]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        payload = json.loads(body or "null")
    except ValueError:
        return ["unparsed"]
    calls = payload if isinstance(payload, list) else [payload]
    keys = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        method = str(call.get("method"))
        keys.append(method)
        if method == "eth_call":
            params = call.get("params") or [{}]
            data = str((params[0] or {}).get("data") or (params[0] or {}).get("input") or "")
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
