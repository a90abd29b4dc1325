"""Crypto-layer errors, all under the roots in dppdl.errors."""

from __future__ import annotations

from dppdl.errors import CryptoError, DecryptionError, UserError


class CryptoInputError(CryptoError, ValueError):
    """An argument to a crypto call is malformed (bad address, id out of range, wrong length)."""


class CodecError(CryptoInputError):
    """A vector cannot be encoded or decoded (non-finite values, wrong dtype)."""


class MaskError(CryptoInputError):
    """Sender sets, public keys or revealed slot keys do not fit together."""


class TooFewSendersError(MaskError):
    """Opening this sum would expose a single sender's vector; pass allow_single=True to accept."""


class InvalidPublicKeyError(CryptoInputError):
    """A peer's public key is malformed or of low order."""


class SenderBlobError(DecryptionError):
    """One sender's blob failed to open; `sender` holds its 20-byte address for a dispute."""

    def __init__(self, sender: bytes, message: str) -> None:
        super().__init__(message)
        self.sender = sender


class KeyFileError(CryptoError, UserError):
    """A key file is missing, malformed or would be overwritten."""


class WrongPasswordError(KeyFileError):
    """A key file did not open with the given password (or was altered)."""


class InsecureRandomnessWarning(UserWarning):
    """A caller supplied its own randomness: only for known-answer tests, never in a run."""
