"""Decode revert data (custom errors, Panic, Error(string)) into named ContractRevert subclasses."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError, Web3RPCError

from dppdl.chain.abi import abi_type
from dppdl.errors import ContractRevert

# Solidity's built-in Panic codes (docs: "Panic via assert and error via require").
PANIC_CODES: dict[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero-initialised function",
}


@dataclass(frozen=True)
class ErrorSpec:
    """One error signature from an ABI."""

    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"

    @property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]


def error_specs(abi: Iterable[Mapping[str, Any]]) -> list[ErrorSpec]:
    return [
        ErrorSpec(
            name=str(item["name"]),
            types=tuple(abi_type(p) for p in item.get("inputs", [])),
            names=tuple(str(p.get("name") or f"arg{i}") for i, p in enumerate(item["inputs"])),
        )
        for item in abi
        if item.get("type") == "error"
    ]


_BUILTINS = (
    ErrorSpec("Error", ("string",), ("reason",)),
    ErrorSpec("Panic", ("uint256",), ("code",)),
)
_lock = threading.Lock()
_known: dict[bytes, ErrorSpec] = {spec.selector: spec for spec in _BUILTINS}
_classes: dict[str, type[NamedRevert]] = {}


def register_abi(abi: Iterable[Mapping[str, Any]]) -> None:
    """Make the custom errors of `abi` decodable everywhere (compile and load call this)."""
    with _lock:
        for spec in error_specs(abi):
            _known.setdefault(spec.selector, spec)


def known_errors() -> dict[str, ErrorSpec]:
    """Registered error specs by name (for listing and tests)."""
    with _lock:
        return {spec.name: spec for spec in _known.values()}


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, str) and not _ADDRESS.fullmatch(value):
        return repr(value)
    return str(value)


class NamedRevert(ContractRevert):
    """Base of the generated per-error classes: `.error_name`, decoded `.args`, `.fields`."""

    error_name: ClassVar[str] = ""

    def __init__(
        self,
        *args: Any,
        names: tuple[str, ...] = (),
        data: bytes = b"",
        tx_hash: str | None = None,
    ) -> None:
        super().__init__(*args)
        self.arg_names = names or tuple(f"arg{i}" for i in range(len(args)))
        self.data = data
        self.tx_hash = tx_hash

    @property
    def fields(self) -> dict[str, Any]:
        """Decoded arguments by their ABI parameter names."""
        return dict(zip(self.arg_names, self.args, strict=False))

    def __str__(self) -> str:
        if self.error_name == "Panic" and self.args:
            code = int(self.args[0])
            text = f"Panic(0x{code:02x}: {PANIC_CODES.get(code, 'unknown panic code')})"
        else:
            parts = ", ".join(f"{n}={_fmt(v)}" for n, v in self.fields.items())
            text = f"{self.error_name}({parts})"
        where = f" in tx {self.tx_hash}" if self.tx_hash else ""
        return f"contract reverted{where}: {text}"


def revert_class(error_name: str) -> type[NamedRevert]:
    """The exception class for a custom error name (created on first use, one per name)."""
    with _lock:
        cls = _classes.get(error_name)
        if cls is None:
            cls = type(
                error_name,
                (NamedRevert,),
                {
                    "__module__": __name__,
                    "__doc__": f"The contract reverted with `{error_name}(...)`.",
                    "error_name": error_name,
                },
            )
            _classes[error_name] = cls
        return cls


class UnknownRevert(ContractRevert):
    """A revert whose data matches no known error selector (or carries no data)."""

    error_name: ClassVar[str] = "Unknown"

    def __init__(self, data: bytes = b"", *, message: str = "", tx_hash: str | None = None):
        super().__init__(data)
        self.data = data
        self.message = message
        self.tx_hash = tx_hash
        self.arg_names: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f" in tx {self.tx_hash}" if self.tx_hash else ""
        if self.data:
            return f"contract reverted{where} with unknown error data 0x{self.data.hex()}"
        return f"contract reverted{where}" + (f": {self.message}" if self.message else "")


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes.fromhex(data.removeprefix("0x"))


def decode_revert(
    data: bytes | str,
    *,
    abis: Iterable[Iterable[Mapping[str, Any]]] = (),
    tx_hash: str | None = None,
) -> ContractRevert:
    """The named exception for revert `data` (selector + ABI-encoded args); never raises."""
    raw = _as_bytes(data)
    specs = {s.selector: s for abi in abis for s in error_specs(abi)}
    with _lock:
        spec = specs.get(raw[:4]) or _known.get(raw[:4])
    if spec is None or len(raw) < 4:
        return UnknownRevert(raw, tx_hash=tx_hash)
    try:
        values = abi_decode(list(spec.types), raw[4:])
    except (DecodingError, ValueError, OverflowError):
        return UnknownRevert(raw, tx_hash=tx_hash)
    values = tuple(
        to_checksum_address(v) if t == "address" else v
        for t, v in zip(spec.types, values, strict=True)
    )
    return revert_class(spec.name)(*values, names=spec.names, data=raw, tx_hash=tx_hash)


_HEX_DATA = re.compile(r"0x[0-9a-fA-F]{8,}")


def revert_data(exc: BaseException) -> bytes | None:
    """Revert data carried by a web3 error (Anvil: hex string; Ganache: dict with `result`)."""
    data: Any = getattr(exc, "data", None)
    if data is None and isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        error = exc.rpc_response.get("error")
        data = error.get("data") if isinstance(error, dict) else None
    return _revert_bytes(data)


def _revert_bytes(data: Any) -> bytes | None:
    """The revert data in a JSON-RPC error's `data` field, in either node's shape."""
    if isinstance(data, dict):
        data = data.get("result") or data.get("data") or next(
            (v.get("return") for v in data.values() if isinstance(v, dict) and "return" in v),
            None,
        )
    if isinstance(data, str):
        match = _HEX_DATA.fullmatch(data.strip())
        if match:
            return _as_bytes(data.strip())
        if data in ("0x", ""):
            return b""
    if isinstance(data, bytes):
        return data
    return None


def revert_from_exception(
    exc: BaseException, *, tx_hash: str | None = None
) -> ContractRevert | None:
    """The decoded revert behind a web3 exception, or None if `exc` is not a revert."""
    if isinstance(exc, ContractRevert):
        return exc
    is_revert = isinstance(exc, ContractLogicError) or "revert" in str(exc).lower()
    message = str(getattr(exc, "message", None) or exc)
    return _revert(revert_data(exc), is_revert=is_revert, message=message, tx_hash=tx_hash)


def revert_from_rpc_error(error: Mapping[str, Any]) -> ContractRevert | None:
    """The decoded revert in a JSON-RPC error object (`{"code", "message", "data"}`), or None
    if the error is not a revert (an unknown method, a malformed request...)."""
    message = str(error.get("message") or "")
    return _revert(_revert_bytes(error.get("data")), is_revert="revert" in message.lower(),
                   message=message)  # fmt: skip


def _revert(
    data: bytes | None, *, is_revert: bool, message: str, tx_hash: str | None = None
) -> ContractRevert | None:
    if not is_revert and data is None:
        return None
    if data:
        return decode_revert(data, tx_hash=tx_hash)
    return UnknownRevert(b"", message=message, tx_hash=tx_hash)


@contextmanager
def decoding_reverts() -> Iterator[None]:
    """Re-raise any revert inside the block as its named ContractRevert subclass."""
    try:
        yield
    except (ContractLogicError, Web3RPCError) as exc:
        decoded = revert_from_exception(exc)
        if decoded is None:
            raise
        raise decoded from exc
