"""Crash-safe file writes, shared by every layer (keys, records, checkpoints, caches)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = True) -> None:
    """Write `data` to `path` so a crash leaves the old or the new file, never half of one.

    The file is written under a temporary name beside `path` (created 0600, so a secret is
    never readable by others on the way), flushed to disk, given `mode`, and renamed into
    place. With ``overwrite=False`` an existing `path` is left alone and FileExistsError is
    raised: the new file is hard-linked into place, which fails atomically if `path` exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone after a replace; the spare name after a link
