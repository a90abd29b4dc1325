"""ReplicatedStore over directory stores: the shared suite, quorum rules and failover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.base import BlobLike, BlobStore
from storage.cid import cid_of
from storage.directory import DirectoryStore
from storage.errors import (
    BlobNotFound,
    IntegrityError,
    StorageUnavailable,
    StorageUserError,
)
from storage.replicated import ReplicatedStore
from storage.testing import SUITE_MAX_SIZE, BlobStoreSuite, Corrupt


class Switchable(BlobStore):
    """A directory store that can be switched off, as a stand-in for a node that is down."""

    def __init__(self, root: Path) -> None:
        self.inner = DirectoryStore(root, max_size=SUITE_MAX_SIZE, fsync=False)
        self.down = False

    def __repr__(self) -> str:
        return repr(self.inner)

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable(f"{self!r} is down")

    def put(self, data: BlobLike) -> str:
        self._check()
        return self.inner.put(data)

    def get(self, cid: str) -> bytes:
        self._check()
        return self.inner.get(cid)

    def has(self, cid: str) -> bool:
        self._check()
        return self.inner.has(cid)

    def list(self, prefix: str = "") -> Iterator[str]:
        self._check()
        return self.inner.list(prefix)


def corrupt_file(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def nodes(tmp_path: Path) -> list[Switchable]:
    return [Switchable(tmp_path / f"node{i}") for i in range(3)]


@pytest.fixture
def replicated(nodes: list[Switchable]) -> ReplicatedStore:
    return ReplicatedStore(nodes, replication=2)


def holders(nodes: list[Switchable], cid: str) -> list[Switchable]:
    return [n for n in nodes if n.inner.has(cid)]


class TestReplicatedOverDirectories(BlobStoreSuite):
    survives_one_corrupt_copy = True

    @pytest.fixture
    def store(self, replicated: ReplicatedStore) -> ReplicatedStore:
        return replicated

    @pytest.fixture
    def corrupt(self, replicated: ReplicatedStore) -> Corrupt:
        def corrupt_first_replica(cid: str) -> None:
            first = replicated.preferred(cid)[0]
            assert isinstance(first, Switchable) and first.inner.has(cid)
            corrupt_file(first.inner.path_for(cid))

        return corrupt_first_replica


def test_put_writes_exactly_k_copies_on_the_preferred_nodes(
    replicated: ReplicatedStore, nodes: list[Switchable]
) -> None:
    cid = replicated.put(b"two copies")
    preferred = [s for s in nodes if s in replicated.preferred(cid)[:2]]
    assert holders(nodes, cid) == preferred


def test_put_skips_a_down_node_and_still_writes_k_copies(
    replicated: ReplicatedStore, nodes: list[Switchable]
) -> None:
    data = b"while one node is down"
    replicated.preferred(cid_of(data))[0].down = True  # type: ignore[attr-defined]
    cid = replicated.put(data)
    assert len(holders(nodes, cid)) == 2


def test_put_fails_when_fewer_than_k_nodes_take_it(
    replicated: ReplicatedStore, nodes: list[Switchable]
) -> None:
    nodes[0].down = nodes[1].down = True
    with pytest.raises(StorageUnavailable, match="stored on 1 of 2 replicas"):
        replicated.put(b"data")


def test_get_fails_over_when_the_first_replica_is_down(replicated: ReplicatedStore) -> None:
    cid = replicated.put(b"fail over")
    replicated.preferred(cid)[0].down = True  # type: ignore[attr-defined]
    assert replicated.get(cid) == b"fail over"
    assert replicated.has(cid)


def test_every_copy_corrupt_is_an_integrity_error(
    replicated: ReplicatedStore, nodes: list[Switchable]
) -> None:
    cid = replicated.put(b"doomed")
    for node in holders(nodes, cid):
        corrupt_file(node.inner.path_for(cid))
    with pytest.raises(IntegrityError, match="no intact copy"):
        replicated.get(cid)


def test_absence_needs_n_minus_k_plus_one_answers(
    replicated: ReplicatedStore, nodes: list[Switchable]
) -> None:
    missing = cid_of(b"never stored")
    nodes[0].down = True
    with pytest.raises(BlobNotFound):  # 2 of 3 said no: no pair of nodes can hold it
        replicated.get(missing)
    assert replicated.has(missing) is False
    nodes[1].down = True
    with pytest.raises(StorageUnavailable):  # one answer cannot rule out the two down nodes
        replicated.get(missing)
    with pytest.raises(StorageUnavailable):
        replicated.has(missing)


def test_list_is_complete_with_one_node_down_and_refuses_with_two(
    replicated: ReplicatedStore, nodes: list[Switchable]
) -> None:
    cids = sorted(replicated.put(bytes([i])) for i in range(12))
    nodes[2].down = True
    assert list(replicated.list()) == cids
    nodes[1].down = True
    with pytest.raises(StorageUnavailable, match="too few nodes"):
        replicated.list()


@pytest.mark.parametrize("k", [0, 4, -1])
def test_replication_must_fit_the_nodes(nodes: list[Switchable], k: int) -> None:
    with pytest.raises(StorageUserError, match="replication must be between 1 and 3"):
        ReplicatedStore(nodes, replication=k)
