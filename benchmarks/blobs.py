"""The storage client's cost per put and get on a real node, against a bare http.client floor.

Run: `.venv/bin/python benchmarks/blobs.py [--n 60] [--quick]`. One node process on loopback;
blobs of 1 MB (about one sealed MLP gradient) and 4 KB. For each operation it prints the
client's CPU and wall time per call through `HttpStore` and through the floor: one kept-alive
`http.client` connection doing the same request and the same SHA-256 (the CID on a put, the
check on a get) with nothing else. The ratio is what the client layer costs above that floor.
The node's own CPU is not counted (a separate process). Both run in the same process, in
alternating rounds, so machine noise falls on both.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from storage import HttpStore
from storage.cid import cid_of, digest_from_cid
from storage.process import StorageNode

SIZES = {"1 MB": 1_040_000, "4 KB": 4096}


class Floor:
    """The least a client can do: one kept-alive connection, the request, the hash."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def put(self, data: bytes) -> str:
        cid = cid_of(data)
        self.conn.request("PUT", f"/blobs/{cid}", data)
        response = self.conn.getresponse()
        response.read()
        assert response.status in (200, 201), response.status
        return cid

    def get(self, cid: str) -> bytes:
        self.conn.request("GET", f"/blobs/{cid}")
        response = self.conn.getresponse()
        body = response.read()
        assert response.status == 200, response.status
        assert hashlib.sha256(body).digest() == digest_from_cid(cid), "corrupt blob"
        return body


def measure(call: Callable[[], object], n: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call of this thread over n calls."""
    c0, w0 = time.thread_time(), time.perf_counter()
    for _ in range(n):
        call()
    return (time.thread_time() - c0) * 1e3 / n, (time.perf_counter() - w0) * 1e3 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60, help="calls per operation and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="--n 10 --rounds 1")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = 10, 1
    with tempfile.TemporaryDirectory() as tmp, StorageNode(Path(tmp) / "node") as node:
        store, floor = HttpStore(node.url), Floor(node.url)
        rows = []
        for label, size in SIZES.items():
            blobs = [os.urandom(size) for _ in range(args.n)]
            cids = [store.put(b) for b in blobs]  # the node holds them before any get is timed
            totals: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for client_name, client in (("HttpStore", store), ("floor", floor)):
                    puts, gets = iter(blobs), iter(cids)
                    for op, call in (
                        ("put", lambda c=client, it=puts: c.put(next(it))),
                        ("get", lambda c=client, it=gets: c.get(next(it))),
                    ):
                        cpu, wall = measure(call, args.n)
                        acc = totals.setdefault((client_name, op), [0.0, 0.0])
                        acc[0] += cpu / args.rounds
                        acc[1] += wall / args.rounds
            for op in ("put", "get"):
                (c_cpu, c_wall), (f_cpu, f_wall) = totals[("HttpStore", op)], totals[("floor", op)]
                rows.append((op, label, c_cpu, f_cpu, c_cpu / f_cpu, c_wall, f_wall))
        store.close()
        floor.conn.close()
    print(f"per call, {args.n} calls x {args.rounds} rounds; client thread only (ms)")
    print(f"{'op':<4} {'blob':>5} {'CPU':>8} {'floor':>7} {'ratio':>6} {'wall':>8} {'floor':>7}")
    for op, label, c_cpu, f_cpu, ratio, c_wall, f_wall in rows:
        print(
            f"{op:<4} {label:>5} {c_cpu:8.2f} {f_cpu:7.2f} {ratio:5.2f}x "
            f"{c_wall:8.2f} {f_wall:7.2f}"
        )


if __name__ == "__main__":
    main()
