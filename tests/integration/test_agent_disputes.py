"""A blob that does not open is disputed, answered, voted down and settled; the sums still open."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from dppdl.chain.clients import DisputeOutcome, DisputeState, TaskState
from dppdl.sim.config import SimulationConfig
from dppdl.sim.simulate import Simulation

pytestmark = pytest.mark.integration


def _events(sim: Simulation, name: str) -> list:
    event = getattr(sim.client.contract.events, name)
    return list(event.get_logs(argument_filters={"taskId": sim.task_id}, from_block=0))


def test_a_corrupt_upload_is_disputed_voted_down_and_left_out(
    real_fault: SimulationConfig,
) -> None:
    # Prepare: party 3 labels honestly (so everyone buys from it) but commits blobs whose
    # layer-2 tag was altered after sealing; dispute windows wide enough for a loaded machine
    lines: list[str] = []

    def log(message: str) -> None:
        lines.append(message)
        print(message)  # shown by pytest when the test fails

    config = replace(
        real_fault, behaviours=("honest", "honest", "honest", "corrupt-upload"),
        windows=replace(real_fault.windows, dispute=60, answer=30, vote=30),
    )  # fmt: skip
    # Execute
    with Simulation(config, log=log) as sim:
        sim.run_agents()
        run = sim.collect()
        results = [
            json.loads((pc.state_dir / f"task-{sim.task_id}" / "result.json").read_text())
            for pc in sim.party_configs
        ]
        corrupter = results[3]["address"]
        honest = [r["address"] for r in results[:3]]
        bought = [r for p in honest for r in sim.client.requests_by_receiver(sim.task_id, 1, p)
                  if r.uploader == corrupter]  # fmt: skip
        filed = _events(sim, "DisputeFiled")
        answered = {int(e["args"]["requestId"]): e["args"] for e in _events(sim, "DisputeAnswered")}
        votes = _events(sim, "DisputeVoted")
        committed = {int(e["args"]["requestId"]): e["args"]
                     for e in _events(sim, "UploadCommitted")}  # fmt: skip
        blocks = {name: {int(e["args"]["requestId"]): e["blockNumber"] for e in _events(sim, name)}
                  for name in ("UploadCommitted", "DisputeFiled", "DisputeAnswered",
                               "DisputeSettled")}  # fmt: skip
        disputes = {r.request_id: sim.client.dispute(r.request_id) for r in bought}
        corrupter_info = sim.client.party(sim.task_id, corrupter)
        totals = sim.client.point_totals(sim.task_id)
        state = sim.client.task(sim.task_id).state
    # Assert: every honest receiver bought from the corrupter and filed exactly one dispute on it
    assert state == TaskState.FINISHED
    assert sorted(r.receiver for r in bought) == sorted(honest)
    assert sorted((e["args"]["receiver"], e["args"]["uploader"]) for e in filed) == sorted(
        (p, corrupter) for p in honest)
    assert sorted(int(e["args"]["requestId"]) for e in filed) == sorted(disputes)
    for request in bought:
        rid = request.request_id
        # the corrupter answered with the key it committed to
        key = bytes(answered[rid]["freshKey"])
        assert hashlib.sha256(key).digest() == bytes(committed[rid]["keyHash"])
        # both third parties (honest, neither receiver nor uploader) voted "invalid"
        voted = sorted((e["args"]["voter"], e["args"]["blobValid"]) for e in votes
                       if int(e["args"]["requestId"]) == rid)  # fmt: skip
        assert voted == sorted((p, False) for p in honest if p != request.receiver)
        assert disputes[rid].state == DisputeState.SETTLED
        assert disputes[rid].outcome == DisputeOutcome.RECEIVER_WON
    assert corrupter_info.disputes_lost == len(bought) == 3
    assert [d["outcome"] for d in run["disputes"]] == [DisputeOutcome.RECEIVER_WON] * 3
    # points conserved, nothing left held
    assert totals.balances + totals.escrow + totals.held == totals.minted > 0
    assert totals.held == 0
    # each honest receiver applied the sum of the two honest senders; the corrupter, of all three
    for r in results[:3]:
        assert r["opened"] == {"1": sorted(p for p in honest if p != r["address"])}
    assert results[3]["opened"] == {"1": sorted(honest)}
    assert not [line for line in lines if "not opened" in line or "] failed:" in line]
    for rid in disputes:  # blocks each step took, against the windows (60 / 30 / 30)
        steps = [blocks[n][rid] for n in ("UploadCommitted", "DisputeFiled", "DisputeAnswered",
                                          "DisputeSettled")]  # fmt: skip
        print(f"request {rid}: commit->file {steps[1] - steps[0]}, file->answer "
              f"{steps[2] - steps[1]}, answer->settle {steps[3] - steps[2]} blocks")
