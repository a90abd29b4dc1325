"""Why a DPPDL run ends as fair as it does: per round, what tracks the parties' contributions.

Run: .venv/bin/python benchmarks/fairness_trace.py [--model mlp] [--parties 15]
     [--setting imbalanced] [--seed 0] [--epochs 5] [--prepared-cache DIR] [--json FILE]

One reference run (the cells' schedule: 10 local epochs, the default DP-GAN, Algorithm 2 from
the initial model unless --start pretrained). After every round it prints, over the credible
parties, the Pearson r between each party's contribution (|D_i| imbalanced, ε_i different
privacy) and
- its reputation: how the others rate it (`dppdl.protocol.credibility.reputation`, 1.0 for
  a uniform matrix), with the range;
- the entries it bought that epoch (what collaboration gave it), with the range;
- its points balance;
- its test accuracy, when the round was tested.
Fairness (Table 3) is the last column of the last round. `--prepared-cache` shares entries
with `benchmarks/reproduce.py` cells of the same parties.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dppdl.commands.collab_args import add_prepared_cache_arg
from dppdl.errors import ConfigError, DataMissingError
from dppdl.learning.collab import STARTS, CollabConfig
from dppdl.learning.data import load_mnist
from dppdl.protocol import credibility as cred
from dppdl.protocol.fairness import fairness_or_none
from dppdl.sim.reference import ReferenceResult, run_reference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce import reference_config  # noqa: E402  (the cells' config: shared cache entries)


def _r(x: np.ndarray, y: np.ndarray) -> str:
    r = fairness_or_none(contributions=list(x), accuracies=list(y))
    return "-" if r is None else f"{r:+.2f}"


def _span(v: np.ndarray, fmt: str) -> str:
    return f"{format(v.min(), fmt)}-{format(v.max(), fmt)}"


def trace(result: ReferenceResult, setting: str) -> list[dict[str, Any]]:
    """One row per round: ranges and r against contribution, over the credible parties."""
    contribution = np.asarray(
        result.data_sizes if setting == "imbalanced" else result.privacy_levels, dtype=np.float64
    )
    tested = dict(zip(result.evaluated, result.accuracy, strict=True))
    rows = []
    for k, active in enumerate(result.active):
        m = np.asarray(active, dtype=bool)
        c = cred.normalise(np.asarray(result.credibility[k]), active=m)  # over C after removals
        rep = cred.reputation(c, active=m)[m]
        row: dict[str, Any] = {
            "round": k, "credible": int(m.sum()), "reputation": _span(rep, ".3f"),
            "r_reputation": _r(contribution[m], rep),
        }  # fmt: skip
        if k > 0:
            bought = np.asarray(result.allocations[k - 1]).sum(axis=1)[m]
            row |= {"bought": _span(bought, ","), "r_bought": _r(contribution[m], bought)}
        row["r_balance"] = _r(contribution[m], np.asarray(result.balances[k], dtype=float)[m])
        if k in tested:
            row["r_accuracy"] = _r(contribution[m], np.asarray(tested[k])[m])
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    cols = [("round", 5), ("credible", 8), ("reputation", 11), ("r_reputation", 12),
            ("bought", 15), ("r_bought", 8), ("r_balance", 9), ("r_accuracy", 10)]  # fmt: skip
    lines = ["  ".join(f"{name:>{w}}" for name, w in cols)]
    for row in rows:
        lines.append("  ".join(f"{row.get(name, ''):>{w}}" for name, w in cols))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--parties", type=int, default=15)
    p.add_argument("--setting", choices=("imbalanced", "different-privacy"), default="imbalanced")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=5, help="collaborative epochs (rounds)")
    p.add_argument("--start", choices=STARTS, default="init")
    p.add_argument("--eval-every", type=int, default=1, metavar="K")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--json", type=Path, default=None, help="write the rows and the run here")
    add_prepared_cache_arg(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if args.parties < 3:
            raise ConfigError(f"--parties must be at least 3, got {args.parties}")
        config = reference_config(
            model=args.model, n=args.parties, setting=args.setting, seed=args.seed,
            epochs=args.epochs, collab=CollabConfig(init_seed=args.seed, start=args.start),
            eval_every=args.eval_every, prepared_cache=args.prepared_cache,
        )
        result = run_reference(config, data=load_mnist(),
                               log=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    except (ConfigError, DataMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = trace(result, args.setting)
    print(f"{args.model.upper()} P{args.parties} {args.setting}, seed {args.seed}, "
          f"{args.epochs} epochs from the {'initial' if args.start == 'init' else 'standalone'} "
          f"model; contribution = {'|D_i|' if args.setting == 'imbalanced' else 'ε_i'}")
    print(table(rows))
    if args.json is not None:
        payload = {"rows": rows, "run": result.to_json()}
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
