"""Points on Anvil: batched download requests with escrow, batched commitments, refunds."""

from __future__ import annotations

import pytest
from dppdl_world import DEFAULT_PPMS, World, digest
from web3.types import TxReceipt

from dppdl.chain.clients import (
    PartyStatus,
    RequestState,
    UploadCommitment,
    commitment_of,
    upload_cap,
)
from dppdl.chain.clients.dppdl import batch_gas
from dppdl.chain.reverts import revert_class as R

pytestmark = pytest.mark.contracts


def test_batched_request_escrows_and_indexes(world: World) -> None:
    # Prepare
    task_id = world.training()
    me = world.parties[0]
    before = world.view.balance_of(task_id, world.addr(0))
    # Execute
    ids = me.request_downloads(task_id=task_id, requests=[(world.addr(1), 50), (world.addr(3), 7)])
    # Assert
    assert ids == [world.view.request_id_of(task_id, 1, world.addr(0), world.addr(j))
                   for j in (1, 3)]
    assert world.view.balance_of(task_id, world.addr(0)) == before - 57
    assert world.view.escrow_of(task_id, world.addr(0)) == 57
    by_receiver = world.view.requests_by_receiver(task_id, 1, world.addr(0))
    assert [(r.uploader, r.amount, r.state) for r in by_receiver] == [
        (world.addr(1), 50, RequestState.PENDING), (world.addr(3), 7, RequestState.PENDING)]
    assert [r.request_id for r in world.view.requests_by_uploader(task_id, 1, world.addr(3))] == [
        ids[1]]
    req = world.view.request(ids[0])
    assert (req.task_id, req.epoch, req.receiver, req.commitment) == (
        task_id, 1, world.addr(0), bytes(20))
    world.assert_conserved(task_id)


def test_request_events(world: World) -> None:
    task_id = world.training()
    fn = world.contract.functions.requestDownloads(task_id, [(world.addr(2), 9)])
    receipt = world.parties[1]._send(fn)
    (event,) = world.view.events(receipt, "DownloadRequested")
    assert event == {"taskId": task_id, "epoch": 1, "requestId": event["requestId"],
                     "receiver": world.addr(1), "uploader": world.addr(2), "amount": 9}
    assert world.view.request(event["requestId"]).amount == 9


def test_request_errors(world: World) -> None:
    task_id = world.started()
    me = world.parties[0]
    with pytest.raises(R("TaskWrongState")):  # benchmarking: no downloads yet
        me.request_downloads(task_id=task_id, requests=[(world.addr(1), 1)])
    for i in range(4):
        world.parties[i].signal_done(task_id=task_id)
    cap1 = upload_cap(privacy_ppm=DEFAULT_PPMS[1], n_params=1000)
    assert world.view.upload_cap(task_id, world.addr(1)) == cap1 == 200
    with pytest.raises(R("DownloadFromSelf")):
        me.request_downloads(task_id=task_id, requests=[(world.addr(0), 1)])
    with pytest.raises(R("DownloadCountOutOfRange")) as exc:
        me.request_downloads(task_id=task_id, requests=[(world.addr(1), cap1 + 1)])
    assert exc.value.fields == {"taskId": task_id, "uploader": world.addr(1),
                                "count": cap1 + 1, "cap": cap1}
    with pytest.raises(R("DownloadCountOutOfRange")):
        me.request_downloads(task_id=task_id, requests=[(world.addr(1), 0)])
    with pytest.raises(R("PartyNotCredible")):  # uploader not in the roster
        me.request_downloads(task_id=task_id, requests=[(world.addr(6), 1)])
    with pytest.raises(R("DownloadDuplicate")):  # twice the same uploader in one batch
        me.request_downloads(task_id=task_id, requests=[(world.addr(1), 1), (world.addr(1), 1)])
    me.request_downloads(task_id=task_id, requests=[(world.addr(1), 1)])
    with pytest.raises(R("DownloadDuplicate")):  # and across transactions
        me.request_downloads(task_id=task_id, requests=[(world.addr(1), 1)])


def test_over_budget_request_reverts_with_balance(world: World) -> None:
    # party 0 holds 0.1 * 1000 * 3 = 300 points; caps of 1..3 are 200, 300, 400
    task_id = world.training()
    balance = world.view.balance_of(task_id, world.addr(0))
    assert balance == 300
    with pytest.raises(R("PointsInsufficientBalance")) as exc:
        world.parties[0].request_downloads(
            task_id=task_id, requests=[(world.addr(1), 200), (world.addr(2), 101)])
    assert exc.value.fields == {"party": world.addr(0), "balance": 300, "needed": 301}
    assert "PointsInsufficientBalance(party=" in str(exc.value)


