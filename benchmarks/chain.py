"""Transactions, views and the HTTP transport on Anvil: web3's defaults against ours.

Run once: `.venv/bin/python benchmarks/chain.py [--n 200]`. Prints tx/s per mode and the ratio to
the web3-defaults baseline; tx/s with each receipt awaited (as an agent does) by receipt polls and
by `eth_sendRawTransactionSync`; the time to sign a transaction through eth_account and through
`dppdl.chain.signing.Type2Signer`; the time per view call of the Dppdl contract through web3's
`ContractFunction.call()` and through `dppdl.chain.views.Views`; and the time per JSON-RPC round
trip through web3's `HTTPProvider` (requests) and through `KeepAliveHTTPProvider` (http.client).
Wall and CPU, all measured in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

from dppdl.chain.compiler import compile_contracts
from dppdl.chain.devnet import PublicKeyWarning, dev_accounts, start_devnet
from dppdl.chain.http_provider import KeepAliveHTTPProvider
from dppdl.chain.tx import TxSender, connect
from dppdl.chain.views import Views

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "contracts" / "fixtures" / "contracts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="transactions per mode")
    args = parser.parse_args()
    warnings.simplefilter("ignore", PublicKeyWarning)
    artifacts = compile_contracts(source_dir=FIXTURES, build_dir=Path("build/bench-fixtures"))
    accounts = dev_accounts(4)
    with start_devnet(accounts=4) as node:
        w3 = connect(node.rpc_url)
        deployer = TxSender(w3, accounts[0])
        address, _ = deployer.deploy(artifacts["Counter"], 10**30)
        counter = w3.eth.contract(address=address, abi=artifacts["Counter"].abi)

        # 1. web3 defaults: build_transaction fills nonce/chainId/gas/fees by RPC; wait each
        acct = accounts[1]
        t0 = time.perf_counter()
        for _ in range(args.n):
            tx = counter.functions.increment(1).build_transaction(
                {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address)})
            signed = acct.sign_transaction(tx)
            w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
        base = args.n / (time.perf_counter() - t0)

        # 2. TxSender, gas estimated per tx, local nonces, fees cached; receipts at the end
        sender = TxSender(w3, accounts[2])
        t0 = time.perf_counter()
        hashes = [sender.send(counter.functions.increment(1), wait=False) for _ in range(args.n)]
        for h in hashes:
            sender.wait(h)
        estimated = args.n / (time.perf_counter() - t0)

        # 3. TxSender, everything pre-filled (explicit gas): one RPC per transaction
        sender = TxSender(w3, accounts[3])
        t0 = time.perf_counter()
        hashes = [sender.send(counter.functions.increment(1), gas=60_000, wait=False)
                  for _ in range(args.n)]
        for h in hashes:
            sender.wait(h)
        prefilled = args.n / (time.perf_counter() - t0)

        # 4-5. TxSender, pre-filled gas, each receipt awaited before the next transaction (as an
        # agent does): send + receipt polls, against eth_sendRawTransactionSync
        receipt_each = []
        for sync in (False, True):
            each = TxSender(w3, accounts[3 - sync])
            each.sync = sync
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.n):
                each.send(counter.functions.increment(1), gas=60_000)
            receipt_each.append((args.n / (time.perf_counter() - t0),
                                 (time.process_time() - c0) / args.n))  # fmt: skip

        # Signing alone: eth_account (over coincurve) against Type2Signer, which TxSender uses
        tx = sender.build(counter.functions.increment(1), gas=60_000)
        nonces = itertools.count(10**6)
        signing = _timed([
            ("eth_account sign_transaction", lambda: accounts[3].sign_transaction(
                dict(tx, nonce=next(nonces)))),
            ("Type2Signer.sign (TxSender)", lambda: sender.signer.sign(
                dict(tx, nonce=next(nonces)))),
        ], args.n, calls=1)  # fmt: skip
        assert counter.functions.value().call() == 5 * args.n

        dppdl = compile_contracts()["Dppdl"]
        address, _ = TxSender(w3, accounts[0]).deploy(dppdl)
        views = _views(w3, address, dppdl.abi, accounts[0].address, args.n)
        transports = _transports(node.rpc_url, address, dppdl.abi, args.n)

    print(f"transactions per mode: {args.n} (Counter.increment, Anvil automine)")
    print(f"{'mode':44} {'tx/s':>8} {'vs defaults':>12}")
    for name, rate in [
        ("web3 defaults (build_transaction, wait each)", base),
        ("TxSender, gas estimated, local nonces", estimated),
        ("TxSender, pre-filled gas, local nonces", prefilled),
    ]:
        print(f"{name:44} {rate:8.1f} {rate / base:11.2f}x")
    print(f"\nreceipt awaited per transaction (pre-filled gas): {args.n} each")
    print(f"{'mode':44} {'tx/s':>8} {'CPU ms/tx':>10} {'vs polls':>9}")
    for (name, (rate, cpu)) in zip(("send + receipt polls", "eth_sendRawTransactionSync"),
                                   receipt_each, strict=True):  # fmt: skip
        print(f"{name:44} {rate:8.1f} {cpu * 1e3:10.3f} {rate / receipt_each[0][0]:8.2f}x")
    print(f"\nsigning per mode: {args.n} Counter.increment transactions")
    print(f"{'mode':44} {'wall ms':>8} {'CPU ms':>8} {'eth_account CPU / CPU':>22}")
    for name, wall, cpu in signing:
        print(f"{name:44} {wall * 1e3:8.3f} {cpu * 1e3:8.3f} {signing[0][2] / cpu:21.2f}x")
    print(f"\nview calls per mode: {args.n} each of taskCount() and balanceOf(0, address) on Dppdl")
    print(f"{'mode':44} {'wall ms':>8} {'CPU ms':>8} {'web3 CPU / CPU':>15}")
    web3_cpu = views[0][2]
    for name, wall, cpu in views:
        print(f"{name:44} {wall * 1e3:8.3f} {cpu * 1e3:8.3f} {web3_cpu / cpu:14.2f}x")
    print(f"\nJSON-RPC round trips per mode: {args.n} each of eth_blockNumber and one Views.call")
    print(f"{'mode':44} {'wall ms':>8} {'CPU ms':>8} {'requests CPU / CPU':>19}")
    for i, (name, wall, cpu) in enumerate(transports):  # in pairs: requests, then ours
        print(f"{name:44} {wall * 1e3:8.3f} {cpu * 1e3:8.3f} "
              f"{transports[i - i % 2][2] / cpu:18.2f}x")


def _views(w3: Any, address: str, abi: Any, who: str, n: int) -> list[tuple[str, float, float]]:
    """(mode, wall s, CPU s) per view call: web3's ContractFunction.call() and Views.call()."""
    contract = w3.eth.contract(address=address, abi=abi)
    views = Views(w3, address, abi)
    modes: list[tuple[str, Callable[[], Any]]] = [
        ("web3 ContractFunction.call()", lambda: (
            contract.functions.taskCount().call(),
            contract.functions.balanceOf(0, who).call())),
        ("Views.call (ABI read once)", lambda: (
            views.call("taskCount"), views.call("balanceOf", 0, who))),
    ]  # fmt: skip
    return _timed(modes, n, calls=2)


