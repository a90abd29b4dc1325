"""`task_and_roster` returns a task and a roster of one state, re-reading a torn pair.

The tear is real: in CI an agent read the task of epoch 1 with the roster of epoch 0 (Anvil
answered both calls at the head block from a state the next block was changing), then
labelled a party the phase's close had just removed, and the contract reverted."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from dppdl.chain.clients import PartyStatus, TaskParams, TaskState
from dppdl.chain.clients.dppdl import DppdlClient
from dppdl.chain.clients.types import PartyInfo, snapshot_agrees
from dppdl.errors import ChainError

ADDRS = [f"0x{i:040x}" for i in range(1, 5)]
PARAMS = TaskParams(spec_digest=bytes(32), roster_size=4, epochs=2, n_params=10, join_deadline=99)


def _task_row(state: TaskState, *, epoch: int, joined: int, credible: int, done: int) -> tuple:
    status = (int(state), epoch, joined, credible, done, 0, 1000)
    return (PARAMS.to_abi(), status, ADDRS[0], 10, 20, 30)


def _party_row(i: int, status: PartyStatus, done_epoch: int | None) -> tuple:
    done_mark = 0 if done_epoch is None else done_epoch + 1
    return (ADDRS[i], i, int(status), bytes(32), bytes(32), 100_000, 50, 0, 0, 0, 0, done_mark)


def _roster(statuses: list[PartyStatus], done: list[int | None]) -> list[tuple]:
    return [_party_row(i, s, d) for i, (s, d) in enumerate(zip(statuses, done, strict=True))]


C, R = PartyStatus.CREDIBLE, PartyStatus.REMOVED
EPOCH0_DONE = _roster([C, C, C, C], [0, 0, 0, 0])  # every party done with benchmarking
EPOCH1 = _task_row(TaskState.TRAINING, epoch=1, joined=4, credible=3, done=0)  # p3 removed
EPOCH1_ROSTER = _roster([C, C, C, R], [0, 0, 0, 0])


class FakeViews:
    """Answers each getTask/getRoster batch with the next canned pair; records the blocks."""

    def __init__(self, *pairs: tuple[Any, Any]) -> None:
        self.pairs = list(pairs)
        self.blocks: list[Any] = []

    def head_and_call_many(self, calls: list[tuple[str, tuple]]) -> tuple[int, list[Any]]:
        assert [name for name, _ in calls] == ["getTask", "getRoster"]
        self.blocks.append(41 + len(self.blocks))
        return self.blocks[-1], list(self.pairs.pop(0))


def _client(views: FakeViews) -> DppdlClient:
    contract: Any = SimpleNamespace(address=ADDRS[0], w3=SimpleNamespace(eth=SimpleNamespace(
        block_number=41)))  # fmt: skip
    return DppdlClient(contract, views=views)  # type: ignore[arg-type]


def _info(task_row: tuple, rows: list[tuple]) -> tuple[Any, list[PartyInfo]]:
    return DppdlClient._task_info(1, task_row), [PartyInfo.from_abi(r) for r in rows]


def test_the_pair_ci_saw_disagrees_and_the_true_one_agrees() -> None:
    assert not snapshot_agrees(*_info(EPOCH1, EPOCH0_DONE))  # credible 3, roster 4 credible
    assert snapshot_agrees(*_info(EPOCH1, EPOCH1_ROSTER))


@pytest.mark.parametrize(
    ("task_row", "rows", "agrees"),
    [
        # joining: credible is 0 on-chain until the start, the roster counts entries
        (_task_row(TaskState.JOINING, epoch=0, joined=2, credible=0, done=0),
         _roster([C, C], [None, None]), True),
        (_task_row(TaskState.JOINING, epoch=0, joined=2, credible=0, done=0),
         _roster([C, C, C], [None, None, None]), False),  # a join the task has not seen
        # a done signal seen by one view only
        (_task_row(TaskState.BENCHMARKING, epoch=0, joined=4, credible=4, done=2),
         _roster([C, C, C, C], [0, 0, None, None]), True),
        (_task_row(TaskState.BENCHMARKING, epoch=0, joined=4, credible=4, done=2),
         _roster([C, C, C, C], [0, 0, 0, None]), False),
        # finished: done count is not reset at the last close and may count removed parties
        (_task_row(TaskState.FINISHED, epoch=2, joined=4, credible=3, done=4),
         _roster([C, C, C, R], [2, 2, 2, 2]), True),
    ],
)
def test_counts_must_match_the_roster(task_row: tuple, rows: list[tuple], agrees: bool) -> None:
    assert snapshot_agrees(*_info(task_row, rows)) is agrees


def test_a_torn_read_is_read_again() -> None:
    # Prepare
    views = FakeViews((EPOCH1, EPOCH0_DONE), (EPOCH1, EPOCH1_ROSTER))
    # Execute
    task, roster, head = _client(views).snapshot(1, pause=0)
    # Assert
    assert (task.epoch, task.credible) == (1, 3)
    assert [p.status for p in roster] == [C, C, C, R]
    assert head == 42  # the block number read with the pair that agreed


def test_a_node_that_never_agrees_is_a_chain_error() -> None:
    views = FakeViews(*[(EPOCH1, EPOCH0_DONE)] * 3)
    with pytest.raises(ChainError, match="disagreed in 3 reads"):
        _client(views).task_and_roster(1, attempts=3, pause=0)
