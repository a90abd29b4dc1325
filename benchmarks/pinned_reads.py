"""Is a JSON-RPC batch pinned to the head block a snapshot? A diagnostic of the devnet node.

Run: .venv/bin/python benchmarks/pinned_reads.py [--seconds 60] [--block-time 0.25] [--mixed]
One thread sends value transfers from dev account 0 to a fixed address without pause; the main
thread reads `eth_blockNumber` = N, then one batch of `eth_getTransactionCount(sender, N)` and
`eth_getBalance(receiver, N)`. In any one state balance = nonce × value; a batch that breaks it
was answered from two states ("torn"). Prints the torn count against all batches. This is why
`DppdlClient.task_and_roster` checks the task against the roster and reads again.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
import warnings
from typing import Any

from dppdl.chain.devnet import PublicKeyWarning, dev_accounts, rpc_request, start_devnet

RECEIVER = "0x000000000000000000000000000000000000bEEF"
VALUE = 10**9  # wei per transfer


def batch(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch (rpc_request sends single calls); results in call order."""
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
            for i, (m, p) in enumerate(calls)]  # fmt: skip
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        answers = json.loads(resp.read())
    return [a["result"] for a in sorted(answers, key=lambda a: a["id"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to read (default 60)")
    ap.add_argument("--block-time", type=float, default=0.25, help="interval mining, s")
    ap.add_argument("--mixed", action="store_true", help="transactions also mine at once")
    args = ap.parse_args()
    warnings.simplefilter("ignore", PublicKeyWarning)
    sender = dev_accounts(1)[0]
    stop = threading.Event()
    with start_devnet(accounts=1, block_time=args.block_time, mixed_mining=args.mixed) as node:
        url, chain_id = node.rpc_url, node.chain_id

        def send() -> None:
            nonce = 0
            while not stop.is_set():
                tx = sender.sign_transaction({
                    "to": RECEIVER, "value": VALUE, "gas": 21_000, "maxFeePerGas": 10**11,
                    "maxPriorityFeePerGas": 1, "nonce": nonce, "chainId": chain_id,
                })  # fmt: skip
                raw = "0x" + tx.raw_transaction.hex().removeprefix("0x")
                rpc_request(url, "eth_sendRawTransaction", [raw], timeout=10)
                nonce += 1

        sending = threading.Thread(target=send, daemon=True)
        sending.start()
        torn = reads = 0
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            head = rpc_request(url, "eth_blockNumber", timeout=10)
            nonce, balance = (int(r, 16) for r in batch(url, [
                ("eth_getTransactionCount", [sender.address, head]),
                ("eth_getBalance", [RECEIVER, head]),
            ]))  # fmt: skip
            reads += 1
            if balance != nonce * VALUE:
                torn += 1
                print(f"torn at block {int(head, 16)}: nonce {nonce}, "
                      f"transfers in the balance {balance // VALUE}")  # fmt: skip
        stop.set()
        sending.join(timeout=10)
    mode = "mixed" if args.mixed else "interval"
    print(f"{torn} torn of {reads} pinned batches ({args.seconds:g} s, {mode} mining every "
          f"{args.block_time:g} s)")  # fmt: skip


if __name__ == "__main__":
    main()
