"""TxSender.wait: receipt polls back off from 2 ms to poll_interval; a timeout names the hash."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account

import dppdl.chain.tx as tx_module
from dppdl.chain.tx import TxSender, TxTimeoutError

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
