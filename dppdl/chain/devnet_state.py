"""The detached devnet's state file (.dppdl/devnet.json in the working directory)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dppdl.chain.devnet import Devnet, pid_alive
from dppdl.files import atomic_write

STATE_DIR = Path(".dppdl")
STATE_FILE = STATE_DIR / "devnet.json"
RPC_ENV = "DPPDL_RPC_URL"  # overrides the devnet state file as the default RPC URL


def read_state(state_file: Path = STATE_FILE) -> Devnet | None:
    try:
        return Devnet.from_json(json.loads(state_file.read_text()))
    except (OSError, ValueError, KeyError):
        return None


def write_state(devnet: Devnet, state_file: Path = STATE_FILE) -> None:
    atomic_write(state_file, (json.dumps(devnet.to_json(), indent=1) + "\n").encode(), mode=0o644)


def clear_state(state_file: Path = STATE_FILE) -> None:
    state_file.unlink(missing_ok=True)


def is_our_node(devnet: Devnet) -> bool:
    """True when the recorded pid is alive and is an anvil/ganache process (not a reused pid)."""
    if not pid_alive(devnet.pid):
        return False
    try:
        cmdline = Path(f"/proc/{devnet.pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc: trust the pid
    return devnet.kind.encode() in cmdline


def default_rpc_url() -> str | None:
    """$DPPDL_RPC_URL, else the URL of the devnet started by `dppdl devnet up` here."""
    env = os.environ.get(RPC_ENV)
    if env:
        return env
    state = read_state()
    return state.rpc_url if state is not None else None
