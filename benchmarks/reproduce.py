"""Reproduce the paper's MNIST Table 5 (accuracy) and Table 3 (fairness); results to JSON and docs.

Run: .venv/bin/python benchmarks/reproduce.py [--quick] [--models mlp,cnn] [--parties 4,15]
     [--settings same-privacy,...] [--methods centralized,distributed,standalone,dppdl]
     [--seeds 0,1,2,3,4] [--epochs E] [--chain] [--results FILE] [--doc FILE]

Every finished cell is appended to the results JSON at once (keyed by model, parties, setting,
method, seed and schedule), so long runs can be done in pieces and re-runs replace their cells.
`--doc` rewrites the scorecard and the tables between the markers of docs/REPRODUCTION.md from
everything in the results file; `--tables-only` does only that. DPPDL cells use the in-process
reference runner (tests/integration/test_agents.py ties it to the agents) unless `--chain`,
which runs the full chain + crypto + storage simulation (`dppdl.sim.simulate.run_simulation`,
agents in-process). Accuracy of per-party methods is the best party's final test accuracy (the
paper's way for DPPDL); the mean over parties is kept beside it.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import multiprocessing
import os
import statistics
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import torch

from dppdl.commands.collab_args import add_collab_args, add_prepared_cache_arg, collab_from_args
from dppdl.errors import ConfigError, DataMissingError
from dppdl.files import atomic_write
from dppdl.learning.baselines import run_baseline
from dppdl.learning.collab import CollabConfig
from dppdl.learning.data import (
    IMBALANCED_TOTALS,
    MnistData,
    load_mnist,
    make_partition,
    party_tensors,
)
from dppdl.learning.dpgan import DPGANConfig
from dppdl.learning.prepared import PreparedCache
from dppdl.learning.sgd import TrainConfig
from dppdl.protocol.fairness import fairness_or_none
from dppdl.sim.reference import ReferenceConfig, run_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce_tables import (  # noqa: E402
    ALL_PARTIES,
    HEADLINE,
    plot_curves,
    quick_table,
    write_doc,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "reproduce-results.json"
DOC = ROOT / "docs" / "REPRODUCTION.md"
SETTINGS = ("same-privacy", "different-privacy", "imbalanced")
METHODS = ("centralized", "distributed", "standalone", "dppdl")


def _csv(text: str, allowed: Iterable[str] | None = None) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if allowed is not None:
        bad = [t for t in items if t not in allowed]
        if bad:
            raise ConfigError(f"unknown value(s) {bad}; choose from {', '.join(allowed)}")
    return items


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in _csv(text)]
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, got {text!r}") from None


def schedule_key(args: argparse.Namespace, method: str = "dppdl") -> str:
    """What makes two runs of one cell comparable: epochs, limits, the DP-GAN schedule and, for
    DPPDL cells, the collaboration rule (tag R...; baselines have none). A DPPDL key without a
    rule tag is a run of the literal rule: sum of updates, one initial model per party (what
    the first runs on this page used)."""
    base = (f"E{args.epochs}/L{args.local_epochs}/B{args.baseline_epochs}/G{args.gan_epochs}"
            f"/lim{args.limit}/test{args.test_limit}")
    if not method.startswith("dppdl"):
        return base
    ef = "-ef" if args.error_feedback else ""
    bound = "" if args.update_bound is None else f"-b{args.update_bound:g}"
    start = "" if args.start == "pretrained" else f"-from-{args.start}"
    weight = "" if args.own_weight is None else f"-ow{args.own_weight:g}"
    return (f"{base}/R{args.aggregation}-{'own' if args.own_init else 'shared'}{ef}{bound}"
            f"{start}{weight}")


def collab_for(args: argparse.Namespace, seed: int) -> CollabConfig:
    """The cell's initial model and rule; the shared initial model varies with the seed."""
    return collab_from_args(args, init_seed=seed)


def cell_key(model: str, n: int, setting: str, method: str, seed: int, schedule: str) -> str:
    return f"{model}/p{n}/{setting}/{method}/seed{seed}/{schedule}"


def load_results(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"cells": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); move it away to start afresh"
        ) from None


