"""Dropout recovery on Anvil: senders that committed to a receiver reveal their slot-key digests."""

from __future__ import annotations

import pytest
from dppdl_world import World, digest

from dppdl.chain.clients import RequestState, TaskState
from dppdl.chain.reverts import revert_class as R

pytestmark = pytest.mark.contracts


def _dropout(world: World) -> tuple[int, int, int]:
    """Epoch 1 of a 4-party task: party 0 bought from 1, 2 and 3; 1 and 2 committed, 3 dropped.

    Returns (task id, request id 0<-1, request id 0<-3).
    """
    task_id = world.training(n=4)
    ids = world.parties[0].request_downloads(
        task_id=task_id, requests=[(world.addr(j), 5) for j in (1, 2, 3)])
    world.commit(task_id, 1, [ids[0]])
    world.commit(task_id, 2, [ids[1]])
    return task_id, ids[0], ids[2]


def test_reveal_after_a_commit_emits_and_is_listed(world: World) -> None:
    # Prepare: the upload deadline passed with party 3 silent; its request is refunded
    task_id, _, dropped = _dropout(world)
    world.mine_to(world.view.task(task_id).upload_deadline)
    world.clients[8].refund_requests(request_ids=[dropped])
    assert world.view.request(dropped).state == RequestState.REFUNDED
    receiver = world.addr(0)
    # Execute: both senders that committed reveal their keys with the dropped one
    receipt = world.parties[1].post_reveal(task_id=task_id, receiver=receiver,
                                           digest=digest("keys1"))
    world.parties[2].post_reveal(task_id=task_id, receiver=receiver, digest=digest("keys2"))
    # Assert
    (event,) = world.view.events(receipt, "MaskKeysRevealed")
    assert event == {"taskId": task_id, "epoch": 1, "sender": world.addr(1),
                     "receiver": receiver, "digest": digest("keys1")}
    assert world.view.reveals(task_id, 1, receiver) == {
        world.addr(1): digest("keys1"), world.addr(2): digest("keys2")}
    assert world.view.reveals(task_id, 2, receiver) == {}  # other epoch
    assert world.view.reveals(task_id, 1, world.addr(1)) == {}  # other receiver
    world.assert_conserved(task_id)  # a reveal moves no points


def test_reveal_before_the_upload_deadline_is_too_early(world: World) -> None:
    # Prepare: party 3 has not committed yet, but its upload window is still open
    task_id, _, _ = _dropout(world)
    deadline = world.view.task(task_id).upload_deadline
    # Execute / Assert: nobody has dropped out yet, so there is nothing to reveal
    with pytest.raises(R("RevealTooEarly")) as exc:
        world.parties[1].post_reveal(task_id=task_id, receiver=world.addr(0), digest=digest("a"))
    assert exc.value.fields["uploadDeadline"] == deadline
    assert world.view.reveals(task_id, 1, world.addr(0)) == {}


def test_reveal_in_a_later_epoch_needs_a_commit_in_that_epoch(world: World) -> None:
    task_id, rid, _ = _dropout(world)
    world.mine_to(world.view.task(task_id).upload_deadline)
    world.parties[1].post_reveal(task_id=task_id, receiver=world.addr(0), digest=digest("a"))
    world.all_done(task_id, range(4))  # epoch 2: the epoch-1 commit no longer qualifies
    with pytest.raises(R("RevealNotASender")) as exc:
        world.parties[1].post_reveal(task_id=task_id, receiver=world.addr(0), digest=digest("b"))
    assert exc.value.fields["epoch"] == 2
    (rid2,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 5)])
    world.commit(task_id, 1, [rid2], tag="e2")
    world.mine_to(world.view.task(task_id).upload_deadline)
    receipt = world.parties[1].post_reveal(task_id=task_id, receiver=world.addr(0),
                                           digest=digest("b"))
    assert world.view.events(receipt, "MaskKeysRevealed")[0]["epoch"] == 2
    assert world.view.reveals(task_id, 1, world.addr(0)) == {world.addr(1): digest("a")}
    assert world.view.reveals(task_id, 2, world.addr(0)) == {world.addr(1): digest("b")}
    assert rid != rid2


def test_reveal_errors(world: World) -> None:
    task_id, _, dropped = _dropout(world)
    p1, receiver = world.parties[1], world.addr(0)
    with pytest.raises(R("RevealEmpty")) as exc:
        p1.post_reveal(task_id=task_id, receiver=receiver, digest=bytes(32))
    assert exc.value.fields["receiver"] == receiver
    with pytest.raises(R("PartyNotMember")) as exc:  # receiver never joined
        p1.post_reveal(task_id=task_id, receiver=world.addr(6), digest=digest("k"))
    assert exc.value.fields["party"] == world.addr(6)
    with pytest.raises(R("PartyNotCredible")) as exc:  # sender outside the roster
        world.parties[6].post_reveal(task_id=task_id, receiver=receiver, digest=digest("k"))
    assert exc.value.fields["party"] == world.addr(6)
    not_senders = {
        "pending, never committed": (3, receiver),
        "refunded": (3, receiver),
        "no request at all": (1, world.addr(2)),
        "the receiver itself": (0, receiver),
        "the other direction": (0, world.addr(1)),
    }
    for what, (sender, to) in not_senders.items():
        if what == "refunded":
            world.mine_to(world.view.task(task_id).upload_deadline)
            world.clients[8].refund_requests(request_ids=[dropped])
        with pytest.raises(R("RevealNotASender")) as exc:
            world.parties[sender].post_reveal(task_id=task_id, receiver=to, digest=digest("k"))
        assert exc.value.fields == {"taskId": task_id, "epoch": 1,
                                    "sender": world.addr(sender), "receiver": to}, what
    assert world.view.reveals(task_id, 1, receiver) == {}


def test_reveal_outside_a_running_task(world: World) -> None:
    task_id = world.publish()
    with pytest.raises(R("TaskWrongState")):  # published, nobody joined
        world.parties[0].post_reveal(task_id=task_id, receiver=world.addr(1), digest=digest("k"))
    with pytest.raises(R("TaskUnknown")):
        world.parties[0].post_reveal(task_id=task_id + 1, receiver=world.addr(1),
                                     digest=digest("k"))
    for i in range(4):
        world.join(task_id, i)
    with pytest.raises(R("RevealNotASender")) as exc:  # benchmarking has no uploads
        world.parties[0].post_reveal(task_id=task_id, receiver=world.addr(1), digest=digest("k"))
    assert exc.value.fields["epoch"] == 0
    finished = world.training(n=4, epochs=1)
    world.all_done(finished, range(4))
    assert world.view.task(finished).state == TaskState.FINISHED
    with pytest.raises(R("TaskWrongState")):
        world.parties[0].post_reveal(task_id=finished, receiver=world.addr(1), digest=digest("k"))
