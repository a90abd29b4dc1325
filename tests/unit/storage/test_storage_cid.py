"""CIDv1 raw sha2-256 base32: known IPFS vectors, both directions, malformed input."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.cid import CID_LENGTH, cid_from_digest, cid_of, digest_from_cid, validate_cid
from storage.errors import InvalidCid, StorageUserError

# Known answers: the CIDs Kubo prints for these files with `ipfs add --cid-version 1
# --raw-leaves` (each one also appears as a fixture in several IPFS implementations).
VECTORS = {
    b"": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    b"hello world": "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    b"hello world\n": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
}


@pytest.mark.parametrize(("data", "expected"), VECTORS.items())
def test_known_ipfs_vectors(data: bytes, expected: str) -> None:
    assert cid_of(data) == expected
    assert digest_from_cid(expected) == hashlib.sha256(data).digest()


def test_hello_world_digest_is_the_sha256_hex() -> None:
    digest = digest_from_cid(VECTORS[b"hello world"])
    assert digest.hex() == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"


@given(st.binary(min_size=32, max_size=32))
def test_digest_round_trip(digest: bytes) -> None:
    cid = cid_from_digest(digest)
    assert len(cid) == CID_LENGTH == 59
    assert cid.startswith("bafkrei")
    assert digest_from_cid(cid) == digest


@given(st.binary(min_size=32, max_size=32), st.integers(0, 58), st.sampled_from("abcz27A=0"))
def test_any_edit_is_rejected_or_names_another_digest(digest: bytes, pos: int, char: str) -> None:
    cid = cid_from_digest(digest)
    edited = cid[:pos] + char + cid[pos + 1 :]
    if edited == cid:
        return
    try:
        other = digest_from_cid(edited)
    except InvalidCid:
        return
    assert other != digest


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u", "CIDv0"),
        ("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA", "multibase 'z'"),
        (VECTORS[b""].upper(), "multibase 'B'"),
        ("bafkrei!", "outside lower-case base32"),
        (VECTORS[b""][:-2], "truncated|digest must be 32"),
        (VECTORS[b""] + "aa", "digest must be 32"),
        ("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "dag-pb"),
        ("bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua", "dag-cbor"),
        (VECTORS[b""][:-1] + "v", "canonical"),
    ],
)
def test_malformed_cids_are_rejected_with_one_line(bad: str, reason: str) -> None:
    with pytest.raises(InvalidCid, match=reason) as info:
        digest_from_cid(bad)
    assert isinstance(info.value, StorageUserError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_long_garbage_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidCid) as info:
        validate_cid("x" * 10_000)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("bad", [b"\x00" * 31, b"\x00" * 33, "00" * 32, None])
def test_digest_must_be_32_bytes(bad: object) -> None:
    with pytest.raises(InvalidCid, match="32 bytes"):
        cid_from_digest(bad)  # type: ignore[arg-type]


def test_non_string_cid_rejected() -> None:
    with pytest.raises(InvalidCid, match="string"):
        digest_from_cid(b"bafkrei")  # type: ignore[arg-type]