def save_cell(path: Path, key: str, cell: dict[str, Any]) -> dict[str, Any]:
    """Add one cell to the results file. Several runs may share the file, so the file is
    re-read, changed and replaced under an exclusive lock on a hidden file beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        results = load_results(path)
        results["cells"][key] = cell
        atomic_write(path, json.dumps(results, indent=1, sort_keys=True).encode(), mode=0o644)
    return results


def _parties(data: MnistData, setting: str, n: int, seed: int, limit: int | None) -> tuple[
        list[tuple[torch.Tensor, torch.Tensor]], list[float], list[int]]:  # fmt: skip
    shards = make_partition(setting=setting, n_parties=n, seed=seed)  # type: ignore[arg-type]
    parts = [party_tensors(data, s) for s in shards]
    if limit is not None:
        parts = [(x[:limit], y[:limit]) for x, y in parts]
    return parts, [s.privacy_level for s in shards], [int(len(y)) for _, y in parts]


def _fairness(setting: str, levels: list[float], sizes: list[int],
              finals: list[float]) -> float | None:  # fmt: skip
    if setting == "imbalanced":
        return fairness_or_none(contributions=[float(s) for s in sizes], accuracies=finals)
    if setting == "different-privacy":
        return fairness_or_none(contributions=levels, accuracies=finals)
    return None


_TAG = ""  # which cell a worker's lines are about, when several run at once


def _say(line: str) -> None:
    """A cell's progress line, timed (a CNN P15 cell runs for most of an hour)."""
    print(f"    {time.strftime('%H:%M:%S')} {_TAG}{line}", flush=True)


