"""Layers 2 and 3: AES-256-GCM under a fresh key per blob, that key sealed to the receiver."""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dppdl.crypto.blob import HEADER_LEN, BlobHeader, ParsedBlob, SealKind, Slot, parse_blob
from dppdl.crypto.codec import RING_WORDS
from dppdl.crypto.errors import CryptoInputError, InsecureRandomnessWarning
from dppdl.crypto.keys import PartyKeys
from dppdl.crypto.primitives import (
    KEY_LEN,
    NONCE_LEN,
    aes_gcm_decrypt,
    aes_gcm_decrypt_into,
    aes_gcm_encrypt,
    aes_gcm_encrypt_into,
    hkdf_sha256,
    x25519_agree,
    x25519_public_bytes,
)
from dppdl.errors import DecryptionError

Rng = Callable[[int], bytes]
_ZERO_NONCE = bytes(NONCE_LEN)  # every AES-GCM key here encrypts exactly one message
_SEAL_INFO = b"dppdl/seal-x25519/v1"
_OAEP_LABEL_PREFIX = b"dppdl/seal-rsa/v1"


def key_commitment(fresh_key: bytes) -> bytes:
    """sha256(fresh_key): committed on-chain with the upload, checked when the key is revealed."""
    return hashlib.sha256(fresh_key).digest()


@dataclass(frozen=True)
class SealedBlob:
    """A sealed blob, the commitment to its fresh key, and the key (kept for a dispute answer)."""

    data: bytes
    key_commitment: bytes
    fresh_key: bytes = field(repr=False)


def _oaep(header_bytes: bytes) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=_OAEP_LABEL_PREFIX + header_bytes,
    )


def _seal_key(fresh_key: bytes, *, kind: SealKind, receiver_public_key: bytes, aad: bytes,
              rng: Rng) -> bytes:  # fmt: skip
    if kind is SealKind.X25519:
        ephemeral = X25519PrivateKey.from_private_bytes(rng(KEY_LEN))
        eph_pub = x25519_public_bytes(ephemeral)
        shared = x25519_agree(ephemeral, peer_public=receiver_public_key)
        wrap = hkdf_sha256(shared, info=_SEAL_INFO + eph_pub + bytes(receiver_public_key))
        return eph_pub + aes_gcm_encrypt(wrap, nonce=_ZERO_NONCE, plaintext=fresh_key, aad=aad)
    try:
        public = serialization.load_der_public_key(bytes(receiver_public_key))
    except ValueError:
        raise CryptoInputError("RSA sealing needs a DER SubjectPublicKeyInfo public key") from None
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size != 2048:
        raise CryptoInputError("RSA sealing needs an RSA-2048 public key")
    return public.encrypt(fresh_key, _oaep(aad))


def _unseal_key(parsed: ParsedBlob, receiver_keys: PartyKeys) -> bytes:
    aad, sealed = parsed.header_bytes, parsed.sealed_key
    if parsed.header.seal_kind is SealKind.X25519:
        eph_pub = sealed[:KEY_LEN]
        try:
            shared = x25519_agree(receiver_keys.x25519, peer_public=eph_pub)
        except CryptoInputError:
            raise DecryptionError("sealed key carries an invalid ephemeral public key") from None
        wrap = hkdf_sha256(shared, info=_SEAL_INFO + eph_pub + receiver_keys.public_bytes)
        return aes_gcm_decrypt(wrap, nonce=_ZERO_NONCE, ciphertext=sealed[KEY_LEN:], aad=aad)
    if receiver_keys.rsa is None:
        raise DecryptionError("blob is sealed with RSA but these keys have no RSA key")
    try:
        fresh_key = receiver_keys.rsa.decrypt(sealed, _oaep(aad))
    except ValueError:
        raise DecryptionError(
            "RSA-OAEP unsealing failed (wrong key, tampered or wrong slot)"
        ) from None
    if len(fresh_key) != KEY_LEN:
        raise DecryptionError("sealed key has the wrong length")
    return fresh_key


