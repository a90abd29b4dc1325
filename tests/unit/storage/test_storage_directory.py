"""The shared BlobStore suite on the directory backend, plus what only a directory can show."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storage.base import BlobStore
from storage.cid import cid_of
from storage.directory import DirectoryStore
from storage.errors import IntegrityError, StorageUserError
from storage.testing import SUITE_MAX_SIZE, BlobStoreSuite, Corrupt


def flip_first_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


class TestDirectoryStore(BlobStoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> DirectoryStore:
        return DirectoryStore(tmp_path / "store", max_size=SUITE_MAX_SIZE, fsync=False)

    @pytest.fixture
    def corrupt(self, store: DirectoryStore) -> Corrupt:
        return lambda cid: flip_first_byte(store.path_for(cid))


def test_layout_is_sharded_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    cid = store.put(b"hello world")
    assert store.path_for(cid) == tmp_path / "blobs" / cid[7:9] / cid
    assert store.path_for(cid).read_bytes() == b"hello world"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_streamed_write_with_the_wrong_announced_cid_stores_nothing(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    with store.open_writer() as writer:
        writer.write(b"hello ")
        writer.write(b"world")
        with pytest.raises(IntegrityError, match="not the announced"):
            writer.commit(expected_cid=cid_of(b"something else"))
    assert list(store.list()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_put_over_a_corrupt_copy_repairs_it(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    cid = store.put(b"precious")
    flip_first_byte(store.path_for(cid))
    store.put(b"precious")
    assert store.get(cid) == b"precious"


def test_stale_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    DirectoryStore(tmp_path)
    stale, fresh = tmp_path / "tmp" / "put-old.part", tmp_path / "tmp" / "put-new.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    DirectoryStore(tmp_path)
    assert not stale.exists() and fresh.exists()


def test_foreign_files_are_not_listed(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    cid = store.put(b"a")
    (store.path_for(cid).parent / "README").write_text("not a blob")
    assert list(store.list()) == [cid]


def test_a_file_as_directory_is_a_one_line_user_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageUserError, match="not a directory"):
        DirectoryStore(tmp_path / "file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_directory_is_a_user_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StorageUserError, match="storage directory"):
            DirectoryStore(tmp_path / "sub")
    finally:
        tmp_path.chmod(0o700)


def test_stores_on_one_directory_see_each_other(tmp_path: Path) -> None:
    first: BlobStore = DirectoryStore(tmp_path)
    second: BlobStore = DirectoryStore(tmp_path)
    cid = first.put(b"shared")
    assert second.get(cid) == b"shared"
