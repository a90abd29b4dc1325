"""Party key pairs (X25519, optional RSA-2048), encrypted at rest (0600); Ethereum keystores are
in dppdl.chain.keystore."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from dppdl.crypto.errors import KeyFileError, WrongPasswordError
from dppdl.crypto.primitives import x25519_public_bytes
from dppdl.errors import DataMissingError
from dppdl.files import atomic_write

KEY_FILE_FORMAT = "dppdl-party-keys"  # "format" field of a party key file
KEY_FILE_VERSION = 1  # bump on any change to the file layout
DEFAULT_SCRYPT_N = 2**15  # scrypt cost: ~0.1 s and 32 MiB per save/load
MIN_SCRYPT_N = 2**10  # weakest cost accepted when loading (tests may save at this cost)
RSA_BITS = 2048  # RSA-OAEP modulus for paper-parity sealing


def _password_bytes(password: str | bytes) -> bytes:
    data = password.encode() if isinstance(password, str) else bytes(password)
    if not data:
        raise KeyFileError("an empty password is not allowed for a key file")
    return data


def write_private_file(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False
) -> None:
    """Write `data` atomically with mode 0600; refuse to replace an existing file unless asked."""
    target = Path(path)
    if not target.parent.is_dir():
        raise DataMissingError(f"directory does not exist: {target.parent}")
    try:
        atomic_write(target, data, mode=0o600, overwrite=overwrite)
    except FileExistsError:
        raise KeyFileError(f"refusing to overwrite existing key file {target}") from None


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    target = Path(path)
    if not target.is_file():
        raise DataMissingError(f"key file not found: {target}")
    try:
        doc = json.loads(target.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"key file {target} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise KeyFileError(f"key file {target} is not a JSON object")
    return doc


@dataclass(frozen=True, eq=False)
class PartyKeys:
    """A party's X25519 key pair (layer 3, mask seeds) and optional RSA-2048 key (paper parity)."""

    x25519: X25519PrivateKey
    rsa: rsa.RSAPrivateKey | None = None

    @classmethod
    def generate(cls, *, with_rsa: bool = False) -> PartyKeys:
        """Fresh keys from the OS RNG."""
        rsa_key = (
            rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS) if with_rsa else None
        )
        return cls(x25519=X25519PrivateKey.generate(), rsa=rsa_key)

    @property
    def public_bytes(self) -> bytes:
        """Raw 32-byte X25519 public key (goes on-chain in the init transaction)."""
        return x25519_public_bytes(self.x25519)

    @property
    def rsa_public_bytes(self) -> bytes | None:
        """DER SubjectPublicKeyInfo of the RSA key, if any."""
        if self.rsa is None:
            return None
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return f"PartyKeys(public=0x{self.public_bytes.hex()}, rsa={self.rsa is not None})"

    def _secret_payload(self) -> bytes:
        raw = self.x25519.private_bytes_raw()
        rsa_der = b""
        if self.rsa is not None:
            rsa_der = self.rsa.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        return json.dumps({"x25519": raw.hex(), "rsa_pkcs8": rsa_der.hex()}).encode()

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        password: str | bytes,
        overwrite: bool = False,
        scrypt_n: int = DEFAULT_SCRYPT_N,
    ) -> None:
        """Encrypt with scrypt + AES-256-GCM and write atomically with mode 0600."""
        if scrypt_n < MIN_SCRYPT_N or scrypt_n & (scrypt_n - 1):
            raise KeyFileError(f"scrypt_n must be a power of two ≥ {MIN_SCRYPT_N}")
        salt, nonce = os.urandom(16), os.urandom(12)
        header = {
            "format": KEY_FILE_FORMAT,
            "version": KEY_FILE_VERSION,
            "x25519_public": self.public_bytes.hex(),
            "kdf": {"name": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": salt.hex()},
            "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex()},
        }
        key = Scrypt(salt=salt, length=32, n=scrypt_n, r=8, p=1).derive(_password_bytes(password))
        ciphertext = AESGCM(key).encrypt(nonce, self._secret_payload(), _aad(header))
        doc = {**header, "ciphertext": ciphertext.hex()}
        write_private_file(path, (json.dumps(doc, indent=2) + "\n").encode(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, password: str | bytes) -> PartyKeys:
        """Read a key file written by `save`; a wrong password raises WrongPasswordError."""
        doc = _read_json(path)
        try:
            if doc["format"] != KEY_FILE_FORMAT or doc["version"] != KEY_FILE_VERSION:
                raise KeyFileError(
                    f"{path}: not a dppdl party key file of version {KEY_FILE_VERSION}"
                )
            header = {k: doc[k] for k in ("format", "version", "x25519_public", "kdf", "cipher")}
            kdf = doc["kdf"]
            n = int(kdf["n"])
            r, p = int(kdf["r"]), int(kdf["p"])
            bad_cost = n < MIN_SCRYPT_N or n & (n - 1) or n > 2**22 or not (1 <= r <= 16 and p == 1)
            if kdf["name"] != "scrypt" or bad_cost:
                raise KeyFileError(f"{path}: unsupported key derivation settings")
            salt, nonce = bytes.fromhex(kdf["salt"]), bytes.fromhex(doc["cipher"]["nonce"])
            ciphertext = bytes.fromhex(doc["ciphertext"])
            key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(_password_bytes(password))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(f"{path}: malformed key file ({exc!r})") from None
        try:
            payload = json.loads(AESGCM(key).decrypt(nonce, ciphertext, _aad(header)))
        except InvalidTag:
            raise WrongPasswordError(
                f"wrong password for key file {path} (or it was altered)"
            ) from None
        keys = cls(
            x25519=X25519PrivateKey.from_private_bytes(bytes.fromhex(payload["x25519"])),
            rsa=_load_rsa(bytes.fromhex(payload["rsa_pkcs8"])),
        )
        if keys.public_bytes.hex() != doc["x25519_public"]:
            raise KeyFileError(f"{path}: stored public key does not match the private key")
        return keys


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _load_rsa(der: bytes) -> rsa.RSAPrivateKey | None:
    if not der:
        return None
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError("the stored RSA key is not an RSA private key")
    return key
