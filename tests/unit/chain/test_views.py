"""`Views`: calldata, result shapes and error handling over a fake provider (no node).

The shapes are checked against web3's own calls on a real contract in
tests/contracts/happy_path.py (`_views_match_web3`, on Anvil and Ganache)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from dppdl.chain.abi import FunctionSpec
from dppdl.chain.reverts import UnknownRevert, revert_class
from dppdl.chain.views import Views
from dppdl.errors import ChainError

A1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
A2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _fn(name: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "function", "name": name, "stateMutability": "view",
            "inputs": inputs, "outputs": outputs}  # fmt: skip


ROW = {"type": "tuple[]", "name": "", "components": [
    {"type": "address", "name": "who"}, {"type": "uint256", "name": "amount"}]}  # fmt: skip
ABI = [
    _fn("rows", [{"type": "uint256", "name": "id"}, {"type": "address", "name": "a"}],
        [ROW, {"type": "bytes32", "name": ""}]),
    _fn("count", [], [{"type": "uint256", "name": ""}]),
    _fn("ids", [], [{"type": "uint64[]", "name": ""}]),
    _fn("twice", [{"type": "uint256", "name": ""}], [{"type": "uint256", "name": ""}]),
    _fn("twice", [{"type": "address", "name": ""}], [{"type": "uint256", "name": ""}]),
    {"type": "function", "name": "commit", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [{"type": "uint256", "name": "task"}, {**ROW, "name": "rows"},
                {"type": "bytes32[]", "name": "digests"}]},
    {"type": "error", "name": "Nope", "inputs": [{"type": "uint256", "name": "code"}]},
]


class FakeProvider:
    """Answers each eth_call with the next canned response; records what was asked."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, Any]] = []
        self.batches = 0

    def make_request(self, method: str, params: Any) -> dict[str, Any]:
        self.requests.append((method, params))
        return {"jsonrpc": "2.0", "id": len(self.requests), **self.answers.pop(0)}

    def make_batch_request(self, requests: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        self.batches += 1
        return [self.make_request(m, p) for m, p in requests]


def _views(*answers: dict[str, Any]) -> tuple[Views, FakeProvider]:
    provider = FakeProvider(*answers)
    return Views(SimpleNamespace(provider=provider), CONTRACT, ABI), provider  # type: ignore[arg-type]


def _ok(types: list[str], values: list[Any]) -> dict[str, Any]:
    return {"result": "0x" + encode(types, values).hex()}


def test_calldata_is_what_web3_encodes() -> None:
    views, provider = _views(_ok(["(address,uint256)[]", "bytes32"], [[], b"\0" * 32]))
    views.call("rows", 7, A1)
    (method, (tx, block)), = provider.requests
    expected = Web3().eth.contract(abi=ABI).encode_abi("rows", [7, A1])
    assert (method, tx, block) == ("eth_call", {"to": CONTRACT, "data": expected}, "latest")


def test_results_have_web3_shapes() -> None:
    rows = [(A1.lower(), 5), (A2.lower(), 6)]
    views, _ = _views(
        _ok(["(address,uint256)[]", "bytes32"], [rows, b"\x01" * 32]),
        _ok(["uint256"], [42]),
        _ok(["uint64[]"], [[3, 1, 2]]),
    )
    assert views.call("rows", 1, A1) == [[(A1, 5), (A2, 6)], b"\x01" * 32]  # checksummed
    assert views.call("count") == 42  # one output: the value itself
    assert views.call("ids") == [3, 1, 2]  # arrays are lists, as web3 returns them


def test_block_number_is_sent_in_hex() -> None:
    views, provider = _views(_ok(["uint256"], [1]))
    views.call("count", block=255)
    assert provider.requests[0][1][1] == "0xff"


def test_call_many_is_one_batch_in_order() -> None:
    views, provider = _views(_ok(["uint256"], [1]), _ok(["uint64[]"], [[9]]), _ok(["uint256"], [3]))
    out = views.call_many([("count", ()), ("ids", ()), ("count", ())], block=16)
    assert out == [1, [9], 3]
    assert provider.batches == 1
    assert [p[1] for _, p in provider.requests] == ["0x10"] * 3


def test_head_and_call_many_reads_the_block_number_in_the_same_batch() -> None:
    views, provider = _views({"result": "0x2a"}, _ok(["uint256"], [1]), _ok(["uint64[]"], [[9]]))
    head, out = views.head_and_call_many([("count", ()), ("ids", ())])
    assert (head, out) == (42, [1, [9]])
    assert provider.batches == 1
    assert [m for m, _ in provider.requests] == ["eth_blockNumber", "eth_call", "eth_call"]
    assert [p[1] for m, p in provider.requests if m == "eth_call"] == ["latest"] * 2


def test_head_and_logs_is_one_batch_and_drops_removed_logs() -> None:
    kept, removed = {"blockNumber": "0x7", "topics": ["0x01"]}, {"removed": True, "topics": []}
    views, provider = _views({"result": "0x9"}, {"result": [kept, removed]})
    assert views.head_and_logs(["0x01", None], from_block=5) == (9, [kept])
    assert provider.batches == 1
    (_, (query,)) = provider.requests[1]
    assert query == {"address": CONTRACT, "topics": ["0x01", None], "fromBlock": "0x5",
                     "toBlock": "latest"}  # fmt: skip


def test_head_and_logs_with_no_new_block_is_empty_although_the_node_refuses_the_range() -> None:
    views, _ = _views({"result": "0x9"}, {"error": {"code": -32602, "message": "block height"}})
    assert views.head_and_logs(["0x01"], from_block=10) == (9, [])


def test_custom_error_is_raised_by_name() -> None:
    data = "0x" + (keccak(text="Nope(uint256)")[:4] + encode(["uint256"], [7])).hex()
    views, _ = _views({"error": {"code": 3, "message": "execution reverted", "data": data}})
    with pytest.raises(revert_class("Nope")) as info:
        views.call("count")
    assert info.value.fields == {"code": 7}


def test_ganache_shaped_revert_and_revert_without_data() -> None:
    data = "0x" + (keccak(text="Nope(uint256)")[:4] + encode(["uint256"], [8])).hex()
    views, _ = _views(
        {"error": {"code": -32000, "message": "VM Exception", "data": {"result": data}}},
        _ok(["uint256"], [1]),
        {"error": {"code": -32000, "message": "execution reverted"}},
    )
    with pytest.raises(revert_class("Nope")):
        views.call_many([("count", ()), ("count", ())])
    with pytest.raises(UnknownRevert, match="execution reverted"):
        views.call("count")


def test_other_errors_and_empty_results_are_chain_errors() -> None:
    views, _ = _views({"error": {"code": -32601, "message": "method not found"}}, {"result": "0x"})
    with pytest.raises(ChainError, match="eth_call count failed"):
        views.call("count")
    with pytest.raises(ChainError, match="is the contract deployed at this address"):
        views.call("count")


def test_overloaded_and_unknown_names_are_refused() -> None:
    views, provider = _views()
    for name in ("twice", "missing"):
        with pytest.raises(ChainError, match=f"no \\(unique\\) function '{name}'"):
            views.call(name, 1)
    assert provider.requests == []


def test_transaction_calldata_matches_web3() -> None:
    """TxSender.build encodes a transaction from the ABI entry web3 matched (FunctionSpec)."""
    contract = Web3().eth.contract(address=CONTRACT, abi=ABI)
    fn = contract.functions.commit(3, [(A1, 1), (A2, 2)], [b"\x07" * 32])
    assert FunctionSpec.of(fn.abi).calldata(fn.arguments) == fn._encode_transaction_data()
