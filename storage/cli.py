"""`python -m storage serve ...`: argument parsing shared with `dppdl storage serve`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from storage.base import DEFAULT_MAX_BLOB_SIZE
from storage.errors import StorageUserError

TOKEN_ENV = "STORAGE_NODE_TOKEN"  # read when --token is absent, so the token stays out of `ps`


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of `serve` to `parser` (used here and by `dppdl storage serve`)."""
    parser.add_argument("--dir", required=True, help="directory holding the blobs (created)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token required for writes (default: ${TOKEN_ENV}; none: open writes)",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_BLOB_SIZE,
        help=f"largest blob accepted, in bytes (default {DEFAULT_MAX_BLOB_SIZE})",
    )
    parser.add_argument(
        "--no-fsync", action="store_true", help="skip fsync on writes (faster, not crash-safe)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (stderr)",
    )


def run_serve(args: argparse.Namespace) -> int:
    """Start a node from parsed `serve` arguments; returns the exit code."""
    from storage.node import serve

    if args.max_size < 0:
        raise StorageUserError(f"--max-size must be >= 0, got {args.max_size}")
    return serve(
        directory=args.dir,
        host=args.host,
        port=args.port,
        token=args.token or None,
        max_size=args.max_size,
        fsync=not args.no_fsync,
        log_level=args.log_level,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="run an HTTP storage node")
    add_serve_arguments(serve)
    args = parser.parse_args(argv)
    try:
        return run_serve(args)
    except StorageUserError as exc:
        print(f"storage: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
