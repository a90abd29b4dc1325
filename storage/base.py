"""The BlobStore interface every backend implements: put, verified get, has, list by prefix."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from storage.errors import BlobTooLarge, StorageUserError

DEFAULT_MAX_BLOB_SIZE = 64 * 1024 * 1024  # 64 MiB: far above one sealed gradient (~1.2 MB)
BlobLike = bytes | bytearray | memoryview  # what put() accepts; get() always returns bytes
_PREFIX_CHARS = re.compile(r"[a-z2-7]{0,59}")


class BlobStore(ABC):
    """A content-addressed store: a blob's address is the CID of its bytes, checked on read."""

    @abstractmethod
    def put(self, data: BlobLike) -> str:
        """Store `data` (idempotent) and return its CID."""

    @abstractmethod
    def get(self, cid: str) -> bytes:
        """The bytes named by `cid`, verified against its digest (IntegrityError otherwise)."""

    @abstractmethod
    def has(self, cid: str) -> bool:
        """Whether the store holds a blob with this CID (existence only, not verified)."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """CIDs starting with `prefix`, in ascending order."""

    def close(self) -> None:
        """Release connections or handles; the store is unusable afterwards."""
        return None

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and self.has(cid)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix: lower-case base32 characters only (a CID's alphabet)."""
    if not isinstance(prefix, str) or not _PREFIX_CHARS.fullmatch(prefix):
        raise StorageUserError(f"bad CID prefix {prefix!r}: use up to 59 characters of [a-z2-7]")
    return prefix


def check_blob(data: object, max_size: int) -> bytes:
    """Accept bytes-like blobs within `max_size`; raise BlobTooLarge or StorageUserError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StorageUserError(f"a blob is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise BlobTooLarge(f"blob of {len(data)} bytes exceeds the limit of {max_size} bytes")
    return data
