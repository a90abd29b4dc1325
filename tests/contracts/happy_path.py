"""The 4-party happy path of issue 2, run by the Anvil test and the Ganache test alike.

Publish, 4 joins (the last mints), benchmarking that ends with a removal by majority, three
training epochs of batched requests and commitments (epoch 3 reuses epoch 1's request slots),
a refund after the upload deadline, one dispute won by the receiver and one by the uploader,
finish. A Python ledger follows every transfer; points conservation is checked after every
transaction, and the ledger must match the chain at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dppdl_world import World, digest, fresh_key, key_hash

from dppdl.chain.clients import (
    DisputeOutcome,
    DisputeState,
    PartyStatus,
    RequestState,
    TaskState,
    initial_points,
)
from dppdl.chain.clients.types import dispute_deposit
from dppdl.chain.reverts import revert_class

N = 4
N_PARAMS = 1_000
PPMS = (100_000, 200_000, 300_000, 400_000)  # caps 100, 200, 300, 400; minted 300..1200
DEPOSIT_PPM = 100_000
WINDOWS: dict[str, Any] = dict(
    epochs=3, benchmark_window=50, request_window=10, upload_window=20, epoch_window=60,
    dispute_window=40, answer_window=10, vote_window=10, dispute_deposit_ppm=DEPOSIT_PPM,
)
REMOVED = 3  # reported by parties 0, 1, 2 while benchmarking


class Ledger:
    """Expected balances and escrow per party index, and the held total."""

    def __init__(self) -> None:
        self.balance = [0] * N
        self.escrow = [0] * N
        self.held = 0

    def request(self, receiver: int, amount: int) -> None:
        self.balance[receiver] -= amount
        self.escrow[receiver] += amount

    def commit(self, receiver: int, uploader: int, amount: int) -> None:
        self.escrow[receiver] -= amount
        self.balance[uploader] += amount

    def refund(self, receiver: int, amount: int) -> None:
        self.escrow[receiver] -= amount
        self.balance[receiver] += amount

    def hold(self, receiver: int, uploader: int, deposit: int, payment: int) -> None:
        self.balance[receiver] -= deposit
        self.balance[uploader] -= payment
        self.held += deposit + payment

    def release(self, receiver: int, uploader: int, to_receiver: int, to_uploader: int) -> None:
        self.balance[receiver] += to_receiver
        self.balance[uploader] += to_uploader
        self.held -= to_receiver + to_uploader


def _check_every_transaction(world: World, task: list[int], count: list[int], *,
                             full: bool) -> None:  # fmt: skip
    """Wrap each client's send so conservation is asserted after every transaction.

    full: also re-sum every party's balance and escrow from the roster (4 calls instead of 1).
    """
    for client in world.clients:
        send = client._send

        def checked(fn: Any, *, gas: int | None = None, _send: Callable[..., Any] = send) -> Any:
            receipt = _send(fn, gas=gas)
            count[0] += 1
            if task and full:
                world.assert_conserved(task[0])
            elif task:
                totals = world.view.point_totals(task[0])
                assert totals.conserved, totals
            return receipt

        client._send = checked  # type: ignore[method-assign]


def _epoch_requests(world: World, task_id: int, ledger: Ledger, orders: dict[int, dict[int, int]],
                    epoch: int) -> dict[tuple[int, int], int]:
    """Each receiver's batched request; returns (receiver, uploader) -> request id."""
    ids: dict[tuple[int, int], int] = {}
    for i, wanted in orders.items():
        got = world.parties[i].request_downloads(
            task_id=task_id, requests=[(world.addr(j), c) for j, c in wanted.items()])
        for (j, count), rid in zip(wanted.items(), got, strict=True):
            assert rid == world.view.request_id_of(task_id, epoch, world.addr(i), world.addr(j))
            ids[(i, j)] = rid
            ledger.request(i, count)
    return ids


def _commit_all(world: World, task_id: int, ledger: Ledger, ids: dict[tuple[int, int], int],
                orders: dict[int, dict[int, int]], skip: set[tuple[int, int]] = frozenset()
                ) -> None:  # fmt: skip
    """Each uploader commits, in one transaction, to every request addressed to it."""
    for j in sorted({u for _, u in ids}):
        mine = [(i, rid) for (i, u), rid in sorted(ids.items()) if u == j and (i, u) not in skip]
        world.commit(task_id, j, [rid for _, rid in mine])
        for i, _ in mine:
            ledger.commit(i, j, orders[i][j])


