"""Ethereum keystores at rest: round trip, mode 0600, wrong password, no overwrite."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dppdl.chain.keystore import load_eth_keystore, save_eth_keystore
from dppdl.crypto.errors import KeyFileError, WrongPasswordError

FAST = 2**10  # a cheap KDF cost: keeps the test fast


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_eth_keystore_round_trip_mode_and_wrong_password(tmp_path: Path) -> None:
    # Prepare
    private_key = bytes(range(1, 33))
    path = tmp_path / "eth.json"
    # Execute
    address = save_eth_keystore(path, private_key=private_key, password="pw", iterations=FAST)
    # Assert
    assert mode_of(path) == 0o600
    assert json.loads(path.read_text())["address"].lower() == address[2:].lower()
    assert load_eth_keystore(path, password="pw") == private_key
    with pytest.raises(WrongPasswordError):
        load_eth_keystore(path, password="nope")
    with pytest.raises(KeyFileError, match="refusing"):
        save_eth_keystore(path, private_key=private_key, password="pw", iterations=FAST)
