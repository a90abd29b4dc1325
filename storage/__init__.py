"""Content-addressed blob storage (CIDv1 raw sha2-256): directory, HTTP node, replicated."""

from storage.base import DEFAULT_MAX_BLOB_SIZE, BlobStore
from storage.cid import cid_from_digest, cid_of, digest_from_cid, validate_cid
from storage.directory import DirectoryStore
from storage.errors import (
    BlobNotFound,
    BlobTooLarge,
    IntegrityError,
    InvalidCid,
    StorageAuthError,
    StorageError,
    StorageUnavailable,
    StorageUserError,
)
from storage.http_client import HttpStore
from storage.registry import open_store, register_backend
from storage.replicated import ReplicatedStore

__all__ = [
    "DEFAULT_MAX_BLOB_SIZE",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "DirectoryStore",
    "HttpStore",
    "IntegrityError",
    "InvalidCid",
    "ReplicatedStore",
    "StorageAuthError",
    "StorageError",
    "StorageUnavailable",
    "StorageUserError",
    "cid_from_digest",
    "cid_of",
    "digest_from_cid",
    "open_store",
    "register_backend",
    "validate_cid",
]
