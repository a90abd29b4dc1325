"""`DppdlClient`'s raw log reads: DisputeFiled ids and UploadCommitted hashes, no web3 decoding."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from dppdl.chain.clients.dppdl import DppdlClient

CONTRACT = "0x" + "11" * 20


def _event(name: str, inputs: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {"type": "event", "name": name, "anonymous": False,
            "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs]}  # fmt: skip


ABI = [
    _event("UploadCommitted", [("taskId", "uint256", True), ("requestId", "uint256", True),
                               ("uploader", "address", True), ("receiver", "address", False),
                               ("amount", "uint256", False), ("blobDigest", "bytes32", False),
                               ("keyHash", "bytes32", False)]),
    _event("DisputeFiled", [("taskId", "uint256", True), ("requestId", "uint256", True),
                            ("receiver", "address", True), ("uploader", "address", False),
                            ("deposit", "uint256", False), ("heldPayment", "uint256", False)]),
]  # fmt: skip


def _word(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


class FakeViews:
    def __init__(self, logs: list[dict[str, Any]], head: int = 50) -> None:
        self.result, self.head, self.queries = logs, head, []

    def logs(self, topics: list[Any], *, from_block: int, to_block: Any) -> list[dict[str, Any]]:
        self.queries.append((topics, from_block, to_block))
        return self.result

    def head_and_logs(self, topics: list[Any], *, from_block: int) -> tuple[int, list[Any]]:
        self.queries.append((topics, from_block, "latest"))
        return self.head, self.result


def _client(views: FakeViews) -> DppdlClient:
    contract: Any = SimpleNamespace(address=CONTRACT, abi=ABI, w3=None)
    return DppdlClient(contract, views=views)  # type: ignore[arg-type]


def test_upload_commitments_reads_the_hashes_from_the_data_words() -> None:
    topic = "0x" + keccak(text="UploadCommitted(uint256,uint256,address,address,uint256,"
                               "bytes32,bytes32)").hex()  # fmt: skip
    data = encode(["address", "uint256", "bytes32", "bytes32"],
                  ["0x" + "22" * 20, 500, b"\xaa" * 32, b"\xbb" * 32])  # fmt: skip
    log = {"topics": [topic, _word(3), _word(17), _word(0)], "data": "0x" + data.hex()}
    views = FakeViews([log])
    found = _client(views).upload_commitments(3, [17, 18], from_block=9, to_block=12)
    assert found == {17: (b"\xaa" * 32, b"\xbb" * 32)}
    assert views.queries == [([topic, _word(3), [_word(17), _word(18)]], 9, 12)]


def test_disputes_filed_gives_blocks_ids_and_the_head_read_with_them() -> None:
    topic = "0x" + keccak(text="DisputeFiled(uint256,uint256,address,address,uint256,"
                               "uint256)").hex()  # fmt: skip
    log = {"topics": [topic, _word(3), _word(21), _word(0)], "blockNumber": "0x31"}
    views = FakeViews([log], head=48)
    assert _client(views).disputes_filed(3, from_block=40) == (48, [(49, 21)])
    assert _client(views).disputes_filed(3, from_block=40, to_block=45) == (45, [(49, 21)])
    assert [q[2] for q in views.queries] == ["latest", 45]
    assert views.queries[0][0] == [topic, _word(3)]
