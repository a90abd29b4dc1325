"""The `dppdl` command line: parses, dispatches to dppdl.commands.*, one line per user error."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dppdl import __version__
from dppdl.errors import UserError

# Each module in dppdl.commands exposes `register(subparsers)`; a handler is stored as the
# `handler` default of its parser and returns the process exit code.
COMMAND_MODULES = (
    "devnet",
    "deploy",
    "data",
    "storage",
    "task",
    "party",
    "simulate",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dppdl",
        description="Fair, decentralized, privacy-preserving deep learning on Ethereum.",
    )
    parser.add_argument("--version", action="version", version=f"dppdl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"dppdl.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"dppdl.commands.{name}":
                raise
            continue  # command not built yet
        module.register(sub)
    return parser


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [UserError]
    try:  # storage is a separate package with its own error root
        from storage.errors import StorageUserError

        types.append(StorageUserError)
    except ImportError:
        pass
    return tuple(types)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except _user_error_types() as exc:
        print(f"dppdl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dppdl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
