"""Points conservation under random valid and invalid actions (a hypothesis stateful handler).

After every step: sum(balances) + sum(escrow) + held == minted (summed from per-party views and
from the pointTotals view), and each party's escrow equals the sum of its pending requests.
Credibility: the credible count matches the roster, each party's report counter equals the
current phase's report bitmaps, and parties are removed only when a phase closes.
Examples: env DPPDL_INVARIANT_EXAMPLES (default 12 here; e.g. 10000 for a long local run).
"""

from __future__ import annotations

import os
import random

import pytest
from dppdl_world import World, digest, fresh_key
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from web3 import Web3

from dppdl.chain.clients import PartyStatus, RequestState, TaskState
from dppdl.errors import ContractRevert

pytestmark = pytest.mark.contracts

N = 4
EXAMPLES = int(os.environ.get("DPPDL_INVARIANT_EXAMPLES", "6"))
SEEDED_STEPS = int(os.environ.get("DPPDL_INVARIANT_SEEDED_STEPS", "120"))
STEPS = int(os.environ.get("DPPDL_INVARIANT_STEPS", "30"))
STATS: dict[str, int] = {"ok": 0}  # outcomes of the actions, printed with -s

party = st.integers(0, N - 1)
# Windows are short so random mining crosses every deadline within an example.
WINDOWS = dict(epochs=5, benchmark_window=6, request_window=12, upload_window=24,
               epoch_window=36, dispute_window=10, answer_window=5, vote_window=5)


