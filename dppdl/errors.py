"""One error root for dppdl; each error is also the matching builtin where one fits."""

from __future__ import annotations


class DppdlError(Exception):
    """Root of every error dppdl raises on purpose."""


class UserError(DppdlError):
    """A mistake the user can fix (bad flag, missing file, wrong URL): one line, no traceback."""


class ConfigError(UserError, ValueError):
    """A malformed or inconsistent configuration value."""


class DataMissingError(UserError, FileNotFoundError):
    """A data set or artifact that must be fetched or built first."""


class ChainError(DppdlError):
    """Talking to the chain failed (connection, deployment, transaction)."""


class RpcUnavailableError(ChainError, UserError, ConnectionError):
    """The JSON-RPC endpoint does not answer."""


class DeploymentMissingError(ChainError, UserError, FileNotFoundError):
    """No deployment record for this chain, or the contracts are not at the recorded addresses."""


class ContractRevert(ChainError):
    """A transaction or call reverted; a subclass per custom error (see dppdl.chain.reverts)."""


class CryptoError(DppdlError):
    """Root for the crypto layer."""


class DecryptionError(CryptoError, ValueError):
    """A blob failed to open: tampered, truncated, wrong key or slot. One type for every cause."""


class BlobFormatError(DecryptionError):
    """A blob is malformed (bad magic, version, sizes)."""
