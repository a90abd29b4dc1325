"""Tests for the crash-safe write every layer shares."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dppdl.files import atomic_write


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_writes_replaces_and_sets_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "record.json"
    atomic_write(target, b"first", mode=0o644)
    atomic_write(target, b"second", mode=0o644)
    assert target.read_bytes() == b"second"
    assert os.stat(target).st_mode & 0o777 == 0o644
    assert _leftovers(target.parent) == []


def test_default_mode_is_private(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    atomic_write(target, b"key")
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_without_overwrite_an_existing_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "keys.json"
    atomic_write(target, b"old", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"new", overwrite=False)
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:  # fmt: skip
    target = tmp_path / "state.pt"
    atomic_write(target, b"old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []
