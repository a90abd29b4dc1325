"""Windows: the phase windows a task is published with, light enough for any command line."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dppdl.errors import ConfigError

# Transactions one party may send inside each window (an upper estimate). The join window
# holds its join; benchmarking its labels, done signal and reveals; an epoch's request
# window its request and, from a fast party, its commit; the upload window also the labels
# and reveals; the whole epoch every one of them and a refund.
TX_PER_PARTY = {"join": 1, "benchmark": 4, "request": 2, "upload": 4, "epoch": 6}


@dataclass(frozen=True)
class Windows:
    """Phase windows of the published task, in blocks (the devnet mines one block per second)."""

    benchmark: int = 600  # benchmarking (epoch 0) lasts at most this many blocks
    request: int = 60  # download requests close this many blocks after an epoch starts
    upload: int = 120  # upload commitments close this many blocks after an epoch starts
    epoch: int = 600  # anyone may close an epoch this many blocks after it started
    join: int = 1800  # the roster closes this many blocks after publication
    dispute: int = 20  # a receiver may dispute an upload this many blocks after its commitment
    answer: int = 10  # the uploader may answer a dispute this many blocks after its filing
    vote: int = 10  # third parties may vote this many blocks after the answer

    @classmethod
    def for_parties(cls, n: int, **given: int | None) -> Windows:
        """The defaults widened by the blocks that n parties' own transactions take; a window
        in `given` (not None) is taken as it is.

        A devnet that mines on demand (Anvil, Ganache) puts every transaction in a block of
        its own, so a phase in which each party sends k transactions uses k·n blocks of its
        window however little time passes: at n = 50 the 50 download requests alone would fill
        most of the default 60-block request window. On a chain that packs many transactions
        into a block the extra blocks are only slack.
        """
        if n < 1:
            raise ConfigError(f"the number of parties must be positive, not {n}")
        base = cls()
        widened = {name: getattr(base, name) + per * n for name, per in TX_PER_PARTY.items()}
        return replace(base, **(widened | {k: v for k, v in given.items() if v is not None}))

    def __post_init__(self) -> None:
        if not 0 < self.request <= self.upload <= self.epoch:
            raise ConfigError("windows must satisfy 0 < request <= upload <= epoch")
        for name in ("benchmark", "join", "dispute", "answer", "vote"):
            if getattr(self, name) < 1:
                raise ConfigError(f"the {name} window must be positive")
