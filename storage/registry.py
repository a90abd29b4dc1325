"""Backends chosen by URL scheme from a small registry; `open_store` is the one entry point."""

from __future__ import annotations

from collections.abc import Callable

from storage.base import DEFAULT_MAX_BLOB_SIZE, BlobStore
from storage.directory import DirectoryStore
from storage.errors import StorageUserError
from storage.http_client import HttpStore
from storage.replicated import ReplicatedStore

# A factory gets the full spec string, the write token and the blob size limit.
BackendFactory = Callable[..., BlobStore]


def _open_dir(spec: str, *, token: str | None, max_size: int) -> BlobStore:
    path = spec.removeprefix("dir:").removeprefix("//")
    if not path:
        raise StorageUserError(
            f"bad store {spec!r}: expected dir:///absolute/path or dir://relative"
        )
    return DirectoryStore(path, max_size=max_size)


def _open_http(spec: str, *, token: str | None, max_size: int) -> BlobStore:
    return HttpStore(spec, token=token, max_size=max_size)


_BACKENDS: dict[str, BackendFactory] = {"dir": _open_dir, "http": _open_http, "https": _open_http}


def register_backend(scheme: str, factory: BackendFactory) -> None:
    """Make `open_store` accept `scheme:...` specs, built by `factory(spec, token=, max_size=)`."""
    _BACKENDS[scheme] = factory


def open_store(
    spec: str | list[str],
    *,
    replication: int = 1,
    token: str | None = None,
    max_size: int = DEFAULT_MAX_BLOB_SIZE,
) -> BlobStore:
    """Open `dir:///path`, `http://host:port`, or several (a list or comma-separated) replicated.

    `replication` is the number of copies written (k); `token` is the nodes' write token.
    """
    specs = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    if not specs or not all(specs):
        raise StorageUserError(f"bad store spec {spec!r}: empty entry")
    if len(set(specs)) != len(specs):
        raise StorageUserError(f"bad store spec {spec!r}: a node is listed twice")
    if len(specs) == 1 and replication != 1:
        raise StorageUserError(f"replication {replication} needs that many nodes, got one")
    stores: list[BlobStore] = []
    try:
        for one in specs:
            stores.append(_open_one(one, token=token, max_size=max_size))
        if len(stores) == 1:
            return stores[0]
        return ReplicatedStore(stores, replication=replication)
    except BaseException:
        for store in stores:
            store.close()
        raise


def _open_one(spec: str, *, token: str | None, max_size: int) -> BlobStore:
    scheme, sep, _ = spec.partition(":")
    factory = _BACKENDS.get(scheme) if sep else None
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(_BACKENDS))
        raise StorageUserError(f"unknown store {spec!r}: expected one of {known}")
    return factory(spec, token=token, max_size=max_size)
