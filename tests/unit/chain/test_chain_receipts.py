"""TxSender.wait: receipt polls back off from 2 ms to poll_interval; a timeout names the hash.
TxSender.send_and_wait: the receipt in the reply of eth_sendRawTransactionSync, or by polls."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account

import dppdl.chain.tx as tx_module
from dppdl.chain.tx import TxSender, TxTimeoutError
from dppdl.errors import RpcUnavailableError

RECEIPT = {
    "transactionHash": "0x" + "ab" * 32, "transactionIndex": "0x0", "blockHash": "0x" + "cd" * 32,
    "blockNumber": "0x5", "from": "0x" + "11" * 20, "to": "0x" + "22" * 20,
    "cumulativeGasUsed": "0x5208", "gasUsed": "0x5208", "effectiveGasPrice": "0x1",
    "contractAddress": None, "logs": [], "logsBloom": "0x" + "00" * 256, "status": "0x1",
    "type": "0x2",
}  # fmt: skip


class Provider:
    """Answers eth_getTransactionReceipt with null `pending` times, then the receipt."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.polls = 0

    def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        assert method == "eth_getTransactionReceipt"
        self.polls += 1
        return {"result": None if self.polls <= self.pending else RECEIPT}


def sender(provider: Provider, **kwargs: Any) -> TxSender:
    w3 = SimpleNamespace(eth=SimpleNamespace(chain_id=31337), provider=provider)
    return TxSender(w3, Account.from_key("0x" + "4c" * 32), **kwargs)  # type: ignore[arg-type]


def test_pauses_double_from_2_ms_up_to_the_poll_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(tx_module.time, "sleep", pauses.append)
    provider = Provider(pending=7)
    receipt = sender(provider, poll_interval=0.05).wait("0x" + "ab" * 32)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert provider.polls == 8
    assert pauses == [0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]


def test_a_receipt_at_the_first_poll_needs_no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(tx_module.time, "sleep", pauses.append)
    sender(Provider(pending=0)).wait("0x" + "ab" * 32)
    assert pauses == []


def test_no_receipt_before_the_timeout_names_the_transaction() -> None:
    with pytest.raises(TxTimeoutError, match="0xabab.* not mined in 0 s"):
        sender(Provider(pending=10**9), poll_interval=0.001).wait("0x" + "ab" * 32, timeout=0.02)


# -- eth_sendRawTransactionSync (EIP-7966) ----------------------------------------------------

class Node:
    """A scripted node: `replies` maps a method to its reply (a result, or an error dict)."""

    def __init__(self, **replies: Any) -> None:
        self.replies = {"eth_getBlockByNumber": {"number": "0x5", "baseFeePerGas": "0x1"},
                        "eth_maxPriorityFeePerGas": "0x1", "eth_getTransactionCount": "0x0",
                        "eth_sendRawTransaction": "0x" + "ab" * 32,
                        "eth_getTransactionReceipt": RECEIPT, **replies}  # fmt: skip
        self.methods: list[str] = []

    def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.methods.append(method)
        reply = self.replies.get(method, {"error": {"code": -32601, "message": "Method not found"}})
        if isinstance(reply, dict) and "error" in reply:
            return reply
        return {"result": reply}


class Recording(TxSender):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mined: list[Any] = []

    def on_mined(self, receipt: Any) -> None:
        self.mined.append(receipt)


def _send_twice(node: Node) -> Recording:
    w3 = SimpleNamespace(eth=SimpleNamespace(chain_id=31337), provider=node)
    s = Recording(w3, Account.from_key("0x" + "4c" * 32))  # type: ignore[arg-type]
    for _ in range(2):
        receipt = s.transfer("0x" + "22" * 20, value_wei=1)
        assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert [r["blockNumber"] for r in s.mined] == [5, 5]  # the hook saw both receipts
    return s


def _sends(node: Node) -> list[str]:
    return [m for m in node.methods if m.startswith("eth_send") or m.endswith("Receipt")]


def test_a_node_with_the_method_returns_the_receipt_in_the_same_round_trip() -> None:
    node = Node(eth_sendRawTransactionSync=RECEIPT)
    s = _send_twice(node)
    assert s.sync is True and _sends(node) == ["eth_sendRawTransactionSync"] * 2


def test_a_node_without_the_method_is_asked_once_then_sent_to() -> None:  # Ganache
    node = Node(eth_sendRawTransactionSync={"error": {
        "code": -32700, "message": "The method eth_sendRawTransactionSync does not exist"}})
    s = _send_twice(node)
    assert s.sync is False
    assert _sends(node) == ["eth_sendRawTransactionSync", "eth_sendRawTransaction",
                            "eth_getTransactionReceipt", "eth_sendRawTransaction",
                            "eth_getTransactionReceipt"]  # fmt: skip


def test_a_node_that_stops_waiting_leaves_the_receipt_to_polls() -> None:
    node = Node(eth_sendRawTransactionSync={"error": {
        "code": 4, "message": "timeout", "data": "0x" + "ab" * 32}})
    s = _send_twice(node)
    assert s.sync is True  # the method exists; the next transaction uses it again
    assert _sends(node) == ["eth_sendRawTransactionSync", "eth_getTransactionReceipt"] * 2


def test_a_node_that_holds_the_request_past_the_connection_timeout_is_polled_from_then() -> None:
    class Slow(Node):  # a chain with long blocks: no reply within the provider's timeout
        def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
            if method == "eth_sendRawTransactionSync":
                self.methods.append(method)
                raise RpcUnavailableError("stopped answering: timed out") from TimeoutError()
            return super().make_request(method, params)

    s = _send_twice(node := Slow())
    assert s.sync is False
    assert _sends(node) == ["eth_sendRawTransactionSync", "eth_getTransactionReceipt",
                            "eth_sendRawTransaction", "eth_getTransactionReceipt"]  # fmt: skip


def test_an_estimate_carries_the_fee_block_read_in_its_batch_when_fees_are_stale() -> None:
    class Batching(Node):
        batches: list[list[str]] = []

        def make_batch_request(self, requests: list[tuple[str, Any]]) -> list[dict[str, Any]]:
            self.batches.append([m for m, _ in requests])
            return [self.make_request(m, p) for m, p in requests]

    node = Batching(eth_estimateGas="0x5208", eth_sendRawTransactionSync=RECEIPT)
    w3 = SimpleNamespace(eth=SimpleNamespace(chain_id=31337), provider=node)
    s = TxSender(w3, Account.from_key("0x" + "4c" * 32), fee_ttl=60.0)  # type: ignore[arg-type]
    first = s.build(to="0x" + "22" * 20)
    second = s.build(to="0x" + "22" * 20)
    assert node.batches == [["eth_estimateGas", "eth_getBlockByNumber"]]  # the second: fresh fees
    assert node.methods.count("eth_getBlockByNumber") == 1
    assert first["gas"] == second["gas"] == int(21_000 * 1.25)
    assert first["maxFeePerGas"] == 2 * 1 + 1  # base fee 1 × 2 + tip 1
