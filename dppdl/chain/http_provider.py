"""A web3 provider that posts JSON-RPC over one kept-alive HTTP connection (http.client).

web3's `HTTPProvider` goes through requests and urllib3: about 0.5 ms of CPU per POST on this
machine, against 0.07 ms for the same POST through `http.client` on a kept-alive connection
(`benchmarks/chain.py` measures both). An agent makes about 20 round trips per epoch at P4, so that
CPU is taken from training on a shared machine. This provider also answers `eth_chainId` from
its first reply (web3 asks it before every transaction and call; a node's chain id never
changes) and reports every round trip to an optional sink (`dppdl.chain.rpc_stats`).

A connection the node has closed while idle (Node's HTTP servers close after 5 s) is reopened
once, transparently; any other failure raises `RpcUnavailableError` with one line.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from dppdl.chain.rpc_stats import Sink, request_keys
from dppdl.errors import RpcUnavailableError

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# raised when a kept-alive connection was closed by the node before our request reached it
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          ConnectionAbortedError, http.client.CannotSendRequest)  # fmt: skip


class KeepAliveHTTPProvider(JSONBaseProvider):
    """JSON-RPC over HTTP(S) on one persistent connection; thread-safe (requests take turns)."""

    def __init__(self, url: str, *, timeout: float = 10.0, sink: Sink | None = None) -> None:
        super().__init__()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RpcUnavailableError(f"no JSON-RPC node answers at {url} (expected http(s)://)")
        self.endpoint_uri = url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._sink = sink
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._chain_id: RPCResponse | None = None

    def __str__(self) -> str:
        return f"KeepAliveHTTPProvider({self.endpoint_uri})"

    # -- web3's provider interface ------------------------------------------------------------
    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_chainId" and self._chain_id is not None:
            return self._chain_id
        response = self._post([(method, params)], self.encode_rpc_request(method, params))
        if not isinstance(response, dict):
            raise RpcUnavailableError(f"JSON-RPC node at {self.endpoint_uri}: malformed reply")
        if method == "eth_chainId" and "result" in response:
            self._chain_id = response  # type: ignore[assignment]
        return response  # type: ignore[return-value]

    def make_batch_request(
        self, requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        body = self.encode_batch_rpc_request(requests)
        response = self._post(requests, body)
        if not isinstance(response, list):  # the node refused the whole batch
            return response  # type: ignore[no-any-return]
        # JSON-RPC lets a node answer a batch in any order: back to the order of the requests
        order = {call["id"]: i for i, call in enumerate(json.loads(body))}
        try:
            return sorted(response, key=lambda r: order[r["id"]])
        except (KeyError, TypeError):
            raise RpcUnavailableError(
                f"JSON-RPC node at {self.endpoint_uri} answered a batch with unknown ids"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _drop_connection(self) -> None:
        """Close the connection (the next request opens another); the caller holds the lock."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- transport ----------------------------------------------------------------------------
    def _post(self, calls: Sequence[tuple[str, Any]], body: bytes) -> Any:
        with self._lock:  # one request at a time on the connection, and in the tallies
            raw = self._round_trip(body)
            if self._sink is not None:
                for key in ("round_trips", *request_keys(calls)):
                    self._sink(key, 1)
        try:
            return json.loads(raw)
        except ValueError:
            raise RpcUnavailableError(
                f"JSON-RPC node at {self.endpoint_uri} sent a reply that is not JSON"
            ) from None

    def _round_trip(self, body: bytes) -> bytes:
        """POST `body`, reopening a connection the node closed while idle (once)."""
        for attempt in (0, 1):
            reused = self._conn is not None
            try:
                conn = self._conn = self._conn or self._open()
                conn.request("POST", self._path, body, _HEADERS)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:  # refused, timeout, closed...
                self._drop_connection()
                if attempt == 0 and reused and isinstance(exc, _STALE):
                    continue
                raise self._unavailable(exc) from exc
            if response.will_close:
                self._drop_connection()
            if not 200 <= response.status < 300:
                raise RpcUnavailableError(
                    f"JSON-RPC node at {self.endpoint_uri} answered HTTP {response.status} "
                    f"{response.reason}"
                )
            return raw
        raise AssertionError("unreachable")

    def _open(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        conn.connect()
        # small JSON requests: send each at once instead of waiting for the last one's ACK
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _unavailable(self, exc: BaseException) -> RpcUnavailableError:
        reason = str(exc) or type(exc).__name__
        return RpcUnavailableError(
            f"JSON-RPC node at {self.endpoint_uri} stopped answering: {reason}"
        )