def run_baseline_cell(data: MnistData, test: tuple[torch.Tensor, torch.Tensor], *, model: str,
                      n: int, setting: str, method: str, seed: int,
                      args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    parts, levels, sizes = _parties(data, setting, n, seed, args.limit)
    name = "dssgd" if method == "distributed" else method
    res = run_baseline(name, model=model, parties=parts, test=test, epochs=args.baseline_epochs,
                       seed=seed, config=TrainConfig(), eval_every=args.eval_every, log=_say)
    finals = [float(a) for a in res.final]
    return {
        "best": max(finals), "mean": statistics.fmean(finals), "finals": finals,
        "fairness": _fairness(setting, levels, sizes, finals) if len(finals) > 1 else None,
        "curve_best": [float(v) for v in res.accuracy.max(axis=0)],
        "curve_rounds": list(res.evaluated), "path": "baseline",
    }


def reference_config(*, model: str, n: int, setting: str, seed: int, epochs: int,
                     collab: CollabConfig, gan: DPGANConfig | None = None,
                     local_epochs: int | None = None, limit: int | None = None,
                     test_limit: int | None = None, eval_every: int = 1,
                     prepared_cache: Path | None = None) -> ReferenceConfig:  # fmt: skip
    """A DPPDL cell's reference run. fairness_trace.py builds its run here too, so that the two
    share prepared-cache entries (15 parties or more train vmapped, and those entries differ)."""
    train = TrainConfig() if local_epochs is None else TrainConfig(local_epochs=local_epochs)
    return ReferenceConfig(
        n_parties=n, setting=setting, model=model, epochs=epochs,  # type: ignore[arg-type]
        seed=seed, train=train, gan=DPGANConfig() if gan is None else gan, collab=collab,
        train_limit=limit, test_limit=test_limit, batched=n >= 15, eval_every=eval_every,
        prepared_cache=prepared_cache,
    )


def run_dppdl_cell(data: MnistData, *, model: str, n: int, setting: str, seed: int,
                   args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    gan = DPGANConfig() if args.gan_epochs is None else DPGANConfig(epochs=args.gan_epochs)
    if args.chain:
        return _run_chain_cell(model=model, n=n, setting=setting, seed=seed, gan=gan, args=args)
    cfg = reference_config(
        model=model, n=n, setting=setting, seed=seed, epochs=args.epochs,
        collab=collab_for(args, seed), gan=gan, local_epochs=args.local_epochs, limit=args.limit,
        test_limit=args.test_limit, eval_every=args.eval_every,
        prepared_cache=args.prepared_cache,
    )
    bar = sys.stderr.isatty()  # a bar per round on a terminal, lines in a log file
    r = run_reference(cfg, data=data, progress=bar, log=None if bar else _say)
    kept = [i for i, a in enumerate(r.active[-1]) if a]
    finals = [r.accuracy[-1][i] for i in kept]
    key = "data_size" if setting == "imbalanced" else "privacy_level"
    return {
        "best": max(finals), "mean": statistics.fmean(finals), "finals": r.accuracy[-1],
        "fairness": r.fairness[key] if setting != "same-privacy" else None,
        "curve_best": [max(row) for row in r.accuracy], "curve_rounds": r.evaluated,
        "removals": r.removals,
        "dp_epsilon_spent": r.dp_epsilon_spent, "phase_seconds": r.seconds, "path": "reference",
        "prepared_from_cache": r.prepared_from_cache,
    }


def _run_chain_cell(*, model: str, n: int, setting: str, seed: int, gan: DPGANConfig,
                    args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    from dppdl.sim.config import SimulationConfig
    from dppdl.sim.simulate import run_simulation

    cfg = SimulationConfig(
        parties=n, setting=setting, model=model, epochs=args.epochs, seed=seed,
        limit=args.limit, test_limit=args.test_limit, in_process=True, gan=gan,
        train=TrainConfig(local_epochs=args.local_epochs), collab=collab_for(args, seed),
        runs_dir=args.runs_dir, timeout=24 * 3600.0,
        prepared_cache=args.prepared_cache,
    )
    run_dir = run_simulation(cfg, log=lambda m: None)
    run = json.loads((run_dir / "run.json").read_text())
    removed = {r["party"] for r in run["removals"]}
    finals = [row[-1] for row in run["accuracy"]]
    kept = [a for i, a in enumerate(finals) if i not in removed]
    return {
        "best": max(kept), "mean": statistics.fmean(kept), "finals": finals,
        "fairness": run["fairness"]["r"] if setting != "same-privacy" else None,
        "curve_best": [max(col) for col in zip(*run["accuracy"], strict=True)],
        "removals": run["removals"], "run_dir": str(run_dir), "timings": run["timings"],
        "dp_epsilon_spent": [p["dp_epsilon_spent"] for p in run["parties"]], "path": "chain",
        "prepared_from_cache": all(p["prepared_from_cache"] for p in run["parties"]),
    }


class Cell(NamedTuple):
    """One cell to run: what it is, and the flags it runs with (its own copy of the args)."""

    model: str
    n: int
    setting: str
    method: str
    seed: int
    args: argparse.Namespace

    @property
    def label(self) -> str:
        return "dppdl-chain" if self.method == "dppdl" and self.args.chain else self.method

    @property
    def key(self) -> str:
        return cell_key(self.model, self.n, self.setting, self.label, self.seed,
                        schedule_key(self.args, self.label))  # fmt: skip


def plan(args: argparse.Namespace) -> list[Cell]:
    """The flags' grid of cells: baselines for Table 5 on same-privacy only, distributed also on
    the Table 3 settings, DPPDL on every selected setting."""
    if args.paper_set:
        return paper_set(args)
    cells = []
    for model in args.models:
        for n in args.parties:
            for seed in args.seeds:
                for setting in args.settings:
                    for method in args.methods:
                        if method in ("centralized", "standalone") and setting != "same-privacy":
                            continue
                        cells.append(Cell(model, n, setting, method, seed, args))
    return cells


# The paper set (`--paper-set`): what the scorecard and Table 3/5 rows at P4 and P15 need.
# each model's collaborative epochs in the headline schedule the scorecard reads ("E90/...")
PAPER_EPOCHS = {model: int(schedule.split("/")[0][1:]) for model, schedule in HEADLINE.items()}
PAPER_SEEDS = (0, 1, 2, 3, 4)  # Table 3 is a 5-seed mean
TABLE3_SETTINGS = ("different-privacy", "imbalanced")


def paper_set(args: argparse.Namespace) -> list[Cell]:
    """Every cell behind the P4 and P15 tables, each model at its headline schedule (Algorithm
    2 from the shared initial model, mean rule, the MLP for 90 epochs and the CNN for 30):
    Table 5's baselines and DPPDL at same privacy for seed 0, DPPDL and DSSGD in the two
    Table 3 settings for 5 seeds, and the P4 MLP's three DPPDL cells again through chain,
    crypto and storage. Unless --eval-every is given, the parties are tested only after
    benchmarking and at the end (finals and r do not depend on it). Costliest cells first,
    so that parallel workers finish together."""
    cells = []
    for model in args.models:
        epochs = args.epochs_flag or PAPER_EPOCHS[model]
        own = argparse.Namespace(**vars(args))
        own.epochs, own.start, own.chain = epochs, "init", False
        own.baseline_epochs = args.baseline_epochs_flag or own.local_epochs + epochs
        own.eval_every = args.eval_every_flag or epochs
        chain = argparse.Namespace(**{**vars(own), "chain": True})
        for n in args.parties:
            for method in ("centralized", "distributed", "standalone", "dppdl"):
                cells.append(Cell(model, n, "same-privacy", method, 0, own))
            for setting in TABLE3_SETTINGS:
                for seed in args.seeds:
                    for method in ("dppdl", "distributed"):
                        cells.append(Cell(model, n, setting, method, seed, own))
            if model == "mlp" and n == 4:
                cells += [Cell(model, n, setting, "dppdl", 0, chain) for setting in SETTINGS]
    return sorted(cells, key=_rough_cost, reverse=True)


def _rough_cost(cell: Cell) -> float:
    """A cell's relative cost, only to order the paper set: SGD steps at batch size 1, a CNN
    step about five MLP steps, DPPDL about twice its steps for the DP-GAN and labelling."""
    a = cell.args
    examples = 600 * cell.n
    if cell.setting == "imbalanced":
        examples = IMBALANCED_TOTALS.get(cell.n, examples)
    epochs = a.baseline_epochs if cell.method != "dppdl" else a.local_epochs + a.epochs
    factor = 2.0 if cell.method == "dppdl" else 1.0
    return examples * epochs * factor * (5.0 if cell.model == "cnn" else 1.0)


def run_cell(cell: Cell, data: MnistData) -> dict[str, Any]:
    """Run one cell and describe it; the caller saves it."""
    model, n, setting, method, seed, args = cell
    t0 = time.perf_counter()
    if method == "dppdl":
        out = run_dppdl_cell(data, model=model, n=n, setting=setting, seed=seed, args=args)
    else:
        test = (data.test_x, data.test_y)
        if args.test_limit is not None:
            test = (test[0][: args.test_limit], test[1][: args.test_limit])
        out = run_baseline_cell(data, test, model=model, n=n, setting=setting, method=method,
                                seed=seed, args=args)  # fmt: skip
    out.update(
        model=model, parties=n, setting=setting, method=cell.label, seed=seed,
        schedule=schedule_key(args, cell.label), seconds=round(time.perf_counter() - t0, 1),
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        command=" ".join(["benchmarks/reproduce.py", *sys.argv[1:]]),
    )
    return out


def _load_data() -> MnistData:
    try:
        return load_mnist()
    except DataMissingError as exc:
        raise SystemExit(f"error: {exc}") from None


_WORKER_DATA: MnistData | None = None


def _worker_start(threads: int) -> None:
    global _WORKER_DATA
    torch.set_num_threads(threads)
    _WORKER_DATA = _load_data()


def _worker_run(cell: Cell) -> tuple[Cell, dict[str, Any] | str]:
    assert _WORKER_DATA is not None
    global _TAG
    _TAG = f"{cell.model} P{cell.n} {cell.setting} {cell.label} seed {cell.seed}: "
    return cell, _run_or_report(cell, _WORKER_DATA)


def _run_or_report(cell: Cell, data: MnistData) -> dict[str, Any] | str:
    """The cell's results, or the traceback of what stopped it: one failed cell of a
    many-hour set must not take the others with it."""
    try:
        return run_cell(cell, data)
    except Exception:  # reported with its traceback, and the run exits non-zero at the end
        return traceback.format_exc()


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Run the planned cells (in `args.jobs` worker processes if more than one), saving each
    cell to the results file as it finishes."""
    results = load_results(args.results)
    cells = plan(args)
    todo = []
    for c in cells:
        if args.skip_done and c.key in results["cells"]:
            print(f"  skip {c.key} (done)")
        else:
            todo.append(c)
    what = "the paper set" if args.paper_set else f"schedule {schedule_key(args)}"
    print(f"{len(todo)} of {len(cells)} cells to run ({what}), {args.jobs} at a time, "
          f"torch threads {args.threads} each", flush=True)
    t0 = time.perf_counter()
    failed: list[str] = []

    def finished(k: int, cell: Cell, out: dict[str, Any] | str) -> None:
        nonlocal results
        elapsed = time.strftime("%H:%M:%S", time.gmtime(time.perf_counter() - t0))
        if isinstance(out, str):
            failed.append(cell.key)
            print(f"  [{k}/{len(todo)}, {elapsed} in] FAILED {cell.key}:\n{out}", flush=True)
            return
        results = save_cell(args.results, cell.key, out)
        fair = "" if out["fairness"] is None else f"  r = {out['fairness']:+.2f}"
        print(f"  [{k}/{len(todo)}, {elapsed} in] {cell.key}: best {100 * out['best']:.2f}%  "
              f"mean {100 * out['mean']:.2f}%{fair}  ({out['seconds']:.0f} s)", flush=True)

    if args.jobs == 1:
        data = _load_data()
        for k, cell in enumerate(todo, 1):
            print(f"  run {cell.key} (started {time.strftime('%H:%M:%S')})", flush=True)
            finished(k, cell, _run_or_report(cell, data))
    else:
        for cell in todo:
            print(f"  queued {cell.key}")
        context = multiprocessing.get_context("spawn")  # no torch state shared with workers
        with context.Pool(args.jobs, initializer=_worker_start, initargs=(args.threads,)) as pool:
            for k, (cell, out) in enumerate(pool.imap_unordered(_worker_run, todo), 1):
                finished(k, cell, out)
    if failed:
        raise CellsFailed(failed)
    return results


class CellsFailed(Exception):
    """Cells that stopped with an error (each printed with its traceback as it failed)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(f"{len(keys)} cell(s) failed: " + ", ".join(keys))
        self.keys = keys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="P4 MLP, seed 0, 2 DPPDL epochs, 3 local epochs, 300 examples/party, "
                        "DP-GAN 10 epochs, 2,000 test examples (minutes; not the paper's numbers)")
    p.add_argument("--paper-set", action="store_true",
                   help="every cell behind the P4 and P15 tables at each model's headline "
                        "schedule (MLP 90 epochs, CNN 30, from the initial model): Table 5 "
                        "for seed 0, Table 3 for --seeds (default 0-4), the P4 MLP also on the "
                        "chain; tested after benchmarking and at the end")
    p.add_argument("--jobs", type=int, default=1,
                   help="cells run at once, each in its own process (this machine: 2)")
    p.add_argument("--models", default=None, help="mlp,cnn (default mlp; paper set both)")
    p.add_argument("--parties", default=None,
                   help="4,15 (30,50 need --large; default 4, paper set 4,15)")
    p.add_argument("--large", action="store_true", help="allow 30 and 50 parties")
    p.add_argument("--settings", default=None, help=f"default {','.join(SETTINGS)}")
    p.add_argument("--methods", default=None, help=f"default {','.join(METHODS)}")
    p.add_argument("--seeds", default=None,
                   help="e.g. 0,1,2,3,4 for Table 3 (default 0; paper set 0,1,2,3,4)")
    p.add_argument("--epochs", type=int, default=None,
                   help="DPPDL collaborative epochs (default 10; paper set: the model's)")
    p.add_argument("--local-epochs", type=int, default=10,
                   help="local epochs before collaboration (paper: 10)")
    p.add_argument("--baseline-epochs", type=int, default=None,
                   help="epochs of every baseline; default local epochs + DPPDL epochs")
    p.add_argument("--gan-epochs", type=int, default=None,
                   help="DP-GAN epochs (ε = 4, δ = 1e-5 kept; default DPGANConfig's)")
    p.add_argument("--limit", type=int, default=None, help="examples per party (tiny runs)")
    p.add_argument("--test-limit", type=int, default=None, help="MNIST test examples")
    p.add_argument("--eval-every", type=int, default=None, metavar="K",
                   help="test the parties every K-th epoch and the last (DPPDL also after "
                        "benchmarking; the curves thin out, finals and r do not change); "
                        "default 1, paper set only the last")
    add_collab_args(p, init_seed=False)  # the shared initial model follows each cell's seed
    p.set_defaults(start=None)  # so that the paper set can tell a given --start
    p.add_argument("--chain", action="store_true",
                   help="DPPDL cells through chain + crypto + storage (run_simulation)")
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs", help="for --chain runs")
    add_prepared_cache_arg(p)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--doc", type=Path, default=None, help="rewrite this doc's tables at the end")
    p.add_argument("--plots", type=Path, default=None,
                   help="write repro_<model>_p<n>_<schedule>.png accuracy curves into this folder")
    p.add_argument("--tables-only", action="store_true",
                   help="only regenerate --doc's scorecard and tables (and --plots)")
    p.add_argument("--skip-done", action="store_true", help="skip cells already in --results")
    args = p.parse_args(argv)
    if args.paper_set:
        if args.settings or args.methods or args.chain:
            raise ConfigError("--paper-set chooses the settings, methods and chain cells itself; "
                              "drop --settings, --methods and --chain")
        if args.start not in (None, "init"):
            raise ConfigError("--paper-set runs Algorithm 2 from the initial model; drop --start")
        args.models = args.models or "mlp,cnn"
        args.parties = args.parties or "4,15"
        args.seeds = args.seeds or ",".join(map(str, PAPER_SEEDS))
    if args.quick:
        args.epochs, args.local_epochs, args.limit, args.test_limit = 2, 3, 300, 2000
        args.gan_epochs = args.gan_epochs or 10
        if args.paper_set:  # the whole plan in miniature: P4, two seeds
            args.parties, args.seeds = "4", "0,1"
        else:
            args.models, args.parties, args.seeds = "mlp", "4", "0"
    # the paper set's cells take each model's own epochs unless these are given
    args.epochs_flag, args.baseline_epochs_flag = args.epochs, args.baseline_epochs
    args.eval_every_flag = args.eval_every
    args.epochs = 10 if args.epochs is None else args.epochs
    args.start = args.start or CollabConfig().start
    args.eval_every = 1 if args.eval_every is None else args.eval_every
    args.settings = args.settings or ",".join(SETTINGS)
    args.methods = args.methods or ",".join(METHODS)
    args.models = _csv(args.models or "mlp", ("mlp", "cnn"))
    args.parties = _ints(args.parties or "4")
    args.seeds = args.seeds or "0"
    allowed = ALL_PARTIES if args.large else (4, 15)
    if any(n not in allowed for n in args.parties):
        raise ConfigError(f"--parties must be among {allowed} (30 and 50 need --large)")
    args.settings = _csv(args.settings, SETTINGS)
    args.methods = _csv(args.methods, METHODS)
    args.seeds = _ints(args.seeds)
    if args.baseline_epochs is None:
        args.baseline_epochs = args.local_epochs + args.epochs
    if args.eval_every < 1:
        raise ConfigError(f"--eval-every must be >= 1, got {args.eval_every}")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    if args.epochs < 1 or args.baseline_epochs < 1 or args.local_epochs < 0:
        raise ConfigError("--epochs and --baseline-epochs must be >= 1, --local-epochs >= 0")
    if args.prepared_cache is not None:
        PreparedCache(args.prepared_cache).create()
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    results = load_results(args.results)
    status = 0
    if not args.tables_only:
        t0 = time.perf_counter()
        try:
            results = run_all(args)
        except CellsFailed as exc:
            results, status = load_results(args.results), 1
            print(f"error: {exc} (see their tracebacks above; --skip-done runs only them)",
                  file=sys.stderr)  # fmt: skip
        print(f"total {time.perf_counter() - t0:.0f} s")
        print(quick_table(results, [c.key for c in plan(args)]))
    if args.doc is not None:
        write_doc(args.doc, load_results(args.results))
    if args.plots is not None:
        plot_curves(load_results(args.results), args.plots)
    return status


if __name__ == "__main__":
    sys.exit(main())

