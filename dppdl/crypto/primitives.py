"""Thin safe wrappers over `cryptography`: X25519, HKDF-SHA256, AES-256-GCM, AES-256-CTR streams."""

from __future__ import annotations

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dppdl.crypto.codec import RING_WORDS
from dppdl.crypto.errors import CryptoInputError, InvalidPublicKeyError
from dppdl.errors import DecryptionError

KEY_LEN = 32  # AES-256 / X25519 / HKDF output length in bytes
NONCE_LEN = 12  # AES-GCM nonce length
TAG_LEN = 16  # AES-GCM tag length
DOMAIN_PREFIX = b"dppdl/"  # every HKDF info string starts with this


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_LEN:
        raise CryptoInputError(f"a symmetric key must be {KEY_LEN} bytes")


def x25519_public_bytes(private: X25519PrivateKey) -> bytes:
    """Raw 32-byte public key of an X25519 private key."""
    return private.public_key().public_bytes_raw()


def x25519_agree(private: X25519PrivateKey, *, peer_public: bytes) -> bytes:
    """X25519 shared secret with a peer's raw public key; rejects malformed and low-order keys."""
    if not isinstance(peer_public, bytes | bytearray) or len(peer_public) != KEY_LEN:
        raise InvalidPublicKeyError(f"an X25519 public key must be {KEY_LEN} bytes")
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
    except ValueError as exc:  # all-zero shared secret: low-order point
        raise InvalidPublicKeyError(f"unusable X25519 public key: {exc}") from None


def hkdf_sha256(
    ikm: bytes, *, info: bytes, length: int = KEY_LEN, salt: bytes | None = None
) -> bytes:
    """HKDF-SHA256; `info` must carry a dppdl domain label so keys for different uses never meet."""
    if not info.startswith(DOMAIN_PREFIX):
        raise CryptoInputError("HKDF info must start with b'dppdl/' (domain separation)")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def aes_gcm_encrypt(key: bytes, *, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM ciphertext with the 16-byte tag appended."""
    _check_key(key)
    return AESGCM(bytes(key)).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(
    key: bytes, *, nonce: bytes, ciphertext: bytes | memoryview, aad: bytes
) -> bytes:
    """Open AES-256-GCM; any failure (tag, key, associated data) is a DecryptionError."""
    _check_key(key)
    try:
        return AESGCM(bytes(key)).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionError("authentication failed (tampered, wrong key or wrong slot)") from None


def aes_gcm_encrypt_into(
    key: bytes, *, nonce: bytes, plaintext: memoryview, aad: bytes, out: memoryview
) -> None:
    """AES-256-GCM into `out` (exactly len(plaintext) + 16 bytes): no intermediate copy."""
    _check_key(key)
    AESGCM(bytes(key)).encrypt_into(nonce, plaintext, aad, out)


def aes_gcm_decrypt_into(
    key: bytes, *, nonce: bytes, ciphertext: bytes | memoryview, aad: bytes, out: bytearray
) -> None:
    """Open AES-256-GCM into `out` (exactly len(ciphertext) − 16 bytes); DecryptionError on failure.

    On failure `out` may hold unauthenticated bytes: the caller must discard it.
    """
    _check_key(key)
    try:
        AESGCM(bytes(key)).decrypt_into(nonce, ciphertext, aad, out)
    except InvalidTag:
        raise DecryptionError("authentication failed (tampered, wrong key or wrong slot)") from None


def keystream_u64(key: bytes, length: int) -> np.ndarray:
    """`length` uint64 words of AES-256-CTR keystream (zero IV: the key must be single-use)."""
    _check_key(key)
    if length < 0:
        raise CryptoInputError("keystream length must be non-negative")
    encryptor = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(16))).encryptor()
    stream = encryptor.update(bytes(8 * length))
    return np.frombuffer(stream, dtype="<u8")


class KeystreamAdder:
    """Adds ±AES-256-CTR keystreams into uint32 or uint64 arrays in place, one cipher call per key.

    The stream is read as little-endian words of the accumulator's width, so a 32-bit ring's
    mask is the first half of the bytes of the 64-bit one. Reuses one scratch buffer across
    calls (fresh 1 MB buffers cost more in page faults than AES-NI costs in encryption); not
    safe to share between threads.
    """

    def __init__(self) -> None:
        self._zeros = b""
        self._scratch = bytearray()

    def add(self, acc: np.ndarray, key: bytes, *, sign: int) -> None:
        """acc += sign · keystream(key) in the ring of acc's word size (sign is +1 or -1)."""
        _check_key(key)
        if acc.dtype not in RING_WORDS or acc.ndim != 1:
            raise CryptoInputError("accumulator must be a 1-D uint32 or uint64 array")
        if sign not in (1, -1):
            raise CryptoInputError("sign must be +1 or -1")
        nbytes = acc.nbytes
        if len(self._zeros) < nbytes:
            self._zeros = bytes(nbytes)
            self._scratch = bytearray(nbytes + 15)  # update_into wants block_size - 1 spare
        encryptor = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(16))).encryptor()
        encryptor.update_into(memoryview(self._zeros)[:nbytes], self._scratch)
        stream = np.frombuffer(self._scratch, dtype=acc.dtype.newbyteorder("<"),
                               count=acc.shape[0])  # fmt: skip
        if sign == 1:
            np.add(acc, stream, out=acc)
        else:
            np.subtract(acc, stream, out=acc)


def add_keystream(acc: np.ndarray, key: bytes, *, sign: int) -> None:
    """acc += sign · keystream(key) in acc's ring, in place (one-off; see KeystreamAdder)."""
    KeystreamAdder().add(acc, key, sign=sign)
