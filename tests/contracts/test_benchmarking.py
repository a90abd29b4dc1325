"""Mutual credibility on Anvil: labels digests, per-phase reports, removal when a phase closes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from dppdl_world import World, digest
from web3.logs import DISCARD

from dppdl.chain.clients import PartyStatus, TaskState
from dppdl.chain.reverts import revert_class as R
from dppdl.protocol.credibility import removals

pytestmark = pytest.mark.contracts


def test_post_labels_batched(world: World) -> None:
    task_id = world.started()
    posts = [(world.addr(j), digest(f"labels0->{j}")) for j in (1, 2, 3)]
    receipt = world.parties[0].post_labels(task_id=task_id, labels=posts)
    events = world.view.events(receipt, "LabelsPosted")
    assert [(e["publisher"], e["labelsDigest"], e["epoch"]) for e in events] == [
        (a, d, 0) for a, d in posts
    ]
    assert all(e["labeler"] == world.addr(0) for e in events)
    assert world.view.labels_digest(task_id, 0, world.addr(0), world.addr(2)) == posts[1][1]
    assert world.view.labels_digest(task_id, 0, world.addr(1), world.addr(2)) == bytes(32)


def test_post_labels_errors(world: World) -> None:
    task_id = world.publish()
    with pytest.raises(R("TaskWrongState")):  # not started yet
        world.parties[0].post_labels(task_id=task_id, labels=[(world.addr(1), digest("x"))])
    for i in range(4):
        world.join(task_id, i)
    p0 = world.parties[0]
    with pytest.raises(R("BenchmarkSelfTarget")):
        p0.post_labels(task_id=task_id, labels=[(world.addr(0), digest("x"))])
    with pytest.raises(R("BenchmarkLabelsEmpty")):
        p0.post_labels(task_id=task_id, labels=[(world.addr(1), bytes(32))])
    with pytest.raises(R("PartyNotCredible")):  # publisher outside the roster
        p0.post_labels(task_id=task_id, labels=[(world.addr(6), digest("x"))])
    with pytest.raises(R("PartyNotCredible")):  # labeler outside the roster
        world.parties[6].post_labels(task_id=task_id, labels=[(world.addr(1), digest("x"))])
    p0.post_labels(task_id=task_id, labels=[(world.addr(1), digest("x"))])
    with pytest.raises(R("BenchmarkLabelsAlreadyPosted")) as exc:
        p0.post_labels(task_id=task_id, labels=[(world.addr(1), digest("y"))])
    assert exc.value.fields["epoch"] == 0


def test_labels_per_epoch_in_training(world: World) -> None:
    task_id = world.training()
    world.parties[1].post_labels(task_id=task_id, labels=[(world.addr(0), digest("e1"))])
    assert world.view.labels_digest(task_id, 1, world.addr(1), world.addr(0)) == digest("e1")


def test_report_event_views_and_errors(world: World) -> None:
    task_id = world.started()
    receipt = world.parties[0].report(task_id=task_id, targets=[world.addr(2), world.addr(3)])
    events = world.view.events(receipt, "PartyReported")
    assert [(e["target"], e["reports"]) for e in events] == [(world.addr(2), 1),
                                                             (world.addr(3), 1)]
    assert world.view.has_reported(task_id, 0, world.addr(0), world.addr(2))
    assert not world.view.has_reported(task_id, 0, world.addr(1), world.addr(2))
    assert not world.view.has_reported(task_id, 1, world.addr(0), world.addr(2))  # other phase
    assert not world.view.has_reported(task_id, 0, world.addr(0), world.addr(7))  # non-member
    assert world.view.reports_by(task_id, 0, world.addr(0)) == [world.addr(2), world.addr(3)]
    assert world.view.reports_by(task_id, 1, world.addr(0)) == []
    with pytest.raises(R("BenchmarkAlreadyReported")) as exc:
        world.parties[0].report(task_id=task_id, targets=[world.addr(2)])
    assert exc.value.fields["target"] == world.addr(2)
    with pytest.raises(R("BenchmarkAlreadyReported")):  # twice in one call
        world.parties[1].report(task_id=task_id, targets=[world.addr(3), world.addr(3)])
    with pytest.raises(R("BenchmarkAlreadyReported")):  # in the done signal too
        world.parties[0].signal_done(task_id=task_id, reports=[world.addr(3)])
    with pytest.raises(R("BenchmarkSelfTarget")):
        world.parties[0].report(task_id=task_id, targets=[world.addr(0)])
    with pytest.raises(R("PartyNotCredible")):
        world.parties[0].report(task_id=task_id, targets=[world.addr(7)])
    with pytest.raises(R("PartyNotCredible")):  # reporter outside the roster
        world.parties[7].report(task_id=task_id, targets=[world.addr(0)])
    assert world.view.party(task_id, world.addr(3)).reports == 1  # reverted calls left nothing


def test_reports_remove_only_when_the_phase_closes(world: World) -> None:
    # Prepare: 3 of 4 report the target during benchmarking
    task_id = world.started(n=4)
    target = world.addr(3)
    for i in range(3):
        receipt = world.parties[i].report(task_id=task_id, targets=[target])
        assert world.removed(receipt) == []
    # Assert: still credible and able to act until the phase closes
    assert world.view.party(task_id, target).status == PartyStatus.CREDIBLE
    assert world.view.party(task_id, target).reports == 3
    assert world.view.task(task_id).credible == 4
    world.parties[3].post_labels(task_id=task_id, labels=[(world.addr(0), digest("t"))])
    world.parties[3].report(task_id=task_id, targets=[world.addr(0)])
    world.all_done(task_id, [3, 0, 1])
    assert world.view.task(task_id).done_count == 3
    # Execute: the last done signal closes the phase
    receipt = world.all_done(task_id, [2])
    # Assert
    (removed,) = world.view.events(receipt, "PartyRemoved")
    assert removed == {"taskId": task_id, "party": target, "epoch": 0, "reports": 3,
                       "credibleLeft": 3}
    assert world.view.events(receipt, "EpochStarted")[0]["epoch"] == 1
    info = world.view.task(task_id)
    assert (info.state, info.epoch, info.credible, info.done_count) == (
        TaskState.TRAINING, 1, 3, 0)
    assert world.view.party(task_id, target).status == PartyStatus.REMOVED
    assert [p.reports for p in world.view.roster(task_id)] == [0, 0, 0, 0]


@pytest.mark.parametrize("n", [4, 6])
def test_exactly_half_does_not_remove_strict_majority_does(world: World, n: int) -> None:
    # Prepare: phase 0, exactly half of the credible set reports the target
    task_id = world.started(n=n)
    target = world.addr(n - 1)
    half = n // 2
    for i in range(half):
        world.parties[i].report(task_id=task_id, targets=[target])
    # Execute: close benchmarking at its deadline
    receipt = world.close_by_deadline(task_id)
    # Assert: nobody removed, counts reset
    assert world.removed(receipt) == []
    assert world.view.task(task_id).credible == n
    assert world.view.party(task_id, target).status == PartyStatus.CREDIBLE
    assert world.view.party(task_id, target).reports == 0
    # Execute: in epoch 1 one more than half reports, in the closing done signals
    reports = {i: [n - 1] for i in range(half + 1)}
    receipt = world.all_done(task_id, list(range(n)), reports)
    # Assert: removed at the close of epoch 1, with that epoch in the event
    assert world.removed(receipt) == [(target, 1, half + 1, n - 1)]
    assert world.view.party(task_id, target).status == PartyStatus.REMOVED
    assert world.view.task(task_id).epoch == 2


def test_two_parties_removed_in_the_same_close(world: World) -> None:
    task_id = world.started(n=5)
    x, y = world.addr(3), world.addr(4)
    reports = {i: [3, 4] for i in range(3)}  # 3 of 5 on each
    receipt = world.all_done(task_id, [3, 4, 0, 1, 2], reports)
    assert world.removed(receipt) == [(x, 0, 3, 4), (y, 0, 3, 3)]
    assert world.view.task(task_id).credible == 3
    assert {world.view.party(task_id, a).status for a in (x, y)} == {PartyStatus.REMOVED}


def test_no_cascade_when_the_credible_set_shrinks(world: World) -> None:
    # 6 parties: V=4 has 4 reports (> 3), T=5 has 3 (exactly half of 6). Once V is gone T's 3
    # would be a majority of 5, but the decisions are taken on the phase's credible set.
    task_id = world.started(n=6)
    t, v = world.addr(5), world.addr(4)
    reports = {0: [4, 5], 1: [4, 5], 2: [4, 5], 3: [4]}
    receipt = world.all_done(task_id, [4, 5, 0, 1, 2, 3], reports)
    assert world.removed(receipt) == [(v, 0, 4, 5)]
    assert world.view.party(task_id, t).status == PartyStatus.CREDIBLE
    assert world.view.party(task_id, t).reports == 0
    assert world.view.task(task_id).credible == 5


def test_reports_by_a_party_removed_at_the_same_close_still_count(world: World) -> None:
    # 5 parties: Z=4 is reported by 0, 1, 2; Z, 1 and 2 report A=0 (3 of 5): both go at once.
    task_id = world.started(n=5)
    a, z = world.addr(0), world.addr(4)
    reports = {4: [0], 1: [0, 4], 2: [0, 4], 0: [4]}
    receipt = world.all_done(task_id, [4, 3, 0, 1, 2], reports)
    assert world.removed(receipt) == [(a, 0, 3, 4), (z, 0, 3, 3)]


@pytest.mark.parametrize(
    ("phase0", "phase1"),
    [((0,), (1,)),  # 1 of 4, then another 1 of 4
     ((0, 1), (1, 2))],  # 2 of 4 twice: 4 reports in total, never a majority in one phase
)
def test_reports_reset_between_phases(
    world: World, phase0: tuple[int, ...], phase1: tuple[int, ...]
) -> None:
    # Prepare
    task_id = world.started(n=4)
    target = world.addr(3)
    # Execute: phase 0 reports, close; phase 1 reports, close
    first = world.all_done(task_id, [3, 0, 1, 2], {i: [3] for i in phase0})
    receipts = [world.parties[i].report(task_id=task_id, targets=[target]) for i in phase1]
    second = world.close_by_deadline(task_id)
    # Assert: the count restarted in phase 1 and no close removed the target
    counts = [world.view.events(r, "PartyReported")[0]["reports"] for r in receipts]
    assert counts == list(range(1, len(phase1) + 1))
    assert world.removed(first) == [] and world.removed(second) == []
    assert world.view.party(task_id, target).status == PartyStatus.CREDIBLE
    assert world.view.task(task_id).epoch == 2
    for i in range(3):
        assert world.view.has_reported(task_id, 0, world.addr(i), target) == (i in phase0)
        assert world.view.has_reported(task_id, 1, world.addr(i), target) == (i in phase1)


def test_same_target_may_be_reported_again_in_the_next_phase(world: World) -> None:
    task_id = world.started(n=4)
    target = world.addr(3)
    world.parties[0].report(task_id=task_id, targets=[target])
    with pytest.raises(R("BenchmarkAlreadyReported")):
        world.parties[0].report(task_id=task_id, targets=[target])
    world.all_done(task_id, range(4))
    receipt = world.parties[0].report(task_id=task_id, targets=[target])  # epoch 1
    assert world.view.events(receipt, "PartyReported")[0]["reports"] == 1
    assert world.view.reports_by(task_id, 0, world.addr(0)) == [target]
    assert world.view.reports_by(task_id, 1, world.addr(0)) == [target]
    with pytest.raises(R("BenchmarkAlreadyReported")):  # still once per phase
        world.parties[0].signal_done(task_id=task_id, reports=[target])


def test_removal_at_the_close_of_the_last_epoch(world: World) -> None:
    # Prepare: one training epoch, 3 of 4 report the target in it
    task_id = world.training(n=4, epochs=1)
    target = world.addr(3)
    # Execute: the closing done signal ends the task
    receipt = world.all_done(task_id, [3, 0, 1, 2], {i: [3] for i in range(3)})
    # Assert: removed (epoch 1) before TaskFinished, in the same transaction
    assert world.removed(receipt) == [(target, 1, 3, 3)]
    indices = {name: [log["logIndex"] for log in
                      world.contract.events[name]().process_receipt(receipt, errors=DISCARD)]
               for name in ("PartyRemoved", "TaskFinished")}
    assert len(indices["TaskFinished"]) == 1
    assert indices["PartyRemoved"][0] < indices["TaskFinished"][0]
    info = world.view.task(task_id)
    assert (info.state, info.epoch, info.credible) == (TaskState.FINISHED, 1, 3)
    assert world.view.party(task_id, target).status == PartyStatus.REMOVED
    assert world.view.party(task_id, target).reports == 0


def test_removal_at_the_last_deadline(world: World) -> None:
    task_id = world.training(n=4, epochs=1)
    for i in (1, 2, 3):
        world.parties[i].report(task_id=task_id, targets=[world.addr(0)])
    receipt = world.close_by_deadline(task_id)
    assert world.removed(receipt) == [(world.addr(0), 1, 3, 3)]
    assert world.view.events(receipt, "TaskFinished")
    assert world.view.task(task_id).state == TaskState.FINISHED


def test_a_removed_party_cannot_act_afterwards(world: World) -> None:
    # Prepare: the target is removed when benchmarking closes
    task_id = world.started(n=4)
    target, removed = world.addr(3), world.parties[3]
    world.all_done(task_id, [3, 0, 1, 2], {i: [3] for i in range(3)})
    assert world.view.party(task_id, target).status == PartyStatus.REMOVED
    (rid,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 5)])
    actions = {
        "post labels": lambda: removed.post_labels(
            task_id=task_id, labels=[(world.addr(0), digest("late"))]),
        "request": lambda: removed.request_downloads(
            task_id=task_id, requests=[(world.addr(0), 5)]),
        "commit": lambda: world.commit(task_id, 3, [rid]),
        "signal done": lambda: removed.signal_done(task_id=task_id),
        "report": lambda: removed.report(task_id=task_id, targets=[world.addr(0)]),
        "reveal": lambda: removed.post_reveal(
            task_id=task_id, receiver=world.addr(0), digest=digest("keys")),
        "be reported": lambda: world.parties[0].report(task_id=task_id, targets=[target]),
        "be requested": lambda: world.parties[1].request_downloads(
            task_id=task_id, requests=[(target, 5)]),
        "be labelled": lambda: world.parties[1].post_labels(
            task_id=task_id, labels=[(target, digest("x"))]),
    }
    for what, action in actions.items():
        # Execute / Assert
        with pytest.raises(R("PartyNotCredible")) as exc:
            action()
        assert exc.value.fields["party"] == target, what
    # The three credible parties close epoch 1 without the removed one
    receipt = world.all_done(task_id, [0, 1, 2])
    assert world.view.events(receipt, "EpochStarted")[0]["epoch"] == 2
    world.assert_conserved(task_id)


@pytest.mark.parametrize("seed", [3, 4, 7])  # none then one; one a phase; three at once
def test_removals_match_the_reference_rule(world: World, seed: int) -> None:
    """Random per-phase reports: each close removes what credibility.removals says."""
    rng = random.Random(seed)
    n = 6
    task_id = world.started(n=n, epochs=2)
    active = np.ones(n, dtype=bool)
    for epoch in range(3):
        # Prepare: a random report matrix among the credible parties
        live = [i for i in range(n) if active[i]]
        matrix = np.zeros((n, n), dtype=bool)
        for i in live:
            for j in live:
                matrix[i, j] = i != j and rng.random() < 0.45
        expected = removals(matrix, active=active)
        # Execute
        reports = {i: [int(j) for j in np.flatnonzero(matrix[i])] for i in live}
        receipt = world.all_done(task_id, live, reports)
        # Assert
        got = world.removed(receipt)
        assert [world.parties[j].sender.address for j in expected] == [g[0] for g in got]
        assert {g[1] for g in got} <= {epoch}
        assert [g[2] for g in got] == [int(matrix[:, j].sum()) for j in expected]
        active[expected] = False
        assert world.view.task(task_id).credible == int(active.sum())
        if active.sum() < 2:
            break


def test_closing_done_signal_with_reports_fits_the_client_gas_bound(world: World) -> None:
    # Prepare: 32 parties, each reports every other one (all will be removed at the close)
    n = 32
    task_id, crowd = world.crowd(n)
    everyone = [c.sender.address for c in crowd]  # type: ignore[union-attr]
    for me, c in zip(everyone[:-1], crowd[:-1], strict=True):
        c.signal_done(task_id=task_id, reports=[a for a in everyone if a != me])
    # Execute: the last done signal carries 31 reports and closes the phase, removing all 32.
    # Measured need ~42k + 5.9k/party (close) + 6.4k/removal + 7.6k/report, ~670k here.
    receipt = crowd[-1].signal_done(task_id=task_id, reports=everyone[:-1])
    # Assert
    assert len(world.removed(receipt)) == n
