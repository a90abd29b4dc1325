"""`dppdl simulate` (N agents on this machine, one report) and `dppdl demo` (the README's run)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from dppdl.commands.collab_args import (
    add_collab_args,
    add_prepared_cache_arg,
    add_ring_arg,
    collab_from_args,
)
from dppdl.party.config import BEHAVIOURS, SETTINGS
from dppdl.party.windows import TX_PER_PARTY
from dppdl.sim.config import SimulationConfig, Windows

DEMO = SimulationConfig(parties=4, setting="same-privacy", model="mlp", epochs=3, seed=0)


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("simulate", help="run N party agents against a devnet, write runs/<id>/")
    sim.add_argument("--parties", type=int, default=4)
    sim.add_argument("--setting", choices=SETTINGS, default="same-privacy")
    sim.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    sim.add_argument("--epochs", type=int, default=2, help="training epochs after benchmarking")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--limit", type=int, default=None, help="examples per party (tiny runs)")
    sim.add_argument("--test-limit", type=int, default=None, help="test examples for accuracy")
    sim.add_argument(
        "--behaviour",
        action="append",
        default=None,
        metavar="KIND",
        help=f"per party in order, repeatable: {', '.join(BEHAVIOURS)}",
    )
    sim.add_argument("--gan-epochs", type=int, default=None, help="DP-GAN epochs (ε stays 4)")
    add_collab_args(sim)
    add_ring_arg(sim)
    sim.add_argument(
        "--in-process",
        action="store_true",
        help="run the agents as threads of this process (same agent code)",
    )
    sim.add_argument("--rpc", default=None, help="use this chain instead of starting Anvil")
    sim.add_argument(
        "--storage",
        action="append",
        default=None,
        help="use these storage nodes instead of starting one",
    )
    sim.add_argument("--runs-dir", type=Path, default=Path("runs"))
    add_prepared_cache_arg(sim)
    for name in ("request", "upload"):
        sim.add_argument(f"--{name}-window", type=int, default=None, metavar="BLOCKS",
                         help=f"default {getattr(Windows, name)} + {TX_PER_PARTY[name]}·n: "
                              "one block per transaction on the devnet")
    sim.add_argument("--json", action="store_true", help="print the run directory as JSON")
    sim.set_defaults(handler=_simulate)
    demo = sub.add_parser("demo", help="fetch MNIST and run the 4-party MLP demo simulation")
    demo.add_argument("--runs-dir", type=Path, default=Path("runs"))
    demo.set_defaults(handler=_demo)


def config_from_args(args: argparse.Namespace) -> SimulationConfig:
    from dppdl.crypto.codec import CodecConfig
    from dppdl.learning.gan_config import DPGANConfig

    gan = DPGANConfig() if args.gan_epochs is None else DPGANConfig(epochs=args.gan_epochs)
    given = {name: getattr(args, f"{name}_window") for name in ("request", "upload")}
    given_any = any(v is not None for v in given.values())
    windows = Windows.for_parties(args.parties, **given) if given_any else None
    return SimulationConfig(
        parties=args.parties,
        setting=args.setting,
        model=args.model,
        epochs=args.epochs,
        seed=args.seed,
        limit=args.limit,
        test_limit=args.test_limit,
        behaviours=tuple(args.behaviour or ()),
        in_process=args.in_process,
        rpc_url=args.rpc,
        storage=tuple(args.storage or ()),
        runs_dir=args.runs_dir,
        prepared_cache=args.prepared_cache,
        gan=gan,
        collab=collab_from_args(args),
        codec=CodecConfig.for_ring(args.ring_bits),
        windows=windows,
    )


def _finish(run_dir: Path, *, as_json: bool, started: float) -> int:
    from dppdl.sim.report import load_run, plot_run, summary_table

    run = load_run(run_dir)
    plots = plot_run(run, run_dir)
    if as_json:
        print(
            json.dumps(
                {
                    "run_dir": str(run_dir),
                    "plots": [str(p) for p in plots],
                    "fairness": run["fairness"],
                }
            )
        )
        return 0
    print()
    print(summary_table(run))
    print(f"\nrun: {run_dir / 'run.json'} ({time.perf_counter() - started:.0f} s)")
    for path in plots:
        print(f"plot: {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from dppdl.sim.simulate import run_simulation

    started = time.perf_counter()
    config = config_from_args(args)
    run_dir = run_simulation(config, log=(lambda m: None) if args.json else print)
    return _finish(run_dir, as_json=args.json, started=started)


def _demo(args: argparse.Namespace) -> int:
    from dppdl.learning.data import fetch_mnist
    from dppdl.sim.simulate import run_simulation

    started = time.perf_counter()
    fetch_mnist()
    run_dir = run_simulation(replace(DEMO, runs_dir=args.runs_dir), log=print)
    return _finish(run_dir, as_json=False, started=started)