def make_machine(w3: Web3, contract: object, accounts: list) -> type[RuleBasedStateMachine]:
    class PointsMachine(RuleBasedStateMachine):
        """A solmate-style handler: any action may revert; conservation must always hold."""

        @initialize()
        def setup(self) -> None:
            self.snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
            self.world = World(w3=w3, contract=contract, accounts=accounts)
            self.task = self.world.training(n=N, **WINDOWS)  # epoch 1 of 3
            self.ids: list[int] = []
            self.commits: dict[int, tuple[bytes, bytes, bytes]] = {}  # blob, key hash, key
            self.disputed: list[int] = []
            self.settled_ids: set[int] = set()  # committed or refunded: terminal states
            self.phase = (TaskState.TRAINING, 1)
            self.removed: set[str] = set()
            self.dirty = True  # reports or the phase may have changed since the last recount

        def teardown(self) -> None:
            if hasattr(self, "snapshot"):
                w3.provider.make_request("evm_revert", [self.snapshot])

        def _try(self, action) -> None:  # noqa: ANN001
            try:
                action()
                STATS["ok"] += 1
            except ContractRevert as exc:  # invalid actions are part of the game
                name = exc.error_name  # type: ignore[attr-defined]
                if name == "Panic" or (name == "Unknown" and "replay did not" not in str(exc)):
                    raise  # a bug, not an invalid action
                # "replay did not revert": estimated in block B, mined in B+1 past a deadline
                STATS[exc.error_name] = STATS.get(exc.error_name, 0) + 1  # type: ignore[attr-defined]

        @rule(receiver=party, picks=st.lists(st.tuples(party, st.integers(0, 520)),
                                             min_size=1, max_size=3))
        def request(self, receiver: int, picks: list[tuple[int, int]]) -> None:
            orders = [(self.world.addr(j), c) for j, c in picks]

            def go() -> None:
                self.ids += self.world.parties[receiver].request_downloads(
                    task_id=self.task, requests=orders)

            self._try(go)

        def _pick(self, pool: list[int], k: int) -> int | None:
            return pool[k % len(pool)] if pool else None

        def _open_ids(self) -> list[int]:
            return [r for r in self.ids if r not in self.commits and r not in self.settled_ids]

        @rule(uploader=party, k=st.integers(0, 50), wrong=st.booleans())
        def commit(self, uploader: int, k: int, wrong: bool) -> None:
            rid = self._pick(self._open_ids(), k)
            if rid is None:
                return
            who = uploader if wrong else rid & 0xFFFF

            def go() -> None:
                (c,) = self.world.commit(self.task, who, [rid], tag=str(k))
                self.commits[rid] = (c.blob_digest, c.key_hash, fresh_key(f"{rid}{k}"))

            self._try(go)

        @rule(k=st.integers(0, 50))
        def refund(self, k: int) -> None:
            rid = self._pick(self._open_ids(), k)
            if rid is not None:
                self._try(lambda: self.world.clients[8].refund_requests(request_ids=[rid]))

        @rule(k=st.integers(0, 50), faithful=st.booleans())
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

        @rule(k=st.integers(0, 50), right=st.booleans())
        def answer(self, k: int, right: bool) -> None:
            rid = self._pick(self.disputed, k)
            if rid is None:
                return
            key = self.commits[rid][2] if right else fresh_key("wrong")
            self._try(lambda: self.world.parties[rid & 0xFFFF].answer_dispute(
                request_id=rid, fresh_key=key))

        @rule(k=st.integers(0, 50), voter=party, valid=st.booleans())
        def vote(self, k: int, voter: int, valid: bool) -> None:
            rid = self._pick(self.disputed, k)
            if rid is not None:
                self._try(lambda: self.world.parties[voter].vote_dispute(
                    request_id=rid, blob_valid=valid))

        @rule(k=st.integers(0, 50))
        def settle(self, k: int) -> None:
            rid = self._pick(self.disputed, k)
            if rid is not None:
                self._try(lambda: self.world.clients[8].settle_dispute(request_id=rid))

        @rule(reporter=party, victim=party)
        def report(self, reporter: int, victim: int) -> None:
            self.dirty = True
            self._try(lambda: self.world.parties[reporter].report(
                task_id=self.task, targets=[self.world.addr(victim)]))

        @rule(victim=party, spare=st.none() | party)
        def gang_report(self, victim: int, spare: int | None) -> None:
            """Everyone but the victim (and `spare`) reports it: a removal at the close or not."""
            for reporter in range(N):
                if reporter not in (victim, spare):
                    self.report(reporter, victim)

        @rule(k=st.integers(0, 50), sender=party, receiver=party, wrong=st.booleans())
        def reveal(self, k: int, sender: int, receiver: int, wrong: bool) -> None:
            rid = self._pick(list(self.commits), k)
            if rid is not None and not wrong:  # the uploader of a commitment, to its receiver
                sender, receiver = rid & 0xFFFF, (rid >> 16) & 0xFFFF
            self._try(lambda: self.world.parties[sender].post_reveal(
                task_id=self.task, receiver=self.world.addr(receiver), digest=digest(f"rv{k}")))

        @rule(who=party)
        def done(self, who: int) -> None:
            self.dirty = True
            self._try(lambda: self.world.parties[who].signal_done(task_id=self.task))

        def advance(self) -> None:
            self.dirty = True
            self._try(lambda: self.world.clients[8].advance_epoch(task_id=self.task))

        @rule(blocks=st.integers(1, 8), then_advance=st.booleans())
        def mine(self, blocks: int, then_advance: bool = False) -> None:
            self.world.mine(blocks)
            if then_advance:
                self.advance()

        @invariant()
        def conserved(self) -> None:
            if not hasattr(self, "world"):
                return
            view = self.world.view
            roster = view.roster(self.task)
            totals = view.point_totals(self.task)
            assert totals.conserved, totals
            assert totals.balances == sum(p.balance for p in roster)
            assert totals.escrow == sum(p.escrow for p in roster)
            assert totals.held == view.held_of(self.task)
            pending: dict[str, int] = {}
            for rid in self.ids:
                if rid in self.settled_ids:
                    continue
                req = view.request(rid)
                if req.state == RequestState.PENDING:
                    pending[req.receiver] = pending.get(req.receiver, 0) + req.amount
                else:
                    self.settled_ids.add(rid)
            for p in roster:
                assert p.escrow == pending.get(p.address, 0), (p, pending)

        @invariant()
        def credibility(self) -> None:
            if not hasattr(self, "world"):
                return
            view = self.world.view
            info = view.task(self.task)
            roster = view.roster(self.task)
            removed = {p.address for p in roster if p.status == PartyStatus.REMOVED}
            assert info.credible == len(roster) - len(removed)
            assert removed >= self.removed  # a removal is for good
            phase = (info.state, info.epoch)
            if removed != self.removed:  # removals happen only when a phase closes
                assert phase != self.phase, (phase, removed - self.removed)
                STATS["removed"] = STATS.get("removed", 0) + len(removed - self.removed)
            self.phase, self.removed = phase, removed
            if info.state == TaskState.FINISHED:  # the last close reset every counter
                assert [p.reports for p in roster] == [0] * len(roster)
                return
            if not self.dirty:
                return
            self.dirty = False
            counted = {p.address: 0 for p in roster}
            for p in roster:
                for target in view.reports_by(self.task, info.epoch, p.address):
                    counted[target] += 1
            assert {p.address: p.reports for p in roster} == counted

    return PointsMachine


