"""Round-trip counting: every POST is one round trip, a batch carries several methods."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import requests
from requests.adapters import BaseAdapter
from web3 import HTTPProvider, Web3

from dppdl.chain.rpc_stats import counting_session, named, selector_names

ERC20_ABI = [
    {"type": "function", "name": "transfer", "inputs": [
        {"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}]},
    {"type": "function", "name": "post", "inputs": [{"name": "p", "type": "tuple[]",
        "components": [{"name": "a", "type": "address"}, {"name": "d", "type": "bytes32"}]}]},
    {"type": "event", "name": "Transfer", "inputs": []},
]  # fmt: skip


class FakeNode(BaseAdapter):
    """Answers every JSON-RPC request with result 0x1, without a server."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        payload = json.loads(request.body or b"null")
        reply: Any = (
            [{"jsonrpc": "2.0", "id": p["id"], "result": "0x1"} for p in payload]
            if isinstance(payload, list)
            else {"jsonrpc": "2.0", "id": payload["id"], "result": "0x1"}
        )
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(reply).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = str(request.url)
        return response

    def close(self) -> None:
        pass


def counted_web3() -> tuple[Web3, Counter[str]]:
    counts: Counter[str] = Counter()
    session = counting_session(lambda key, n: counts.update({key: n}))
    session.mount("http://", FakeNode())
    return Web3(HTTPProvider("http://node.invalid", session=session)), counts


def test_every_post_is_one_round_trip_and_a_batch_carries_all_its_methods() -> None:
    w3, counts = counted_web3()
    w3.eth.block_number  # noqa: B018
    w3.eth.block_number  # noqa: B018
    with w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.get_block_number())
        batch.execute()
    assert counts["round_trips"] == 3
    assert counts["eth_blockNumber"] == 5


def test_eth_calls_are_tallied_by_selector_and_named_from_the_abi() -> None:
    w3, counts = counted_web3()
    token = w3.eth.contract(address="0x" + "11" * 20, abi=ERC20_ABI)
    data = token.encode_abi("transfer", ["0x" + "22" * 20, 5])
    w3.eth.call({"to": token.address, "data": data})
    names = selector_names(ERC20_ABI)
    assert names["0xa9059cbb"] == "transfer"  # the well-known ERC-20 selector
    assert len(names) == 2  # functions only; the tuple[] signature is spelled out
    assert named(dict(counts), names)["call:transfer"] == 1
    assert counts["eth_call"] == 1


def test_an_unknown_selector_keeps_its_hex_and_a_garbled_body_is_counted_as_such() -> None:
    assert named({"call:0xdeadbeef": 2, "eth_call": 2}, {}) == {"call:0xdeadbeef": 2,
                                                                 "eth_call": 2}  # fmt: skip
    counts: Counter[str] = Counter()
    session = counting_session(lambda key, n: counts.update({key: n}))
    session.mount("http://", FakeNode())
    response = requests.Response()
    response.request = requests.Request("POST", "http://x", data=b"not json").prepare()
    for hook in session.hooks["response"]:
        hook(response)
    assert counts == {"round_trips": 1, "unparsed": 1}
