"""Disputes on Anvil: filing with a deposit, key reveal, votes, settlement and its outcomes."""

from __future__ import annotations

import pytest
from dppdl_world import World, digest, fresh_key, key_hash

from dppdl.chain.clients import DisputeOutcome, DisputeState, RequestState, UploadCommitment
from dppdl.chain.clients.types import dispute_deposit
from dppdl.chain.reverts import revert_class as R

pytestmark = pytest.mark.contracts

AMOUNT = 100  # receiver 0 buys 100 entries from uploader 1 (cap 200)


def _committed(world: World, n: int = 5) -> tuple[int, int, UploadCommitment]:
    task_id = world.training(n=n)
    (rid,) = world.parties[0].request_downloads(task_id=task_id,
                                                requests=[(world.addr(1), AMOUNT)])
    (commit,) = world.commit(task_id, 1, [rid])
    return task_id, rid, commit


def _file(world: World, rid: int, commit: UploadCommitment) -> None:
    world.parties[0].file_dispute(request_id=rid, blob_digest=commit.blob_digest,
                                  key_hash=commit.key_hash)


def test_filing_holds_deposit_and_payment(world: World) -> None:
    task_id, rid, commit = _committed(world)
    r_before = world.view.balance_of(task_id, world.addr(0))
    u_before = world.view.balance_of(task_id, world.addr(1))
    receipt = world.parties[0].file_dispute(request_id=rid, blob_digest=commit.blob_digest,
                                            key_hash=commit.key_hash)
    deposit = dispute_deposit(amount=AMOUNT, deposit_ppm=100_000)
    (event,) = world.view.events(receipt, "DisputeFiled")
    assert event == {"taskId": task_id, "requestId": rid, "receiver": world.addr(0),
                     "uploader": world.addr(1), "deposit": deposit, "heldPayment": AMOUNT}
    assert world.view.balance_of(task_id, world.addr(0)) == r_before - deposit
    assert world.view.balance_of(task_id, world.addr(1)) == u_before - AMOUNT
    assert world.view.held_of(task_id) == deposit + AMOUNT
    d = world.view.dispute(rid)
    assert (d.state, d.deposit, d.held_payment, d.key_hash) == (
        DisputeState.FILED, deposit, AMOUNT, commit.key_hash)
    world.assert_conserved(task_id)


def test_filing_errors(world: World) -> None:
    task_id, rid, commit = _committed(world)
    (pending,) = world.parties[2].request_downloads(task_id=task_id,
                                                    requests=[(world.addr(1), 5)])
    with pytest.raises(R("DisputeNotCommitted")):
        world.parties[2].file_dispute(request_id=pending, blob_digest=digest("b"),
                                      key_hash=digest("k"))
    with pytest.raises(R("DisputeNotReceiver")):
        world.parties[2].file_dispute(request_id=rid, blob_digest=commit.blob_digest,
                                      key_hash=commit.key_hash)
    with pytest.raises(R("DisputeCommitmentMismatch")):
        world.parties[0].file_dispute(request_id=rid, blob_digest=digest("other"),
                                      key_hash=commit.key_hash)
    _file(world, rid, commit)
    with pytest.raises(R("DisputeWrongState")):
        _file(world, rid, commit)


def test_filing_window_closes(world: World) -> None:
    _, rid, commit = _committed(world)
    world.mine_to(world.view.request(rid).commit_block + 20)
    with pytest.raises(R("DisputeWindowClosed")):
        _file(world, rid, commit)


def test_filing_needs_the_deposit(world: World) -> None:
    # receiver 0 (300 points) spends everything, then cannot pay a deposit
    task_id = world.training(n=4)
    ids = world.parties[0].request_downloads(
        task_id=task_id, requests=[(world.addr(1), 200), (world.addr(2), 100)])
    commits = world.commit(task_id, 1, ids[:1])
    assert world.view.balance_of(task_id, world.addr(0)) == 0
    with pytest.raises(R("PointsInsufficientBalance")) as exc:
        world.parties[0].file_dispute(request_id=ids[0], blob_digest=commits[0].blob_digest,
                                      key_hash=commits[0].key_hash)
    assert exc.value.fields["needed"] == 20


