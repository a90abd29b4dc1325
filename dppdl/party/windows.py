"""Windows: the phase windows a task is published with, light enough for any command line."""

from __future__ import annotations

from dataclasses import dataclass

from dppdl.errors import ConfigError


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

    def __post_init__(self) -> None:
        if not 0 < self.request <= self.upload <= self.epoch:
            raise ConfigError("windows must satisfy 0 < request <= upload <= epoch")
        for name in ("benchmark", "join", "dispute", "answer", "vote"):
            if getattr(self, name) < 1:
                raise ConfigError(f"the {name} window must be positive")
