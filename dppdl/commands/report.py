"""`dppdl report RUN_DIR`: print a finished run's table and redraw its plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dppdl.sim.report import load_run, plot_run, summary_table


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="print a run's summary table and redraw its plots")
    parser.add_argument("run_dir", type=Path, help="a runs/<id> directory")
    parser.add_argument("--json", action="store_true", help="print run.json's summary as JSON")
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    plots = plot_run(run, args.run_dir)
    if args.json:
        print(
            json.dumps(
                {
                    "run": str(args.run_dir),
                    "fairness": run.get("fairness"),
                    "plots": [str(p) for p in plots],
                }
            )
        )
        return 0
    print(summary_table(run))
    for path in plots:
        print(f"plot: {path}")
    return 0
