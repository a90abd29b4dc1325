"""Primitive wrappers: keystream known answer, buffer reuse, domain separation, AEAD failures."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dppdl.crypto.errors import CryptoInputError, InvalidPublicKeyError
from dppdl.crypto.primitives import (
    KeystreamAdder,
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    hkdf_sha256,
    keystream_u64,
    x25519_agree,
)
from dppdl.errors import DecryptionError


def test_keystream_known_answer_aes256_zero_key() -> None:
    # AES-256 of the zero block under the zero key (FIPS-197 style vector), read little-endian
    stream = keystream_u64(bytes(32), 2)
    assert stream.tobytes().hex() == "dc95c078a2408989ad48a21492842087"


def test_adder_matches_fresh_keystream_across_lengths() -> None:
    # Prepare: one adder reused for a long then a short then a long vector
    adder = KeystreamAdder()
    key = bytes(range(32))
    for length in (1000, 3, 0, 1001, 17):
        acc = np.arange(length, dtype=np.uint64)
        # Execute
        adder.add(acc, key, sign=1)
        # Assert
        assert np.array_equal(acc, np.arange(length, dtype=np.uint64) + keystream_u64(key, length))
        adder.add(acc, key, sign=-1)
        assert np.array_equal(acc, np.arange(length, dtype=np.uint64))


def test_adder_reads_the_same_stream_as_32_bit_words() -> None:
    # Prepare: a 32-bit ring's accumulator beside the 64-bit stream of the same key
    key = bytes(range(32))
    acc = np.arange(9, dtype=np.uint32)
    stream = np.frombuffer(keystream_u64(key, 5).tobytes()[:36], dtype="<u4")
    # Execute
    KeystreamAdder().add(acc, key, sign=1)
    # Assert: the first 4·n bytes of the stream, added mod 2^32 (wrapping, no error)
    assert acc.dtype == np.uint32
    assert np.array_equal(acc, np.arange(9, dtype=np.uint32) + stream)
    KeystreamAdder().add(acc, key, sign=-1)
    assert np.array_equal(acc, np.arange(9, dtype=np.uint32))


def test_adder_rejects_bad_arguments() -> None:
    adder = KeystreamAdder()
    with pytest.raises(CryptoInputError, match="sign"):
        adder.add(np.zeros(2, np.uint64), bytes(32), sign=2)
    with pytest.raises(CryptoInputError, match="uint64"):
        adder.add(np.zeros(2, np.int64), bytes(32), sign=1)
    with pytest.raises(CryptoInputError, match="32 bytes"):
        adder.add(np.zeros(2, np.uint64), bytes(16), sign=1)


def test_hkdf_requires_a_domain_label() -> None:
    assert hkdf_sha256(b"k", info=b"dppdl/a") != hkdf_sha256(b"k", info=b"dppdl/b")
    with pytest.raises(CryptoInputError, match="domain"):
        hkdf_sha256(b"k", info=b"no-label")


def test_aead_failures_are_decryption_errors() -> None:
    key = bytes(32)
    ct = aes_gcm_encrypt(key, nonce=bytes(12), plaintext=b"abc", aad=b"slot-1")
    assert aes_gcm_decrypt(key, nonce=bytes(12), ciphertext=ct, aad=b"slot-1") == b"abc"
    with pytest.raises(DecryptionError):
        aes_gcm_decrypt(key, nonce=bytes(12), ciphertext=ct, aad=b"slot-2")
    with pytest.raises(DecryptionError):
        aes_gcm_decrypt(b"\x01" * 32, nonce=bytes(12), ciphertext=ct, aad=b"slot-1")


def test_x25519_agreement_is_symmetric_and_rejects_bad_keys() -> None:
    a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    pub_a, pub_b = a.public_key().public_bytes_raw(), b.public_key().public_bytes_raw()
    assert x25519_agree(a, peer_public=pub_b) == x25519_agree(b, peer_public=pub_a)
    with pytest.raises(InvalidPublicKeyError, match="32 bytes"):
        x25519_agree(a, peer_public=pub_b[:31])
    with pytest.raises(InvalidPublicKeyError, match="low order|unusable"):
        x25519_agree(a, peer_public=bytes(32))