def test_wrong_key_is_refused_then_unanswered_refunds_receiver(world: World) -> None:
    task_id, rid, commit = _committed(world)
    r_before = world.view.balance_of(task_id, world.addr(0))
    _file(world, rid, commit)
    with pytest.raises(R("DisputeKeyMismatch")) as exc:
        world.parties[1].answer_dispute(request_id=rid, fresh_key=fresh_key("not it"))
    assert exc.value.fields["keyHash"] == commit.key_hash
    assert exc.value.fields["revealedHash"] == key_hash(fresh_key("not it"))
    with pytest.raises(R("DisputeNotUploader")):
        world.parties[2].answer_dispute(request_id=rid, fresh_key=fresh_key(str(rid)))
    with pytest.raises(R("DisputeNotSettleable")):
        world.clients[8].settle_dispute(request_id=rid)
    world.mine_to(world.view.dispute(rid).filed_block + 10)
    with pytest.raises(R("DisputeAnswerWindowClosed")):
        world.parties[1].answer_dispute(request_id=rid, fresh_key=fresh_key(str(rid)))
    receipt = world.clients[8].settle_dispute(request_id=rid)
    (event,) = world.view.events(receipt, "DisputeSettled")
    assert event == {"taskId": task_id, "requestId": rid, "outcome": DisputeOutcome.UNANSWERED,
                     "toReceiver": 10 + AMOUNT, "toUploader": 0}
    assert world.view.balance_of(task_id, world.addr(0)) == r_before + AMOUNT
    assert world.view.party(task_id, world.addr(1)).disputes_lost == 1
    assert world.view.held_of(task_id) == 0
    with pytest.raises(R("DisputeWrongState")):
        world.clients[8].settle_dispute(request_id=rid)
    world.assert_conserved(task_id)


def _answered(world: World) -> tuple[int, int]:
    task_id, rid, commit = _committed(world)
    _file(world, rid, commit)
    receipt = world.parties[1].answer_dispute(request_id=rid, fresh_key=fresh_key(str(rid)))
    (event,) = world.view.events(receipt, "DisputeAnswered")
    assert event == {"taskId": task_id, "requestId": rid, "freshKey": fresh_key(str(rid)),
                     "voters": 3}
    d = world.view.dispute(rid)
    assert d.state == DisputeState.ANSWERED and d.revealed_key == fresh_key(str(rid))
    return task_id, rid


def test_majority_invalid_receiver_wins(world: World) -> None:
    task_id, rid = _answered(world)
    r_before = world.view.balance_of(task_id, world.addr(0))
    receipt = world.parties[2].vote_dispute(request_id=rid, blob_valid=False)
    assert world.view.events(receipt, "DisputeVoted") == [
        {"taskId": task_id, "requestId": rid, "voter": world.addr(2), "blobValid": False}]
    assert world.view.has_voted(rid, world.addr(2))
    world.parties[3].vote_dispute(request_id=rid, blob_valid=True)  # 1:1 of 3, no majority
    receipt = world.parties[4].vote_dispute(request_id=rid, blob_valid=False)  # 2 of 3
    (settled,) = world.view.events(receipt, "DisputeSettled")
    assert settled["outcome"] == DisputeOutcome.RECEIVER_WON
    assert world.view.balance_of(task_id, world.addr(0)) == r_before + 10 + AMOUNT
    assert world.view.party(task_id, world.addr(1)).disputes_lost == 1
    world.assert_conserved(task_id)


def test_majority_valid_uploader_wins_deposit(world: World) -> None:
    task_id, rid = _answered(world)
    u_before = world.view.balance_of(task_id, world.addr(1))
    world.parties[2].vote_dispute(request_id=rid, blob_valid=True)
    receipt = world.parties[3].vote_dispute(request_id=rid, blob_valid=True)
    (settled,) = world.view.events(receipt, "DisputeSettled")
    assert (settled["outcome"], settled["toReceiver"], settled["toUploader"]) == (
        DisputeOutcome.UPLOADER_WON, 0, 10 + AMOUNT)
    assert world.view.balance_of(task_id, world.addr(1)) == u_before + 10 + AMOUNT
    assert world.view.party(task_id, world.addr(1)).disputes_lost == 0
    with pytest.raises(R("DisputeWrongState")):  # settled: no more votes
        world.parties[4].vote_dispute(request_id=rid, blob_valid=False)
    world.assert_conserved(task_id)


