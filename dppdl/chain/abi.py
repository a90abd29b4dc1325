"""ABI entries read once: canonical types, signatures, selectors, calldata and results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_abi.grammar import ABIType, TupleType, parse
from eth_utils import keccak, to_checksum_address

from dppdl.errors import ChainError


def abi_type(param: Mapping[str, Any]) -> str:
    """Canonical type of an ABI parameter, structs expanded: `(uint256,address)[]`."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param.get("components", []))
        return f"({inner}){typ[len('tuple') :]}"
    return typ


def signature(item: Mapping[str, Any]) -> str:
    """`name(type,...)` of a function, error or event entry."""
    return f"{item['name']}({','.join(abi_type(p) for p in item.get('inputs', []))})"


def selector(item: Mapping[str, Any]) -> bytes:
    """The first 4 bytes of keccak256(signature): what calldata and error data start with."""
    return keccak(text=signature(item))[:4]


@dataclass(frozen=True)
class FunctionSpec:
    """One function of an ABI, ready to encode calls and decode results."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    shaped: tuple[ABIType | None, ...]  # per output: its parsed type if it holds arrays/addresses

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> FunctionSpec:
        outputs = tuple(abi_type(p) for p in item.get("outputs", []))
        return cls(
            name=str(item["name"]),
            selector=selector(item),
            inputs=tuple(abi_type(p) for p in item.get("inputs", [])),
            outputs=outputs,
            shaped=tuple(parse(t) if "address" in t or "[" in t else None for t in outputs),
        )

    def calldata(self, args: Sequence[Any]) -> str:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} arguments, got {len(args)}")
        return "0x" + (self.selector + encode(list(self.inputs), list(args))).hex()

    def result(self, data: str) -> Any:
        raw = bytes.fromhex(data.removeprefix("0x"))
        try:
            values = decode(list(self.outputs), raw)
        except (DecodingError, ValueError, OverflowError) as exc:
            raise ChainError(
                f"{self.name} returned {len(raw)} bytes that do not decode as "
                f"({','.join(self.outputs)}); is the contract deployed at this address?"
            ) from exc
        out = [v if t is None else _web3_shape(t, v)
               for t, v in zip(self.shaped, values, strict=True)]  # fmt: skip
        return out[0] if len(out) == 1 else out


def _web3_shape(typ: ABIType, value: Any) -> Any:
    """What web3 returns for a decoded value: arrays as lists, structs as tuples, addresses
    checksummed."""
    if typ.is_array:
        item = typ.item_type
        return [_web3_shape(item, v) for v in value]
    if isinstance(typ, TupleType):
        return tuple(_web3_shape(t, v) for t, v in zip(typ.components, value, strict=True))
    return to_checksum_address(value) if typ.to_type_str() == "address" else value
