"""Frozen views of the Dppdl contract's state and the integer arithmetic it shares with Python."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import keccak

from dppdl.errors import ConfigError

PPM = 1_000_000  # parts per million: privacy level 0.1 -> 100_000
MIN_PARTIES = 3  # the contract refuses smaller rosters
MAX_PARTIES = 256  # report bitmaps are one uint256 per reporter
MAX_PARAMS = 1 << 40  # |w| bound so every amount fits the contract's packed fields


class TaskState(IntEnum):
    NONE = 0
    PUBLISHED = 1
    JOINING = 2
    BENCHMARKING = 3
    TRAINING = 4
    FINISHED = 5
    CANCELLED = 6


class PartyStatus(IntEnum):
    NONE = 0
    CREDIBLE = 1
    REMOVED = 2


class RequestState(IntEnum):
    NONE = 0
    PENDING = 1
    COMMITTED = 2
    REFUNDED = 3


class DisputeState(IntEnum):
    NONE = 0
    FILED = 1
    ANSWERED = 2
    SETTLED = 3


class DisputeOutcome(IntEnum):
    NONE = 0
    UNANSWERED = 1  # no key revealed in time: receiver refunded, uploader marked
    RECEIVER_WON = 2  # majority "invalid": receiver refunded, uploader marked
    UPLOADER_WON = 3  # majority "valid": deposit to the uploader
    NO_MAJORITY = 4  # no strict majority: deposit back to receiver, uploader keeps the payment


def initial_points(*, privacy_ppm: int, n_params: int, n_parties: int) -> int:
    """p_i = privacy_ppm * n_params * (n - 1) // 1e6, exactly as the contract mints at start."""
    return privacy_ppm * n_params * (n_parties - 1) // PPM


def upload_cap(*, privacy_ppm: int, n_params: int) -> int:
    """The most entries anyone may buy from a party per epoch: privacy_ppm * n_params // 1e6."""
    return privacy_ppm * n_params // PPM