def test_request_window_closes(world: World) -> None:
    task_id = world.training()
    world.mine_to(world.view.task(task_id).request_deadline)
    with pytest.raises(R("DownloadWindowClosed")):
        world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 1)])


def test_batched_commit_releases_escrow(world: World) -> None:
    task_id = world.training()
    id_a = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(3), 40)])[0]
    id_b = world.parties[1].request_downloads(task_id=task_id, requests=[(world.addr(3), 60)])[0]
    before = world.view.balance_of(task_id, world.addr(3))
    commits = [UploadCommitment(request_id=r, blob_digest=digest(f"b{r}"),
                                key_hash=digest(f"k{r}")) for r in (id_a, id_b)]
    receipt = world.parties[3].commit_uploads(task_id=task_id, commits=commits)
    events = world.view.events(receipt, "UploadCommitted")
    assert [(e["requestId"], e["receiver"], e["amount"], e["blobDigest"], e["keyHash"])
            for e in events] == [(id_a, world.addr(0), 40, digest(f"b{id_a}"), digest(f"k{id_a}")),
                                 (id_b, world.addr(1), 60, digest(f"b{id_b}"), digest(f"k{id_b}"))]
    assert world.view.balance_of(task_id, world.addr(3)) == before + 100
    assert world.view.escrow_of(task_id, world.addr(0)) == 0
    req = world.view.request(id_a)
    assert req.state == RequestState.COMMITTED and req.commit_block == receipt["blockNumber"]
    assert req.commitment == commitment_of(digest(f"b{id_a}"), digest(f"k{id_a}"))
    assert world.view.contract.functions.commitmentOf(digest("b"), digest("k")).call() == (
        commitment_of(digest("b"), digest("k")))
    world.assert_conserved(task_id)


def test_commit_errors(world: World) -> None:
    task_id = world.training()
    (rid,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 5)])
    good = UploadCommitment(request_id=rid, blob_digest=digest("b"), key_hash=digest("k"))
    with pytest.raises(R("UploadNotAddressedToYou")) as exc:
        world.parties[2].commit_uploads(task_id=task_id, commits=[good])
    assert exc.value.fields == {"requestId": rid, "uploader": world.addr(1),
                                "caller": world.addr(2)}
    with pytest.raises(R("RequestUnknown")):  # an id of a request never made
        world.parties[1].commit_uploads(task_id=task_id, commits=[
            UploadCommitment(request_id=rid + 2, blob_digest=digest("b"), key_hash=digest("k"))])
    with pytest.raises(R("UploadEmptyCommitment")):
        world.parties[1]._send(world.contract.functions.commitUploads(
            task_id, [(rid, bytes(32), digest("k"))]))
    world.parties[1].commit_uploads(task_id=task_id, commits=[good])
    with pytest.raises(R("UploadNotPending")):
        world.parties[1].commit_uploads(task_id=task_id, commits=[good])


def test_commit_window_and_wrong_epoch(world: World) -> None:
    task_id = world.training()
    (rid,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 5)])
    good = UploadCommitment(request_id=rid, blob_digest=digest("b"), key_hash=digest("k"))
    world.mine_to(world.view.task(task_id).upload_deadline)
    with pytest.raises(R("UploadWindowClosed")):
        world.parties[1].commit_uploads(task_id=task_id, commits=[good])
    for i in range(4):
        world.parties[i].signal_done(task_id=task_id)
    with pytest.raises(R("UploadWrongEpoch")) as exc:
        world.parties[1].commit_uploads(task_id=task_id, commits=[good])
    assert exc.value.fields == {"requestId": rid, "requestEpoch": 1, "currentEpoch": 2}


