"""A small world for the Dppdl contract tests: accounts, clients, task setup and block mining."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from dppdl.chain.clients import (
    DppdlClient,
    PointTotals,
    TaskParams,
    UploadCommitment,
)
from dppdl.chain.tx import TxSender

DEFAULT_PPMS = (100_000, 200_000, 300_000, 400_000, 500_000, 150_000, 250_000, 350_000)


def digest(label: str) -> bytes:
    """A deterministic 32-byte digest for test values."""
    return hashlib.sha256(label.encode()).digest()


def fresh_key(label: str) -> bytes:
    return digest("key:" + label)


def key_hash(key: bytes) -> bytes:
    """sha256(fresh key): what the crypto layer commits and the contract checks."""
    return hashlib.sha256(key).digest()


@dataclass
class World:
    """Clients for the requester (account 0) and parties (accounts 1..) on one Dppdl contract."""

    w3: Web3
    contract: Contract
    accounts: list[LocalAccount]
    devnet: str = "anvil"  # "ganache" mines with evm_mine

    def __post_init__(self) -> None:
        self.clients = [DppdlClient(self.contract, TxSender(self.w3, a)) for a in self.accounts]
        self.requester = self.clients[0]
        self.parties = self.clients[1:]

    @property
    def view(self) -> DppdlClient:
        return self.requester

    def addr(self, i: int) -> str:
        """Address of party i (0-based over the parties, not the requester)."""
        return self.parties[i].sender.address  # type: ignore[union-attr]

    # -- chain ------------------------------------------------------------------------------
    def block(self) -> int:
        return int(self.w3.eth.block_number)

    def mine(self, blocks: int) -> None:
        if self.devnet == "ganache":
            self.w3.provider.make_request("evm_mine", [{"blocks": blocks}])  # type: ignore[arg-type]
        else:
            self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    def mine_to(self, block: int) -> None:
        """Mine until the next transaction lands in block `block + 1` (past a deadline `block`)."""
        now = self.block()
        if block >= now:
            self.mine(block - now + 1)

    # -- setup ------------------------------------------------------------------------------
    def params(self, **overrides: Any) -> TaskParams:
        base = TaskParams(
            spec_digest=digest("spec"), roster_size=4, epochs=2, n_params=1_000,
            join_deadline=self.block() + 100, benchmark_window=50, request_window=10,
            upload_window=20, epoch_window=30, dispute_window=20, answer_window=10,
            vote_window=10, dispute_deposit_ppm=100_000,
        )
        return replace(base, **overrides)

    def publish(self, **overrides: Any) -> int:
        return self.requester.publish_task(params=self.params(**overrides))

    def join(self, task_id: int, i: int, ppm: int | None = None) -> Any:
        return self.parties[i].join(
            task_id=task_id, public_key=digest(f"pk{i}"),
            privacy_ppm=DEFAULT_PPMS[i] if ppm is None else ppm,
            samples_digest=digest(f"samples{i}"),
        )

    def started(self, n: int = 4, ppms: Sequence[int] | None = None, **overrides: Any) -> int:
        """A task with a full roster of parties 0..n-1 (benchmarking, points minted)."""
        task_id = self.publish(roster_size=n, **overrides)
        for i in range(n):
            self.join(task_id, i, None if ppms is None else ppms[i])
        return task_id

    def training(self, n: int = 4, ppms: Sequence[int] | None = None, **overrides: Any) -> int:
        """A task in training epoch 1 (every party signalled done for benchmarking)."""
        task_id = self.started(n, ppms, **overrides)
        for i in range(n):
            self.parties[i].signal_done(task_id=task_id)
        return task_id

    def commit(self, task_id: int, i: int, request_ids: Sequence[int], tag: str = "") -> list[
        UploadCommitment
    ]:
        commits = [
            UploadCommitment(request_id=r, blob_digest=digest(f"blob{r}{tag}"),
                             key_hash=key_hash(fresh_key(f"{r}{tag}")))
            for r in request_ids
        ]
        self.parties[i].commit_uploads(task_id=task_id, commits=commits)
        return commits

    def crowd(self, n: int) -> tuple[int, list[DppdlClient]]:
        """A started task of `n` funded throwaway accounts (beyond the 8 dev parties)."""
        accounts = [Account.from_key(digest(f"crowd{i}")) for i in range(n)]
        for a in accounts:
            self.w3.provider.make_request(  # type: ignore[arg-type]
                "anvil_setBalance", [a.address, hex(10**20)])
        clients = [DppdlClient(self.contract, TxSender(self.w3, a)) for a in accounts]
        task_id = self.publish(roster_size=n)
        for i, c in enumerate(clients):
            c.join(task_id=task_id, public_key=digest(f"crowd-pk{i}"), privacy_ppm=100_000,
                   samples_digest=digest(f"crowd-samples{i}"))
        return task_id, clients

    # -- phases -----------------------------------------------------------------------------
    def all_done(self, task_id: int, parties: Sequence[int],
                 reports: dict[int, Sequence[int]] | None = None) -> TxReceipt:
        """Each of `parties` signals done (with its reports, by party index); the last receipt."""
        receipt = None
        for i in parties:
            targets = [self.addr(j) for j in (reports or {}).get(i, ())]
            receipt = self.parties[i].signal_done(task_id=task_id, reports=targets)
        assert receipt is not None, "no party signalled done"
        return receipt

    def close_by_deadline(self, task_id: int) -> TxReceipt:
        """Mine past the current phase deadline and close it with advanceEpoch (an outsider)."""
        self.mine_to(self.view.task(task_id).phase_deadline)
        return self.clients[8].advance_epoch(task_id=task_id)

    def removed(self, receipt: TxReceipt) -> list[tuple[str, int, int, int]]:
        """(party, epoch, reports, credibleLeft) of each PartyRemoved event in `receipt`."""
        return [(e["party"], e["epoch"], e["reports"], e["credibleLeft"])
                for e in self.view.events(receipt, "PartyRemoved")]

    # -- invariant --------------------------------------------------------------------------
    def totals_by_summing(self, task_id: int) -> PointTotals:
        """The points accounting from per-party views (independent of the pointTotals view)."""
        roster = self.view.roster(task_id)
        return PointTotals(
            minted=self.view.task(task_id).minted,
            balances=sum(p.balance for p in roster),
            escrow=sum(p.escrow for p in roster),
            held=self.view.held_of(task_id),
        )

    def assert_conserved(self, task_id: int) -> None:
        summed = self.totals_by_summing(task_id)
        assert summed.conserved, summed
        assert self.view.point_totals(task_id) == summed
