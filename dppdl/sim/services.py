"""Services a simulation starts for itself: a storage node on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.process import StorageNode


@contextmanager
def storage_node(directory: Path, *, log_path: Path) -> Iterator[str]:
    """A real HTTP storage node over `directory` on a free port; yields its URL."""
    node = StorageNode(directory, log=log_path)
    with node:
        yield node.url