def test_refund_after_deadline_counts_missed_upload(world: World) -> None:
    task_id = world.training()
    ids = world.parties[0].request_downloads(
        task_id=task_id, requests=[(world.addr(1), 5), (world.addr(2), 6)])
    world.commit(task_id, 1, ids[:1])
    with pytest.raises(R("RefundTooEarly")) as exc:
        world.clients[8].refund_requests(request_ids=[ids[1]])
    assert exc.value.fields["uploadDeadline"] == world.view.task(task_id).upload_deadline
    world.mine_to(world.view.task(task_id).upload_deadline)
    balance = world.view.balance_of(task_id, world.addr(0))
    receipt = world.clients[8].refund_requests(request_ids=[ids[1]])  # anyone may refund
    (event,) = world.view.events(receipt, "RequestRefunded")
    assert event == {"taskId": task_id, "requestId": ids[1], "uploader": world.addr(2),
                     "receiver": world.addr(0), "amount": 6, "missedUploads": 1}
    assert world.view.balance_of(task_id, world.addr(0)) == balance + 6
    assert world.view.escrow_of(task_id, world.addr(0)) == 0
    assert world.view.party(task_id, world.addr(2)).missed_uploads == 1
    assert world.view.request(ids[1]).state == RequestState.REFUNDED
    with pytest.raises(R("RefundNotPending")):
        world.clients[8].refund_requests(request_ids=[ids[1]])
    with pytest.raises(R("RefundNotPending")):  # committed requests are not refundable
        world.clients[8].refund_requests(request_ids=[ids[0]])
    with pytest.raises(R("RequestUnknown")):
        world.clients[8].refund_requests(request_ids=[ids[1] + 1])
    world.assert_conserved(task_id)


def test_reports_do_not_unlock_a_refund_before_the_close(world: World) -> None:
    task_id = world.training()
    (rid,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(3), 5)])
    for i in range(3):
        world.parties[i].report(task_id=task_id, targets=[world.addr(3)])
    with pytest.raises(R("RefundTooEarly")):  # removal waits for the phase close
        world.clients[8].refund_requests(request_ids=[rid])
    world.all_done(task_id, range(4))  # epoch 1 closes: party 3 removed
    assert world.view.party(task_id, world.addr(3)).status == PartyStatus.REMOVED
    world.clients[8].refund_requests(request_ids=[rid])
    assert world.view.request(rid).state == RequestState.REFUNDED
    assert world.view.party(task_id, world.addr(3)).missed_uploads == 1
    world.assert_conserved(task_id)


# -- request slots: a (receiver, uploader) pair reuses its slot every other epoch ---------------

def _to_epoch(world: World, task_id: int, epoch: int) -> None:
    while world.view.task(task_id).epoch < epoch:
        world.all_done(task_id, range(4))


def test_reused_slot_refunds_a_stale_pending_request(world: World) -> None:
    # Prepare: epoch 1, party 0 buys 5 from party 1, who never uploads
    task_id = world.training(epochs=4)
    (old,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 5)])
    _to_epoch(world, task_id, 3)
    balance = world.view.balance_of(task_id, world.addr(0))
    assert world.view.request(old).state == RequestState.PENDING  # still there in epoch 3
    # Execute: epoch 3 reuses epoch 1's slot of the pair
    fn = world.contract.functions.requestDownloads(task_id, [(world.addr(1), 7)])
    receipt = world.parties[0]._send(fn)
    # Assert: the stale request was refunded in the same transaction, as a missed upload
    (refund,) = world.view.events(receipt, "RequestRefunded")
    assert refund == {"taskId": task_id, "requestId": old, "uploader": world.addr(1),
                      "receiver": world.addr(0), "amount": 5, "missedUploads": 1}
    (new,) = [e["requestId"] for e in world.view.events(receipt, "DownloadRequested")]
    assert new == world.view.request_id_of(task_id, 3, world.addr(0), world.addr(1)) != old
    assert world.view.balance_of(task_id, world.addr(0)) == balance + 5 - 7
    assert world.view.escrow_of(task_id, world.addr(0)) == 7
    with pytest.raises(R("RequestUnknown")):  # the old request is gone with its slot
        world.view.request(old)
    with pytest.raises(R("RequestUnknown")):
        world.clients[8].refund_requests(request_ids=[old])
    assert world.view.requests_by_receiver(task_id, 1, world.addr(0)) == []
    assert [r.request_id for r in world.view.requests_by_receiver(task_id, 3, world.addr(0))] == [
        new]
    world.assert_conserved(task_id)


