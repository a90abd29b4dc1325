"""Client for one HTTP storage node (http.client); every byte read is verified against the CID."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import select
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

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
_CHUNK = 256 * 1024  # read size for a body without Content-Length
_MAX_IDLE = 8  # kept-alive connections per node beyond which a finished one is closed
# The peer closed a kept-alive connection we were about to reuse: one retry on a new one.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpStore(BlobStore):
    """A storage node at `url` (http or https), e.g. started by `python -m storage serve`.

    Thread-safe: a request takes a kept-alive connection from a small idle pool, or opens one.
    Every request is idempotent (a PUT names the CID of its body), so one that meets a
    connection the node has meanwhile closed is sent once more on a new connection.
    """

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
        try:
            port = parts.port
        except ValueError:
            raise StorageUserError(f"bad storage node URL {url!r}: bad port") from None
        self.url = url.rstrip("/")
        self.max_size = max_size  # largest blob sent or accepted from the node, in bytes
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        self._path = parts.path.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._connect_timeout = min(5.0, timeout)
        self._lock = threading.Lock()  # guards the two below
        self._idle: list[http.client.HTTPConnection] = []  # kept-alive, last used on top
        self._closed = False

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    def put(self, data: BlobLike) -> str:
        data = check_blob(data, self.max_size)
        cid = cid_of(data)
        with self._exchange("PUT", f"/blobs/{cid}", f"put {cid}", data) as response:
            body = response.read()
        if response.status not in (200, 201):
            self._raise_for(response.status, body, f"put {cid}")
        if _json_field(body, "cid") != cid:
            raise StorageUnavailable(f"storage node {self.url} acknowledged another CID than {cid}")
        return cid

    def get(self, cid: str) -> bytes:
        digest = digest_from_cid(cid)
        too_large = IntegrityError(
            f"storage node {self.url} sent more than {self.max_size} bytes for {cid}"
        )
        with self._exchange("GET", f"/blobs/{cid}", f"get {cid}") as response:
            ok, announced = response.status == 200, response.length
            if ok and announced is not None and announced > self.max_size:
                raise too_large  # refused before a byte of it is read
            if ok and announced is None:
                body = _read_at_most(response, self.max_size, too_large)
            else:
                body = response.read()  # a blob of announced length, or an error body
        if not ok:  # the error body was read whole: the connection stays usable
            self._raise_for(response.status, body, f"get {cid}")
        if hashlib.sha256(body).digest() != digest:
            raise IntegrityError(f"storage node {self.url} served bytes that do not match {cid}")
        return body

    def has(self, cid: str) -> bool:
        validate_cid(cid)
        with self._exchange("HEAD", f"/blobs/{cid}", f"has {cid}") as response:
            body = response.read()
        if response.status == 404:
            return False
        if response.status != 200:
            self._raise_for(response.status, body, f"has {cid}")
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        with self._exchange("GET", f"/blobs?prefix={quote(prefix)}", "list") as response:
            body = response.read()
        if response.status != 200:
            self._raise_for(response.status, body, "list")
        cids = body.decode("ascii", "replace").split()
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
        with self._exchange("GET", "/health", "health") as response:
            body = response.read()
        if response.status != 200:
            self._raise_for(response.status, body, "health")
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise StorageUnavailable(f"storage node {self.url} sent a malformed health")
        return document

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # -- transport -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _exchange(
        self, method: str, path: str, action: str, body: bytes | None = None
    ) -> Iterator[http.client.HTTPResponse]:
        """One request and its response, whose body the caller reads inside the block.

        A transport failure becomes StorageUnavailable naming the node and the action. The
        connection goes back to the idle pool only if left clean (body read, no `Connection:
        close`); otherwise it is closed.
        """
        connection: http.client.HTTPConnection | None = None
        try:
            for attempt in (1, 2):
                connection, reused = self._checkout()
                try:
                    connection.request(method, self._path + path, body, self._headers)
                    response = connection.getresponse()
                    break
                except _STALE:
                    connection.close()
                    connection = None
                    if not reused or attempt == 2:
                        raise
                    self._close_idle()  # the node went away once: its other sockets are gone too
            assert connection is not None
            yield response
            if response.isclosed() and not response.will_close:
                self._checkin(connection)
                connection = None
        except StorageError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            reason = str(exc) or type(exc).__name__
            raise StorageUnavailable(f"storage node {self.url}: {action}: {reason}") from exc
        finally:
            if connection is not None:
                connection.close()

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (True: used before) or a new one (False)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            while self._idle:
                connection = self._idle.pop()
                # An idle kept-alive socket that turns readable has been closed by the node.
                if connection.sock is not None and not _readable(connection.sock):
                    return connection, True
                connection.close()
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = cls(self._host, self._port, timeout=self._connect_timeout)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self._timeout)
        return connection, False

    def _checkin(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def _close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _raise_for(self, status: int, body: bytes, action: str) -> None:
        message = f"storage node {self.url}: {action}: {_json_field(body, 'error') or status}"
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


def _readable(sock: socket.socket) -> bool:
    """Whether reading would not block (poll, not select: any file descriptor number)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _read_at_most(response: http.client.HTTPResponse, limit: int, error: Exception) -> bytes:
    """A body of unannounced length, refused with `error` once it passes `limit` bytes."""
    body = bytearray()
    while chunk := response.read(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise error
    return bytes(body)


def _json_field(body: bytes, field: str) -> str | None:
    try:
        value = json.loads(body).get(field)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
