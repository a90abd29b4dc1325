"""The node's routes in process (Starlette TestClient): status codes, token, limits, digests."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; the tests ship httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from storage.cid import cid_of
from storage.directory import DirectoryStore
from storage.node import create_app

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 1024


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path, max_size=LIMIT, fsync=False)


@pytest.fixture
def client(store: DirectoryStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, token=TOKEN)) as test_client:
        yield test_client


def test_health_reports_limit_and_token(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "api": 1, "max_size": LIMIT, "write_token": True}


def test_put_get_head(client: TestClient) -> None:
    cid = cid_of(b"hello world")
    put = client.put(f"/blobs/{cid}", content=b"hello world", headers=AUTH)
    assert put.status_code == 201 and put.json() == {"cid": cid, "size": 11}
    got = client.get(f"/blobs/{cid}")
    assert got.status_code == 200 and got.content == b"hello world"
    head = client.head(f"/blobs/{cid}")
    assert head.status_code == 200 and head.headers["content-length"] == "11"


def test_post_names_the_blob(client: TestClient) -> None:
    response = client.post("/blobs", content=b"no cid given", headers=AUTH)
    assert response.status_code == 201
    assert response.json()["cid"] == cid_of(b"no cid given")


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_writes_need_the_token(client: TestClient, store: DirectoryStore, headers: dict) -> None:
    response = client.put(f"/blobs/{cid_of(b'x')}", content=b"x", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert list(store.list()) == []


def test_reads_need_no_token(client: TestClient) -> None:
    cid = client.post("/blobs", content=b"public", headers=AUTH).json()["cid"]
    assert client.get(f"/blobs/{cid}").content == b"public"


def test_announced_cid_must_match_the_bytes(client: TestClient, store: DirectoryStore) -> None:
    response = client.put(f"/blobs/{cid_of(b'a')}", content=b"b", headers=AUTH)
    assert response.status_code == 422
    assert "not the announced" in response.json()["error"]
    assert list(store.list()) == []


def test_size_limit_by_content_length(client: TestClient, store: DirectoryStore) -> None:
    response = client.post("/blobs", content=b"x" * (LIMIT + 1), headers=AUTH)
    assert response.status_code == 413
    assert list(store.list()) == []


def test_size_limit_on_a_chunked_stream(client: TestClient, store: DirectoryStore) -> None:
    chunks = iter([b"x" * 600, b"x" * 600])
    response = client.post("/blobs", content=chunks, headers=AUTH)
    assert response.status_code == 413
    assert list(store.list()) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_exactly_the_limit_is_accepted(client: TestClient) -> None:
    assert client.post("/blobs", content=b"x" * LIMIT, headers=AUTH).status_code == 201


def test_missing_blob_is_404(client: TestClient) -> None:
    assert client.get(f"/blobs/{cid_of(b'none')}").status_code == 404
    assert client.head(f"/blobs/{cid_of(b'none')}").status_code == 404


@pytest.mark.parametrize("bad", ["not-a-cid", "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u"])
def test_malformed_cid_is_400(client: TestClient, bad: str) -> None:
    response = client.get(f"/blobs/{bad}")
    assert response.status_code == 400
    assert "CID" in response.json()["error"]
    assert client.put(f"/blobs/{bad}", content=b"x", headers=AUTH).status_code == 400


def test_list_by_prefix(client: TestClient) -> None:
    cids = sorted(
        client.post("/blobs", content=bytes([i]), headers=AUTH).json()["cid"] for i in range(5)
    )
    assert client.get("/blobs").text.split() == cids
    assert client.get("/blobs", params={"prefix": cids[0][:10]}).text.split() == [
        c for c in cids if c.startswith(cids[0][:10])
    ]
    assert client.get("/blobs", params={"prefix": "UPPER"}).status_code == 400


def test_no_token_means_open_writes(store: DirectoryStore) -> None:
    with TestClient(create_app(store)) as open_client:
        assert open_client.post("/blobs", content=b"x").status_code == 201
        assert open_client.get("/health").json()["write_token"] is False


def test_other_methods_are_405(client: TestClient) -> None:
    assert client.delete(f"/blobs/{cid_of(b'x')}", headers=AUTH).status_code == 405
