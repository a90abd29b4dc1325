"""Layers 2 and 3 and the blob format: known answers, round trips, every way to fail."""

from __future__ import annotations

import hashlib
import struct
import warnings

import numpy as np
import pytest
from conftest import counter_rng, make_party
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from dppdl.crypto import PartyKeys, SealKind, Slot, open_blob, open_with_key, seal_gradient
from dppdl.crypto.blob import HEADER_LEN, parse_blob
from dppdl.crypto.errors import CryptoInputError, InsecureRandomnessWarning
from dppdl.errors import BlobFormatError, DecryptionError

RECEIVER = make_party(b"kat-receiver")
SENDER = make_party(b"kat-sender")
SLOT = Slot(task=2**200 + 5, epoch=9, sender=SENDER.address, receiver=RECEIVER.address,
            request_id=77)  # fmt: skip
KAT_PLAIN = np.array([0, 1, 2**32 - 1, 2**31], dtype=np.uint32)  # the default 32-bit ring
KAT_BLOB_HEX = (
    "44504742020104000000000000000100000000000000000000000000000000000000000000000005"
    "0000000000000009000000000000000000000000000000000000000000000000000000000000004d"
    "7dee22c1bd41f3c8f779f5ddee51c36960b52ee745579d3886670b6e6a082bc4a6cf62ded1e8958c"
    "005000000000000000040000000000000020bbb057e948d9e5c62fe993159681df8fc0864d913062"
    "2999e713e4028c861f4deb6a5e3c69e390e93c2f684de911c0da6a5ea5d83820dcb4e5fe75b0febd"
    "1cbdeb4ab5586d329b80c88813913c5c6149dbbd5cf64e61d6183441f07d552674564898e0197c8d"
    "3c17a73e374864bf78ab"
)
# the same words of a 64-bit ring as blob version 1 (no word-size byte) sealed them
V1_PLAIN = np.array([0, 1, 2**64 - 1, 2**63], dtype=np.uint64)
V1_BLOB_HEX = (
    "44504742010100000000000000000100000000000000000000000000000000000000000000000005"
    "0000000000000009000000000000000000000000000000000000000000000000000000000000004d"
    "7dee22c1bd41f3c8f779f5ddee51c36960b52ee745579d3886670b6e6a082bc4a6cf62ded1e8958c"
    "005000000000000000040000000000000030bbb057e948d9e5c62fe993159681df8fc0864d913062"
    "2999e713e4028c861f4deb6a5e3c69e390e93c2f684de911c0da6a5ea5d83820dcb4e5fe75b0febd"
    "1cbd2fbd358f36e82b4a3fc26813a9986ac8dbbd5cf64f61d618cabe0f82552674d64973dc921cc0"
    "ea9edc7c6040cbda4f6d400f68fe3c13bbac036b622a0a4ea240"
)


def kat_seal() -> bytes:
    with pytest.warns(InsecureRandomnessWarning):
        return seal_gradient(masked=KAT_PLAIN, slot=SLOT,
                             receiver_public_key=RECEIVER.keys.public_bytes,
                             rng=counter_rng(b"kat")).data  # fmt: skip


@pytest.fixture(scope="module")
def blob() -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        return seal_gradient(masked=np.arange(64, dtype=np.uint64) * 3_000_000_007, slot=SLOT,
                             receiver_public_key=RECEIVER.keys.public_bytes,
                             rng=counter_rng(b"fixture")).data  # fmt: skip


@pytest.fixture(scope="module")
def rsa_receiver() -> PartyKeys:
    return PartyKeys.generate(with_rsa=True)


def test_known_answer_blob() -> None:
    # Execute
    data = kat_seal()
    # Assert: exact bytes, and an independent reading of the documented layout
    assert data.hex() == KAT_BLOB_HEX
    magic, version, kind, word_bytes, reserved = struct.unpack_from(">4sBBBB", data)
    assert (magic, version, kind, word_bytes, reserved) == (b"DPGB", 2, 1, 4, 0)
    assert len(data) == HEADER_LEN + 80 + 4 * 4 + 16
    fresh_key = hashlib.sha256(b"kat" + bytes(8)).digest()  # first draw of the rng
    body = data[HEADER_LEN + 80 :]
    plain = AESGCM(fresh_key).decrypt(bytes(12), body, data[:HEADER_LEN])
    assert plain == KAT_PLAIN.astype("<u4").tobytes()
    opened = open_blob(data, slot=SLOT, receiver_keys=RECEIVER.keys)
    assert opened.dtype == np.uint32 and np.array_equal(opened, KAT_PLAIN)


