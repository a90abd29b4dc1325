"""Local-directory backend: a file per blob, atomic writes (temp, fsync, rename), verified reads."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from storage.base import (
    DEFAULT_MAX_BLOB_SIZE,
    BlobLike,
    BlobStore,
    check_blob,
    check_prefix,
)
from storage.cid import cid_from_digest, digest_from_cid, validate_cid
from storage.errors import BlobNotFound, BlobTooLarge, IntegrityError, StorageUserError

_COMMON = "bafkrei"  # every CIDv1 raw sha2-256 starts with these 7 characters
_SHARD = slice(len(_COMMON), len(_COMMON) + 2)  # next 2 characters: 1024 shard directories
_STALE_TEMP_SECONDS = 24 * 3600  # temp files older than this are leftovers of a crash


class DirectoryStore(BlobStore):
    """Blobs under `root/blobs/<shard>/<cid>`; safe to share between processes."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_size: int = DEFAULT_MAX_BLOB_SIZE,
        fsync: bool = True,
    ) -> None:
        if max_size < 0:
            raise StorageUserError(f"max_size must be >= 0, got {max_size}")
        self.root = Path(root).expanduser()
        self.max_size = max_size  # largest blob accepted, in bytes
        self.fsync = fsync  # False trades crash durability for speed (tests, throwaway runs)
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        if self.root.exists() and not self.root.is_dir():
            raise StorageUserError(f"storage directory {self.root}: not a directory")
        try:
            self._blobs.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageUserError(f"storage directory {self.root}: {exc.strerror}") from exc
        if not os.access(self._tmp, os.W_OK) or not os.access(self._blobs, os.W_OK):
            raise StorageUserError(f"storage directory {self.root}: not writable")
        self._remove_stale_temps()

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.root)!r})"

    def path_for(self, cid: str) -> Path:
        """Where the blob named `cid` lives (it may not exist); raises InvalidCid."""
        validate_cid(cid)
        return self._blobs / cid[_SHARD] / cid

    def put(self, data: BlobLike) -> str:
        data = check_blob(data, self.max_size)
        with self.open_writer() as writer:
            writer.write(data)
            return writer.commit()

    def open_writer(self) -> BlobWriter:
        """A writer for streaming a blob in chunks; `commit()` names and publishes it."""
        return BlobWriter(self)

    def get(self, cid: str) -> bytes:
        path = self.path_for(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"blob {cid} not found in {self.root}") from None
        if hashlib.sha256(data).digest() != digest_from_cid(cid):
            raise IntegrityError(f"blob {cid} in {self.root} is corrupt (bytes have another CID)")
        return data

    def has(self, cid: str) -> bool:
        return self.path_for(cid).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        return self._iter_list(check_prefix(prefix))

    def _iter_list(self, prefix: str) -> Iterator[str]:
        if len(prefix) >= _SHARD.stop:
            if not prefix.startswith(_COMMON):
                return
            shards = [self._blobs / prefix[_SHARD]]
        else:
            shards = sorted(p for p in self._blobs.iterdir() if p.name.startswith(prefix[_SHARD]))
        for shard in shards:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for name in sorted(os.listdir(shard)):
                    if name.startswith(prefix) and _is_cid(name):
                        yield name

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - _STALE_TEMP_SECONDS
        for entry in os.scandir(self._tmp):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)


class BlobWriter:
    """Streams one blob into a temp file, hashing as it goes; commit() renames it into place."""

    def __init__(self, store: DirectoryStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store._tmp, prefix="put-", suffix=".part")
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._store.max_size:
            raise BlobTooLarge(f"blob exceeds the limit of {self._store.max_size} bytes")
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self, *, expected_cid: str | None = None) -> str:
        """Publish the blob and return its CID; IntegrityError if it is not `expected_cid`."""
        cid = cid_from_digest(self._hash.digest())
        if expected_cid is not None and expected_cid != cid:
            self.abort()
            raise IntegrityError(f"bytes received have CID {cid}, not the announced {expected_cid}")
        self._file.flush()
        if self._store.fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        target = self._store.path_for(cid)
        if _holds(target, cid):  # already stored intact: keep the old file
            self.abort()
            return cid
        target.parent.mkdir(exist_ok=True)
        os.replace(self._path, target)
        self._done = True
        if self._store.fsync:
            _fsync_dir(target.parent)
        return cid

    def abort(self) -> None:
        """Drop the temp file; a no-op after commit."""
        if self._done:
            return
        self._done = True
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def _holds(path: Path, cid: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).digest() == digest_from_cid(cid)
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_cid(name: str) -> bool:
    try:
        validate_cid(name)
    except ValueError:
        return False
    return True
