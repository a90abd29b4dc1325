"""The storage client's and node's cost per put and get, against a bare http.client floor.

Run: `.venv/bin/python benchmarks/blobs.py [--n 60] [--quick]`. One node process on loopback;
blobs of 1 MB (about one sealed MLP gradient) and 4 KB, each put new to the node. Per call it
prints the client thread's CPU and the wall time through `HttpStore` and through the floor (one
kept-alive `http.client` connection doing the same request and the same SHA-256: the CID on a
put, the check on a get, nothing else), their CPU ratio (what the client layer costs above the
floor), and the node process's CPU read from /proc. Both clients run in the same process in
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


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of another process so far, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(call: Callable[[], object], n: int, node_pid: int) -> tuple[float, float, float]:
    """(CPU ms of this thread, wall ms, the node's CPU ms) per call over n calls."""
    c0, w0, s0 = time.thread_time(), time.perf_counter(), process_cpu(node_pid)
    for _ in range(n):
        call()
    cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
    return cpu * 1e3 / n, wall * 1e3 / n, (process_cpu(node_pid) - s0) * 1e3 / n


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
        node_pid = node.pid
        assert node_pid is not None
        rows = []
        for label, size in SIZES.items():
            stored = [store.put(os.urandom(size)) for _ in range(args.n)]  # what gets read
            totals: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for client_name, client in (("HttpStore", store), ("floor", floor)):
                    fresh = iter([os.urandom(size) for _ in range(args.n)])  # new to the node
                    gets = iter(stored)
                    for op, call in (
                        ("put", lambda c=client, it=fresh: c.put(next(it))),
                        ("get", lambda c=client, it=gets: c.get(next(it))),
                    ):
                        figures = measure(call, args.n, node_pid)
                        acc = totals.setdefault((client_name, op), [0.0, 0.0, 0.0])
                        for i, value in enumerate(figures):
                            acc[i] += value / args.rounds
            for op in ("put", "get"):
                (c_cpu, c_wall, c_node), (f_cpu, f_wall, f_node) = (
                    totals[("HttpStore", op)], totals[("floor", op)])  # fmt: skip
                rows.append((op, label, c_cpu, f_cpu, c_cpu / f_cpu, c_wall, f_wall,
                             (c_node + f_node) / 2))  # fmt: skip
        store.close()
        floor.conn.close()
    print(f"ms per call, {args.n} calls x {args.rounds} rounds: the client thread's CPU, the "
          "wall time, and the node process's CPU (both clients, 10 ms ticks)")  # fmt: skip
    print(f"{'op':<4} {'blob':>5} {'CPU':>8} {'floor':>7} {'ratio':>6} {'wall':>8} {'floor':>7} "
          f"{'node CPU':>9}")  # fmt: skip
    for op, label, c_cpu, f_cpu, ratio, c_wall, f_wall, node_cpu in rows:
        print(
            f"{op:<4} {label:>5} {c_cpu:8.2f} {f_cpu:7.2f} {ratio:5.2f}x "
            f"{c_wall:8.2f} {f_wall:7.2f} {node_cpu:9.2f}"
        )


if __name__ == "__main__":
    main()
