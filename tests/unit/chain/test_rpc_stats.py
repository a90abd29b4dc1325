"""Round-trip counting: every POST is one round trip, a batch carries several methods."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from web3 import Web3

from dppdl.chain.http_provider import KeepAliveHTTPProvider
from dppdl.chain.rpc_stats import named, request_keys, selector_names

ERC20_ABI = [
    {"type": "function", "name": "transfer", "inputs": [
        {"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}]},
    {"type": "function", "name": "post", "inputs": [{"name": "p", "type": "tuple[]",
        "components": [{"name": "a", "type": "address"}, {"name": "d", "type": "bytes32"}]}]},
    {"type": "event", "name": "Transfer", "inputs": []},
]  # fmt: skip


class FakeNode(KeepAliveHTTPProvider):
    """Answers every JSON-RPC request with result 0x1, without a server."""

    def __init__(self, counts: Counter[str]) -> None:
        super().__init__("http://node.invalid", sink=lambda key, n: counts.update({key: n}))
        self.posts = 0

    def _round_trip(self, body: bytes) -> bytes:
        self.posts += 1
        payload = json.loads(body)
        reply: Any = (
            [{"jsonrpc": "2.0", "id": p["id"], "result": "0x1"} for p in payload]
            if isinstance(payload, list)
            else {"jsonrpc": "2.0", "id": payload["id"], "result": "0x1"}
        )
        return json.dumps(reply).encode()


def counted_web3() -> tuple[Web3, Counter[str], FakeNode]:
    counts: Counter[str] = Counter()
    node = FakeNode(counts)
    return Web3(node), counts, node


def test_every_post_is_one_round_trip_and_a_batch_carries_all_its_methods() -> None:
    w3, counts, node = counted_web3()
    w3.eth.block_number  # noqa: B018
    w3.eth.block_number  # noqa: B018
    with w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.get_block_number())
        batch.execute()
    assert counts["round_trips"] == 3 == node.posts
    assert counts["eth_blockNumber"] == 5


def test_the_chain_id_is_asked_once_and_then_answered_from_the_first_reply() -> None:
    w3, counts, node = counted_web3()
    assert w3.eth.chain_id == 1
    assert w3.eth.chain_id == 1
    assert counts["eth_chainId"] == 1 == node.posts


def test_eth_calls_are_tallied_by_selector_and_named_from_the_abi() -> None:
    w3, counts, _ = counted_web3()
    token = w3.eth.contract(address="0x" + "11" * 20, abi=ERC20_ABI)
    data = token.encode_abi("transfer", ["0x" + "22" * 20, 5])
    w3.eth.call({"to": token.address, "data": data})
    names = selector_names(ERC20_ABI)
    assert names["0xa9059cbb"] == "transfer"  # the well-known ERC-20 selector
    assert len(names) == 2  # functions only; the tuple[] signature is spelled out
    assert named(dict(counts), names)["call:transfer"] == 1
    assert counts["eth_call"] == 1


def test_an_unknown_selector_keeps_its_hex_and_odd_params_still_count_the_method() -> None:
    assert named({"call:0xdeadbeef": 2, "eth_call": 2}, {}) == {"call:0xdeadbeef": 2,
                                                                 "eth_call": 2}  # fmt: skip
    assert request_keys([("eth_call", []), ("eth_call", ["not a tx"])]) == [
        "eth_call", "call:", "eth_call", "call:"]  # fmt: skip
    assert request_keys([("eth_call", [{"input": "0xa9059cbb00"}, "latest"])]) == [
        "eth_call", "call:0xa9059cbb"]  # fmt: skip
