"""Points conservation under random valid and invalid actions (a hypothesis stateful handler).

After every step: sum(balances) + sum(escrow) + held == minted (from the pointTotals view and
re-summed from the roster). At the end of each example: each party's escrow equals the sum of
its pending requests. Credibility: the credible count matches the roster, each party's report
counter equals the current phase's report bitmaps, and parties are removed only when a phase
closes.

Every example starts from one prepared state (epoch 1 of a 4-party task with requests made and
partly committed), restored by evm_revert, so the steps go to disputes, refunds, reports and
phase closes at once. Examples: env DPPDL_INVARIANT_EXAMPLES (default 200, the CI run; e.g.
10000 for a long local run), steps per example DPPDL_INVARIANT_STEPS (default 8).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import pytest
from dppdl_world import World, digest, fresh_key
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from dppdl.chain.clients import PartyStatus, RequestState, TaskState
from dppdl.chain.tx import NonceManager
from dppdl.errors import ContractRevert

pytestmark = pytest.mark.contracts

N = 4
PPMS = (100_000, 200_000, 300_000, 400_000)  # caps 100..400 at |w| = 1000
EXAMPLES = int(os.environ.get("DPPDL_INVARIANT_EXAMPLES", "200"))
STEPS = int(os.environ.get("DPPDL_INVARIANT_STEPS", "8"))
SEEDED_STEPS = int(os.environ.get("DPPDL_INVARIANT_SEEDED_STEPS", "120"))
STATS: dict[str, int] = {"ok": 0, "reverted": 0}  # outcomes of the actions, printed with -s

party = st.integers(0, N - 1)
other = st.integers(1, N - 1)  # an offset to another party
mostly = st.integers(0, 9).map(lambda x: x != 0)  # True 90 % of the time
# Windows are short so random mining crosses every deadline within an example.
WINDOWS = dict(epochs=4, benchmark_window=6, request_window=16, upload_window=24,
               epoch_window=36, dispute_window=10, answer_window=5, vote_window=5)


@dataclass
class Base:
    """The prepared state every example starts from (and the snapshot that restores it)."""

    task: int
    snapshot: str
    ids: list[int]
    commits: dict[int, tuple[bytes, bytes, bytes]] = field(default_factory=dict)
    nonces: dict[str, int] = field(default_factory=dict)  # per address, at the snapshot


def _prepare(world: World) -> Base:
    """Epoch 1: each party bought from the next two; parties 1 and 2 committed theirs."""
    task = world.training(n=N, ppms=PPMS, n_params=1_000, **WINDOWS)
    ids: list[int] = []
    for i in range(N):
        ids += world.parties[i].request_downloads(task_id=task, requests=[
            (world.addr((i + k) % N), 30 + 10 * k) for k in (1, 2)])
    commits: dict[int, tuple[bytes, bytes, bytes]] = {}
    for j in (1, 2):
        mine = [r for r in ids if r & 0xFFFF == j]
        for c in world.commit(task, j, mine, tag="base"):
            commits[c.request_id] = (c.blob_digest, c.key_hash, fresh_key(f"{c.request_id}base"))
    snapshot = world.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    nonces = {a.address: int(world.w3.eth.get_transaction_count(a.address))
              for a in world.accounts}
    return Base(task=task, snapshot=snapshot, ids=ids, commits=commits, nonces=nonces)


def _restart_nonces(world: World, base: Base) -> None:
    """After evm_revert: each sender starts again from its nonce at the snapshot (no round trip)."""
    for client in world.clients:
        sender = client.sender
        assert sender is not None
        first = [base.nonces[sender.address]]

        def fetch(address: str = sender.address, first: list[int] = first) -> int:
            return first.pop() if first else int(world.w3.eth.get_transaction_count(
                address, "pending"))

        sender.nonces = NonceManager(fetch)


def make_machine(world: World, base: Base) -> type[RuleBasedStateMachine]:
    w3: Web3 = world.w3

    class PointsMachine(RuleBasedStateMachine):
        """A solmate-style handler: any action may revert; conservation must always hold."""

        @initialize()
        def setup(self) -> None:
            reply = w3.provider.make_request("evm_revert", [base.snapshot])  # type: ignore[arg-type]
            assert reply.get("result") is True, reply
            base.snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
            _restart_nonces(world, base)
            self.world = world
            self.task = base.task
            self.ids = list(base.ids)
            self.commits = dict(base.commits)  # rid -> blob digest, key hash, key
            self.disputed: list[int] = []  # filed, not known to be settled
            self.answered: list[int] = []  # answered, not known to be settled
            self.done_by: set[int] = set()  # parties done in the current phase
            self.phase = (TaskState.TRAINING, 1)
            self.removed: set[str] = set()
            self.dirty = False  # reports may have changed since the last recount
            self.changed = True  # a transaction succeeded since the last check

        def teardown(self) -> None:
            if hasattr(self, "world"):
                self.escrow_matches_pending()

        def _try(self, action) -> bool:  # noqa: ANN001
            try:
                action()
            except ContractRevert as exc:  # invalid actions are part of the game
                name = exc.error_name  # type: ignore[attr-defined]
                if name == "Panic" or (name == "Unknown" and "replay did not" not in str(exc)):
                    raise  # a bug, not an invalid action
                # "replay did not revert": estimated in block B, mined in B+1 past a deadline
                STATS["reverted"] += 1
                STATS[name] = STATS.get(name, 0) + 1
                return False
            STATS["ok"] += 1
            self.changed = True
            return True

        def _pick(self, pool: list[int], k: int) -> int | None:
            return pool[k % len(pool)] if pool else None

        def _open_ids(self) -> list[int]:
            return [r for r in self.ids if r not in self.commits]

        @rule(receiver=party, offsets=st.lists(other, min_size=1, max_size=3, unique=True),
              pct=st.integers(1, 100))
        def request(self, receiver: int, offsets: list[int], pct: int) -> None:
            """Buy pct % of each cap from 1..3 other parties (over budget now and then)."""
            epoch = self.phase[1]
            asked = {r & 0xFFFF for r in self.ids
                     if (r >> 16) & 0xFFFF == receiver and (r >> 32) & 0xFFFFFFFF == epoch}
            orders = []
            for off in offsets:
                j = (receiver + off) % N
                if j in asked and len(offsets) > 1:
                    continue  # one request per pair per epoch: try another uploader
                cap = PPMS[j] * 1_000 // 1_000_000
                orders.append((self.world.addr(j), max(1, cap * pct // 100)))

            def go() -> None:
                self.ids += self.world.parties[receiver].request_downloads(
                    task_id=self.task, requests=orders)

            self._try(go)

        @rule(k=st.integers(0, 50), right=mostly, uploader=party)
        def commit(self, k: int, right: bool, uploader: int) -> None:
            rid = self._pick(self._open_ids(), k)
            if rid is None:
                return
            who = rid & 0xFFFF if right else uploader

            def go() -> None:
                (c,) = self.world.commit(self.task, who, [rid], tag=str(k))
                self.commits[rid] = (c.blob_digest, c.key_hash, fresh_key(f"{rid}{k}"))

            self._try(go)

        @rule(k=st.integers(0, 50))
        def refund(self, k: int) -> None:
            rid = self._pick(self._open_ids(), k)
            if rid is not None:
                self._try(lambda: self.world.clients[8].refund_requests(request_ids=[rid]))

        @rule(k=st.integers(0, 50), faithful=mostly)
        def dispute(self, k: int, faithful: bool) -> None:
            rid = self._pick([r for r in self.commits if r not in self.disputed], k)
            if rid is None:
                return
            blob, kh, _ = self.commits[rid] if faithful else (digest("x"), digest("y"), b"")
            receiver = (rid >> 16) & 0xFFFF

            def go() -> None:
                self.world.parties[receiver].file_dispute(
                    request_id=rid, blob_digest=blob, key_hash=kh)
                self.disputed.append(rid)

            self._try(go)

        @rule(k=st.integers(0, 50), right=mostly)
        def answer(self, k: int, right: bool) -> None:
            rid = self._pick([r for r in self.disputed if r not in self.answered], k)
            if rid is None:
                return
            key = self.commits[rid][2] if right else fresh_key("wrong")
            if self._try(lambda: self.world.parties[rid & 0xFFFF].answer_dispute(
                    request_id=rid, fresh_key=key)):
                self.answered.append(rid)

        @rule(k=st.integers(0, 50), pick=party, valid=st.booleans())
        def vote(self, k: int, pick: int, valid: bool) -> None:
            rid = self._pick(self.answered, k)
            if rid is None:
                return
            voters = [v for v in range(N) if v not in (rid & 0xFFFF, (rid >> 16) & 0xFFFF)]
            voter = voters[pick % len(voters)]

            def go() -> None:
                receipt = self.world.parties[voter].vote_dispute(request_id=rid, blob_valid=valid)
                if self.world.view.events(receipt, "DisputeSettled"):
                    self._settled(rid)

            self._try(go)

        @rule(k=st.integers(0, 50))
        def settle(self, k: int) -> None:
            rid = self._pick(self.disputed, k)
            if rid is not None and self._try(
                    lambda: self.world.clients[8].settle_dispute(request_id=rid)):
                self._settled(rid)

        def _settled(self, rid: int) -> None:
            self.disputed.remove(rid)
            if rid in self.answered:
                self.answered.remove(rid)

        @rule(reporter=party, offset=other)
        def report(self, reporter: int, offset: int) -> None:
            victim = self.world.addr((reporter + offset) % N)
            if self._try(lambda: self.world.parties[reporter].report(
                    task_id=self.task, targets=[victim])):
                self.dirty = True

        @rule(victim=party, spare=st.none() | party)
        def gang_report(self, victim: int, spare: int | None) -> None:
            """Everyone but the victim (and `spare`) reports it: a removal at the close or not."""
            for reporter in range(N):
                if reporter not in (victim, spare):
                    self.report(reporter, (victim - reporter) % N)

        @rule(k=st.integers(0, 50))
        def reveal(self, k: int) -> None:
            rid = self._pick(list(self.commits), k)
            if rid is None:
                return
            sender, receiver = rid & 0xFFFF, (rid >> 16) & 0xFFFF
            self._try(lambda: self.world.parties[sender].post_reveal(
                task_id=self.task, receiver=self.world.addr(receiver), digest=digest(f"rv{k}")))

        @rule(pick=party)
        def done(self, pick: int) -> None:
            waiting = [i for i in range(N) if i not in self.done_by] or list(range(N))
            who = waiting[pick % len(waiting)]
            if self._try(lambda: self.world.parties[who].signal_done(task_id=self.task)):
                self.done_by.add(who)

        @rule()
        def everyone_done(self) -> None:
            """Every party not yet done signals done: the phase closes (removals, if any)."""
            for who in range(N):
                if who not in self.done_by:
                    self.done(who)

        def advance(self) -> None:
            self._try(lambda: self.world.clients[8].advance_epoch(task_id=self.task))

        @rule(blocks=st.integers(1, 12), then_advance=st.booleans())
        def mine(self, blocks: int, then_advance: bool = False) -> None:
            self.world.mine(blocks)
            if then_advance:
                self.advance()

        @invariant()
        def holds(self) -> None:
            """After every step that changed the chain (a reverted action or mining alone moves
            no points and closes no phase)."""
            if hasattr(self, "world") and self.changed:
                self.changed = False
                self.conserved()
                self.credibility()

        def conserved(self) -> None:
            """One call per step: the contract's totals; the roster re-sum runs when it is read."""
            totals = self.world.view.point_totals(self.task)
            assert totals.conserved, totals
            assert totals.escrow >= 0 and totals.held >= 0

        def _roster_check(self) -> list:  # noqa: ANN001
            roster = self.world.view.roster(self.task)
            totals = self.world.view.point_totals(self.task)
            assert totals.balances == sum(p.balance for p in roster)
            assert totals.escrow == sum(p.escrow for p in roster)
            return roster

        def credibility(self) -> None:
            """One call per step (the task); the roster and reports only when they may change."""
            view = self.world.view
            info = view.task(self.task)
            phase = (info.state, info.epoch)
            closed = phase != self.phase
            if info.credible != N - len(self.removed):  # a removal: only when a phase closes
                assert closed, (phase, info.credible, self.removed)
            if not closed and not self.dirty:
                return
            roster = self._roster_check()
            removed = {p.address for p in roster if p.status == PartyStatus.REMOVED}
            assert info.credible == len(roster) - len(removed)
            assert removed >= self.removed  # a removal is for good
            if removed != self.removed:
                assert closed, (phase, removed - self.removed)
                STATS["removed"] = STATS.get("removed", 0) + len(removed - self.removed)
            if closed:
                self.done_by = set()
            self.phase, self.removed, self.dirty = phase, removed, False
            if closed or info.state == TaskState.FINISHED:  # a close resets every counter
                assert [p.reports for p in roster] == [0] * len(roster)
                return
            counted = {p.address: 0 for p in roster}
            for p in roster:
                for target in view.reports_by(self.task, info.epoch, p.address):
                    counted[target] += 1
            assert {p.address: p.reports for p in roster} == counted

        def escrow_matches_pending(self) -> None:
            """Each party's escrow is the sum of its pending requests (over every epoch)."""
            view = self.world.view
            pending: dict[str, int] = {}
            asked = {((r >> 16) & 0xFFFF, (r >> 32) & 0xFFFFFFFF) for r in self.ids}
            for receiver, epoch in sorted(asked):
                for req in view.requests_by_receiver(self.task, epoch, self.world.addr(receiver)):
                    if req.state == RequestState.PENDING:  # (a reused slot shows the new one)
                        pending[req.receiver] = pending.get(req.receiver, 0) + req.amount
            for p in self._roster_check():
                assert p.escrow == pending.get(p.address, 0), (p, pending)

    return PointsMachine


