"""Versioned blob format: header (magic, version, seal kind, slot, sizes), sealed key, body."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from dppdl.crypto.codec import RING_WORDS
from dppdl.crypto.errors import CryptoInputError
from dppdl.errors import BlobFormatError

MAGIC = b"DPGB"  # "dppdl gradient blob"
VERSION = 2  # bump on any layout change; unknown versions are rejected
V1 = 1  # still read: version 1 had no word size (that byte was reserved, zero): 64-bit words
WORD_BYTES = tuple(w.itemsize for w in RING_WORDS)  # a blob's plaintext is ring words: 4 or 8
ADDRESS_LEN = 20  # Ethereum address bytes
MAX_ELEMENTS = 2**31  # most ring words in one blob (16 GiB of uint64): rejects absurd sizes
GCM_TAG_LEN = 16
UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1

# magic, version, seal kind, word bytes (4 or 8; 0 in version 1), reserved, task, epoch,
# request id, sender, receiver, sealed-key length, element count, ciphertext length — all
# big-endian. Version 1 had one reserved uint16 where version 2 has word bytes and reserved.
_HEADER = struct.Struct(">4sBBBB32sQ32s20s20sHQQ")
HEADER_LEN = _HEADER.size


class SealKind(IntEnum):
    """How layer 3 wraps the fresh blob key for the receiver."""

    X25519 = 1  # ephemeral-static X25519 + HKDF-SHA256 + AES-256-GCM (default)
    RSA_OAEP_2048 = 2  # RSA-OAEP-2048 with SHA-256 (the paper's choice, for parity)


SEALED_KEY_LEN = {SealKind.X25519: 32 + 32 + GCM_TAG_LEN, SealKind.RSA_OAEP_2048: 256}


def check_address(value: bytes, what: str) -> bytes:
    """Return `value` as bytes if it is a 20-byte address, else raise CryptoInputError."""
    if not isinstance(value, bytes | bytearray) or len(value) != ADDRESS_LEN:
        raise CryptoInputError(f"{what} must be a {ADDRESS_LEN}-byte address")
    return bytes(value)


def _check_uint(value: int, limit: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise CryptoInputError(f"{what} must be an integer in [0, {limit}]")


@dataclass(frozen=True)
class Slot:
    """Where a blob belongs: bound into the associated data of layers 2 and 3."""

    task: int  # on-chain task id (uint256)
    epoch: int  # training epoch (uint64)
    sender: bytes  # uploader's 20-byte address
    receiver: bytes  # downloader's 20-byte address
    request_id: int  # on-chain download request id (uint256)

    def __post_init__(self) -> None:
        _check_uint(self.task, UINT256_MAX, "task")
        _check_uint(self.epoch, UINT64_MAX, "epoch")
        _check_uint(self.request_id, UINT256_MAX, "request_id")
        object.__setattr__(self, "sender", check_address(self.sender, "sender"))
        object.__setattr__(self, "receiver", check_address(self.receiver, "receiver"))
        if self.sender == self.receiver:
            raise CryptoInputError("sender and receiver must differ")


@dataclass(frozen=True)
class BlobHeader:
    """The parsed fixed-size header of a blob."""

    slot: Slot
    seal_kind: SealKind
    elements: int  # number of ring words in the plaintext
    word_bytes: int = 8  # 4 (uint32 ring) or 8 (uint64 ring)

    def __post_init__(self) -> None:
        if self.word_bytes not in WORD_BYTES:
            raise CryptoInputError(f"word_bytes must be 4 or 8, not {self.word_bytes!r}")

    @property
    def sealed_key_len(self) -> int:
        return SEALED_KEY_LEN[self.seal_kind]

    @property
    def ciphertext_len(self) -> int:
        return self.word_bytes * self.elements + GCM_TAG_LEN

    @property
    def total_len(self) -> int:
        return HEADER_LEN + self.sealed_key_len + self.ciphertext_len

    def pack(self) -> bytes:
        s = self.slot
        return _HEADER.pack(
            MAGIC, VERSION, int(self.seal_kind), self.word_bytes, 0,
            s.task.to_bytes(32, "big"), s.epoch, s.request_id.to_bytes(32, "big"),
            s.sender, s.receiver,
            self.sealed_key_len, self.elements, self.ciphertext_len,
        )  # fmt: skip


@dataclass(frozen=True)
class ParsedBlob:
    """A blob split into its parts; `header_bytes` is the associated data of layers 2 and 3."""

    header: BlobHeader
    header_bytes: bytes
    sealed_key: bytes
    ciphertext: memoryview


def parse_blob(data: bytes) -> ParsedBlob:
    """Split and validate a blob; anything malformed raises BlobFormatError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BlobFormatError("a blob must be bytes")
    view = memoryview(data).cast("B")
    if len(view) < HEADER_LEN:
        raise BlobFormatError(f"blob too short for a header ({len(view)} < {HEADER_LEN} bytes)")
    (magic, version, kind, word_bytes, reserved, task, epoch, request_id, sender, receiver,
     sealed_len, elements, ct_len) = _HEADER.unpack_from(view)  # fmt: skip
    if magic != MAGIC:
        raise BlobFormatError("not a dppdl gradient blob (bad magic)")
    if version not in (V1, VERSION):
        raise BlobFormatError(f"unsupported blob version {version} (expected {VERSION})")
    if kind not in SealKind._value2member_map_:
        raise BlobFormatError(f"unknown seal kind {kind}")
    if reserved != 0 or (version == V1 and word_bytes != 0):
        raise BlobFormatError("reserved header field is not zero")
    if version == V1:
        word_bytes = 8
    elif word_bytes not in WORD_BYTES:
        raise BlobFormatError(f"word size {word_bytes} bytes is neither 4 nor 8")
    if elements > MAX_ELEMENTS:
        raise BlobFormatError(f"element count {elements} exceeds the limit {MAX_ELEMENTS}")
    try:
        slot = Slot(
            task=int.from_bytes(task, "big"), epoch=epoch, sender=sender, receiver=receiver,
            request_id=int.from_bytes(request_id, "big"),
        )  # fmt: skip
    except CryptoInputError as exc:
        raise BlobFormatError(f"invalid slot in header: {exc}") from None
    header = BlobHeader(slot=slot, seal_kind=SealKind(kind), elements=elements,
                        word_bytes=word_bytes)  # fmt: skip
    if sealed_len != header.sealed_key_len or ct_len != header.ciphertext_len:
        raise BlobFormatError("size fields are inconsistent with the seal kind or element count")
    if len(view) != header.total_len:
        raise BlobFormatError(f"blob is {len(view)} bytes, header says {header.total_len}")
    key_end = HEADER_LEN + sealed_len
    return ParsedBlob(
        header=header,
        header_bytes=bytes(view[:HEADER_LEN]),
        sealed_key=bytes(view[HEADER_LEN:key_end]),
        ciphertext=view[key_end:],
    )
