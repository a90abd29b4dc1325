"""Revert decoding from crafted revert data: custom errors, Panic, Error(string), unknown."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st
from web3.exceptions import ContractCustomError, ContractLogicError

from dppdl.chain.reverts import (
    UnknownRevert,
    decode_revert,
    decoding_reverts,
    error_specs,
    register_abi,
    revert_class,
    revert_from_exception,
)
from dppdl.errors import ContractRevert

ABI = [
    {
        "type": "error",
        "name": "PointsInsufficientBalance",
        "inputs": [
            {"name": "party", "type": "address"},
            {"name": "balance", "type": "uint256"},
            {"name": "needed", "type": "uint256"},
        ],
    },
    {
        "type": "error",
        "name": "TaskWrongState",
        "inputs": [{"name": "taskId", "type": "uint256"}, {"name": "state", "type": "uint8"}],
    },
    {"type": "error", "name": "NoArgs", "inputs": []},
    {"type": "function", "name": "f", "inputs": [], "outputs": []},
]
PARTY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _data(signature: str, types: list[str], values: list[object]) -> bytes:
    return keccak(text=signature)[:4] + encode(types, values)


def test_custom_error_decodes_to_named_class_with_typed_args() -> None:
    # Prepare
    register_abi(ABI)
    data = _data("PointsInsufficientBalance(address,uint256,uint256)",
                 ["address", "uint256", "uint256"], [PARTY, 5, 9])
    # Execute
    exc = decode_revert(data)
    # Assert
    assert type(exc) is revert_class("PointsInsufficientBalance")
    assert isinstance(exc, ContractRevert)
    assert exc.error_name == "PointsInsufficientBalance"
    assert exc.args == (PARTY, 5, 9)
    assert exc.fields == {"party": PARTY, "balance": 5, "needed": 9}
    assert exc.data == data
    assert str(exc) == (
        f"contract reverted: PointsInsufficientBalance(party={PARTY}, balance=5, needed=9)"
    )


def test_revert_class_is_one_class_per_name_and_catchable() -> None:
    register_abi(ABI)
    cls = revert_class("NoArgs")
    assert revert_class("NoArgs") is cls
    with pytest.raises(cls):
        raise decode_revert(keccak(text="NoArgs()")[:4])


def test_explicit_abis_decode_without_registration() -> None:
    abi = [{"type": "error", "name": "OnlyHere", "inputs": [{"name": "x", "type": "int8"}]}]
    exc = decode_revert(_data("OnlyHere(int8)", ["int8"], [-3]), abis=[abi])
    assert exc.error_name == "OnlyHere"
    assert exc.args == (-3,)


def test_panic_and_error_string() -> None:
    panic = decode_revert(_data("Panic(uint256)", ["uint256"], [0x11]))
    reason = decode_revert(_data("Error(string)", ["string"], ["plain reason"]))
    assert panic.error_name == "Panic" and panic.args == (0x11,)
    assert "arithmetic overflow or underflow" in str(panic)
    assert reason.error_name == "Error" and reason.args == ("plain reason",)
    assert "plain reason" in str(reason)


@pytest.mark.parametrize("data", [b"\xde\xad\xbe\xef" + b"\x00" * 32, b"\x01\x02", b""])
def test_unknown_selector_keeps_raw_data(data: bytes) -> None:
    exc = decode_revert(data)
    assert isinstance(exc, UnknownRevert)
    assert isinstance(exc, ContractRevert)
    assert exc.data == data


def test_truncated_arguments_are_unknown_not_a_crash() -> None:
    register_abi(ABI)
    data = _data("TaskWrongState(uint256,uint8)", ["uint256", "uint8"], [1, 2])[:20]
    assert isinstance(decode_revert(data), UnknownRevert)


def test_tuple_types_expand_in_signature() -> None:
    abi = [{"type": "error", "name": "S", "inputs": [{
        "name": "s", "type": "tuple[]",
        "components": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "bytes32"}],
    }]}]
    assert error_specs(abi)[0].signature == "S((uint256,bytes32)[])"


def test_web3_exceptions_are_decoded() -> None:
    # Prepare: Anvil puts hex data on the error; Ganache nests it in a dict.
    register_abi(ABI)
    data = _data("TaskWrongState(uint256,uint8)", ["uint256", "uint8"], [7, 3])
    anvil_style = ContractCustomError("0x" + data.hex(), data="0x" + data.hex())
    ganache_style = ContractLogicError("execution reverted", data={"result": "0x" + data.hex()})
    # Execute / Assert
    for exc in (anvil_style, ganache_style):
        decoded = revert_from_exception(exc)
        assert decoded is not None and decoded.error_name == "TaskWrongState"
        assert decoded.args == (7, 3)
    assert revert_from_exception(ValueError("unrelated")) is None
    with pytest.raises(revert_class("TaskWrongState")), decoding_reverts():
        raise anvil_style


def test_revert_without_data_is_unknown_with_message() -> None:
    decoded = revert_from_exception(ContractLogicError("execution reverted", data=None))
    assert isinstance(decoded, UnknownRevert)
    assert "execution reverted" in str(decoded)


@given(
    party=st.binary(min_size=20, max_size=20),
    balance=st.integers(min_value=0, max_value=2**256 - 1),
    needed=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_roundtrip_any_uint256_and_address(party: bytes, balance: int, needed: int) -> None:
    register_abi(ABI)
    address = to_checksum_address(party)
    data = _data("PointsInsufficientBalance(address,uint256,uint256)",
                 ["address", "uint256", "uint256"], [address, balance, needed])
    exc = decode_revert(data)
    assert exc.args == (address, balance, needed)
