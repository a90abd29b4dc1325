"""The requester's side: store a task spec off-chain and publish the task on-chain."""

from __future__ import annotations

from dppdl.chain.clients import DppdlClient, TaskParams
from dppdl.party.spec import TaskSpec
from storage import BlobStore
from storage.cid import digest_from_cid


def publish_task(
    *, client: DppdlClient, store: BlobStore, spec: TaskSpec, join_window: int,
    benchmark_window: int, request_window: int, upload_window: int, epoch_window: int,
) -> int:  # fmt: skip
    """Put the spec's canonical JSON in storage, publish its digest and windows; the task id."""
    digest = digest_from_cid(store.put(spec.to_json_bytes()))
    params = TaskParams(
        spec_digest=digest,
        roster_size=spec.n_parties,
        epochs=spec.epochs,
        n_params=spec.n_params,
        join_deadline=client.w3.eth.block_number + join_window,
        benchmark_window=benchmark_window,
        request_window=request_window,
        upload_window=upload_window,
        epoch_window=epoch_window,
    )
    return client.publish_task(params=params)
