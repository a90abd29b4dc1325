"""The shared BlobStore test suite (import from tests only): subclass it once per backend."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from storage.base import BlobStore
from storage.cid import cid_of
from storage.errors import (
    BlobNotFound,
    BlobTooLarge,
    IntegrityError,
    InvalidCid,
    StorageUserError,
)

SUITE_MAX_SIZE = 65536  # the size limit each subclass must configure its store with
HELLO = b"hello world"
HELLO_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"  # IPFS raw CID
MALFORMED_CIDS = [
    "",
    "not-a-cid",
    "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u",  # CIDv0 (dag-pb)
    HELLO_CID.upper(),  # base32 upper is a valid multibase but not our canonical form
    HELLO_CID[:-1],  # truncated
    HELLO_CID + "a",  # too long
    "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # dag-pb codec
    "b" + "a" * 58,  # version 0 in a base32 body
    "../../etc/passwd",
]

Corrupt = Callable[[str], None]


class BlobStoreSuite:
    """Behaviour every BlobStore must have; subclasses provide `store` and `corrupt` fixtures.

    `store`: a fresh, empty store whose size limit is SUITE_MAX_SIZE.
    `corrupt(cid)`: flip bytes of the copy the store reads first, directly on disk.
    """

    survives_one_corrupt_copy = False  # True for replicated stores: reads fail over

    def test_put_returns_the_ipfs_cid(self, store: BlobStore) -> None:
        # Execute
        cid = store.put(HELLO)
        # Assert
        assert cid == HELLO_CID

    @pytest.mark.parametrize("size", [0, 1, 1000, SUITE_MAX_SIZE])
    def test_round_trip(self, store: BlobStore, size: int) -> None:
        data = os.urandom(size)
        cid = store.put(data)
        assert cid == cid_of(data)
        assert store.get(cid) == data

    def test_put_is_idempotent(self, store: BlobStore) -> None:
        first = store.put(b"same bytes")
        second = store.put(bytearray(b"same bytes"))
        assert first == second
        assert list(store.list()) == [first]

    def test_has(self, store: BlobStore) -> None:
        cid = cid_of(b"x")
        assert not store.has(cid)
        store.put(b"x")
        assert store.has(cid)
        assert cid in store

    def test_list_by_prefix(self, store: BlobStore) -> None:
        # Prepare
        cids = sorted(store.put(f"blob {i}".encode()) for i in range(24))
        probe = cids[5]
        # Execute / Assert
        assert list(store.list()) == cids
        assert list(store.list("")) == cids
        assert list(store.list("bafkrei")) == cids
        for length in (8, 9, 10, 59):
            expected = [c for c in cids if c.startswith(probe[:length])]
            assert list(store.list(probe[:length])) == expected
        assert list(store.list("bafy")) == []
        assert list(store.list("bafkreiaaaaaaaaaaaaaaa")) == [
            c for c in cids if c.startswith("bafkreiaaaaaaaaaaaaaaa")
        ]

    def test_bad_prefix_is_a_user_error(self, store: BlobStore) -> None:
        with pytest.raises(StorageUserError, match="bad CID prefix"):
            store.list("BAF")
        with pytest.raises(StorageUserError, match="bad CID prefix"):
            store.list("../")

    def test_missing_blob_is_not_found(self, store: BlobStore) -> None:
        with pytest.raises(BlobNotFound) as info:
            store.get(cid_of(b"never stored"))
        assert isinstance(info.value, KeyError)
        assert cid_of(b"never stored") in str(info.value)

    @pytest.mark.parametrize("bad", MALFORMED_CIDS)
    def test_malformed_cid_is_a_one_line_user_error(self, store: BlobStore, bad: str) -> None:
        for operation in (store.get, store.has):
            with pytest.raises(InvalidCid) as info:
                operation(bad)
            assert isinstance(info.value, StorageUserError)
            assert "\n" not in str(info.value) and str(info.value)

    def test_corrupt_copy(self, store: BlobStore, corrupt: Corrupt) -> None:
        # Prepare
        data = os.urandom(4096)
        cid = store.put(data)
        corrupt(cid)
        # Execute / Assert
        if self.survives_one_corrupt_copy:
            assert store.get(cid) == data
        else:
            with pytest.raises(IntegrityError, match=cid):
                store.get(cid)

    def test_size_limit(self, store: BlobStore) -> None:
        data = os.urandom(SUITE_MAX_SIZE + 1)
        with pytest.raises(BlobTooLarge):
            store.put(data)
        assert not store.has(cid_of(data))
        assert list(store.list()) == []

    def test_non_bytes_rejected(self, store: BlobStore) -> None:
        with pytest.raises(StorageUserError, match="bytes"):
            store.put("text is not a blob")  # type: ignore[arg-type]
