"""Typed clients for the deployed DPPDL contracts (one module per contract)."""

from dppdl.chain.clients.dppdl import CONTRACT_NAME, DppdlClient
from dppdl.chain.clients.types import (
    PPM,
    DisputeInfo,
    DisputeOutcome,
    DisputeState,
    PartyInfo,
    PartyStatus,
    PointTotals,
    RequestInfo,
    RequestState,
    TaskInfo,
    TaskParams,
    TaskState,
    UploadCommitment,
    commitment_of,
    initial_points,
    upload_cap,
)

__all__ = [
    "CONTRACT_NAME",
    "PPM",
    "DisputeInfo",
    "DisputeOutcome",
    "DisputeState",
    "DppdlClient",
    "PartyInfo",
    "PartyStatus",
    "PointTotals",
    "RequestInfo",
    "RequestState",
    "TaskInfo",
    "TaskParams",
    "TaskState",
    "UploadCommitment",
    "commitment_of",
    "initial_points",
    "upload_cap",
]
