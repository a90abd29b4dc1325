"""Start and stop a local devnet (Anvil by default, Ganache second) and derive its dev accounts."""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dppdl.chain import paths
from dppdl.errors import ChainError, ConfigError, RpcUnavailableError

if TYPE_CHECKING:  # eth_account takes ~1 s to import: only dev_accounts() needs it
    from eth_account.signers.local import LocalAccount

DevnetKind = Literal["anvil", "ganache"]

# The well-known Hardhat/Anvil test mnemonic. ITS KEYS ARE PUBLIC: anyone can spend from them.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_BALANCE_ETH = 10_000  # per dev account on both devnets
STARTUP_TIMEOUT = 30.0  # seconds to wait for the node's first eth_chainId answer (Ganache ~5 s)

_LISTENING = re.compile(r"Listening on (\S+):(\d+)")


class DevnetError(ChainError):
    """The devnet process failed to start or stop."""


class PublicKeyWarning(UserWarning):
    """Dev accounts from the public test mnemonic are in use (devnet only)."""


def rpc_request(
    url: str, method: str, params: list[Any] | None = None, *, timeout: float = 2.0
) -> Any:
    """One raw JSON-RPC call (no web3), used to probe a node."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise ChainError(f"{method} at {url} failed: {reply['error']}")
    return reply["result"]


def probe_chain_id(url: str, *, timeout: float = 2.0) -> int | None:
    """The chain id the node at `url` reports, or None if nothing answers."""
    try:
        return int(rpc_request(url, "eth_chainId", timeout=timeout), 16)
    except (OSError, ValueError, ChainError):
        return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


@dataclass
class Devnet:
    """A running devnet node."""

    kind: DevnetKind
    rpc_url: str
    chain_id: int
    pid: int
    port: int
    log_path: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _temp_log: bool = field(default=False, repr=False)  # delete the log on stop

    def answers(self) -> bool:
        return probe_chain_id(self.rpc_url, timeout=1.0) is not None

    def stop(self, *, timeout: float = 5.0) -> None:
        """Terminate the node, then kill it if it has not exited after `timeout` seconds."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout)
            if self._temp_log:
                self.log_path.unlink(missing_ok=True)
            return
        if not pid_alive(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(self.pid):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                break
            time.sleep(0.05)

    def __enter__(self) -> Devnet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "rpc_url": self.rpc_url, "chain_id": self.chain_id,
            "pid": self.pid, "port": self.port, "log": str(self.log_path),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Devnet:
        return cls(
            kind=data["kind"], rpc_url=data["rpc_url"], chain_id=int(data["chain_id"]),
            pid=int(data["pid"]), port=int(data["port"]), log_path=Path(data["log"]),
        )


def _command(
    kind: DevnetKind, host: str, port: int, block_time: float | None, accounts: int,
    chain_id: int | None, mixed_mining: bool = False,
) -> list[str]:
    if kind == "anvil":
        binary = paths.require_devnet_package(paths.anvil_binary(), "the anvil binary")
        cmd = [
            str(binary), "--host", host, "--port", str(port), "--accounts", str(accounts),
            "--mnemonic", DEV_MNEMONIC, "--balance", str(DEV_BALANCE_ETH),
        ]
        if block_time is not None:
            cmd += ["--block-time", f"{block_time:g}"]
            if mixed_mining:
                cmd.append("--mixed-mining")  # transactions mine at once, blocks also tick
        if chain_id is not None:
            cmd += ["--chain-id", str(chain_id)]
        return cmd
    binary = paths.require_devnet_package(paths.ganache_binary(), "the ganache package")
    cmd = [
        str(binary), "--server.host", host, "--server.port", str(port),
        "--wallet.mnemonic", DEV_MNEMONIC, "--wallet.totalAccounts", str(accounts),
        "--wallet.defaultBalance", str(DEV_BALANCE_ETH), "--logging.quiet",
        "--chain.chainId", str(chain_id if chain_id is not None else 1337),
    ]
    if block_time is not None:
        cmd += ["--miner.blockTime", f"{block_time:g}"]
    return cmd


def _wait_ready(
    proc: subprocess.Popen[bytes], kind: str, host: str, port: int, log: Path
) -> tuple[str, int, int]:
    """Poll until the node answers eth_chainId; returns (rpc_url, port, chain_id)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-800:].strip()
            raise DevnetError(f"{kind} exited with code {proc.returncode} on start: {tail}")
        if port == 0:
            match = _LISTENING.search(log.read_text(errors="replace"))
            if match is None:
                time.sleep(0.05)
                continue
            port = int(match.group(2))
        url = f"http://{host}:{port}"
        chain_id = probe_chain_id(url, timeout=1.0)
        if chain_id is not None:
            return url, port, chain_id
        time.sleep(0.1)
    proc.kill()
    raise DevnetError(
        f"{kind} did not answer eth_chainId within {STARTUP_TIMEOUT:.0f} s (log: {log})"
    )


def start_devnet(
    *,
    kind: DevnetKind = "anvil",
    host: str = "127.0.0.1",
    port: int = 0,
    block_time: float | None = None,
    accounts: int = 10,
    chain_id: int | None = None,
    log_path: Path | None = None,
    detached: bool = False,
    mixed_mining: bool = False,
) -> Devnet:
    """Start a devnet node and wait until it answers; port 0 picks a free port.

    With block_time and mixed_mining=True (Anvil only), transactions still mine at once while
    empty blocks tick every block_time seconds, so block-based deadlines pass on an idle chain.
    With detached=True the node outlives this process (own session, no atexit stop); the
    `dppdl devnet up` command uses that. Otherwise it is stopped at interpreter exit at latest.
    """
    if kind not in ("anvil", "ganache"):
        raise ConfigError(f"unknown devnet kind {kind!r}; use anvil or ganache")
    if not 1 <= accounts <= 1000:
        raise ConfigError(f"accounts must be in 1..1000, got {accounts}")
    if block_time is not None and block_time <= 0:
        raise ConfigError(f"block_time must be > 0 s or None (automine), got {block_time}")
    if kind == "ganache" and port == 0:
        port = free_port(host)  # ganache crashes on port 0
    temp_log = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix=f"dppdl-{kind}-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if mixed_mining and (kind != "anvil" or block_time is None):
        raise ConfigError("mixed_mining needs kind='anvil' and a block_time")
    cmd = _command(kind, host, port, block_time, accounts, chain_id, mixed_mining)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=detached,
        )
    try:
        url, port, cid = _wait_ready(proc, kind, host, port, log_path)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    devnet = Devnet(kind=kind, rpc_url=url, chain_id=cid, pid=proc.pid, port=port,
                    log_path=log_path, _proc=proc, _temp_log=temp_log and not detached)
    if not detached:
        atexit.register(devnet.stop)
    return devnet


def dev_accounts(n: int = 10) -> list[LocalAccount]:
    """The first `n` accounts of the public test mnemonic, funded on both devnets.

    WARNING: these private keys are published everywhere; use them on a local devnet only.
    """
    if not 1 <= n <= 1000:
        raise ConfigError(f"n must be in 1..1000, got {n}")
    warnings.warn(
        "using dev accounts from the PUBLIC test mnemonic ('test test ... junk'): anyone can "
        "spend from these keys; never use them outside a local devnet",
        PublicKeyWarning,
        stacklevel=2,
    )
    return list(_derive(n))


def _derive(n: int) -> tuple[LocalAccount, ...]:
    cached = _ACCOUNTS_CACHE
    if len(cached) < n:
        from eth_account import Account

        Account.enable_unaudited_hdwallet_features()
        for i in range(len(cached), n):
            cached.append(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}"))
    return tuple(cached[:n])


_ACCOUNTS_CACHE: list[LocalAccount] = []


def require_node(url: str) -> int:
    """The chain id at `url`, or a one-line RpcUnavailableError."""
    cid = probe_chain_id(url)
    if cid is None:
        raise RpcUnavailableError(f"no JSON-RPC node answers at {url}")
    return cid