def _dispute(world: World, task_id: int, ledger: Ledger, rid: int, receiver: int, uploader: int,
             amount: int, *, valid: bool) -> None:
    """File, answer with the right key, and let the one eligible voter settle it."""
    assert world.view.dispute(rid).state == DisputeState.NONE
    receipt = world.parties[receiver].file_dispute(
        request_id=rid, blob_digest=digest(f"blob{rid}"), key_hash=key_hash(fresh_key(str(rid))))
    (filed,) = world.view.events(receipt, "DisputeFiled")
    deposit = dispute_deposit(amount=amount, deposit_ppm=DEPOSIT_PPM)
    assert (filed["deposit"], filed["heldPayment"]) == (deposit, amount)
    ledger.hold(receiver, uploader, deposit, amount)
    world.parties[uploader].answer_dispute(request_id=rid, fresh_key=fresh_key(str(rid)))
    voter = next(k for k in range(N) if k not in (receiver, uploader, REMOVED))
    receipt = world.parties[voter].vote_dispute(request_id=rid, blob_valid=valid)
    (settled,) = world.view.events(receipt, "DisputeSettled")
    if valid:
        assert (settled["outcome"], settled["toReceiver"], settled["toUploader"]) == (
            DisputeOutcome.UPLOADER_WON, 0, deposit + amount)
        ledger.release(receiver, uploader, 0, deposit + amount)
    else:
        assert (settled["outcome"], settled["toReceiver"], settled["toUploader"]) == (
            DisputeOutcome.RECEIVER_WON, deposit + amount, 0)
        ledger.release(receiver, uploader, deposit + amount, 0)


def _batched_reads_agree(world: World, task_id: int, epoch: int) -> None:
    """The JSON-RPC batch views the agents poll with return what the single views return."""
    view, addrs = world.view, [world.addr(i) for i in range(N)]
    assert view.requests_by_receivers(task_id, epoch, addrs) == {
        a: view.requests_by_receiver(task_id, epoch, a) for a in addrs}
    pairs = [(a, b) for a in addrs for b in addrs if a != b]
    digests = view.labels_digests(task_id, epoch, pairs)
    assert digests == [view.labels_digest(task_id, epoch, a, b) for a, b in pairs]
    assert view.task_and_roster(task_id) == (view.task(task_id), view.roster(task_id))
    with pytest.raises(revert_class("PartyNotMember")):  # a revert inside a batch is decoded
        view.requests_by_receivers(task_id, epoch, [addrs[0], world.addr(7)])


def _views_match_web3(world: World, task_id: int, epoch: int, request_ids: list[int]) -> None:
    """Every view the clients read returns, through `Views`, exactly what web3's
    `ContractFunction.call()` returns (values and shapes), and a single view's revert is
    decoded by name."""
    view, a = world.view, [world.addr(i) for i in range(N)]
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("taskCount", ()), ("getTask", (task_id,)), ("getRoster", (task_id,)),
        ("getParty", (task_id, a[1])), ("balanceOf", (task_id, a[0])),
        ("escrowOf", (task_id, a[0])), ("uploadCap", (task_id, a[2])),
        ("pointTotals", (task_id,)), ("heldOf", (task_id,)),
        ("requestIdOf", (task_id, epoch, a[0], a[1])),
        ("requestsByReceiver", (task_id, epoch, a[1])),
        ("requestsByUploader", (task_id, epoch, a[0])),
        ("labelsDigest", (task_id, 0, a[0], a[1])), ("hasReported", (task_id, 0, a[0], a[3])),
        ("reportsBy", (task_id, 0, a[0])),
    ]
    for rid in request_ids:
        calls += [("getRequest", (rid,)), ("getDispute", (rid,)), ("hasVoted", (rid, a[2]))]
    for name, args in calls:
        assert view.views.call(name, *args) == view.contract.functions[name](*args).call(), name
    assert view.views.call_many(calls) == [view.views.call(n, *args) for n, args in calls]
    with pytest.raises(revert_class("PartyNotMember")):
        view.views.call("requestsByReceiver", task_id, epoch, world.addr(7))