def test_reused_slot_keeps_a_disputable_commitment(world: World) -> None:
    # Prepare: epoch 1 commitment, then two quick epochs (inside its 40-block dispute window)
    task_id = world.training(epochs=4, dispute_window=40)
    (old,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 50)])
    (commit,) = world.commit(task_id, 1, [old])
    _to_epoch(world, task_id, 3)
    # Execute: epoch 3's request reuses the slot; the committed request is archived
    world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 9)])
    # Assert: still viewable and disputable within its window
    req = world.view.request(old)
    assert (req.epoch, req.state, req.amount) == (1, RequestState.COMMITTED, 50)
    assert [r.request_id for r in world.view.requests_by_receiver(task_id, 1, world.addr(0))] == [
        old]
    world.parties[0].file_dispute(request_id=old, blob_digest=commit.blob_digest,
                                  key_hash=commit.key_hash)
    assert world.view.dispute(old).held_payment == 50
    world.assert_conserved(task_id)


def test_reused_slot_drops_an_undisputable_commitment(world: World) -> None:
    # Prepare: the epoch 1 commitment's dispute window (20 blocks) closed before epoch 3
    task_id = world.training(epochs=4)
    (old,) = world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 50)])
    world.commit(task_id, 1, [old])
    world.mine(25)
    _to_epoch(world, task_id, 3)
    # Execute
    world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 9)])
    # Assert: nothing left to dispute, so nothing kept
    with pytest.raises(R("RequestUnknown")):
        world.view.request(old)
    with pytest.raises(R("DisputeNotCommitted")):
        world.parties[0].file_dispute(request_id=old, blob_digest=digest("b"),
                                      key_hash=digest("k"))
    world.assert_conserved(task_id)


# -- gas limits of the batched calls: dppdl.chain.clients.dppdl.BATCH_GAS ---------------------

def _request_all(world: World, task_id: int, n: int, count: int) -> list[TxReceipt]:
    """Every party buys `count` entries from every other one; each receipt carries n - 1."""
    return [world.parties[i]._send(world.contract.functions.requestDownloads(
        task_id, [(world.addr(j), count) for j in range(n) if j != i]),
        gas=batch_gas("requestDownloads", n - 1)) for i in range(n)]  # fmt: skip


def _commit_all(world: World, task_id: int, epoch: int, n: int) -> list[TxReceipt]:
    receipts = []
    for j in range(n):
        ids = [r.request_id for r in world.view.requests_by_uploader(task_id, epoch, world.addr(j))]
        commits = [UploadCommitment(request_id=r, blob_digest=digest(f"b{r}"),
                                    key_hash=digest(f"k{r}")) for r in ids]  # fmt: skip
        receipts.append(world.parties[j].commit_uploads(task_id=task_id, commits=commits))
    return receipts


def _worst(receipts: list[TxReceipt]) -> int:
    return max(int(r["gasUsed"]) for r in receipts)


@pytest.mark.parametrize("slots", ["fresh", "stale pending", "archived commitment"])
def test_batch_gas_covers_each_batched_call_at_its_costliest(world: World, slots: str) -> None:
    """The fixed limits the client sends instead of an estimate hold with 7 items a call, in
    fresh slots and in reused ones whose old request is refunded or archived on the way."""
    # Prepare: 8 parties; a long dispute window keeps epoch 1's commitments disputable
    n = 8
    task_id = world.started(n=n, epochs=4, dispute_window=500)
    labels = [world.parties[i].post_labels(task_id=task_id, labels=[
        (world.addr(j), digest(f"l{i}{j}")) for j in range(n) if j != i]) for i in range(n)]
    for i in range(n):
        world.parties[i].signal_done(task_id=task_id)
    first = _request_all(world, task_id, n, 5)
    commits = [] if slots == "stale pending" else _commit_all(world, task_id, 1, n)
    # Execute: epoch 3 reuses epoch 1's slot of every pair
    if slots != "fresh":
        while world.view.task(task_id).epoch < 3:
            world.all_done(task_id, range(n))
        again = _request_all(world, task_id, n, 7)
    # Assert
    k = n - 1
    assert _worst(labels) <= batch_gas("postLabels", k)
    if slots == "fresh":
        assert _worst(first) <= batch_gas("requestDownloads", k)
        assert _worst(commits) <= batch_gas("commitUploads", k)
    else:
        assert _worst(again) <= batch_gas("requestDownloads", k)
        refunded = [e for r in again for e in world.view.events(r, "RequestRefunded")]
        assert len(refunded) == (n * k if slots == "stale pending" else 0)
        if slots == "archived commitment":  # the epoch-1 requests are still there to dispute
            old = world.view.requests_by_receiver(task_id, 1, world.addr(0))
            assert len(old) == k and all(r.state == RequestState.COMMITTED for r in old)
    world.assert_conserved(task_id)
