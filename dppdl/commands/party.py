"""`dppdl party init|join|run|status`: one party's keys, config and agent."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dppdl.commands.collab_args import add_prepared_cache_arg
from dppdl.party.config import BEHAVIOURS, SETTINGS, DataConfig, PartyConfig, load_config


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("party", help="a party's keys, config and agent")
    psub = parser.add_subparsers(dest="party_command", metavar="SUBCOMMAND", required=True)

    init = psub.add_parser("init", help="create keys (encrypted, 0600) and party.toml in a folder")
    init.add_argument("folder", type=Path)
    init.add_argument("--rpc", default=PartyConfig.rpc_url, help="JSON-RPC URL of the chain")
    init.add_argument("--deployments", type=Path, default=Path("deployments").resolve())
    init.add_argument(
        "--storage",
        action="append",
        default=None,
        help="blob store: dir://PATH or http://HOST:PORT (repeat to replicate)",
    )
    init.add_argument("--replication", type=int, default=1)
    init.add_argument("--setting", choices=SETTINGS, default="same-privacy")
    init.add_argument("--parties", type=int, default=4, help="size of the data partition")
    init.add_argument("--index", type=int, default=0, help="this party's shard of the partition")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--limit", type=int, default=None, help="examples kept (tiny runs)")
    init.add_argument("--test-limit", type=int, default=None,
                      help="MNIST test examples used for accuracy (default: all 10,000)")
    init.add_argument("--poll-interval", type=float, default=PartyConfig.poll_interval,
                      metavar="SECONDS", help="time between chain polls while waiting")
    init.add_argument("--behaviour", choices=BEHAVIOURS, default="honest")
    add_prepared_cache_arg(init)
    init.add_argument(
        "--private-key-file",
        type=Path,
        default=None,
        help="use this hex Ethereum key instead of generating one",
    )
    init.set_defaults(handler=_init)

    for name, helptext, handler in (
        ("join", "prepare (pretrain, DP-GAN) and join a task", _join),
        ("run", "join if needed and follow a task to its end", _run),
        ("status", "this party's standing in a task", _status),
    ):
        cmd = psub.add_parser(name, help=helptext)
        cmd.add_argument("--config", type=Path, default=Path("party.toml"))
        cmd.add_argument("--task", type=int, required=True, help="task id")
        cmd.add_argument("--json", action="store_true", help="machine-readable output")
        cmd.set_defaults(handler=handler)


def _password() -> str:
    from dppdl.errors import UserError

    password = os.environ.get("DPPDL_KEY_PASSWORD")
    if not password:
        raise UserError("set DPPDL_KEY_PASSWORD to the password protecting the key files")
    return password


def _init(args: argparse.Namespace) -> int:
    from dppdl.errors import UserError
    from dppdl.party.setup import init_party

    folder = args.folder.resolve()
    private_key = None
    if args.private_key_file is not None:
        try:
            private_key = bytes.fromhex(
                args.private_key_file.read_text().strip().removeprefix("0x")
            )
        except (OSError, ValueError) as exc:
            raise UserError(
                f"cannot read a hex private key from {args.private_key_file}: {exc}"
            ) from None
    config = PartyConfig(
        rpc_url=args.rpc,
        deployments=args.deployments.resolve(),
        storage=tuple(args.storage or (f"dir://{(folder / 'blobs')}",)),
        replication=args.replication,
        key_file=folder / "eth-key.json",
        box_key_file=folder / "x25519-key.json",
        state_dir=folder / "state",
        behaviour=args.behaviour,
        prepared_cache=None if args.prepared_cache is None else args.prepared_cache.resolve(),
        data=DataConfig(
            setting=args.setting,
            n_parties=args.parties,
            index=args.index,
            seed=args.seed,
            limit=args.limit,
            test_limit=args.test_limit,
        ),
        poll_interval=args.poll_interval,
    )
    path, address = init_party(folder, config=config, password=_password(), private_key=private_key)
    print(f"party {address}: config {path}")
    return 0


def _agent(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import torch

    from dppdl.party.agent import PartyAgent
    from dppdl.party.context import open_context

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "0")) or 1))
    config = load_config(args.config)
    _password()
    ctx = open_context(
        config=config, task_id=args.task, log=lambda m: print(m, file=sys.stdout, flush=True)
    )
    return ctx, PartyAgent(ctx)


def _join(args: argparse.Namespace) -> int:
    ctx, agent = _agent(args)
    if agent.membership() is None:
        agent.join(ctx.task())
    print(
        json.dumps({"joined": True, "address": ctx.address})
        if args.json
        else f"{ctx.address} is in task {args.task}"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    _, agent = _agent(args)
    result = agent.run()
    if args.json:
        print(json.dumps(result))
    return 0


def _status(args: argparse.Namespace) -> int:
    from dppdl.chain.clients import DppdlClient
    from dppdl.chain.deployment import load_deployment
    from dppdl.chain.keys import load_key_file
    from dppdl.chain.tx import connect

    config = load_config(args.config)
    _password()
    w3 = connect(config.rpc_url)
    client = DppdlClient.from_deployment(
        load_deployment(w3=w3, deployment_dir=config.deployments), w3
    )
    address = load_key_file(config.key_file).address
    task = client.task(args.task)
    me = next((p for p in client.roster(args.task) if p.address == address), None)
    status = {
        "task": args.task,
        "task_state": task.state.name,
        "epoch": task.epoch,
        "address": address,
        "joined": me is not None,
    }
    if me is not None:
        status |= {
            "status": me.status.name,
            "balance": me.balance,
            "escrow": me.escrow,
            "reports": me.reports,
            "missed_uploads": me.missed_uploads,
            "done_epoch": me.done_epoch,
        }
    print(
        json.dumps(status) if args.json else "\n".join(f"{k:>15}: {v}" for k, v in status.items())
    )
    return 0
