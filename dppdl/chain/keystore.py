"""Ethereum keys at rest: the standard keystore JSON (eth-account), written atomically with 0600."""

from __future__ import annotations

import json
import os
from typing import Literal

from eth_account import Account

from dppdl.crypto.errors import KeyFileError, WrongPasswordError
from dppdl.crypto.keys import _password_bytes, _read_json, write_private_file


def save_eth_keystore(
    path: str | os.PathLike[str],
    *,
    private_key: bytes,
    password: str,
    overwrite: bool = False,
    kdf: Literal["scrypt", "pbkdf2"] = "scrypt",
    iterations: int | None = None,
) -> str:
    """Write an Ethereum key in the standard keystore JSON (mode 0600); returns its address."""
    if len(private_key) != 32:
        raise KeyFileError("an Ethereum private key is 32 bytes")
    doc = Account.encrypt(
        private_key, _password_bytes(password).decode(), kdf=kdf, iterations=iterations
    )
    write_private_file(path, (json.dumps(doc) + "\n").encode(), overwrite=overwrite)
    return str(Account.from_key(private_key).address)


def load_eth_keystore(path: str | os.PathLike[str], *, password: str) -> bytes:
    """Read an Ethereum keystore JSON; a wrong password raises WrongPasswordError."""
    doc = _read_json(path)
    try:
        return bytes(Account.decrypt(doc, _password_bytes(password).decode()))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPasswordError(f"wrong password for keystore {path}") from None
        raise KeyFileError(f"{path}: malformed keystore ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise KeyFileError(f"{path}: malformed keystore ({exc!r})") from None
