"""Where the repository's chain-related folders live (source checkout layout)."""

from __future__ import annotations

import os
from pathlib import Path

from dppdl.errors import UserError


def repo_root() -> Path:
    """The repository root: env DPPDL_ROOT, else the checkout this package was imported from."""
    env = os.environ.get("DPPDL_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def devnet_dir() -> Path:
    return repo_root() / "devnet"


def contracts_dir() -> Path:
    return repo_root() / "contracts"


def build_dir() -> Path:
    return repo_root() / "build" / "contracts"


def migrations_dir() -> Path:
    return repo_root() / "migrations"


def solc_binary() -> Path:
    return devnet_dir() / "bin" / "solc"


def anvil_binary() -> Path:
    return devnet_dir() / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def ganache_binary() -> Path:
    return devnet_dir() / "node_modules" / ".bin" / "ganache"


def require_devnet_package(path: Path, what: str) -> Path:
    """Return `path`, or raise a one-line UserError telling how to install the devnet packages."""
    if not path.exists():
        raise UserError(
            f"{what} not found at {path}; run `make bootstrap` "
            "(or `cd devnet && npm ci --ignore-scripts`)"
        )
    return path
