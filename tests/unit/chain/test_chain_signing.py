"""Type2Signer against eth_account: the same raw bytes and hash for every type-2 transaction."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from dppdl.chain.signing import Type2Signer

KEY = "0x" + "4c" * 32
ACCOUNT = Account.from_key(KEY)
SIGNER = Type2Signer(ACCOUNT)

uint256 = st.integers(min_value=0, max_value=2**256 - 1)
small = st.integers(min_value=0, max_value=2**64 - 1)
address = st.binary(min_size=20, max_size=20).map(to_checksum_address)


@st.composite
def type2(draw: st.DrawFn) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": draw(st.integers(min_value=1, max_value=2**32)),
        "nonce": draw(small),
        "maxPriorityFeePerGas": draw(uint256),
        "maxFeePerGas": draw(uint256),
        "gas": draw(small),
        "value": draw(uint256),
        "data": draw(st.binary(max_size=300)),
    }
    to = draw(st.none() | address)
    if to is not None:
        tx["to"] = to
    if draw(st.booleans()):
        tx["from"] = ACCOUNT.address
    return tx


@settings(max_examples=300, deadline=None)
@given(type2())
def test_the_same_bytes_and_hash_as_eth_account(tx: dict[str, Any]) -> None:
    raw, tx_hash = SIGNER.sign(tx)
    expected = ACCOUNT.sign_transaction(tx)
    assert raw == expected.raw_transaction
    assert tx_hash == expected.hash


def test_the_sender_is_recovered_from_the_signature() -> None:
    tx = {"type": 2, "chainId": 31337, "nonce": 7, "maxPriorityFeePerGas": 10**9,
          "maxFeePerGas": 3 * 10**9, "gas": 50_000, "to": ACCOUNT.address, "value": 1,
          "data": b"\x12\x34"}  # fmt: skip
    raw, _ = SIGNER.sign(tx)
    assert Account.recover_transaction(raw) == ACCOUNT.address


@pytest.mark.parametrize(
    "change",
    [
        {"type": None, "gasPrice": 10**9, "maxFeePerGas": None, "maxPriorityFeePerGas": None},
        {"accessList": [{"address": ACCOUNT.address, "storageKeys": []}]},
        {"nonce": "0x7"},
        {"value": 2**256},
    ],
    ids=["legacy", "access-list", "hex-nonce", "value-past-uint256"],
)
def test_other_shapes_are_signed_by_eth_account(change: dict[str, Any]) -> None:
    tx: dict[str, Any] = {"type": 2, "chainId": 1, "nonce": 7, "maxPriorityFeePerGas": 1,
                          "maxFeePerGas": 2, "gas": 21_000, "to": ACCOUNT.address,
                          "value": 0}  # fmt: skip
    tx.update(change)
    tx = {k: v for k, v in tx.items() if v is not None}
    raw, tx_hash = SIGNER.sign(tx)
    expected = ACCOUNT.sign_transaction(tx)
    assert (raw, tx_hash) == (expected.raw_transaction, expected.hash)


def test_another_sender_is_refused_like_eth_account() -> None:
    other = Account.from_key("0x" + "11" * 32).address
    tx = {"type": 2, "chainId": 1, "nonce": 0, "maxPriorityFeePerGas": 1, "maxFeePerGas": 2,
          "gas": 21_000, "to": other, "value": 0, "from": other}  # fmt: skip
    with pytest.raises(TypeError, match="from field must match"):
        SIGNER.sign(tx)

