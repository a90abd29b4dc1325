"""`dppdl deploy`: compile, run the migrations and write deployments/<chainId>.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dppdl.chain.devnet_state import default_rpc_url
from dppdl.errors import UserError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("deploy", help="deploy the contracts (idempotent)")
    parser.add_argument("--rpc", metavar="URL", default=None,
                        help="JSON-RPC URL (default: $DPPDL_RPC_URL, else `dppdl devnet up`'s)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--key-file", type=Path, default=None,
                     help="deployer key: hex private key or keystore JSON ($DPPDL_KEY_PASSWORD)")
    who.add_argument("--dev-account", type=int, default=None, metavar="N",
                     help="public dev account N (devnets only; the default is 0 there)")
    parser.add_argument("--redeploy", action="store_true",
                        help="replace contracts whose bytecode or constructor arguments changed")
    parser.add_argument("--deployments", type=Path, default=Path("deployments"), metavar="DIR",
                        help="where deployment records live (default: deployments/)")
    parser.add_argument("--migrations", type=Path, default=None, metavar="DIR",
                        help="migration steps folder (default: the repository's migrations/)")
    parser.add_argument("--contracts", type=Path, default=None, metavar="DIR",
                        help="Solidity sources (default: the repository's contracts/)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(handler=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    rpc = args.rpc or default_rpc_url()
    if rpc is None:
        raise UserError("no --rpc URL given and no devnet running here (`dppdl devnet up`)")

    from dppdl.chain.deploy import run_migrations  # web3 is slow to import: only when deploying
    from dppdl.chain.keys import load_account
    from dppdl.chain.tx import connect
    w3 = connect(rpc)
    account = load_account(key_file=args.key_file, dev_account=args.dev_account,
                           chain_id=w3.eth.chain_id)
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    dep = run_migrations(
        w3=w3, account=account, deployment_dir=args.deployments, migrations_dir=args.migrations,
        source_dir=args.contracts, redeploy=args.redeploy, log=log,
    )
    if args.json:
        print(json.dumps(dep.summary()))
    elif not dep.up_to_date:
        for key, rec in sorted(dep.contracts.items()):
            print(f"{key:24} {rec.address}")
        print(f"deployment record: {dep.path}")
    return 1 if dep.stale and not args.redeploy else 0
