"""Party agents, storage and chain together at tiny scale: the protocol runs end to end."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest

from dppdl.chain.clients import RequestState, TaskState
from dppdl.learning.collab import CollabConfig
from dppdl.sim.config import SimulationConfig
from dppdl.sim.reference import ReferenceConfig, run_reference
from dppdl.sim.simulate import Simulation, wait_all

pytestmark = pytest.mark.integration


# The plumbing tests publish c_th = 1 ppm so that nobody is reported: at this tiny scale the
# DP-GANs' samples are too poor for credibility to mean anything, and the point of those tests
# is payment, upload, recovery and restart. The random-labeller test keeps the paper's c_th.
NO_REPORTS = {"credibility_threshold_ppm": 1}


def _keep(lines: list[str]):  # type: ignore[no-untyped-def]
    """Log to `lines` and to stdout (pytest shows it when a test fails)."""
    def log(message: str) -> None:
        stamped = f"{time.monotonic():9.1f} {message}"
        lines.append(stamped)
        print(stamped)
    return log


def _assert_points_conserved(sim: Simulation) -> None:
    totals = sim.client.point_totals(sim.task_id)
    assert totals.balances + totals.escrow + totals.held == totals.minted > 0


def _requests(sim: Simulation, epoch: int, receiver: str) -> list:
    return sim.client.requests_by_receiver(sim.task_id, epoch, receiver)


def test_happy_path_four_agent_processes(real: SimulationConfig) -> None:
    # Prepare: four honest parties, the paper's threshold, real DP-GAN samples
    lines: list[str] = []
    with Simulation(real, log=_keep(lines)) as sim:
        # Execute
        sim.run_agents()
        run = sim.collect()
        # Assert: the task finished, every bought upload was committed and paid, once
        assert sim.client.task(sim.task_id).state == TaskState.FINISHED
        _assert_points_conserved(sim)
        roster = sim.client.roster(sim.task_id)
        for epoch in (1, 2):
            for p in roster:
                requests = _requests(sim, epoch, p.address)
                assert len(requests) == 3  # one per other credible party
                assert {r.uploader for r in requests} == {q.address for q in roster} - {p.address}
                assert all(r.state == RequestState.COMMITTED for r in requests)
    assert run["removals"] == []
    assert all(len(acc) == 3 and all(0.1 < a <= 1.0 for a in acc) for acc in run["accuracy"])
    # one transaction per party per step: request, commit, labels, done (+ an advance at most)
    for per_epoch in run["transactions"]:
        assert per_epoch[0] >= 3  # join, labels, done
        assert all(3 <= t <= 5 for t in per_epoch[1:])
    assert run["bytes_stored"] > 0
    assert (sim.run_dir / "run.json").exists()


@pytest.mark.parametrize("collab", [
    CollabConfig(),
    CollabConfig(error_feedback=True, start="init", update_bound=0.01, own_weight=0.3),
], ids=["top-k", "error-feedback-from-init-bounded-own-weight"])
def test_chain_path_matches_the_reference_runner(
    tiny: SimulationConfig, collab: CollabConfig
) -> None:
    # Prepare: the same seed, shards, models and DP-GANs in one process without chain or crypto;
    # the agents' preparations are cached (both cases prepare alike): the first run to need
    # them trains and stores them, the other restores them, and both must match the reference
    assert tiny.prepared_cache is not None
    cached = sorted(tiny.prepared_cache.glob("*.pt"))
    reference = run_reference(ReferenceConfig(
        n_parties=tiny.parties, setting=tiny.setting, model=tiny.model, epochs=tiny.epochs,
        seed=tiny.seed, gan=tiny.gan, train=tiny.train, train_limit=tiny.limit,
        test_limit=tiny.test_limit, collab=collab,
    ))
    # Execute
    with Simulation(replace(tiny, in_process=True, collab=collab), log=_keep([])) as sim:
        sim.run_agents()
        run = sim.collect()
        finals = {pc.data.index: np.load(pc.state_dir / f"task-{sim.task_id}" /
                                         "final_params.npy") for pc in sim.party_configs}
    # Assert: same models up to the fixed-point codec's error, same points, same credibility
    for i, params in finals.items():
        np.testing.assert_allclose(params, reference.final_params[i], atol=1e-4, rtol=0)
    assert run["points"] == reference.balances
    np.testing.assert_allclose(run["credibility"], reference.credibility, atol=1e-6)
    np.testing.assert_allclose(run["accuracy"], np.array(reference.accuracy).T, atol=0.002)
    # a standalone model and a DP-GAN per party
    assert [p["prepared_from_cache"] for p in run["parties"]] == [len(cached) == 8] * 4
    assert len(cached) in (0, 8) and len(list(tiny.prepared_cache.glob("*.pt"))) == 8


def test_a_random_labeller_is_removed_by_the_others(real: SimulationConfig) -> None:
    # Prepare
    config = replace(real, in_process=True, epochs=1,
                     behaviours=("honest", "honest", "honest", "random-labels"))
    # Execute
    with Simulation(config, log=_keep([])) as sim:
        sim.run_agents()
        run = sim.collect()
        roster = sim.client.roster(sim.task_id)
    # Assert
    assert [(r["party"], r["epoch"]) for r in run["removals"]] == [(3, 0)]
    removed = [p for p in roster if p.status.name == "REMOVED"]
    assert [p.address for p in removed] == [run["parties"][3]["address"]]
    assert run["transactions"][3][1] == 0  # it took no part in the training epoch


def test_an_agent_killed_mid_epoch_resumes_without_paying_twice(tiny: SimulationConfig) -> None:
    # Prepare
    lines: list[str] = []
    with Simulation(replace(tiny, **NO_REPORTS), log=_keep(lines)) as sim:
        procs = [sim.spawn(i) for i in range(tiny.parties)]
        victim = 1
        address = sim.party_configs[victim]
        deadline = time.monotonic() + 300
        roster = []
        while time.monotonic() < deadline:
            roster = sim.client.roster(sim.task_id)
            if len(roster) == tiny.parties:
                break
            time.sleep(0.2)
        me = next(p.address for p in roster if p.index == _roster_index(sim, victim, roster))
        # Execute: kill -9 right after its epoch-1 download request landed, then restart it
        while time.monotonic() < deadline and not _requests(sim, 1, me):
            time.sleep(0.05)
        assert _requests(sim, 1, me), "the victim never requested in epoch 1"
        os.kill(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait()
        procs[victim] = sim.spawn(victim)
        wait_all(procs, timeout=tiny.timeout)
        run = sim.collect()
        # Assert: one request per (epoch, uploader), all committed; points conserved
        assert sim.client.task(sim.task_id).state == TaskState.FINISHED
        _assert_points_conserved(sim)
        requested = sim.client.contract.events.DownloadRequested.get_logs(
            argument_filters={"taskId": sim.task_id, "receiver": me}, from_block=0)
        pairs = [(int(e["args"]["epoch"]), e["args"]["uploader"]) for e in requested]
        assert len(pairs) == len(set(pairs))  # never requested twice from anyone
        for epoch in (1, 2):
            mine = _requests(sim, epoch, me)
            assert mine and all(r.state == RequestState.COMMITTED for r in mine)
            assert len(mine) == len([p for p in pairs if p[0] == epoch])
        victim_txs = run["transactions"][victim]
        others = [t for i, t in enumerate(run["transactions"]) if i != victim]
        assert all(victim_txs[e] <= max(t[e] for t in others) for e in (1, 2))  # no extra tx
    assert address is not None
    assert len(run["accuracy"][victim]) == 3


def _roster_index(sim: Simulation, shard: int, roster: list) -> int:
    from dppdl.chain.keys import load_key_file

    os.environ.setdefault("DPPDL_KEY_PASSWORD", "dppdl-devnet-simulation")
    address = load_key_file(sim.party_configs[shard].key_file).address
    return next(p.index for p in roster if p.address == address)


def test_a_party_that_never_uploads_is_refunded_and_the_sums_still_open(
    real_fault: SimulationConfig,
) -> None:
    # Prepare: it labels honestly (so everyone buys from it), it just never uploads
    lines: list[str] = []
    config = replace(real_fault, behaviours=("honest", "honest", "honest", "no-upload"))
    # Execute
    with Simulation(config, log=_keep(lines)) as sim:
        sim.run_agents()
        run = sim.collect()
        dropper = next(p for p in run["parties"] if p["behaviour"] == "no-upload")["address"]
        bought = [r for p in sim.client.roster(sim.task_id) if p.address != dropper
                  for r in _requests(sim, 1, p.address) if r.uploader == dropper]
        refunds = sim.client.contract.events.RequestRefunded.get_logs(
            argument_filters={"taskId": sim.task_id}, from_block=0)
        receivers = {r.receiver for r in bought}
        reveals = {r: sim.client.reveals(sim.task_id, 1, r) for r in receivers}
        senders = {r: [q.uploader for q in _requests(sim, 1, r) if q.uploader != dropper]
                   for r in receivers}
        missed = next(p for p in sim.client.roster(sim.task_id) if p.address == dropper)
        _assert_points_conserved(sim)
    # Assert: every request to the dropper was refunded (and counted against it); every other
    # sender to each of those receivers revealed its slot keys; every receiver opened its sum
    assert len(receivers) == 3, "every honest party bought from the dropper"
    assert sorted(int(e["args"]["requestId"]) for e in refunds) == sorted(
        r.request_id for r in bought)
    assert missed.missed_uploads == len(bought)
    for receiver in receivers:
        assert len(senders[receiver]) == 2
        assert sorted(reveals[receiver]) == sorted(senders[receiver])
    assert not [line for line in lines if "not opened" in line or "failed" in line]
