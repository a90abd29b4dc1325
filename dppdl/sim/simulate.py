"""`dppdl simulate`: a devnet, a storage node, the contracts and N party agents on this machine."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dppdl.chain.clients import DppdlClient
from dppdl.chain.deploy import run_migrations
from dppdl.chain.devnet import dev_accounts, start_devnet
from dppdl.chain.tx import TxSender, connect
from dppdl.errors import DppdlError
from dppdl.learning.data import load_mnist
from dppdl.learning.prepared import PreparedCache
from dppdl.party.config import DataConfig, PartyConfig
from dppdl.party.requester import publish_task
from dppdl.party.setup import CONFIG_NAME, init_party
from dppdl.party.spec import TaskSpec
from dppdl.sim.collect import assemble_run
from dppdl.sim.config import SimulationConfig
from dppdl.sim.services import storage_node
from storage import open_store

Log = Callable[[str], None]
SIM_PASSWORD = "dppdl-devnet-simulation"  # devnet-only: the simulated parties' key-file password


class SimulationFailed(DppdlError):
    """An agent of the simulation failed; its log says why."""


class Simulation:
    """A devnet, a storage node, the deployed contracts, a published task and N party folders.

    `run_simulation` drives it start to finish; tests use `spawn` / `kill` to crash and
    restart single agents against the same chain.
    """

    def __init__(self, config: SimulationConfig, *, log: Log = print) -> None:
        self.config = config
        self.log = log
        self.run_id = (
            time.strftime("%Y%m%d-%H%M%S") + f"-{config.setting}-p{config.parties}-s{config.seed}"
        )
        # absolute: party configs store paths relative to their own folder when loaded
        self.run_dir = (config.runs_dir / self.run_id).absolute()
        self._stack = contextlib.ExitStack()
        self.started = time.perf_counter()

    def __enter__(self) -> Simulation:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        config, log, stack = self.config, self.log, self._stack
        if config.prepared_cache is not None:  # fail fast on a bad path too
            PreparedCache(config.prepared_cache).create()
        self.run_dir.mkdir(parents=True, exist_ok=False)
        load_mnist()  # fail fast, with the fetch command, before starting anything
        rpc_url = config.rpc_url
        if rpc_url is None:
            devnet = stack.enter_context(
                start_devnet(
                    block_time=config.block_time,
                    mixed_mining=True,
                    accounts=config.parties + 1,
                    log_path=self.run_dir / "anvil.log",
                )
            )
            rpc_url = devnet.rpc_url
            log(f"anvil listening on {rpc_url}")
        stores = config.storage
        if not stores:
            stores = (
                stack.enter_context(
                    storage_node(self.run_dir / "blobs", log_path=self.run_dir / "storage.log")
                ),
            )
            log(f"storage node listening on {stores[0]}")
        w3 = connect(rpc_url)
        accounts = dev_accounts(config.parties + 1)
        deployment = run_migrations(
            account=accounts[0], w3=w3, deployment_dir=self.run_dir / "deployments", log=log
        )
        spec = TaskSpec(
            model=config.model, n_parties=config.parties, epochs=config.epochs, gan=config.gan,
            train=config.train, collab=config.collab, codec=config.codec,
        )
        store = stack.enter_context(open_store(list(stores)))
        self.client = DppdlClient.from_deployment(deployment, w3, TxSender(w3, accounts[0]))
        self.task_id = publish_task(
            client=self.client, store=store, spec=spec, windows=config.task_windows(),
            credibility_threshold_ppm=config.credibility_threshold_ppm,
        )
        log(
            f"published task {self.task_id}: {config.parties} parties, {config.model}, "
            f"{config.setting}, {config.epochs} epochs, |w| = {spec.n_params:,}"
        )
        self.party_configs = _make_parties(config, self.run_dir, rpc_url, stores, accounts[1:])
        self.rpc_url = rpc_url

    def spawn(self, index: int) -> subprocess.Popen[str]:
        """Start party `index`'s agent as `dppdl party run` in its own process."""
        pc = self.party_configs[index]
        env = dict(
            os.environ, DPPDL_KEY_PASSWORD=SIM_PASSWORD, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1"
        )
        cmd = [
            sys.executable,
            "-m",
            "dppdl",
            "party",
            "run",
            "--config",
            str(pc.key_file.parent / CONFIG_NAME),
            "--task",
            str(self.task_id),
        ]
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=_relay, args=(proc, f"[p{index}] ", self.log), daemon=True).start()
        return proc

    def run_agents(self) -> None:
        if self.config.in_process:
            _run_in_process(
                self.party_configs, task_id=self.task_id, timeout=self.config.timeout, log=self.log
            )
        else:
            wait_all(
                [self.spawn(i) for i in range(self.config.parties)], timeout=self.config.timeout
            )

    def collect(self) -> dict[str, Any]:
        """Write run.json from the agents' results and the chain; returns it."""
        run = assemble_run(
            config=self.config,
            run_id=self.run_id,
            client=self.client,
            task_id=self.task_id,
            party_configs=self.party_configs,
            wall_seconds=time.perf_counter() - self.started,
        )
        (self.run_dir / "run.json").write_text(json.dumps(run, indent=1))
        return run


