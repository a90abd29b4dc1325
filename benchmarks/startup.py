"""Start-up benchmark: what a party pays before its first useful step, cached and not.

Run: .venv/bin/python benchmarks/startup.py [--quick] [--reps N]
1. Command-line start: the median wall time of `dppdl --help`, `dppdl devnet status` and
   `dppdl deploy` (no chain: it stops at its one-line error) in fresh interpreters, against a
   fresh interpreter that only imports torch and web3 (what every command paid before they were
   imported lazily), with ratios.
2. Preparation: one party's standalone model and DP-GAN (the paper's MLP on a 600-example MNIST
   shard, the default DP-GAN at ε = 4) trained and stored, then restored from the prepared
   cache (dppdl.learning.prepared) into a fresh party; the ratio, and a check that the restored
   weights and DP-GAN equal the trained ones.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from dppdl.learning.data import load_mnist, make_partition
from dppdl.learning.gan_config import DPGANConfig
from dppdl.learning.participant import Participant, participant_for_shard
from dppdl.learning.prepared import PreparedCache
from dppdl.learning.sgd import TrainConfig

DPPDL = [sys.executable, "-m", "dppdl"]
COMMANDS = {
    "dppdl --help": [*DPPDL, "--help"],
    "dppdl devnet status": [*DPPDL, "devnet", "status"],
    "dppdl deploy (no chain)": [*DPPDL, "deploy"],
}
BASELINE = [sys.executable, "-c", "import torch, web3"]


def wall(argv: Sequence[str], reps: int) -> float:
    """Median wall seconds of running `argv` (any exit code) after one warm-up."""
    subprocess.run(argv, capture_output=True, check=False)
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def command_start(reps: int) -> None:
    base = wall(BASELINE, reps)
    print(f"{'command':<28} {'median s':>9} {'vs import torch, web3':>22}")
    print(f"{'python -c import torch, web3':<28} {base:>9.2f} {'1.00':>22}")
    for name, argv in COMMANDS.items():
        t = wall(argv, reps)
        print(f"{name:<28} {t:>9.2f} {t / base:>22.2f}")


def party(gan: DPGANConfig, limit: int | None) -> Participant:
    data = load_mnist()
    shard = make_partition(setting="same-privacy", n_parties=4, seed=0)[0]
    return participant_for_shard(shard, data=data, limit=limit, model_name="mlp", seed=0,
                                 train_config=TrainConfig(), gan_config=gan)  # fmt: skip


def preparation(quick: bool) -> None:
    gan = DPGANConfig(epochs=5) if quick else DPGANConfig()
    limit = 200 if quick else None
    with tempfile.TemporaryDirectory() as folder:
        cache = PreparedCache(Path(folder), log=print)
        trained = party(gan, limit)
        entries = (cache.model_entry(trained), cache.gan_entry(trained))
        start = time.perf_counter()
        trained.pretrain()
        trained.train_gan()
        train_s = time.perf_counter() - start
        paths = [e.save() for e in entries]
        restored = party(gan, limit)
        start = time.perf_counter()
        hit = cache.model_entry(restored).restore() and cache.gan_entry(restored).restore()
        restore_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in paths if p is not None)
    assert trained.gan is not None and restored.gan is not None
    same = hit and np.array_equal(trained.params(), restored.params()) and all(
        torch.equal(a, b) for a, b in zip(trained.gan.generator.state_dict().values(),
                                          restored.gan.generator.state_dict().values(),
                                          strict=True))  # fmt: skip
    print(f"\none party's preparation (MLP, {trained.n_examples} examples, DP-GAN "
          f"{gan.epochs} epochs at ε = {trained.gan.dp_epsilon_spent:.2f}):")
    print(f"  trained  {train_s:8.2f} s")
    print(f"  restored {restore_s:8.2f} s (keying and loading {size / 1e6:.2f} MB in two entries)  "
          f"ratio {train_s / restore_s:,.0f}x; identical: {same}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 reps, a 200-example party, 5 DP-GAN epochs")
    ap.add_argument("--reps", type=int, default=None, help="runs per command (default 7)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as the agents
    command_start(args.reps or (3 if args.quick else 7))
    preparation(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
