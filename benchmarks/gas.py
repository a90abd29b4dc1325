"""Gas per Dppdl operation and per party per epoch at n = 4, 15, 50 parties, on a fresh Anvil.

Run once: `.venv/bin/python benchmarks/gas.py [--parties 4,15,50]`. The baseline in the same run
is the unbatched flow (one request and one commitment transaction per pair of parties), measured
in the epoch after the steady-state one. "Per party per epoch" is the mean over parties of its
request, commit and done transactions (the last done also closes the epoch).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from web3.types import TxReceipt

from dppdl.chain.clients import DppdlClient, TaskParams, UploadCommitment
from dppdl.chain.compiler import compile_contracts
from dppdl.chain.devnet import PublicKeyWarning, dev_accounts, start_devnet
from dppdl.chain.tx import TxSender, connect

N_PARAMS = 140_100  # the paper's MLP
PRIVACY_PPM = 100_000  # epsilon = 0.1 for everyone
DISPUTE_WINDOW = 20  # blocks, the party agents' default
# A (receiver, uploader) request slot is reused every other epoch: epochs 1 and 2 write fresh
# slots, epoch 3 onwards is the steady state the gas target is about.
STEADY_EPOCH = 3


def _d(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _gas(receipts: Sequence[TxReceipt]) -> list[int]:
    return [int(r["gasUsed"]) for r in receipts]


def _mean(values: Sequence[int]) -> int:
    return int(statistics.mean(values)) if values else 0


def _epoch(parties: list[DppdlClient], task_id: int, *, batched: bool) -> dict[str, list[int]]:
    """One epoch where every party buys cap_j // 2 entries from every other party."""
    n = len(parties)
    addrs = [p.sender.address for p in parties]  # type: ignore[union-attr]
    count = PRIVACY_PPM * N_PARAMS // 1_000_000 // 2
    req: list[list[int]] = [[] for _ in range(n)]
    ids_for: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(parties):
        orders = [(addrs[j], count) for j in range(n) if j != i]
        chunks = [orders] if batched else [[o] for o in orders]
        for chunk in chunks:
            fn = p.contract.functions.requestDownloads(task_id, chunk)
            receipt = p._send(fn)
            req[i].append(int(receipt["gasUsed"]))
            for e in p.events(receipt, "DownloadRequested"):
                ids_for[addrs.index(e["uploader"])].append(int(e["requestId"]))
    com: list[list[int]] = [[] for _ in range(n)]
    for j, p in enumerate(parties):
        commits = [UploadCommitment(request_id=r, blob_digest=_d(f"b{r}"), key_hash=_d(f"k{r}"))
                   for r in ids_for[j]]
        chunks = [commits] if batched else [[c] for c in commits]
        for chunk in chunks:
            com[j] += _gas([p.commit_uploads(task_id=task_id, commits=chunk)])
    done = [_gas([p.signal_done(task_id=task_id)])[0] for p in parties]
    per_party = [sum(req[i]) + sum(com[i]) + done[i] for i in range(n)]
    return {"request": [sum(r) for r in req], "commit": [sum(c) for c in com], "done": done,
            "per_party": per_party}


def run(n: int, *, baseline: bool, source_dir: Path | None = None) -> dict[str, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PublicKeyWarning)
        accounts = dev_accounts(n + 1)
    node = start_devnet(accounts=n + 1)
    try:
        w3 = connect(node.rpc_url)
        art = (compile_contracts(source_dir=source_dir, build_dir=Path(tempfile.mkdtemp()))
               if source_dir else compile_contracts())["Dppdl"]
        senders = [TxSender(w3, a) for a in accounts]
        address, _ = senders[0].deploy(art)
        contract = w3.eth.contract(address=address, abi=art.abi)
        requester = DppdlClient(contract, senders[0])
        parties = [DppdlClient(contract, s) for s in senders[1:]]
        params = TaskParams(
            spec_digest=_d("spec"), roster_size=n, epochs=STEADY_EPOCH + 2, n_params=N_PARAMS,
            join_deadline=int(w3.eth.block_number) + 10_000, benchmark_window=10_000,
            request_window=10_000, upload_window=10_000, epoch_window=10_000,
            dispute_window=DISPUTE_WINDOW,
        )
        task_id = requester.publish_task(params=params)
        joins = _gas([p.join(task_id=task_id, public_key=_d(f"pk{i}"), privacy_ppm=PRIVACY_PPM,
                             samples_digest=_d(f"s{i}")) for i, p in enumerate(parties)])
        addrs = [s.address for s in senders[1:]]
        labels = _gas([
            p.post_labels(task_id=task_id,
                          labels=[(addrs[j], _d(f"l{i}{j}")) for j in range(n) if j != i])
            for i, p in enumerate(parties)
        ])
        done0 = _gas([p.signal_done(task_id=task_id) for p in parties])
        epochs = []
        for _ in range(STEADY_EPOCH):
            epochs.append(_epoch(parties, task_id, batched=True))
            # An epoch outlasts the dispute window (training and labelling happen in between),
            # so a slot reused two epochs later holds nothing disputable to archive.
            w3.provider.make_request("anvil_mine", [hex(DISPUTE_WINDOW)])  # type: ignore[arg-type]
        first, steady = epochs[0], epochs[-1]
        out = {
            "join": _mean(joins[:-1]), "join+start(mint n)": joins[-1],
            "labels (n-1 batched)": _mean(labels), "done (benchmarking)": _mean(done0[:-1]),
            "epoch 1 (fresh request slots):": 0,
            " request (n-1 batched)": _mean(first["request"]),
            " commit (n-1 batched)": _mean(first["commit"]),
            " per party per epoch": _mean(first["per_party"]),
            f"epoch {STEADY_EPOCH} (slots reused, steady state):": 0,
            "request (n-1 batched)": _mean(steady["request"]),
            "commit (n-1 batched)": _mean(steady["commit"]),
            "done (epoch)": _mean(steady["done"][:-1]),
            "last done (+advance)": steady["done"][-1],
            "per party per epoch": _mean(steady["per_party"]),
        }
        if baseline:
            single = _epoch(parties, task_id, batched=False)
            out["per party per epoch, unbatched"] = _mean(single["per_party"])
        return out
    finally:
        node.stop()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parties", default="4,15,50", help="comma-separated roster sizes")
    ap.add_argument("--baseline-max", type=int, default=15,
                    help="run the unbatched baseline only up to this n (it is n^2 txs)")
    ap.add_argument("--source-dir", type=Path, default=None,
                    help="compile these contract sources instead of contracts/")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.parties.split(",")]
    results = {n: run(n, baseline=n <= args.baseline_max, source_dir=args.source_dir)
               for n in sizes}
    rows = list(dict.fromkeys(k for r in results.values() for k in r))
    print(f"gas used (mean per party), |w| = {N_PARAMS}, privacy level 0.1")
    print(f"{'operation':36}" + "".join(f"{'n=' + str(n):>14}" for n in sizes))
    for row in rows:
        if row.endswith(":"):
            print(row)
            continue
        print(f"{row:36}" + "".join(f"{results[n].get(row, 0):>14,}" for n in sizes))
    for n in sizes:
        r = results[n]
        if "per party per epoch, unbatched" in r:
            ratio = r["per party per epoch, unbatched"] / r["per party per epoch"]
            print(f"n={n}: batched per party per epoch {r['per party per epoch']:,} gas "
                  f"(steady state); unbatched baseline {ratio:.2f}x that")


if __name__ == "__main__":
    main()