def run_simulation(config: SimulationConfig, *, log: Log = print) -> Path:
    """Run one simulation end to end; returns runs/<id>/ holding run.json."""
    with Simulation(config, log=log) as sim:
        sim.run_agents()
        sim.collect()
    return sim.run_dir


def wait_all(procs: list[subprocess.Popen[str]], *, timeout: float) -> None:
    """Wait for every agent process; the first failure stops the others."""
    deadline = time.monotonic() + timeout
    try:
        for i, proc in enumerate(procs):
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            if code != 0:
                raise SimulationFailed(f"party p{i} exited with code {code} (see its lines above)")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _make_parties(config: SimulationConfig, run_dir: Path, rpc_url: str,
                  stores: tuple[str, ...], accounts: list[Any]) -> list[PartyConfig]:  # fmt: skip
    out = []
    cache = None if config.prepared_cache is None else config.prepared_cache.absolute()
    for i in range(config.parties):
        folder = run_dir / "parties" / f"p{i}"
        pc = PartyConfig(
            rpc_url=rpc_url,
            deployments=run_dir / "deployments",
            storage=stores,
            key_file=folder / "eth-key.json",
            box_key_file=folder / "x25519-key.json",
            state_dir=folder / "state",
            behaviour=config.behaviour(i),
            prepared_cache=cache,
            data=DataConfig(
                setting=config.setting,
                n_parties=config.parties,
                index=i,
                seed=config.seed,
                limit=config.limit,
                test_limit=config.test_limit,
            ),
        )
        with _quiet_weak_kdf():
            init_party(
                folder,
                config=pc,
                password=SIM_PASSWORD,
                private_key=bytes(accounts[i].key),
                devnet_fast_kdf=True,
            )
        out.append(pc)
    return out


@contextlib.contextmanager
def _quiet_weak_kdf() -> Iterator[None]:
    import warnings

    from dppdl.party.setup import WeakKeyFileWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyFileWarning)
        yield


def _relay(proc: subprocess.Popen[str], prefix: str, log: Log) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        log(prefix + line.rstrip())


def _prefixed(log: Log, prefix: str, message: str) -> None:
    log(prefix + message)


def _run_in_process(configs: list[PartyConfig], *, task_id: int, timeout: float,
                    log: Log) -> None:  # fmt: skip
    """The same agent code as threads of this process (shares the loaded MNIST).

    Kernels run single-threaded: agent threads sharing torch's intra-op pool would split work
    differently from run to run, so float rounding (and, through a flipped label, credibility
    and allocations) would not repeat; process mode gets the same from OMP_NUM_THREADS=1.
    """
    import torch

    from dppdl.party.agent import PartyAgent
    from dppdl.party.context import open_context
    from dppdl.party.waiting import AgentCancelled

    os.environ.setdefault("DPPDL_KEY_PASSWORD", SIM_PASSWORD)
    torch.set_num_threads(1)
    data = load_mnist()
    errors: list[tuple[int, BaseException]] = []
    cancel = threading.Event()

    def work(i: int, pc: PartyConfig) -> None:
        try:
            ctx = open_context(config=pc, task_id=task_id, data=data,
                               log=functools.partial(_prefixed, log, f"[p{i}] "))
            ctx.cancel = cancel
            PartyAgent(ctx).run()
        except AgentCancelled:
            pass
        except BaseException as exc:  # reported below, with the party's index
            errors.append((i, exc))
            log(f"[p{i}] failed: {exc!r}")
            cancel.set()

    threads = [
        threading.Thread(target=work, args=(i, pc), daemon=True) for i, pc in enumerate(configs)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise SimulationFailed(f"agents still running after {timeout:.0f} s")
    if errors:
        i, exc = errors[0]
        raise SimulationFailed(f"party p{i} failed: {exc}") from exc
