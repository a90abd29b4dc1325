"""`dppdl devnet up|down|status`: a detached local devnet recorded in .dppdl/devnet.json."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dppdl.chain.devnet import probe_chain_id, start_devnet
from dppdl.chain.devnet_state import STATE_DIR, STATE_FILE, clear_state, is_our_node, read_state
from dppdl.chain.devnet_state import write_state as _write_state


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devnet", help="start, stop or inspect a local devnet")
    actions = parser.add_subparsers(dest="devnet_action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start a devnet in the background (Anvil by default)")
    up.add_argument("--kind", choices=("anvil", "ganache"), default="anvil")
    up.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    up.add_argument("--block-time", type=float, default=None,
                    help="seconds per block (default: mine on every transaction)")
    up.add_argument("--accounts", type=int, default=10, help="funded dev accounts")
    up.set_defaults(handler=_up)
    down = actions.add_parser("down", help="stop the devnet started by `up` here")
    down.set_defaults(handler=_down)
    status = actions.add_parser("status", help="say whether the devnet answers (exit 1 if not)")
    status.set_defaults(handler=_status)
    for p in (up, down, status):
        p.add_argument("--json", action="store_true", help="print JSON")


def _print(args: argparse.Namespace, text: str, data: dict[str, Any]) -> None:
    print(json.dumps(data) if args.json else text)


def _up(args: argparse.Namespace) -> int:
    state = read_state()
    if state is not None and is_our_node(state) and probe_chain_id(state.rpc_url) is not None:
        _print(args, f"{state.kind} already running at {state.rpc_url} (chain {state.chain_id}, "
               f"pid {state.pid})", {**state.to_json(), "running": True, "started": False})
        return 0
    devnet = start_devnet(
        kind=args.kind, port=args.port, block_time=args.block_time, accounts=args.accounts,
        log_path=STATE_DIR / f"devnet-{args.kind}.log", detached=True,
    )
    _write_state(devnet)
    _print(args, f"{devnet.kind} running at {devnet.rpc_url} (chain {devnet.chain_id}, pid "
           f"{devnet.pid}); stop it with `dppdl devnet down`",
           {**devnet.to_json(), "running": True, "started": True})
    return 0


def _down(args: argparse.Namespace) -> int:
    state = read_state()
    if state is None:
        _print(args, f"no devnet recorded in {STATE_FILE}; nothing to stop", {"stopped": False})
        return 0
    stopped = is_our_node(state)
    if stopped:
        state.stop()
    clear_state()
    text = (f"stopped {state.kind} (pid {state.pid})" if stopped
            else f"{state.kind} (pid {state.pid}) was not running; cleared {STATE_FILE}")
    _print(args, text, {**state.to_json(), "stopped": stopped})
    return 0


def _status(args: argparse.Namespace) -> int:
    state = read_state()
    if state is None:
        _print(args, "no devnet running here (`dppdl devnet up` starts one)", {"running": False})
        return 1
    chain_id = probe_chain_id(state.rpc_url) if is_our_node(state) else None
    if chain_id is None:
        _print(args, f"{state.kind} recorded at {state.rpc_url} does not answer "
               "(`dppdl devnet down` clears it)", {**state.to_json(), "running": False})
        return 1
    _print(args, f"{state.kind} running at {state.rpc_url} (chain {chain_id}, pid {state.pid})",
           {**state.to_json(), "running": True})
    return 0
