"""open_store: backends by URL scheme, replication over several specs, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage import open_store, register_backend
from storage.base import BlobStore
from storage.directory import DirectoryStore
from storage.errors import StorageUserError
from storage.http_client import HttpStore
from storage.replicated import ReplicatedStore


def test_dir_url_opens_a_directory_store(tmp_path: Path) -> None:
    store = open_store(f"dir://{tmp_path}/a")
    assert isinstance(store, DirectoryStore)
    assert store.root == tmp_path / "a"
    assert store.get(store.put(b"x")) == b"x"


def test_dir_url_may_be_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("dir://rel/store")
    assert isinstance(store, DirectoryStore)
    assert store.root == Path("rel/store")


def test_http_url_opens_a_client_without_connecting() -> None:
    with open_store("http://127.0.0.1:9", token="t") as store:
        assert isinstance(store, HttpStore)
        assert store.url == "http://127.0.0.1:9"


@pytest.mark.parametrize("spec", ["dir://a,dir://b,dir://c", ["dir://a", "dir://b", "dir://c"]])
def test_several_specs_are_replicated(
    spec: str | list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(spec, replication=2)
    assert isinstance(store, ReplicatedStore)
    assert store.replication == 2 and len(store.stores) == 3


@pytest.mark.parametrize(
    ("spec", "kwargs", "message"),
    [
        ("s3://bucket", {}, "unknown store 's3://bucket': expected one of dir://, http://"),
        ("/plain/path", {}, "unknown store"),
        ("", {}, "empty entry"),
        ("dir://a,,dir://b", {}, "empty entry"),
        ("dir:", {}, "bad store"),
        ("http://", {}, "bad storage node URL"),
        ("http://h:1?x=1", {}, "no query"),
        ("http://h:99999", {}, "bad port"),
        ("dir://a,dir://a", {}, "listed twice"),
        ("dir://a", {"replication": 2}, "needs that many nodes"),
        ("dir://a,dir://b", {"replication": 3}, "replication must be between 1 and 2"),
    ],
)
def test_bad_specs_are_one_line_user_errors(
    spec: str, kwargs: dict[str, Any], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageUserError, match=message.replace("?", r"\?")) as info:
        open_store(spec, **kwargs)
    assert "\n" not in str(info.value)


def test_a_registered_backend_is_chosen_by_scheme(tmp_path: Path) -> None:
    opened: list[str] = []

    def factory(spec: str, *, token: str | None, max_size: int) -> BlobStore:
        opened.append(spec)
        return DirectoryStore(tmp_path, max_size=max_size)

    register_backend("memtest", factory)
    store = open_store("memtest://x", max_size=10)
    assert opened == ["memtest://x"]
    assert isinstance(store, DirectoryStore) and store.max_size == 10