def dispute_deposit(*, amount: int, deposit_ppm: int) -> int:
    """ceil(amount * deposit_ppm / 1e6), the deposit the contract takes when a dispute is filed."""
    return -(-amount * deposit_ppm // PPM)


def commitment_of(blob_digest: bytes, key_hash: bytes) -> bytes:
    """The 20-byte commitment the contract stores: keccak256(blobDigest || keyHash)[:20]."""
    return keccak(as_bytes32(blob_digest, "blob_digest") + as_bytes32(key_hash, "key_hash"))[:20]


def as_bytes32(value: bytes, name: str) -> bytes:
    """`value` as 32 bytes, or a one-line ConfigError naming the argument."""
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ConfigError(f"{name} must be 32 bytes, got {value!r:.80}")
    return bytes(value)


@dataclass(frozen=True)
class TaskParams:
    """What a requester fixes when publishing; windows and deadlines are in blocks."""

    spec_digest: bytes  # 32-byte digest of the off-chain task spec
    roster_size: int  # n parties wanted, 3..256
    epochs: int  # training epochs after benchmarking, >= 1
    n_params: int  # |w|
    join_deadline: int  # last block (absolute) at which a party may join
    benchmark_window: int = 50  # blocks benchmarking (epoch 0) lasts at most
    request_window: int = 10  # blocks after an epoch starts for download requests
    upload_window: int = 20  # blocks after an epoch starts for upload commitments
    epoch_window: int = 30  # blocks after an epoch starts after which anyone may advance
    credibility_threshold_ppm: int = 0  # c_th for agents in ppm; 0 = paper's (2/3)(1/n)
    dispute_window: int = 20  # blocks after a commitment to file a dispute
    answer_window: int = 10  # blocks after filing to reveal the key
    vote_window: int = 10  # blocks after the answer to vote
    dispute_deposit_ppm: int = 100_000  # deposit = ceil(amount * ppm / 1e6): 10 % of the payment

    def __post_init__(self) -> None:
        as_bytes32(self.spec_digest, "spec_digest")
        if not MIN_PARTIES <= self.roster_size <= MAX_PARTIES:
            raise ConfigError(f"roster_size must be {MIN_PARTIES}..{MAX_PARTIES}, "
                              f"got {self.roster_size}")
        if self.epochs < 1 or not 1 <= self.n_params <= MAX_PARAMS:
            raise ConfigError(f"need epochs >= 1 and 1 <= n_params <= 2^40, got "
                              f"epochs={self.epochs}, n_params={self.n_params}")
        if not 0 < self.request_window <= self.upload_window <= self.epoch_window:
            raise ConfigError("windows must satisfy 0 < request_window <= upload_window <= "
                              "epoch_window")
        for name in ("benchmark_window", "dispute_window", "answer_window", "vote_window"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0 blocks")
        deposit, threshold = self.dispute_deposit_ppm, self.credibility_threshold_ppm
        if not 0 < deposit <= PPM or not 0 <= threshold <= PPM:
            raise ConfigError("dispute_deposit_ppm must be 1..1e6 and credibility_threshold_ppm "
                              "0..1e6")

    def to_abi(self) -> tuple[Any, ...]:
        """The TaskParams tuple in the contract's field order."""
        return (
            self.spec_digest, self.n_params, self.roster_size, self.epochs,
            self.benchmark_window, self.request_window, self.upload_window, self.epoch_window,
            self.join_deadline, self.credibility_threshold_ppm, self.dispute_window,
            self.answer_window, self.vote_window, self.dispute_deposit_ppm,
        )

    @classmethod
    def from_abi(cls, t: tuple[Any, ...]) -> TaskParams:
        return cls(
            spec_digest=bytes(t[0]), n_params=t[1], roster_size=t[2], epochs=t[3],
            benchmark_window=t[4], request_window=t[5], upload_window=t[6], epoch_window=t[7],
            join_deadline=t[8], credibility_threshold_ppm=t[9], dispute_window=t[10],
            answer_window=t[11], vote_window=t[12], dispute_deposit_ppm=t[13],
        )


@dataclass(frozen=True)
class TaskInfo:
    """A task as `getTask` returns it."""

    task_id: int
    params: TaskParams
    requester: str
    state: TaskState
    epoch: int  # current phase: 0 benchmarking, 1..epochs training
    joined: int
    credible: int
    done_count: int
    phase_start: int
    minted: int
    phase_deadline: int  # last block of the current phase
    request_deadline: int  # last block for download requests in the current epoch
    upload_deadline: int  # last block for upload commitments in the current epoch


def snapshot_agrees(task: TaskInfo, roster: list[PartyInfo]) -> bool:
    """Whether `task` and `roster` can be views of one state: the task's counts match the
    roster's entries. Two reads that straddle a block (a join, a phase close that removes
    parties, a done signal) break at least one count."""
    if task.joined != len(roster):
        return False
    started = task.state in (TaskState.BENCHMARKING, TaskState.TRAINING, TaskState.FINISHED)
    if started and task.credible != sum(p.credible for p in roster):
        return False
    running = task.state in (TaskState.BENCHMARKING, TaskState.TRAINING)
    return not running or task.done_count == sum(p.done_epoch == task.epoch for p in roster)


@dataclass(frozen=True)
class PartyInfo:
    """A roster entry as `getRoster`/`getParty` return it."""

    address: str
    index: int
    status: PartyStatus
    public_key: bytes
    samples_digest: bytes
    privacy_ppm: int
    balance: int
    escrow: int
    reports: int  # reports against this party in the current phase
    missed_uploads: int
    disputes_lost: int
    done_epoch: int | None  # last phase the party signalled done, None if never

    @property
    def credible(self) -> bool:
        return self.status == PartyStatus.CREDIBLE

    @classmethod
    def from_abi(cls, t: tuple[Any, ...]) -> PartyInfo:
        return cls(
            address=t[0], index=t[1], status=PartyStatus(t[2]), public_key=bytes(t[3]),
            samples_digest=bytes(t[4]), privacy_ppm=t[5], balance=t[6], escrow=t[7],
            reports=t[8], missed_uploads=t[9], disputes_lost=t[10],
            done_epoch=t[11] - 1 if t[11] else None,
        )


@dataclass(frozen=True)
class RequestInfo:
    """One download request; `commitment` is 20 zero bytes until committed."""

    request_id: int
    task_id: int
    epoch: int
    receiver: str
    uploader: str
    state: RequestState
    amount: int
    commit_block: int
    commitment: bytes

    @classmethod
    def from_abi(cls, t: tuple[Any, ...]) -> RequestInfo:
        return cls(
            request_id=t[0], task_id=t[1], epoch=t[2], receiver=t[3], uploader=t[4],
            state=RequestState(t[5]), amount=t[6], commit_block=t[7], commitment=bytes(t[8]),
        )


@dataclass(frozen=True)
class UploadCommitment:
    """One entry of a batched upload: the blob's digest and sha256 of its fresh key."""

    request_id: int
    blob_digest: bytes
    key_hash: bytes

    def __post_init__(self) -> None:
        as_bytes32(self.blob_digest, "blob_digest")
        as_bytes32(self.key_hash, "key_hash")

    def to_abi(self) -> tuple[int, bytes, bytes]:
        return (self.request_id, self.blob_digest, self.key_hash)


@dataclass(frozen=True)
class DisputeInfo:
    """A dispute on one request, with the committed key hash and the revealed key."""

    request_id: int
    state: DisputeState
    outcome: DisputeOutcome
    filed_block: int
    answered_block: int
    voters: int
    valid_votes: int
    invalid_votes: int
    deposit: int
    held_payment: int
    key_hash: bytes
    revealed_key: bytes


@dataclass(frozen=True)
class PointTotals:
    """A task's points accounting; `conserved` is the contract's invariant."""

    minted: int
    balances: int
    escrow: int
    held: int

    @property
    def conserved(self) -> bool:
        return self.balances + self.escrow + self.held == self.minted
