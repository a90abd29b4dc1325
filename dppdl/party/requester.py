"""The requester's side: store a task spec off-chain and publish the task on-chain."""

from __future__ import annotations

from dppdl.chain.clients import DppdlClient, TaskParams
from dppdl.party.spec import TaskSpec
from dppdl.party.windows import Windows
from storage import BlobStore
from storage.cid import digest_from_cid


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
