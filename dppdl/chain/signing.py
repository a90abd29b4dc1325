"""EIP-1559 transactions signed locally: RLP, Keccak and a recoverable secp256k1 signature.

eth_account's `sign_transaction` spends most of its 0.77 ms of CPU per call validating and
normalising fields. `Type2Signer` encodes and signs in 0.17 ms (benchmarks/chain.py), for
the one shape `TxSender.build` makes (type 2, no access list), and hands anything else to
eth_account. The bytes are the same: the signature is deterministic (RFC 6979, low s) in
both, which the unit tests check against eth_account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import coincurve
import rlp
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_canonical_address
from hexbytes import HexBytes

# The fields of a transaction this signer encodes itself; any other makes it defer.
_FIELDS = frozenset(
    {"type", "chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
     "data", "from"}
)  # fmt: skip
# All required, in the order of the type-2 encoding.
_NUMBERS = ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas")


class Type2Signer:
    """Signs type-2 transactions with `account`'s key; (raw bytes, hash) like eth_account."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account
        self._key = coincurve.PrivateKey(bytes(account.key))

    def sign(self, tx: Mapping[str, Any]) -> tuple[HexBytes, HexBytes]:
        if not self._plain_type2(tx):
            signed = self.account.sign_transaction(dict(tx))  # type: ignore[arg-type]
            return HexBytes(signed.raw_transaction), HexBytes(signed.hash)
        to = tx.get("to")
        fields: list[Any] = [  # the numbers are ints already (_plain_type2)
            *(tx[k] for k in _NUMBERS),
            to_canonical_address(to) if to else b"",
            tx.get("value", 0),
            bytes(HexBytes(tx.get("data", b""))),
            [],  # access list
        ]
        digest = keccak(b"\x02" + rlp.encode(fields))
        signature = self._key.sign_recoverable(digest, hasher=None)  # r (32) || s (32) || v
        r, s, y_parity = signature[:32], signature[32:64], signature[64]
        raw = b"\x02" + rlp.encode([*fields, y_parity, int.from_bytes(r), int.from_bytes(s)])
        return HexBytes(raw), HexBytes(keccak(raw))

    def _plain_type2(self, tx: Mapping[str, Any]) -> bool:
        """Type 2 as `TxSender.build` makes it: only known fields, int numbers, our sender."""
        return (
            tx.keys() <= _FIELDS
            and tx.get("type") == 2
            and all(_uint(tx.get(k)) for k in _NUMBERS)
            and _uint(tx.get("value", 0))
            and tx.get("from", self.account.address) == self.account.address
        )


def _uint(value: object) -> bool:
    return type(value) is int and 0 <= value < 2**256
