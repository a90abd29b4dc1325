"""Reading what uploaders committed: a node may show a commitment's state before its log."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import cast

import pytest

from dppdl.chain.clients import RequestInfo, RequestState
from dppdl.party import disputes
from dppdl.party.context import PartyContext
from dppdl.party.metrics import Metrics


class LaggingLogs:
    """upload_commitments that finds each request's event only from the `lag`-th query on."""

    def __init__(self, lag: int) -> None:
        self.lag = lag
        self.queries: list[tuple[int, int, int, list[int]]] = []

    def upload_commitments(self, task_id: int, request_ids: Sequence[int], *, from_block: int,
                           to_block: int) -> dict[int, tuple[bytes, bytes]]:  # fmt: skip
        self.queries.append((task_id, from_block, to_block, list(request_ids)))
        if len(self.queries) <= self.lag:
            return {}
        return {rid: (bytes([rid]) * 32, b"k" * 32) for rid in request_ids}


def context(client: LaggingLogs) -> PartyContext:
    ctx = SimpleNamespace(client=client, task_id=1, metrics=Metrics(),
                          config=SimpleNamespace(poll_interval=0.001))  # fmt: skip
    return cast(PartyContext, ctx)


def request(rid: int, commit_block: int) -> RequestInfo:
    return RequestInfo(request_id=rid, task_id=1, epoch=2, receiver="0x" + "11" * 20,
                       uploader="0x" + "22" * 20, state=RequestState.COMMITTED, amount=5,
                       commit_block=commit_block, commitment=b"c" * 20)  # fmt: skip


def test_a_commitment_whose_log_lags_its_state_is_read_once_the_log_is_there() -> None:
    # Prepare: the node returns no logs for the first two queries
    client = LaggingLogs(lag=2)
    # Execute
    got = disputes.committed_hashes_of(context(client), [request(7, 12), request(9, 13)])
    # Assert: three queries over the commit blocks' span, then both hashes
    assert got == {7: (bytes([7]) * 32, b"k" * 32), 9: (bytes([9]) * 32, b"k" * 32)}
    assert client.queries == [(1, 11, 13, [7, 9])] * 3


def test_a_commitment_without_a_log_is_an_error_after_the_polls() -> None:
    client = LaggingLogs(lag=10**6)
    with pytest.raises(RuntimeError, match=r"no UploadCommitted event for request\(s\) \[7\]"):
        disputes.committed_hashes_of(context(client), [request(7, 12)])
    assert client.queries == [(1, 11, 12, [7])] * (disputes.LOG_LAG_POLLS + 1)


def test_no_requests_need_no_query() -> None:
    client = LaggingLogs(lag=0)
    assert disputes.committed_hashes_of(context(client), []) == {}
    assert client.queries == []

