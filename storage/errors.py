"""Error root of the storage package; each error is also the matching builtin where one fits."""

from __future__ import annotations


class StorageError(Exception):
    """Root of every error the storage package raises on purpose."""


class StorageUserError(StorageError):
    """A mistake the user can fix (bad CID, URL, directory, busy port): one line, no traceback."""


class InvalidCid(StorageUserError, ValueError):
    """A string that is not a CIDv1 raw sha2-256 base32 address."""


class BlobNotFound(StorageError, KeyError):
    """No store holds a blob with this CID."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0]) if self.args else "blob not found"


class IntegrityError(StorageError):
    """Bytes do not match the digest their CID names."""


class StorageUnavailable(StorageError, ConnectionError):
    """A node (or every replica) cannot be reached or answers with a server error."""


class BlobTooLarge(StorageUserError, ValueError):
    """A blob exceeds the size limit of the store or node."""


class StorageAuthError(StorageUserError, PermissionError):
    """A write was refused: the node requires a bearer token and ours is missing or wrong."""
