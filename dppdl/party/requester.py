"""The requester's side: store a task spec off-chain and publish the task on-chain."""

from __future__ import annotations

from dataclasses import dataclass

from dppdl.chain.clients import DppdlClient, TaskParams
from dppdl.errors import ConfigError
from dppdl.party.spec import TaskSpec
from storage import BlobStore
from storage.cid import digest_from_cid


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


def publish_task(
    *, client: DppdlClient, store: BlobStore, spec: TaskSpec, windows: Windows,
    credibility_threshold_ppm: int = 0,
) -> int:  # fmt: skip
    """Put the spec's canonical JSON in storage, publish its digest and windows; the task id.

    `credibility_threshold_ppm` fixes c_th for every party's reports; 0 keeps the paper's
    (2/3)(1/n).
    """
    digest = digest_from_cid(store.put(spec.to_json_bytes()))
    params = TaskParams(
        spec_digest=digest, roster_size=spec.n_parties, epochs=spec.epochs,
        n_params=spec.n_params, join_deadline=client.w3.eth.block_number + windows.join,
        benchmark_window=windows.benchmark, request_window=windows.request,
        upload_window=windows.upload, epoch_window=windows.epoch,
        dispute_window=windows.dispute, answer_window=windows.answer, vote_window=windows.vote,
        credibility_threshold_ppm=credibility_threshold_ppm,
    )
    return client.publish_task(params=params)
