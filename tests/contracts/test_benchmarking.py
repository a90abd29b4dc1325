"""Mutual credibility on Anvil: labels digests, reports, removal by strict majority, cascades."""

from __future__ import annotations

import pytest
from dppdl_world import World, digest

from dppdl.chain.clients import PartyStatus, TaskState
from dppdl.chain.reverts import revert_class as R

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


def test_report_event_views_and_errors(world: World) -> None:
    task_id = world.started()
    receipt = world.parties[0].report(task_id=task_id, targets=[world.addr(2), world.addr(3)])
    events = world.view.events(receipt, "PartyReported")
    assert [(e["target"], e["reports"]) for e in events] == [(world.addr(2), 1),
                                                             (world.addr(3), 1)]
    assert world.view.has_reported(task_id, world.addr(0), world.addr(2))
    assert not world.view.has_reported(task_id, world.addr(1), world.addr(2))
    assert world.view.reports_by(task_id, world.addr(0)) == [world.addr(2), world.addr(3)]
    with pytest.raises(R("BenchmarkAlreadyReported")):
        world.parties[0].report(task_id=task_id, targets=[world.addr(2)])
    with pytest.raises(R("BenchmarkSelfTarget")):
        world.parties[0].report(task_id=task_id, targets=[world.addr(0)])
    with pytest.raises(R("PartyNotCredible")):
        world.parties[0].report(task_id=task_id, targets=[world.addr(7)])


def test_exactly_half_does_not_remove_strict_majority_does(world: World) -> None:
    task_id = world.started(n=4)
    target = world.addr(3)
    world.parties[0].report(task_id=task_id, targets=[target])
    world.parties[1].report(task_id=task_id, targets=[target])
    assert world.view.party(task_id, target).status == PartyStatus.CREDIBLE  # 2 of 4 = half
    receipt = world.parties[2].report(task_id=task_id, targets=[target])
    (removed,) = world.view.events(receipt, "PartyRemoved")
    assert removed == {"taskId": task_id, "party": target, "reports": 3, "credibleLeft": 3}
    assert world.view.party(task_id, target).status == PartyStatus.REMOVED
    assert world.view.task(task_id).credible == 3
    with pytest.raises(R("PartyNotCredible")):  # the removed party can no longer act
        world.parties[3].signal_done(task_id=task_id)
    with pytest.raises(R("PartyNotCredible")):  # nor be reported again
        world.parties[0].report(task_id=task_id, targets=[target])


def test_removal_cascades_when_the_credible_set_shrinks(world: World) -> None:
    # Prepare: 5 parties; X=4 has 2 reports (not > 5/2); Y=3 is then removed by 3 reports.
    task_id = world.started(n=5)
    x, y = world.addr(4), world.addr(3)
    world.parties[0].report(task_id=task_id, targets=[x, y])
    world.parties[1].report(task_id=task_id, targets=[x, y])
    assert world.view.party(task_id, x).status == PartyStatus.CREDIBLE
    # Execute: the third report on Y removes it; 2 of the 4 left is exactly half: X stays
    receipt = world.parties[2].report(task_id=task_id, targets=[y])
    assert [e["party"] for e in world.view.events(receipt, "PartyRemoved")] == [y]
    assert world.view.party(task_id, x).status == PartyStatus.CREDIBLE
    # Y's own reports are withdrawn on removal; now report so that a removal tips X over
    world.parties[2].report(task_id=task_id, targets=[x])  # 3 of 4 > half: X removed
    assert world.view.party(task_id, x).status == PartyStatus.REMOVED
    assert world.view.task(task_id).credible == 3


def test_removed_reporter_no_longer_counts_and_sweep_removes_others(world: World) -> None:
    # 5 parties: A=0 reports Z=4; B=1 and C=2 report A and Z... design a cascade:
    task_id = world.started(n=5)
    a, z = world.addr(0), world.addr(4)
    world.parties[3].report(task_id=task_id, targets=[z])
    world.parties[4].report(task_id=task_id, targets=[a])  # Z's report on A
    world.parties[1].report(task_id=task_id, targets=[a, z])  # A: 2, Z: 2 of 5
    # C reports Z: 3 of 5 > 2.5 -> Z removed; Z's report on A is withdrawn -> A has 1 of 4
    receipt = world.parties[2].report(task_id=task_id, targets=[z])
    assert [e["party"] for e in world.view.events(receipt, "PartyRemoved")] == [z]
    assert world.view.party(task_id, a).reports == 1
    assert world.view.party(task_id, a).status == PartyStatus.CREDIBLE


def test_sweep_removes_a_party_pushed_over_by_a_smaller_set(world: World) -> None:
    # 6 parties. T=5 has 3 reports from 0,1,2 (3 of 6 = half). V=4 is removed by 0,1,2,3.
    # Then T has 3 of 5 > 2.5 and the sweep removes it in the same transaction.
    task_id = world.started(n=6)
    t, v = world.addr(5), world.addr(4)
    for i in (0, 1):
        world.parties[i].report(task_id=task_id, targets=[t, v])
    world.parties[2].report(task_id=task_id, targets=[t])
    world.parties[3].report(task_id=task_id, targets=[v])
    assert world.view.party(task_id, t).status == PartyStatus.CREDIBLE
    receipt = world.parties[2].report(task_id=task_id, targets=[v])  # 4 of 6 on V
    removed = [e["party"] for e in world.view.events(receipt, "PartyRemoved")]
    assert removed == [v, t]
    assert world.view.task(task_id).credible == 4


def test_reports_in_done_signal_and_removed_done_party_uncounted(world: World) -> None:
    task_id = world.started(n=4)
    target = world.addr(3)
    world.parties[3].signal_done(task_id=task_id)  # the target is done first
    world.parties[0].signal_done(task_id=task_id, reports=[target])
    world.parties[1].signal_done(task_id=task_id, reports=[target])
    assert world.view.task(task_id).done_count == 3
    # The third report removes the target: its done mark no longer counts, and then all three
    # credible parties are done, so the same transaction advances to epoch 1.
    receipt = world.parties[2].signal_done(task_id=task_id, reports=[target])
    assert [e["party"] for e in world.view.events(receipt, "PartyRemoved")] == [target]
    assert world.view.events(receipt, "EpochStarted")[0]["epoch"] == 1
    info = world.view.task(task_id)
    assert (info.state, info.epoch, info.credible) == (TaskState.TRAINING, 1, 3)


def test_labels_per_epoch_in_training(world: World) -> None:
    task_id = world.training()
    world.parties[1].post_labels(task_id=task_id, labels=[(world.addr(0), digest("e1"))])
    assert world.view.labels_digest(task_id, 1, world.addr(1), world.addr(0)) == digest("e1")
