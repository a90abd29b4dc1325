"""Key files: encrypted at rest, mode 0600, atomic, clear errors for wrong passwords."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dppdl.crypto import PartyKeys
from dppdl.crypto.errors import KeyFileError, WrongPasswordError
from dppdl.errors import DataMissingError, UserError

FAST = 2**10  # the weakest scrypt cost accepted: keeps the tests fast


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_party_keys_round_trip_with_mode_0600(tmp_path: Path) -> None:
    # Prepare
    keys = PartyKeys.generate()
    path = tmp_path / "party.key"
    # Execute
    keys.save(path, password="correct horse", scrypt_n=FAST)
    loaded = PartyKeys.load(path, password="correct horse")
    # Assert
    assert mode_of(path) == 0o600
    assert loaded.public_bytes == keys.public_bytes
    assert keys.x25519.private_bytes_raw().hex() not in path.read_text()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_rsa_key_survives_round_trip(tmp_path: Path) -> None:
    keys = PartyKeys.generate(with_rsa=True)
    keys.save(tmp_path / "k", password="pw", scrypt_n=FAST)
    loaded = PartyKeys.load(tmp_path / "k", password="pw")
    assert loaded.rsa_public_bytes == keys.rsa_public_bytes is not None


def test_wrong_password_is_a_clear_user_error(tmp_path: Path) -> None:
    PartyKeys.generate().save(tmp_path / "k", password="right", scrypt_n=FAST)
    with pytest.raises(WrongPasswordError, match="wrong password") as info:
        PartyKeys.load(tmp_path / "k", password="wrong")
    assert isinstance(info.value, UserError)


def test_altered_public_key_field_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "k"
    PartyKeys.generate().save(path, password="pw", scrypt_n=FAST)
    doc = json.loads(path.read_text())
    doc["x25519_public"] = "00" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPasswordError):
        PartyKeys.load(path, password="pw")


def test_existing_key_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k"
    first = PartyKeys.generate()
    first.save(path, password="pw", scrypt_n=FAST)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        PartyKeys.generate().save(path, password="pw", scrypt_n=FAST)
    assert PartyKeys.load(path, password="pw").public_bytes == first.public_bytes
    PartyKeys.generate().save(path, password="pw", scrypt_n=FAST, overwrite=True)
    assert mode_of(path) == 0o600
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": "other", "version": 1}'])
def test_malformed_key_file_is_a_key_file_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "k").write_text(content)
    with pytest.raises(KeyFileError):
        PartyKeys.load(tmp_path / "k", password="pw")


def test_missing_file_and_empty_password(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError):
        PartyKeys.load(tmp_path / "absent", password="pw")
    with pytest.raises(KeyFileError, match="empty password"):
        PartyKeys.generate().save(tmp_path / "k", password="", scrypt_n=FAST)
    assert "PartyKeys(public=0x" in repr(PartyKeys.generate())
