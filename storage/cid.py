"""CIDv1 addresses (raw codec, sha2-256, base32 lower): the string IPFS prints for a raw block."""

from __future__ import annotations

import base64
import hashlib
import re

from storage.errors import InvalidCid

CID_VERSION = 1
RAW_CODEC = 0x55  # multicodec "raw": the block is the blob's bytes
SHA2_256 = 0x12  # multihash function code
DIGEST_SIZE = 32
MULTIBASE_BASE32 = "b"  # multibase prefix for RFC 4648 base32, lower case, no padding

_PREFIX = bytes([CID_VERSION, RAW_CODEC, SHA2_256, DIGEST_SIZE])
CID_LENGTH = 1 + (len(_PREFIX) + DIGEST_SIZE) * 8 // 5 + 1  # 59 characters
_BASE32_CHARS = re.compile(r"[a-z2-7]*")
_CODEC_NAMES = {0x70: "dag-pb", 0x71: "dag-cbor", 0x0129: "dag-json", 0x55: "raw"}


def cid_from_digest(digest: bytes) -> str:
    """The CID naming the blob whose sha2-256 digest is `digest` (32 bytes, as stored on chain)."""
    if not isinstance(digest, bytes | bytearray) or len(digest) != DIGEST_SIZE:
        raise InvalidCid(f"a sha2-256 digest is {DIGEST_SIZE} bytes, got {_describe(digest)}")
    text = base64.b32encode(_PREFIX + bytes(digest)).decode("ascii").rstrip("=").lower()
    return MULTIBASE_BASE32 + text


def cid_of(data: bytes) -> str:
    """The CID of `data` as a raw block."""
    return cid_from_digest(hashlib.sha256(data).digest())


def digest_from_cid(cid: str) -> bytes:
    """The 32-byte sha2-256 digest a CID names; raises InvalidCid for anything else."""
    if not isinstance(cid, str):
        raise InvalidCid(f"a CID is a string, got {_describe(cid)}")
    shown = cid if len(cid) <= 80 else cid[:77] + "..."
    if not cid:
        raise InvalidCid("empty CID")
    if cid.startswith("Qm"):
        raise InvalidCid(f"CIDv0 {shown!r} is not supported: use a CIDv1 raw (bafkrei...) address")
    if cid[0] != MULTIBASE_BASE32:
        raise InvalidCid(f"CID {shown!r}: multibase {cid[0]!r} not supported, only base32 'b'")
    body = cid[1:]
    if not _BASE32_CHARS.fullmatch(body):
        raise InvalidCid(f"CID {shown!r} has characters outside lower-case base32")
    padded = body.upper() + "=" * (-len(body) % 8)
    try:
        raw = base64.b32decode(padded)
    except ValueError as exc:
        raise InvalidCid(f"CID {shown!r} is not valid base32") from exc
    _check_header(raw, shown)
    digest = raw[len(_PREFIX) :]
    if cid_from_digest(digest) != cid:  # rejects stray trailing bits and non-canonical forms
        raise InvalidCid(f"CID {shown!r} is not in canonical form")
    return digest


def validate_cid(cid: str) -> str:
    """Return `cid` unchanged if it is a valid CID, else raise InvalidCid."""
    digest_from_cid(cid)
    return cid


def _check_header(raw: bytes, shown: str) -> None:
    version, rest = _read_varint(raw, shown)
    if version != CID_VERSION:
        raise InvalidCid(f"CID {shown!r}: version {version} not supported, only CIDv1")
    codec, rest = _read_varint(rest, shown)
    if codec != RAW_CODEC:
        name = _CODEC_NAMES.get(codec, hex(codec))
        raise InvalidCid(f"CID {shown!r}: codec {name} not supported, only raw (0x55)")
    function, rest = _read_varint(rest, shown)
    if function != SHA2_256:
        raise InvalidCid(f"CID {shown!r}: hash {hex(function)} not supported, only sha2-256")
    size, rest = _read_varint(rest, shown)
    if size != DIGEST_SIZE or len(rest) != DIGEST_SIZE:
        raise InvalidCid(f"CID {shown!r}: digest must be {DIGEST_SIZE} bytes, got {len(rest)}")


def _read_varint(data: bytes, shown: str) -> tuple[int, bytes]:
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, data[i + 1 :]
    raise InvalidCid(f"CID {shown!r} is truncated or has a malformed varint")


def _describe(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return f"{len(value)} bytes"
    return type(value).__name__
