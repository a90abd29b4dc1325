"""`dppdl task publish|show`: the requester's commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dppdl.commands.collab_args import add_collab_args, add_ring_arg, collab_from_args
from dppdl.errors import UserError
from dppdl.party.windows import TX_PER_PARTY, Windows

WINDOW_ARGS = ("join", "benchmark", "request", "upload", "epoch")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("task", help="publish a task or show one")
    tsub = parser.add_subparsers(dest="task_command", metavar="SUBCOMMAND", required=True)
    publish = tsub.add_parser("publish", help="store a task spec and publish the task on-chain")
    _chain_args(publish)
    publish.add_argument(
        "--storage",
        action="append",
        required=True,
        help="blob store for the spec: dir://PATH or http://HOST:PORT",
    )
    who = publish.add_mutually_exclusive_group()
    who.add_argument("--key-file", type=Path, default=None, help="requester's key file")
    who.add_argument(
        "--dev-account",
        type=int,
        default=None,
        metavar="N",
        help="devnet only: sign with the well-known dev account N",
    )
    publish.add_argument("--parties", type=int, default=4)
    publish.add_argument("--epochs", type=int, default=2)
    publish.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    add_collab_args(publish)
    add_ring_arg(publish)
    for name in WINDOW_ARGS:
        publish.add_argument(
            f"--{name}-window", type=int, default=None, metavar="BLOCKS",
            help=f"default {getattr(Windows, name)} + {TX_PER_PARTY[name]}·n (n = --parties)",
        )
    publish.add_argument("--credibility-threshold-ppm", type=int, default=0, metavar="PPM",
                         help="c_th for reports in parts per million (0: the paper's (2/3)(1/n))")
    publish.set_defaults(handler=_publish)
    show = tsub.add_parser("show", help="a task's parameters, state and roster")
    _chain_args(show)
    show.add_argument("task", type=int)
    show.set_defaults(handler=_show)


def _chain_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rpc",
        metavar="URL",
        default=None,
        help="JSON-RPC URL (default: the devnet started by `dppdl devnet up`)",
    )
    parser.add_argument("--deployments", type=Path, default=Path("deployments"), metavar="DIR")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _client(args: argparse.Namespace, *, sender: bool):  # type: ignore[no-untyped-def]
    from dppdl.chain.clients import DppdlClient
    from dppdl.chain.deployment import load_deployment
    from dppdl.chain.devnet_state import default_rpc_url
    from dppdl.chain.keys import load_account
    from dppdl.chain.tx import TxSender, connect

    rpc = args.rpc or default_rpc_url()
    if rpc is None:
        raise UserError("no --rpc URL given and no devnet running here (`dppdl devnet up`)")
    w3 = connect(rpc)
    dep = load_deployment(w3=w3, deployment_dir=args.deployments)
    tx = None
    if sender:
        account = load_account(
            key_file=args.key_file, dev_account=args.dev_account, chain_id=w3.eth.chain_id
        )
        tx = TxSender(w3, account)
    return DppdlClient.from_deployment(dep, w3, tx)


def windows_from_args(args: argparse.Namespace) -> Windows:
    """The windows given on the command line; the defaults for --parties where none is."""
    return Windows.for_parties(
        args.parties, **{name: getattr(args, f"{name}_window") for name in WINDOW_ARGS}
    )


def _publish(args: argparse.Namespace) -> int:
    from dppdl.crypto.codec import CodecConfig
    from dppdl.party.requester import publish_task
    from dppdl.party.spec import TaskSpec
    from storage import open_store

    spec = TaskSpec(
        model=args.model, n_parties=args.parties, epochs=args.epochs,
        collab=collab_from_args(args), codec=CodecConfig.for_ring(args.ring_bits),
    )
    windows = windows_from_args(args)
    client = _client(args, sender=True)
    with open_store(args.storage) as store:
        task_id = publish_task(client=client, store=store, spec=spec, windows=windows,
                               credibility_threshold_ppm=args.credibility_threshold_ppm)
    print(json.dumps({"task": task_id}) if args.json else f"published task {task_id}")
    return 0


def _show(args: argparse.Namespace) -> int:
    client = _client(args, sender=False)
    client.require_task(args.task)
    task = client.task(args.task)
    roster = client.roster(args.task)
    doc = {
        "task": args.task,
        "state": task.state.name,
        "epoch": task.epoch,
        "epochs": task.params.epochs,
        "roster_size": task.params.roster_size,
        "n_params": task.params.n_params,
        "joined": task.joined,
        "credible": task.credible,
        "minted": task.minted,
        "spec_digest": task.params.spec_digest.hex(),
        "parties": [
            {
                "address": p.address,
                "status": p.status.name,
                "privacy_ppm": p.privacy_ppm,
                "balance": p.balance,
                "missed_uploads": p.missed_uploads,
            }
            for p in roster
        ],
    }
    if args.json:
        print(json.dumps(doc))
        return 0
    for key, value in doc.items():
        if key != "parties":
            print(f"{key:>12}: {value}")
    for p in doc["parties"]:  # type: ignore[union-attr]
        print(
            f"  {p['address']}  {p['status']:<8} ε={p['privacy_ppm'] / 1e6:.3f} "
            f"balance={p['balance']} missed={p['missed_uploads']}"
        )
    return 0