def seal_gradient(
    *,
    masked: np.ndarray,
    slot: Slot,
    receiver_public_key: bytes,
    seal: SealKind = SealKind.X25519,
    rng: Rng | None = None,
) -> SealedBlob:
    """Wrap a layer-1 (masked; uint32 or uint64 words) vector in layers 2 and 3 for
    `slot.receiver`; the header records the word size."""
    if rng is None:
        rng = os.urandom
    else:
        warnings.warn("seal_gradient: caller-supplied rng; only for known-answer tests",
                      InsecureRandomnessWarning, stacklevel=2)  # fmt: skip
        rng = _checked(rng)
    arr = np.asarray(masked)
    if arr.dtype not in RING_WORDS or arr.ndim != 1:
        raise CryptoInputError(
            "masked must be a 1-D uint32 or uint64 array (encode and mask first)"
        )
    header = BlobHeader(slot=slot, seal_kind=SealKind(seal), elements=arr.shape[0],
                        word_bytes=arr.dtype.itemsize)  # fmt: skip
    aad = header.pack()
    fresh_key = rng(KEY_LEN)
    sealed = _seal_key(fresh_key, kind=header.seal_kind, receiver_public_key=receiver_public_key,
                       aad=aad, rng=rng)  # fmt: skip
    plaintext = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).data.cast("B")
    out = _staging(header.total_len)
    body_start = HEADER_LEN + len(sealed)
    out[:body_start] = aad + sealed
    aes_gcm_encrypt_into(fresh_key, nonce=_ZERO_NONCE, plaintext=plaintext, aad=aad,
                         out=out[body_start:])  # fmt: skip
    return SealedBlob(data=out.tobytes(), key_commitment=key_commitment(fresh_key),
                      fresh_key=fresh_key)  # fmt: skip


def _parse_for(data: bytes, slot: Slot) -> ParsedBlob:
    parsed = parse_blob(data)
    if parsed.header.slot != slot:
        raise DecryptionError(
            "blob belongs to another slot (task, epoch, sender, receiver or request)"
        )
    return parsed


_local = threading.local()


def _staging(size: int) -> memoryview:
    """A per-thread scratch buffer of `size` bytes (fresh 1 MB buffers cost page faults)."""
    buf: bytearray | None = getattr(_local, "buf", None)
    if buf is None or len(buf) < size:
        buf = _local.buf = bytearray(size)
    return memoryview(buf)[:size]


def _checked(rng: Rng) -> Rng:
    def draw(n: int) -> bytes:
        out = rng(n)
        if not isinstance(out, bytes) or len(out) != n:
            raise CryptoInputError(f"rng must return exactly {n} bytes")
        return out

    return draw


def _open_layer2(parsed: ParsedBlob, fresh_key: bytes, out: bytearray | None = None) -> np.ndarray:
    """Layer-2 plaintext as uint32 or uint64 (the header's word size); with `out`
    (word bytes · elements) it is a view into `out`."""
    head = parsed.header
    if out is None:
        out = bytearray(head.word_bytes * head.elements)
    aes_gcm_decrypt_into(fresh_key, nonce=_ZERO_NONCE, ciphertext=parsed.ciphertext,
                         aad=parsed.header_bytes, out=out)  # fmt: skip
    words = np.dtype(f"<u{head.word_bytes}")
    return np.frombuffer(out, dtype=words).astype(words.newbyteorder("="), copy=False)


def open_blob_into(
    data: bytes, *, slot: Slot, receiver_keys: PartyKeys, out: bytearray
) -> np.ndarray:
    """`open_blob` decrypting into a caller's scratch buffer (for summing many blobs)."""
    parsed = _parse_for(data, slot)
    head = parsed.header
    if len(out) != head.word_bytes * head.elements:
        raise DecryptionError(
            f"blob has {head.elements} entries of {head.word_bytes} bytes, "
            f"expected {len(out)} bytes in all"
        )
    return _open_layer2(parsed, _unseal_key(parsed, receiver_keys), out)


def open_blob(data: bytes, *, slot: Slot, receiver_keys: PartyKeys) -> np.ndarray:
    """Peel layers 3 and 2 of a blob meant for `slot`; every failure is a DecryptionError."""
    parsed = _parse_for(data, slot)
    return _open_layer2(parsed, _unseal_key(parsed, receiver_keys))


def open_with_key(
    data: bytes, *, slot: Slot, fresh_key: bytes, commitment: bytes | None = None
) -> np.ndarray:
    """Dispute check: open layer 2 with a revealed key (layer 1 still hides the gradient).

    With `commitment` (the 32-byte on-chain key commitment), the key must also match it.
    """
    if not isinstance(fresh_key, bytes | bytearray) or len(fresh_key) != KEY_LEN:
        raise DecryptionError(f"a revealed blob key must be {KEY_LEN} bytes")
    if commitment is not None and key_commitment(bytes(fresh_key)) != bytes(commitment):
        raise DecryptionError("revealed key does not match the on-chain key commitment")
    return _open_layer2(_parse_for(data, slot), bytes(fresh_key))