def _timed(modes: list[tuple[str, Callable[[], Any]]], n: int, *, calls: int
           ) -> list[tuple[str, float, float]]:  # fmt: skip
    """(mode, wall s, CPU s) per call: each mode run n times, each run making `calls` calls."""
    out = []
    for name, fn in modes:
        fn()  # warm up
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out.append((name, wall / (calls * n), cpu / (calls * n)))
    return out


def _transports(rpc_url: str, address: str, abi: Any, n: int) -> list[tuple[str, float, float]]:
    """(mode, wall s, CPU s) per round trip: web3's HTTPProvider against KeepAliveHTTPProvider,
    for a bare eth_blockNumber and for a view call through Views."""
    modes: list[tuple[str, Callable[[], Any]]] = []
    providers = [("HTTPProvider (requests)", HTTPProvider(rpc_url)),
                 ("KeepAliveHTTPProvider", KeepAliveHTTPProvider(rpc_url))]  # fmt: skip
    for name, provider in providers:
        modes.append((f"{name}, eth_blockNumber", lambda p=provider: p.make_request(
            RPCEndpoint("eth_blockNumber"), [])))  # fmt: skip
    for name, provider in providers:
        views = Views(Web3(provider), address, abi)
        modes.append((f"{name}, Views.call", lambda v=views: v.call("taskCount")))
    return _timed(modes, n, calls=1)


if __name__ == "__main__":
    main()
