"""`dppdl storage serve|put|get|ls`: run a storage node or use any blob store by its spec."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from storage import open_store
from storage.cli import TOKEN_ENV, add_serve_arguments, run_serve
from storage.errors import StorageError, StorageUserError

STORE_ENV = "DPPDL_STORE"  # default --store spec, e.g. dir://.dppdl/blobs or http://a,http://b


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("storage", help="content-addressed blob storage")
    sub = parser.add_subparsers(dest="storage_command", metavar="ACTION", required=True)

    serve = sub.add_parser("serve", help="run an HTTP storage node (first line: its URL)")
    add_serve_arguments(serve)
    serve.set_defaults(handler=run_serve)

    put = sub.add_parser("put", help="store a file; prints its CID")
    _add_store_arguments(put)
    put.add_argument("file", type=Path, help="file to store ('-' for stdin)")
    put.add_argument("--json", action="store_true", help="print a JSON object")
    put.set_defaults(handler=_put)

    get = sub.add_parser("get", help="fetch a blob, verified against its CID")
    _add_store_arguments(get)
    get.add_argument("cid", help="CIDv1 raw (bafkrei...)")
    get.add_argument("-o", "--output", type=Path, default=None, help="output file (default stdout)")
    get.set_defaults(handler=_get)

    ls = sub.add_parser("ls", help="list CIDs, optionally by prefix")
    _add_store_arguments(ls)
    ls.add_argument("prefix", nargs="?", default="", help="CID prefix")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.set_defaults(handler=_ls)


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV),
        metavar="SPEC",
        help=f"dir:///path, http://host:port, or several comma-separated (default ${STORE_ENV})",
    )
    parser.add_argument("--replication", type=int, default=None, metavar="K",
                        help="copies written over several nodes (default: 2 if several, else 1)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                        help=f"the nodes' write token (default ${TOKEN_ENV})")


def _open(args: argparse.Namespace) -> Any:
    if not args.store:
        raise StorageUserError(f"no --store given and ${STORE_ENV} is not set")
    several = len(args.store.split(",")) > 1
    replication = args.replication if args.replication is not None else (2 if several else 1)
    return open_store(args.store, replication=replication, token=args.token or None)


def _one_line(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report a blob that is missing, corrupt or unreachable as one line and exit code 1."""

    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except StorageUserError:
            raise  # the CLI prints these itself (exit code 2)
        except StorageError as exc:
            print(f"dppdl: error: {exc}", file=sys.stderr)
            return 1

    return run


@_one_line
def _put(args: argparse.Namespace) -> int:
    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:
        raise StorageUserError(f"cannot read {args.file}: {exc.strerror}") from None
    with _open(args) as store:
        cid = store.put(data)
    print(json.dumps({"cid": cid, "size": len(data)}) if args.json else cid)
    return 0


@_one_line
def _get(args: argparse.Namespace) -> int:
    with _open(args) as store:
        data = store.get(args.cid)
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        args.output.write_bytes(data)
    return 0


@_one_line
def _ls(args: argparse.Namespace) -> int:
    with _open(args) as store:
        cids = list(store.list(args.prefix))
    print(json.dumps(cids) if args.json else "\n".join(cids), end="\n" if cids or args.json else "")
    return 0
