"""Party agents, storage and chain together at tiny scale: the protocol runs end to end."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest

from dppdl.chain.clients import RequestState, TaskState
from dppdl.sim.config import SimulationConfig
from dppdl.sim.reference import ReferenceConfig, run_reference
from dppdl.sim.simulate import Simulation, wait_all

pytestmark = pytest.mark.integration


def _addresses(sim: Simulation) -> list[str]:
    return [str(a) for a in sim.client.roster(sim.task_id) and
            [p.address for p in sim.client.roster(sim.task_id)]]


def _assert_points_conserved(sim: Simulation) -> None:
    totals = sim.client.point_totals(sim.task_id)
    assert totals.balances + totals.escrow + totals.held == totals.minted > 0


def _requests(sim: Simulation, epoch: int, receiver: str) -> list:
    return sim.client.requests_by_receiver(sim.task_id, epoch, receiver)


def test_happy_path_four_agent_processes(tiny: SimulationConfig) -> None:
    # Prepare
    lines: list[str] = []
    with Simulation(tiny, log=lines.append) as sim:
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
    assert run["bytes_stored"] > 4 * 3 * 2 * 140_106 * 8 * 0.0  # sealed blobs were stored
    assert (sim.run_dir / "run.json").exists()


def test_chain_path_matches_the_reference_runner(tiny: SimulationConfig) -> None:
    # Prepare: the same seed, shards, models and DP-GANs in one process without chain or crypto
    reference = run_reference(ReferenceConfig(
        n_parties=tiny.parties, setting=tiny.setting, model=tiny.model, epochs=tiny.epochs,
        seed=tiny.seed, gan=tiny.gan, train_limit=tiny.limit, test_limit=tiny.test_limit,
    ))
    # Execute
    with Simulation(replace(tiny, in_process=True), log=lambda m: None) as sim:
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


def test_a_random_labeller_is_removed_by_the_others(tiny: SimulationConfig) -> None:
    # Prepare
    config = replace(tiny, in_process=True, epochs=1,
                     behaviours=("honest", "honest", "honest", "random-labels"))
    # Execute
    with Simulation(config, log=lambda m: None) as sim:
        sim.run_agents()
        run = sim.collect()
        roster = sim.client.roster(sim.task_id)
    # Assert
    assert [r["party"] for r in run["removals"]] == [3]
    removed = [p for p in roster if p.status.name == "REMOVED"]
    assert len(removed) == 1
    assert all(not r for r in (_requests_from(run, 3)))


def _requests_from(run: dict, party: int) -> list:
    return [t for t in run["transactions"][party][1:] if t]


def test_an_agent_killed_mid_epoch_resumes_without_paying_twice(tiny: SimulationConfig) -> None:
    # Prepare
    lines: list[str] = []
    with Simulation(tiny, log=lines.append) as sim:
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
        assert len(pairs) == len(set(pairs)) == 2 * (tiny.parties - 1)
        for epoch in (1, 2):
            assert all(r.state == RequestState.COMMITTED for r in _requests(sim, epoch, me))
    assert address is not None
    assert len(run["accuracy"][victim]) == 3


def _roster_index(sim: Simulation, shard: int, roster: list) -> int:
    from dppdl.chain.keys import load_key_file

    os.environ.setdefault("DPPDL_KEY_PASSWORD", "dppdl-devnet-simulation")
    address = load_key_file(sim.party_configs[shard].key_file).address
    return next(p.index for p in roster if p.address == address)


def test_a_party_that_never_uploads_is_refunded_and_the_sums_still_open(
    tiny: SimulationConfig,
) -> None:
    # Prepare
    lines: list[str] = []
    config = replace(tiny, in_process=True, epochs=1,
                     behaviours=("honest", "honest", "honest", "no-upload"))
    # Execute
    with Simulation(config, log=lines.append) as sim:
        sim.run_agents()
        run = sim.collect()
        roster = sim.client.roster(sim.task_id)
        refunds = sim.client.contract.events.RequestRefunded.get_logs(
            argument_filters={"taskId": sim.task_id}, from_block=0)
        reveals = sim.client.contract.events.MaskKeysRevealed.get_logs(
            argument_filters={"taskId": sim.task_id}, from_block=0)
        _assert_points_conserved(sim)
    # Assert: the three honest receivers were refunded for it; each of the two other senders
    # revealed its slot keys to each of them; nobody skipped an aggregation
    dropper = next(p for p in run["parties"] if p["behaviour"] == "no-upload")
    assert {e["args"]["uploader"] for e in refunds} == {dropper["address"]}
    assert len(refunds) == 3
    assert len(reveals) == 3 * 2
    assert next(p for p in roster if p.address == dropper["address"]).missed_uploads == 3
    assert not [line for line in lines if "not opened" in line or "failed" in line]