def test_points_conserved_under_random_actions(
    dppdl_contract: object, w3: Web3, dev_accounts: list
) -> None:
    machine = make_machine(w3, dppdl_contract, dev_accounts[:9])
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), derandomize=True))
    print("hypothesis handler outcomes:", dict(sorted(STATS.items())))
    assert STATS["ok"] > EXAMPLES, STATS  # the random actions must do real work


# (rule name, weight, argument sampler) for the seeded loop: mostly valid traffic.
def _seeded_action(rng: random.Random) -> tuple[str, dict]:
    p = lambda: rng.randrange(N)  # noqa: E731
    k = lambda: rng.randrange(50)  # noqa: E731
    table = [
        (6, "request", lambda: {"receiver": p(), "picks": [(p(), rng.randrange(1, 300))
                                                          for _ in range(rng.randrange(1, 4))]}),
        (6, "commit", lambda: {"uploader": p(), "k": k(), "wrong": rng.random() < 0.2}),
        (2, "refund", lambda: {"k": k()}),
        (2, "dispute", lambda: {"k": k(), "faithful": rng.random() < 0.8}),
        (2, "answer", lambda: {"k": k(), "right": rng.random() < 0.7}),
        (3, "vote", lambda: {"k": k(), "voter": p(), "valid": rng.random() < 0.5}),
        (2, "settle", lambda: {"k": k()}),
        (3, "report", lambda: {"reporter": p(), "victim": p()}),
        (1, "gang_report", lambda: {"victim": p(), "spare": p() if rng.random() < 0.3 else None}),
        (1, "reveal", lambda: {"k": k(), "sender": p(), "receiver": p(),
                               "wrong": rng.random() < 0.3}),
        (2, "done", lambda: {"who": p()}),
        (1, "advance", lambda: {}),
        (3, "mine", lambda: {"blocks": rng.randrange(1, 5), "then_advance": rng.random() < 0.3}),
    ]
    weights = [w for w, _, _ in table]
    _, name, args = rng.choices(table, weights=weights)[0]
    return name, args()


def test_points_conserved_in_seeded_loop(
    dppdl_contract: object, w3: Web3, dev_accounts: list
) -> None:
    # Prepare
    machine_cls = make_machine(w3, dppdl_contract, dev_accounts[:9])
    rng = random.Random(20240601)
    STATS.clear()
    STATS["ok"] = 0
    machine = machine_cls()
    machine.setup()
    try:
        for _ in range(SEEDED_STEPS):
            # Execute
            name, args = _seeded_action(rng)
            try:
                getattr(machine, name)(**args)
            except Exception as exc:
                raise AssertionError(f"{name}({args}) raised {exc!r}") from exc
            # Assert
            machine.conserved()
            machine.credibility()
        machine.mine(blocks=WINDOWS["epoch_window"] + 1, then_advance=True)  # close the phase
        machine.conserved()
        machine.credibility()
    finally:
        machine.teardown()
    print("seeded handler outcomes:", dict(sorted(STATS.items())))
    assert STATS["ok"] > SEEDED_STEPS // 8, STATS
    assert STATS.get("removed", 0) >= 1, STATS  # the removal checks saw a phase close remove
