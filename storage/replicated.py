"""Replication over several stores: writes to k of them, reads fail over to any other replica."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator, Sequence

from storage.base import BlobLike, BlobStore, check_blob, check_prefix
from storage.cid import cid_of, validate_cid
from storage.errors import (
    BlobNotFound,
    IntegrityError,
    StorageError,
    StorageUnavailable,
    StorageUserError,
)


class ReplicatedStore(BlobStore):
    """Each blob lives on `replication` stores chosen by rendezvous hashing of its CID.

    With n stores and k replicas, "absent" needs n-k+1 stores to agree (then no k-set holds it);
    fewer answers mean StorageUnavailable, never a false BlobNotFound.
    """

    def __init__(self, stores: Sequence[BlobStore], *, replication: int) -> None:
        if not stores:
            raise StorageUserError("a replicated store needs at least one store")
        if not 1 <= replication <= len(stores):
            raise StorageUserError(
                f"replication must be between 1 and {len(stores)} (the number of nodes), "
                f"got {replication}"
            )
        self.stores = list(stores)
        self.replication = replication  # copies written per blob; a put fails with fewer
        self._quorum_absent = len(stores) - replication + 1

    def __repr__(self) -> str:
        return f"ReplicatedStore({self.stores!r}, replication={self.replication})"

    def preferred(self, cid: str) -> list[BlobStore]:
        """Stores in the order this CID is written to and read from (rendezvous hashing)."""
        return sorted(self.stores, key=lambda s: hashlib.sha256(f"{cid} {s!r}".encode()).digest())

    def put(self, data: BlobLike) -> str:
        cid = cid_of(check_blob(data, sys.maxsize))  # each store enforces its own size limit
        stored = 0
        failures: list[StorageError] = []
        for store in self.preferred(cid):
            try:
                store.put(data)
            except StorageError as exc:
                failures.append(exc)
                continue
            stored += 1
            if stored == self.replication:
                return cid
        error = type(failures[0]) if len({type(f) for f in failures}) == 1 else StorageUnavailable
        detail = "; ".join(str(f) for f in failures)
        raise error(f"blob {cid} stored on {stored} of {self.replication} replicas: {detail}")

    def get(self, cid: str) -> bytes:
        validate_cid(cid)
        absent: list[BlobStore] = []
        corrupt: list[StorageError] = []
        down: list[StorageError] = []
        for store in self.preferred(cid):
            try:
                return store.get(cid)
            except BlobNotFound:
                absent.append(store)
            except IntegrityError as exc:
                corrupt.append(exc)
            except StorageUnavailable as exc:
                down.append(exc)
        if not corrupt and len(absent) >= self._quorum_absent:
            raise BlobNotFound(f"blob {cid} not found on {len(absent)} of {len(self.stores)} nodes")
        detail = "; ".join(str(e) for e in corrupt + down)
        if not down:
            raise IntegrityError(f"no intact copy of {cid}: {detail}")
        raise StorageUnavailable(f"no replica could serve {cid}: {detail}")

    def has(self, cid: str) -> bool:
        validate_cid(cid)
        answered_no = 0
        down: list[StorageError] = []
        for store in self.preferred(cid):
            try:
                if store.has(cid):
                    return True
            except StorageUnavailable as exc:
                down.append(exc)
                continue
            answered_no += 1
        if answered_no >= self._quorum_absent:
            return False
        detail = "; ".join(map(str, down))
        raise StorageUnavailable(f"too few nodes answered to rule out {cid}: {detail}")

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        found: set[str] = set()
        answered = 0
        down: list[StorageError] = []
        for store in self.stores:
            try:
                found.update(store.list(prefix))
            except StorageUnavailable as exc:
                down.append(exc)
                continue
            answered += 1
        if answered < self._quorum_absent:
            raise StorageUnavailable("too few nodes answered to list: " + "; ".join(map(str, down)))
        return iter(sorted(found))

    def close(self) -> None:
        for store in self.stores:
            store.close()