def run_happy_path(world: World, *, full_checks: bool = True) -> int:
    """Play the scenario on `world`'s chain; returns the number of transactions sent.

    full_checks=False checks conservation after each transaction with the pointTotals view only
    (a slow node); the independent re-summing from the roster then runs at the end.
    """
    task: list[int] = []
    sent = [0]
    _check_every_transaction(world, task, sent, full=full_checks)
    ledger = Ledger()
    view = world.view

    # publish and join: the fourth join fills the roster, starts the task and mints
    task_id = world.publish(roster_size=N, n_params=N_PARAMS, **WINDOWS)
    task.append(task_id)
    for i in range(N):
        receipt = world.join(task_id, i, PPMS[i])
    minted = {e["party"]: e["amount"] for e in view.events(receipt, "PointsMinted")}
    for i in range(N):
        ledger.balance[i] = initial_points(privacy_ppm=PPMS[i], n_params=N_PARAMS, n_parties=N)
        assert minted[world.addr(i)] == ledger.balance[i]
    assert view.task(task_id).state == TaskState.BENCHMARKING

    # benchmarking: labels for everyone else's samples, then 0, 1 and 2 report party 3
    for i in range(N):
        world.parties[i].post_labels(task_id=task_id, labels=[
            (world.addr(j), digest(f"labels{i}{j}")) for j in range(N) if j != i])
    _batched_reads_agree(world, task_id, 0)
    assert view.labels_digests(task_id, 0, [(world.addr(0), world.addr(1))]) == [
        digest("labels01")]
    close = world.all_done(task_id, range(N), reports={i: [REMOVED] for i in range(3)})
    assert world.removed(close) == [(world.addr(REMOVED), 0, 3, 3)]
    info = view.task(task_id)
    assert (info.state, info.epoch, info.credible) == (TaskState.TRAINING, 1, 3)

    # epoch 1: batched requests; party 2 never uploads to party 0; two disputes; a refund
    orders = {0: {1: 100, 2: 50}, 1: {0: 80, 2: 120}, 2: {0: 60, 1: 150}}
    ids = _epoch_requests(world, task_id, ledger, orders, epoch=1)
    _commit_all(world, task_id, ledger, ids, orders, skip={(0, 2)})
    _batched_reads_agree(world, task_id, 1)
    _dispute(world, task_id, ledger, ids[(0, 1)], 0, 1, 100, valid=False)  # receiver wins
    _dispute(world, task_id, ledger, ids[(1, 0)], 1, 0, 80, valid=True)  # uploader wins
    _views_match_web3(world, task_id, 1, [ids[(0, 1)], ids[(1, 0)], ids[(0, 2)]])
    world.mine_to(view.task(task_id).upload_deadline)
    receipt = world.clients[8].refund_requests(request_ids=[ids[(0, 2)]])
    (refund,) = view.events(receipt, "RequestRefunded")
    assert (refund["amount"], refund["missedUploads"]) == (50, 1)
    ledger.refund(0, 50)
    world.all_done(task_id, range(3))

    # epochs 2 and 3: every credible pair, all committed (epoch 3 reuses epoch 1's slots)
    for epoch in (2, 3):
        assert view.task(task_id).epoch == epoch
        later = {i: {j: 20 + i + j for j in range(3) if j != i} for i in range(3)}
        later_ids = _epoch_requests(world, task_id, ledger, later, epoch=epoch)
        _commit_all(world, task_id, ledger, later_ids, later)
        assert all(view.request(r).state == RequestState.COMMITTED for r in later_ids.values())
        world.all_done(task_id, range(3))

    # finish: the ledger matches the chain, nothing is escrowed or held
    assert view.task(task_id).state == TaskState.FINISHED
    roster = view.roster(task_id)
    assert [p.balance for p in roster] == ledger.balance
    assert [p.escrow for p in roster] == ledger.escrow == [0] * N
    assert view.held_of(task_id) == ledger.held == 0
    assert [p.status for p in roster] == [PartyStatus.CREDIBLE] * 3 + [PartyStatus.REMOVED]
    assert [p.missed_uploads for p in roster] == [0, 0, 1, 0]
    assert [p.disputes_lost for p in roster] == [0, 1, 0, 0]
    assert view.request(ids[(0, 1)]).state == RequestState.COMMITTED  # disputed: still shown
    world.assert_conserved(task_id)
    assert view.point_totals(task_id).minted == sum(minted.values())
    return sent[0]