def test_a_version_1_blob_still_opens_as_64_bit_words() -> None:
    # Prepare: a blob sealed by the code before the word-size byte (version 1)
    data = bytes.fromhex(V1_BLOB_HEX)
    # Execute
    header = parse_blob(data).header
    opened = open_blob(data, slot=SLOT, receiver_keys=RECEIVER.keys)
    # Assert
    assert header.word_bytes == 8
    assert opened.dtype == np.uint64 and np.array_equal(opened, V1_PLAIN)
    with pytest.raises(BlobFormatError, match="reserved"):  # v1 had no word-size byte
        parse_blob(data[:6] + b"\x08" + data[7:])


def test_round_trip_and_commitment() -> None:
    # Prepare
    masked = np.arange(1000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    # Execute
    sealed = seal_gradient(masked=masked, slot=SLOT, receiver_public_key=RECEIVER.keys.public_bytes)
    opened = open_blob(sealed.data, slot=SLOT, receiver_keys=RECEIVER.keys)
    # Assert
    assert np.array_equal(opened, masked)
    assert sealed.key_commitment == hashlib.sha256(sealed.fresh_key).digest()
    assert "fresh_key" not in repr(sealed)


def test_fresh_key_and_ephemeral_differ_per_blob() -> None:
    one = seal_gradient(masked=KAT_PLAIN, slot=SLOT, receiver_public_key=RECEIVER.keys.public_bytes)
    two = seal_gradient(masked=KAT_PLAIN, slot=SLOT, receiver_public_key=RECEIVER.keys.public_bytes)
    assert one.fresh_key != two.fresh_key
    assert one.data[HEADER_LEN:] != two.data[HEADER_LEN:]


def test_dispute_check_opens_layer2_with_revealed_key() -> None:
    sealed = seal_gradient(
        masked=KAT_PLAIN, slot=SLOT, receiver_public_key=RECEIVER.keys.public_bytes
    )
    got = open_with_key(sealed.data, slot=SLOT, fresh_key=sealed.fresh_key,
                        commitment=sealed.key_commitment)  # fmt: skip
    assert np.array_equal(got, KAT_PLAIN)
    with pytest.raises(DecryptionError, match="commitment"):
        open_with_key(sealed.data, slot=SLOT, fresh_key=sealed.fresh_key, commitment=bytes(32))
    with pytest.raises(DecryptionError, match="authentication"):
        open_with_key(sealed.data, slot=SLOT, fresh_key=bytes(32))


@given(position=st.integers(0, 10**6), bit=st.integers(0, 7))
@settings(max_examples=150, deadline=None)
def test_any_flipped_bit_is_a_decryption_error(blob: bytes, position: int, bit: int) -> None:
    # Prepare
    tampered = bytearray(blob)
    tampered[position % len(blob)] ^= 1 << bit
    # Execute / Assert
    with pytest.raises(DecryptionError):
        open_blob(bytes(tampered), slot=SLOT, receiver_keys=RECEIVER.keys)


def test_every_header_byte_is_protected(blob: bytes) -> None:
    for position in range(HEADER_LEN):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            open_blob(bytes(tampered), slot=SLOT, receiver_keys=RECEIVER.keys)


@given(cut=st.integers(0, 10**6))
@settings(max_examples=60, deadline=None)
def test_truncated_or_extended_blob_is_a_format_error(blob: bytes, cut: int) -> None:
    with pytest.raises(BlobFormatError):
        open_blob(blob[: cut % len(blob)], slot=SLOT, receiver_keys=RECEIVER.keys)
    with pytest.raises(BlobFormatError):
        open_blob(blob + b"\x00" * (1 + cut % 9), slot=SLOT, receiver_keys=RECEIVER.keys)


def test_wrong_receiver_key_is_a_decryption_error(blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_blob(blob, slot=SLOT, receiver_keys=SENDER.keys)


def _rewrite_header(blob: bytes, **changes: int) -> tuple[bytes, Slot]:
    """Forge the header to claim another epoch/request, as a replaying attacker would."""
    parsed = parse_blob(blob)
    slot = Slot(**{**parsed.header.slot.__dict__, **changes})
    forged = type(parsed.header)(slot=slot, seal_kind=parsed.header.seal_kind,
                                 elements=parsed.header.elements,
                                 word_bytes=parsed.header.word_bytes).pack()  # fmt: skip
    return forged + blob[HEADER_LEN:], slot


@pytest.mark.parametrize("changes", [{"epoch": 10}, {"request_id": 78}, {"task": 1}])
def test_replay_into_another_slot_fails(blob: bytes, changes: dict[str, int]) -> None:
    # Prepare
    forged, other_slot = _rewrite_header(blob, **changes)
    # Execute / Assert: unchanged blob asked for the other slot, and a forged header
    with pytest.raises(DecryptionError, match="another slot"):
        open_blob(blob, slot=other_slot, receiver_keys=RECEIVER.keys)
    with pytest.raises(DecryptionError, match="authentication"):
        open_blob(forged, slot=other_slot, receiver_keys=RECEIVER.keys)


@pytest.mark.parametrize(
    "offset, value, message",
    [(0, b"XXXX", "magic"), (4, b"\x03", "version"), (4, b"\x00", "version"),
     (5, b"\x07", "seal kind"), (6, b"\x05", "word size"), (6, b"\x00", "word size"),
     (7, b"\x01", "reserved")],
)  # fmt: skip
def test_parser_names_what_is_malformed(
    blob: bytes, offset: int, value: bytes, message: str
) -> None:
    bad = blob[:offset] + value + blob[offset + len(value) :]
    with pytest.raises(BlobFormatError, match=message):
        parse_blob(bad)


def test_non_bytes_and_huge_sizes_are_rejected(blob: bytes) -> None:
    with pytest.raises(BlobFormatError):
        parse_blob("not bytes")  # type: ignore[arg-type]
    huge = bytearray(blob)
    huge[HEADER_LEN - 16 : HEADER_LEN - 8] = (2**40).to_bytes(8, "big")
    with pytest.raises(BlobFormatError, match="limit"):
        parse_blob(bytes(huge))


def test_rsa_oaep_seal_round_trip_and_failures(rsa_receiver: PartyKeys) -> None:
    # Prepare
    slot = Slot(task=1, epoch=1, sender=SENDER.address, receiver=RECEIVER.address, request_id=1)
    assert rsa_receiver.rsa_public_bytes is not None
    # Execute
    sealed = seal_gradient(masked=KAT_PLAIN, slot=slot, seal=SealKind.RSA_OAEP_2048,
                           receiver_public_key=rsa_receiver.rsa_public_bytes)  # fmt: skip
    # Assert
    assert parse_blob(sealed.data).header.seal_kind is SealKind.RSA_OAEP_2048
    assert np.array_equal(open_blob(sealed.data, slot=slot, receiver_keys=rsa_receiver), KAT_PLAIN)
    with pytest.raises(DecryptionError, match="no RSA key"):
        open_blob(sealed.data, slot=slot, receiver_keys=RECEIVER.keys)
    other = PartyKeys(x25519=RECEIVER.keys.x25519, rsa=PartyKeys.generate(with_rsa=True).rsa)
    with pytest.raises(DecryptionError, match="RSA-OAEP"):
        open_blob(sealed.data, slot=slot, receiver_keys=other)
    forged, other_slot = _rewrite_header(sealed.data, epoch=2)
    with pytest.raises(DecryptionError):
        open_blob(forged, slot=other_slot, receiver_keys=rsa_receiver)


def test_bad_seal_inputs_are_clear_errors() -> None:
    with pytest.raises(CryptoInputError, match="uint64"):
        seal_gradient(masked=np.zeros(3), slot=SLOT, receiver_public_key=RECEIVER.keys.public_bytes)
    with pytest.raises(CryptoInputError, match="32 bytes"):
        seal_gradient(masked=KAT_PLAIN, slot=SLOT, receiver_public_key=b"short")
    with pytest.raises(CryptoInputError, match="RSA"):
        seal_gradient(masked=KAT_PLAIN, slot=SLOT, seal=SealKind.RSA_OAEP_2048,
                      receiver_public_key=RECEIVER.keys.public_bytes)  # fmt: skip
    with pytest.raises(CryptoInputError, match="differ"):
        Slot(task=1, epoch=1, sender=SENDER.address, receiver=SENDER.address, request_id=1)
    with pytest.raises(CryptoInputError, match="epoch"):
        Slot(task=1, epoch=-1, sender=SENDER.address, receiver=RECEIVER.address, request_id=1)
