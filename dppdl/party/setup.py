"""Create a party's folder: encrypted key files (mode 0600) and its TOML config."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from dppdl.chain.keystore import save_eth_keystore
from dppdl.crypto.keys import DEFAULT_SCRYPT_N, MIN_SCRYPT_N, PartyKeys
from dppdl.errors import UserError
from dppdl.party.config import PartyConfig, dump_config

CONFIG_NAME = "party.toml"


class WeakKeyFileWarning(UserWarning):
    """Key files written with a cheap key-derivation cost (fine on a devnet, never elsewhere)."""


def init_party(
    folder: Path, *, config: PartyConfig, password: str, private_key: bytes | None = None,
    devnet_fast_kdf: bool = False,
) -> tuple[Path, str]:  # fmt: skip
    """Write keys and party.toml under `folder` (which must not hold a party); returns (config
    path, Ethereum address). A new Ethereum key is generated unless `private_key` is given."""
    path = folder / CONFIG_NAME
    if path.exists():
        raise UserError(f"{path} already exists; refusing to overwrite a party's keys")
    folder.mkdir(parents=True, exist_ok=True)
    if private_key is None:
        private_key = os.urandom(32)
    if devnet_fast_kdf:
        warnings.warn(
            "party key files use a cheap KDF cost: devnet simulation only",
            WeakKeyFileWarning,
            stacklevel=2,
        )
    address = save_eth_keystore(
        config.key_file,
        private_key=private_key,
        password=password,
        kdf="pbkdf2" if devnet_fast_kdf else "scrypt",
        iterations=1024 if devnet_fast_kdf else None,
    )
    keys = PartyKeys.generate()
    keys.save(
        config.box_key_file,
        password=password,
        scrypt_n=MIN_SCRYPT_N if devnet_fast_kdf else DEFAULT_SCRYPT_N,
    )
    path.write_text(dump_config(config))
    os.chmod(path, 0o600)
    return path, address
