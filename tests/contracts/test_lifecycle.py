"""Task lifecycle on Anvil: publish, join, start and mint, cancel, epochs, finish."""

from __future__ import annotations

import pytest
from dppdl_world import DEFAULT_PPMS, World, digest

from dppdl.chain.clients import PartyStatus, TaskState, initial_points
from dppdl.chain.reverts import revert_class

pytestmark = pytest.mark.contracts


def R(name: str) -> type[Exception]:  # noqa: N802 - reads like the error name
    return revert_class(name)


def test_publish_records_params_and_emits(world: World) -> None:
    # Prepare
    params = world.params(roster_size=5, epochs=3, n_params=4242)
    # Execute
    receipt_task = world.requester.publish_task(params=params)
    info = world.view.task(receipt_task)
    # Assert
    assert receipt_task == 1 and world.view.task_count() == 1
    assert info.params == params
    assert info.state == TaskState.PUBLISHED and info.requester == world.requester.sender.address
    assert (info.joined, info.credible, info.minted) == (0, 0, 0)


def test_publish_event_arguments(world: World) -> None:
    params = world.params()
    receipt = world.requester._send(world.contract.functions.publishTask(params.to_abi()))
    (event,) = world.view.events(receipt, "TaskPublished")
    assert event == {
        "taskId": 1, "requester": world.requester.sender.address, "specDigest": digest("spec"),
        "rosterSize": 4, "epochs": 2, "nParams": 1000, "joinDeadline": params.join_deadline,
    }


@pytest.mark.parametrize(
    ("index", "value", "error"),
    [
        (2, 2, "TaskInvalidShape"),  # roster below 3
        (2, 257, "TaskInvalidShape"),  # roster above 256
        (3, 0, "TaskInvalidShape"),  # no epochs
        (1, 0, "TaskInvalidShape"),  # no parameters
        (8, 0, "TaskInvalidJoinDeadline"),  # deadline in the past
        (5, 0, "TaskInvalidWindows"),  # zero request window
        (6, 5, "TaskInvalidWindows"),  # upload window before request window
        (10, 0, "TaskInvalidDisputeRules"),  # zero dispute window
        (13, 1_000_001, "TaskInvalidDisputeRules"),  # deposit above 100 %
    ],
)
def test_publish_rejects_bad_params(world: World, index: int, value: int, error: str) -> None:
    raw = list(world.params().to_abi())  # bypass the Python-side validation on purpose
    raw[index] = value
    with pytest.raises(R(error)):
        world.requester._send(world.contract.functions.publishTask(tuple(raw)))


def test_join_records_party_and_moves_to_joining(world: World) -> None:
    task_id = world.publish()
    receipt = world.join(task_id, 0)
    (event,) = world.view.events(receipt, "PartyJoined")
    assert event == {
        "taskId": task_id, "party": world.addr(0), "index": 0, "publicKey": digest("pk0"),
        "privacyPpm": DEFAULT_PPMS[0], "samplesDigest": digest("samples0"),
    }
    party = world.view.party(task_id, world.addr(0))
    assert party.status == PartyStatus.CREDIBLE and party.public_key == digest("pk0")
    assert party.samples_digest == digest("samples0") and party.balance == 0
    assert world.view.task(task_id).state == TaskState.JOINING


def test_full_roster_starts_and_mints_exact_integer_points(world: World) -> None:
    # Prepare: privacy levels whose products do not divide evenly by 1e6
    ppms = (123_457, 333_333, 999_999, 1)
    task_id = world.publish(n_params=140_101)
    for i in range(3):
        world.join(task_id, i, ppms[i])
    # Execute
    receipt = world.join(task_id, 3, ppms[3])
    # Assert
    expected = [initial_points(privacy_ppm=p, n_params=140_101, n_parties=4) for p in ppms]
    minted = world.view.events(receipt, "PointsMinted")
    assert [e["amount"] for e in minted] == expected
    assert [e["party"] for e in minted] == [world.addr(i) for i in range(4)]
    (started,) = world.view.events(receipt, "TaskStarted")
    assert started == {"taskId": task_id, "parties": 4, "minted": sum(expected)}
    (epoch0,) = world.view.events(receipt, "EpochStarted")
    assert epoch0["epoch"] == 0 and epoch0["startBlock"] == receipt["blockNumber"]
    info = world.view.task(task_id)
    assert info.state == TaskState.BENCHMARKING and info.epoch == 0 and info.credible == 4
    assert [p.balance for p in world.view.roster(task_id)] == expected
    world.assert_conserved(task_id)


def test_join_errors(world: World) -> None:
    task_id = world.publish(roster_size=5)
    world.join(task_id, 0)
    with pytest.raises(R("JoinAlreadyJoined")) as exc:
        world.join(task_id, 0)
    assert exc.value.fields == {"taskId": task_id, "party": world.addr(0)}
    with pytest.raises(R("JoinKeyTaken")) as exc:
        world.parties[1].join(task_id=task_id, public_key=digest("pk0"), privacy_ppm=1,
                              samples_digest=digest("s"))
    assert exc.value.fields["publicKey"] == digest("pk0")
    with pytest.raises(R("JoinPublicKeyInvalid")):
        world.parties[1].join(task_id=task_id, public_key=bytes(32), privacy_ppm=1,
                              samples_digest=digest("s"))
    for bad in (0, 1_000_001):
        with pytest.raises(R("JoinPrivacyOutOfRange")) as exc:
            world.join(task_id, 1, bad)
        assert exc.value.fields["privacyPpm"] == bad
    with pytest.raises(R("TaskUnknown")):
        world.join(99, 1)


