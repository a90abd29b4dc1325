"""Load the signing account: a key file (hex or keystore JSON) or a public dev account."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from dppdl.chain.devnet import dev_accounts
from dppdl.errors import ConfigError, UserError

DEVNET_CHAIN_IDS = frozenset({31337, 1337})  # Anvil and Ganache defaults
PASSWORD_ENV = "DPPDL_KEY_PASSWORD"  # password of an encrypted keystore key file


def load_key_file(path: Path) -> LocalAccount:
    """A hex private key (optionally 0x-prefixed) or a keystore JSON (password from env)."""
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise UserError(f"cannot read key file {path}: {exc.strerror}") from None
    if text.startswith("{"):
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            raise UserError(f"key file {path} is an encrypted keystore; set {PASSWORD_ENV}")
        try:
            key = Account.decrypt(json.loads(text), password)
        except ValueError:
            raise UserError(f"cannot decrypt keystore {path}: wrong {PASSWORD_ENV}?") from None
        return Account.from_key(key)
    try:
        return Account.from_key(text)
    except (ValueError, TypeError):
        raise UserError(f"key file {path} holds no valid hex private key") from None


def load_account(
    *, key_file: Path | None = None, dev_account: int | None = None, chain_id: int
) -> LocalAccount:
    """The account to sign with; dev accounts only on a devnet chain id (31337, 1337)."""
    if key_file is not None and dev_account is not None:
        raise ConfigError("give either a key file or a dev account, not both")
    if key_file is not None:
        return load_key_file(key_file)
    if chain_id not in DEVNET_CHAIN_IDS:
        raise UserError(
            f"chain {chain_id} is not a local devnet; pass --key-file (dev account keys are public)"
        )
    index = 0 if dev_account is None else dev_account
    if not 0 <= index < 1000:
        raise ConfigError(f"dev account index must be in 0..999, got {index}")
    return dev_accounts(index + 1)[index]
