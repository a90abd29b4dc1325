"""Run a storage node as a subprocess (`python -m storage serve --port 0`): start, stop, crash."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

START_TIMEOUT = 30.0  # seconds; generous because CI machines here are shared and slow
STOP_TIMEOUT = 5.0  # seconds for a graceful stop before SIGKILL
LISTENING = "storage node listening on "


class StorageNode:
    """One node process over `directory`; `url` is known once started. Restarts keep the port."""

    def __init__(
        self,
        directory: Path,
        *,
        token: str | None = None,
        max_size: int | None = None,
        command: list[str] | None = None,
        log: Path | None = None,
        fsync: bool = False,
    ) -> None:
        self.directory = directory
        self.token = token
        self.max_size = max_size
        self.command = command or [sys.executable, "-m", "storage", "serve"]
        self.port = 0
        self.url = ""
        self.fsync = fsync
        self.log = log or directory.with_name(directory.name + ".log")
        self._process: subprocess.Popen[str] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The running node's process id (None before start)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        """Start the node and return its URL (the first line it prints)."""
        argv = [*self.command, "--dir", str(self.directory), "--port", str(self.port)]
        if not self.fsync:
            argv.append("--no-fsync")
        if self.max_size is not None:
            argv += ["--max-size", str(self.max_size)]
        env = {**os.environ, "STORAGE_NODE_TOKEN": self.token or ""}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:
            self._process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )
        line = self._first_line()
        self.url = line.removeprefix(LISTENING).strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def _first_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], START_TIMEOUT)
        line = self._process.stdout.readline() if ready else ""
        if not line.startswith(LISTENING):
            self.kill()
            log = self.log.read_text()
            raise RuntimeError(f"storage node did not start: {line!r}; log:\n{log}")
        return line

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL after STOP_TIMEOUT."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT)
        self._close()

    def kill(self) -> None:
        """Crash the node (SIGKILL), as a machine failure would."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(STOP_TIMEOUT)
        self._close()

    def _close(self) -> None:
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None

    def __enter__(self) -> StorageNode:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until_refused(url: str, timeout: float = STOP_TIMEOUT) -> None:
    """Block until nothing listens at `url` any more (a killed node's port is closed)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} still accepts connections")
