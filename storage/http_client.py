"""Client for one HTTP storage node (httpx); every byte read is verified against the CID."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import httpx

from storage.base import (
    DEFAULT_MAX_BLOB_SIZE,
    BlobLike,
    BlobStore,
    check_blob,
    check_prefix,
)
from storage.cid import cid_of, digest_from_cid, validate_cid
from storage.errors import (
    BlobNotFound,
    BlobTooLarge,
    IntegrityError,
    StorageAuthError,
    StorageError,
    StorageUnavailable,
    StorageUserError,
)

DEFAULT_TIMEOUT = 30.0  # seconds per network operation; connect gives up after 5 s at most


class HttpStore(BlobStore):
    """A storage node at `url` (http or https), e.g. started by `python -m storage serve`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_size: int = DEFAULT_MAX_BLOB_SIZE,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StorageUserError(f"bad storage node URL {url!r}: expected http://host:port")
        if parts.query or parts.fragment:
            raise StorageUserError(f"bad storage node URL {url!r}: no query or fragment allowed")
        self.url = url.rstrip("/")
        self.max_size = max_size  # largest blob sent or accepted from the node, in bytes
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeouts = httpx.Timeout(timeout, connect=min(5.0, timeout))
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=timeouts)

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    def put(self, data: BlobLike) -> str:
        data = check_blob(data, self.max_size)
        cid = cid_of(data)
        with self._transport("put"):
            response = self._client.put(f"/blobs/{cid}", content=data)
        if response.status_code not in (200, 201):
            self._raise_for(response, f"put {cid}")
        if _json_field(response, "cid") != cid:
            raise StorageUnavailable(f"storage node {self.url} acknowledged another CID than {cid}")
        return cid

    def get(self, cid: str) -> bytes:
        digest = digest_from_cid(cid)
        with self._transport(f"get {cid}"), self._client.stream("GET", f"/blobs/{cid}") as response:
            if response.status_code != 200:
                response.read()
                self._raise_for(response, f"get {cid}")
            hasher = hashlib.sha256()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_size:
                    raise IntegrityError(
                        f"storage node {self.url} sent more than {self.max_size} bytes for {cid}"
                    )
                hasher.update(chunk)
        if hasher.digest() != digest:
            raise IntegrityError(f"storage node {self.url} served bytes that do not match {cid}")
        return bytes(body)

    def has(self, cid: str) -> bool:
        validate_cid(cid)
        with self._transport(f"has {cid}"):
            response = self._client.head(f"/blobs/{cid}")
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            self._raise_for(response, f"has {cid}")
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        with self._transport("list"):
            response = self._client.get(f"/blobs?prefix={quote(prefix)}")
        if response.status_code != 200:
            self._raise_for(response, "list")
        cids = response.text.split()
        for cid in cids:
            try:
                validate_cid(cid)
            except ValueError:
                raise StorageUnavailable(f"storage node {self.url}: malformed listing") from None
            if not cid.startswith(prefix):
                raise StorageUnavailable(f"storage node {self.url} listed {cid} for {prefix!r}")
        return iter(cids)

    def health(self) -> dict[str, object]:
        """The node's health document; StorageUnavailable if it is down or unhealthy."""
        with self._transport("health"):
            response = self._client.get("/health")
        if response.status_code != 200:
            self._raise_for(response, "health")
        try:
            document = response.json()
        except ValueError:
            raise StorageUnavailable(f"storage node {self.url} sent a malformed health") from None
        return dict(document)

    def close(self) -> None:
        self._client.close()

    @contextlib.contextmanager
    def _transport(self, action: str) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise StorageUnavailable(f"storage node {self.url}: {action}: {reason}") from exc

    def _raise_for(self, response: httpx.Response, action: str) -> None:
        status = response.status_code
        message = f"storage node {self.url}: {action}: {_json_field(response, 'error') or status}"
        error: type[StorageError] = StorageUnavailable
        if status == 400:
            error = StorageUserError
        elif status in (401, 403):
            error = StorageAuthError
        elif status == 404:
            error = BlobNotFound
        elif status == 413:
            error = BlobTooLarge
        elif status == 422:
            error = IntegrityError
        raise error(message)


def _json_field(response: httpx.Response, field: str) -> str | None:
    try:
        value = response.json().get(field)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
