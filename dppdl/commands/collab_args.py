"""Flags shared by several commands: the task's initial model and aggregation (`task publish`,
`simulate`, the reproduce benchmark) and the prepared-learner cache (`simulate`, `party init`,
the reproduce benchmark)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dppdl.learning.collab import AGGREGATIONS, STARTS, CollabConfig


def add_collab_args(parser: argparse.ArgumentParser, *, init_seed: bool = True) -> None:
    """Flags for the task's initial model and aggregation rule (dppdl.learning.collab);
    without ``init_seed`` the caller supplies the shared seed itself (the benchmark's run seed)."""
    default = CollabConfig()
    if init_seed:
        parser.add_argument("--init-seed", type=int, default=default.init_seed, metavar="SEED",
                            help="every party starts from the model initialised with this seed")
    parser.add_argument("--own-init", action="store_true",
                        help="each party initialises its own model instead (ablation)")
    parser.add_argument("--aggregation", choices=AGGREGATIONS, default=default.aggregation,
                        help="mean: average own and bought updates; sum: add them (diverges "
                             "with a shared init)")
    parser.add_argument("--error-feedback", action=argparse.BooleanOptionalAction,
                        default=default.error_feedback,
                        help="sell top-k of the update plus what earlier sales left unsent")
    parser.add_argument("--start", choices=STARTS, default=default.start,
                        help="Algorithm 2 starts from each party's standalone model "
                             "(pretrained) or from the task's initial model again (init)")
    parser.add_argument("--update-bound", type=float, default=default.update_bound,
                        metavar="GAMMA",
                        help="cut every entry of a party's local update to [-GAMMA, GAMMA] "
                             "before it is applied or sold (default: no cut)")
    parser.add_argument("--own-weight", type=float, default=default.own_weight,
                        metavar="LAMBDA",
                        help="mean rule: keep LAMBDA of the own update and 1 - LAMBDA of the "
                             "bought ones' mean (default: all weighted equally)")


def collab_from_args(args: argparse.Namespace, *, init_seed: int | None = None) -> CollabConfig:
    """The CollabConfig the flags ask for (a bad value is a one-line ConfigError); ``init_seed``
    replaces the --init-seed flag where the caller added none."""
    seed = args.init_seed if init_seed is None else init_seed
    return CollabConfig(
        init_seed=None if args.own_init else seed, aggregation=args.aggregation,
        error_feedback=args.error_feedback, update_bound=args.update_bound, start=args.start,
        own_weight=args.own_weight,
    )


def add_ring_arg(parser: argparse.ArgumentParser) -> None:
    """``--ring-bits {32,64}``: the word size of the task's masked sums (dppdl.crypto.codec)."""
    parser.add_argument("--ring-bits", type=int, choices=(32, 64), default=32,
                        help="masking ring: 32 (default; entries within ±1.0) or 64 (twice the "
                             "blob bytes; entries within ±64)")


def add_prepared_cache_arg(parser: argparse.ArgumentParser) -> None:
    """``--prepared-cache DIR`` (dppdl.learning.prepared), off by default."""
    parser.add_argument(
        "--prepared-cache", type=Path, default=None, metavar="DIR",
        help="restore standalone models and DP-GANs prepared before from identical inputs "
             "(data, seeds, configs, code, library versions); prepare and store the rest",
    )