def test_join_after_deadline_and_start_rules(world: World) -> None:
    task_id = world.publish(roster_size=5, join_deadline=world.block() + 20)
    world.join(task_id, 0)
    world.join(task_id, 1)
    with pytest.raises(R("StartNotReady")):  # before the deadline, roster not full
        world.parties[0].start_task(task_id=task_id)
    world.mine_to(world.view.task(task_id).params.join_deadline)
    with pytest.raises(R("JoinDeadlinePassed")):
        world.join(task_id, 2)
    with pytest.raises(R("StartNotReady")) as exc:  # after the deadline with only 2 parties
        world.parties[0].start_task(task_id=task_id)
    assert exc.value.fields["joined"] == 2


def test_anyone_starts_after_deadline_with_three(world: World) -> None:
    task_id = world.publish(roster_size=5, join_deadline=world.block() + 10)
    for i in range(3):
        world.join(task_id, i)
    world.mine_to(world.view.task(task_id).params.join_deadline)
    receipt = world.clients[8].start_task(task_id=task_id)  # an outsider
    (started,) = world.view.events(receipt, "TaskStarted")
    expected = sum(initial_points(privacy_ppm=DEFAULT_PPMS[i], n_params=1000, n_parties=3)
                   for i in range(3))
    assert started["parties"] == 3 and started["minted"] == expected
    with pytest.raises(R("TaskWrongState")):
        world.parties[0].start_task(task_id=task_id)


def test_cancel_by_requester_only_and_before_start(world: World) -> None:
    task_id = world.publish()
    world.join(task_id, 0)
    with pytest.raises(R("CancelNotRequester")) as exc:
        world.parties[0].cancel_task(task_id=task_id)
    assert exc.value.fields["requester"] == world.requester.sender.address
    receipt = world.requester.cancel_task(task_id=task_id)
    assert world.view.events(receipt, "TaskCancelled") == [{"taskId": task_id}]
    assert world.view.task(task_id).state == TaskState.CANCELLED
    with pytest.raises(R("TaskWrongState")):
        world.join(task_id, 1)
    started = world.started()
    with pytest.raises(R("TaskWrongState")):
        world.requester.cancel_task(task_id=started)


def test_epochs_advance_on_last_done_and_finish(world: World) -> None:
    task_id = world.started(epochs=2)
    for epoch in (0, 1, 2):
        for i in range(3):
            receipt = world.parties[i].signal_done(task_id=task_id)
            (done,) = world.view.events(receipt, "EpochDone")
            assert done == {"taskId": task_id, "epoch": epoch, "party": world.addr(i),
                            "done": i + 1}
        with pytest.raises(R("EpochAlreadyDone")):
            world.parties[0].signal_done(task_id=task_id)
        with pytest.raises(R("EpochNotOver")) as exc:
            world.parties[0].advance_epoch(task_id=task_id)
        assert exc.value.fields["done"] == 3 and exc.value.fields["credible"] == 4
        receipt = world.parties[3].signal_done(task_id=task_id)
        if epoch < 2:
            (started,) = world.view.events(receipt, "EpochStarted")
            assert started["epoch"] == epoch + 1
            info = world.view.task(task_id)
            assert (info.state, info.epoch, info.done_count) == (TaskState.TRAINING, epoch + 1, 0)
    assert world.view.events(receipt, "TaskFinished")[0]["taskId"] == task_id
    assert world.view.task(task_id).state == TaskState.FINISHED
    with pytest.raises(R("TaskWrongState")):
        world.parties[0].signal_done(task_id=task_id)
    assert world.view.party(task_id, world.addr(3)).done_epoch == 2


def test_anyone_advances_after_the_phase_deadline(world: World) -> None:
    task_id = world.started(benchmark_window=15, epoch_window=25)
    world.parties[0].signal_done(task_id=task_id)
    info = world.view.task(task_id)
    assert info.phase_deadline == info.phase_start + 15
    world.mine_to(info.phase_deadline)
    receipt = world.clients[8].advance_epoch(task_id=task_id)
    assert world.view.events(receipt, "EpochStarted")[0]["epoch"] == 1
    info = world.view.task(task_id)
    assert info.phase_deadline == info.phase_start + 25
    assert info.request_deadline == info.phase_start + 10
    assert info.upload_deadline == info.phase_start + 20


def test_views_reject_unknown(world: World) -> None:
    with pytest.raises(R("TaskUnknown")):
        world.view.task(7)
    task_id = world.publish()
    with pytest.raises(R("PartyNotMember")):
        world.view.party(task_id, world.addr(0))