def test_vote_errors_and_no_majority(world: World) -> None:
    task_id, rid = _answered(world)
    r_before = world.view.balance_of(task_id, world.addr(0))
    u_before = world.view.balance_of(task_id, world.addr(1))
    for i in (0, 1, 6):  # receiver, uploader, outsider
        with pytest.raises(R("DisputeVoterIneligible")):
            world.parties[i].vote_dispute(request_id=rid, blob_valid=True)
    world.parties[2].vote_dispute(request_id=rid, blob_valid=True)
    with pytest.raises(R("DisputeAlreadyVoted")):
        world.parties[2].vote_dispute(request_id=rid, blob_valid=True)
    world.parties[3].vote_dispute(request_id=rid, blob_valid=False)
    with pytest.raises(R("DisputeNotSettleable")):
        world.clients[8].settle_dispute(request_id=rid)
    world.mine_to(world.view.dispute(rid).answered_block + 10)
    with pytest.raises(R("DisputeVoteClosed")):
        world.parties[4].vote_dispute(request_id=rid, blob_valid=False)
    receipt = world.clients[8].settle_dispute(request_id=rid)
    (settled,) = world.view.events(receipt, "DisputeSettled")
    assert (settled["outcome"], settled["toReceiver"], settled["toUploader"]) == (
        DisputeOutcome.NO_MAJORITY, 10, AMOUNT)
    assert world.view.balance_of(task_id, world.addr(0)) == r_before + 10
    assert world.view.balance_of(task_id, world.addr(1)) == u_before + AMOUNT
    world.assert_conserved(task_id)


def test_answer_and_vote_on_unfiled_dispute(world: World) -> None:
    _, rid, _ = _committed(world)
    with pytest.raises(R("DisputeWrongState")):
        world.parties[1].answer_dispute(request_id=rid, fresh_key=fresh_key(str(rid)))
    with pytest.raises(R("DisputeWrongState")):
        world.parties[2].vote_dispute(request_id=rid, blob_valid=True)
    with pytest.raises(R("DisputeWrongState")):
        world.clients[8].settle_dispute(request_id=rid)


def test_held_payment_is_capped_by_the_uploaders_balance(world: World) -> None:
    # uploader 1 spends all but 5 of its points before the dispute is filed
    task_id, rid, commit = _committed(world)
    assert world.view.balance_of(task_id, world.addr(1)) == 800 + AMOUNT
    world.parties[1].request_downloads(task_id=task_id, requests=[
        (world.addr(0), 100), (world.addr(2), 300), (world.addr(3), 400), (world.addr(4), 95)])
    _file(world, rid, commit)
    d = world.view.dispute(rid)
    assert (d.deposit, d.held_payment) == (10, 5)
    assert world.view.balance_of(task_id, world.addr(1)) == 0
    world.mine_to(d.filed_block + 10)
    world.clients[8].settle_dispute(request_id=rid)
    world.assert_conserved(task_id)


def test_a_disputed_request_stays_viewable_after_its_slot_is_reused(world: World) -> None:
    # Prepare: a dispute on epoch 1's request, settled; then epochs 2 and 3 pass
    task_id = world.training(n=5, epochs=4)
    (rid,) = world.parties[0].request_downloads(task_id=task_id,
                                                requests=[(world.addr(1), AMOUNT)])
    (commit,) = world.commit(task_id, 1, [rid])
    _file(world, rid, commit)
    world.mine_to(world.view.dispute(rid).filed_block + 10)
    world.clients[8].settle_dispute(request_id=rid)
    world.mine(25)  # past the dispute window: only the dispute keeps the request
    for _ in range(2):
        world.all_done(task_id, range(5))
    # Execute: epoch 3 reuses the slot
    world.parties[0].request_downloads(task_id=task_id, requests=[(world.addr(1), 3)])
    # Assert
    req = world.view.request(rid)
    assert (req.epoch, req.state, req.amount, req.receiver) == (
        1, RequestState.COMMITTED, AMOUNT, world.addr(0))
    assert world.view.dispute(rid).outcome == DisputeOutcome.UNANSWERED
    world.assert_conserved(task_id)