def test_points_conserved_under_random_actions(world: World) -> None:
    # Prepare
    base = _prepare(world)
    machine = make_machine(world, base)
    STATS.clear()
    STATS.update(ok=0, reverted=0)
    # Execute
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), derandomize=True))
    # Assert: the random actions did real work, mostly successfully
    print("hypothesis handler outcomes:", dict(sorted(STATS.items())))
    tried = STATS["ok"] + STATS["reverted"]
    assert STATS["ok"] >= EXAMPLES, STATS
    assert STATS["ok"] >= 0.4 * tried, STATS


def _seeded_action(rng: random.Random) -> tuple[str, dict]:
    """(rule name, arguments) for the seeded loop, weighted towards valid traffic."""
    p = lambda: rng.randrange(N)  # noqa: E731
    o = lambda: rng.randrange(1, N)  # noqa: E731
    k = lambda: rng.randrange(50)  # noqa: E731
    table = [
        (6, "request", lambda: {"receiver": p(), "offsets": rng.sample(range(1, N), o()),
                                "pct": rng.randrange(1, 60)}),
        (6, "commit", lambda: {"k": k(), "right": rng.random() < 0.8, "uploader": p()}),
        (1, "refund", lambda: {"k": k()}),
        (2, "dispute", lambda: {"k": k(), "faithful": rng.random() < 0.8}),
        (2, "answer", lambda: {"k": k(), "right": rng.random() < 0.7}),
        (3, "vote", lambda: {"k": k(), "pick": p(), "valid": rng.random() < 0.5}),
        (2, "settle", lambda: {"k": k()}),
        (2, "report", lambda: {"reporter": p(), "offset": o()}),
        (1, "gang_report", lambda: {"victim": p(), "spare": p() if rng.random() < 0.3 else None}),
        (1, "reveal", lambda: {"k": k()}),
        (2, "done", lambda: {"pick": p()}),
        (1, "advance", lambda: {}),
        (1, "everyone_done", lambda: {}),
        (3, "mine", lambda: {"blocks": rng.randrange(1, 5), "then_advance": rng.random() < 0.3}),
    ]
    weights = [w for w, _, _ in table]
    _, name, args = rng.choices(table, weights=weights)[0]
    return name, args()


def test_points_conserved_in_seeded_loop(world: World) -> None:
    # Prepare
    base = _prepare(world)
    machine = make_machine(world, base)()
    rng = random.Random(20240601)
    STATS.clear()
    STATS.update(ok=0, reverted=0, removed=0)
    machine.setup()
    for step in range(SEEDED_STEPS):
        # Execute
        name, args = _seeded_action(rng)
        try:
            getattr(machine, name)(**args)
        except Exception as exc:
            raise AssertionError(f"{name}({args}) raised {exc!r}") from exc
        # Assert
        machine.holds()
        if step % 10 == 9:
            machine.escrow_matches_pending()
    machine.mine(blocks=WINDOWS["epoch_window"] + 1, then_advance=True)  # close the phase
    machine.holds()
    machine.escrow_matches_pending()
    print("seeded handler outcomes:", dict(sorted(STATS.items())))
    tried = STATS["ok"] + STATS["reverted"]
    assert STATS["ok"] >= SEEDED_STEPS // 5 and STATS["ok"] >= 0.4 * tried, STATS
    assert STATS["removed"] >= 1, STATS  # the removal checks saw a phase close remove
