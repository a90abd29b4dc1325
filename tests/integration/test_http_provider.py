"""KeepAliveHTTPProvider against a real HTTP server on loopback: one connection, reopened once
when the server closed it while idle, and one-line errors for everything else."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from web3 import Web3

from dppdl.chain.http_provider import KeepAliveHTTPProvider
from dppdl.errors import RpcUnavailableError

pytestmark = pytest.mark.integration


class Node(ThreadingHTTPServer):
    """A JSON-RPC stand-in: each result is the method's name; `mode` picks a misbehaviour."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.requests = 0
        self.mode = "ok"  # "ok" | "close-after" | "http-500" | "not-json" | "reverse-batch"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless a side closes
    server: Node

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.requests += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        calls = body if isinstance(body, list) else [body]
        replies = [{"jsonrpc": "2.0", "id": c["id"], "result": c["method"]} for c in calls]
        mode = self.server.mode
        if mode == "reverse-batch":
            replies.reverse()
        out = json.dumps(replies if isinstance(body, list) else replies[0]).encode()
        status = 500 if mode == "http-500" else 200
        if mode == "not-json":
            out = b"<html>proxy error</html>"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        if mode == "close-after":  # as a server does on its idle timeout: no Connection: close
            self.close_connection = True


@pytest.fixture
def node() -> Iterator[Node]:
    server = Node()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_requests_share_one_connection_and_a_batch_comes_back_in_request_order(node: Node) -> None:
    provider = KeepAliveHTTPProvider(node.url)
    for _ in range(5):
        assert provider.make_request("web3_clientVersion", [])["result"] == "web3_clientVersion"
    node.mode = "reverse-batch"
    answers = provider.make_batch_request([("eth_blockNumber", []), ("eth_gasPrice", []),
                                           ("eth_chainId", [])])  # fmt: skip
    assert [a["result"] for a in answers] == ["eth_blockNumber", "eth_gasPrice", "eth_chainId"]
    assert node.requests == 6
    assert node.connections == 1


def test_a_connection_the_server_closed_while_idle_is_reopened_once(node: Node) -> None:
    provider = KeepAliveHTTPProvider(node.url)
    node.mode = "close-after"
    for _ in range(3):  # each request finds the previous connection closed
        assert provider.make_request("eth_blockNumber", [])["result"] == "eth_blockNumber"
    assert node.requests == 3
    assert node.connections == 3


@pytest.mark.parametrize(("mode", "message"), [
    ("http-500", "answered HTTP 500"),
    ("not-json", "reply that is not JSON"),
])  # fmt: skip
def test_a_bad_reply_is_one_line_and_the_next_request_works(
    node: Node, mode: str, message: str
) -> None:
    provider = KeepAliveHTTPProvider(node.url)
    node.mode = mode
    with pytest.raises(RpcUnavailableError, match=message) as info:
        provider.make_request("eth_blockNumber", [])
    assert "\n" not in str(info.value)
    node.mode = "ok"
    assert provider.make_request("eth_blockNumber", [])["result"] == "eth_blockNumber"


def test_a_refused_port_and_a_stopped_node_raise_rpc_unavailable(node: Node) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RpcUnavailableError, match="stopped answering"):
        KeepAliveHTTPProvider(f"http://127.0.0.1:{port}/").make_request("eth_blockNumber", [])
    provider = KeepAliveHTTPProvider(node.url)
    w3 = Web3(provider)
    node.mode = "close-after"
    assert w3.is_connected()
    node.shutdown()  # and the connection it served is closed: as when the node's process ends
    node.server_close()
    with pytest.raises(RpcUnavailableError, match="stopped answering"):
        provider.make_request("eth_blockNumber", [])
    assert not w3.is_connected()  # web3's check sees an OSError, as from its own provider


def test_a_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(RpcUnavailableError, match="expected http"):
        KeepAliveHTTPProvider("ws://127.0.0.1:8545")
