"""A party's configuration: one frozen dataclass, loaded from TOML, every field also a CLI flag."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dppdl.errors import ConfigError

SETTINGS = ("same-privacy", "different-privacy", "imbalanced")
# How a party misbehaves in tests and experiments: label noise (random/constant labels), an
# uploader that never uploads, or one whose committed blob is altered after sealing so that it
# fails to open (its digest and key hash match the chain; a dispute proves it bad).
BEHAVIOURS = ("honest", "random-labels", "constant-labels", "no-upload", "corrupt-upload")
LABEL_BEHAVIOURS = ("honest", "random-labels", "constant-labels")  # what the learner labels as


@dataclass(frozen=True)
class DataConfig:
    """Which shard of which data set this party holds (simulation: a seeded MNIST partition)."""

    setting: str = "same-privacy"  # partition rule of the paper (DESIGN §8)
    n_parties: int = 4  # size of the partition the shard is cut from
    index: int = 0  # this party's shard
    seed: int = 0  # partition seed, shared by all parties of a run
    limit: int | None = (
        None  # cap examples per party (tiny runs and tests); None = the paper's sizes
    )
    test_limit: int | None = None  # cap MNIST test examples used for accuracy; None = all 10,000

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ConfigError(
                f"data.setting must be one of {', '.join(SETTINGS)}, not {self.setting!r}"
            )
        if self.n_parties < 3:
            raise ConfigError(f"data.n_parties must be at least 3, not {self.n_parties}")
        if not 0 <= self.index < self.n_parties:
            raise ConfigError(f"data.index {self.index} is outside 0..{self.n_parties - 1}")
        for name in ("limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"data.{name} must be positive, not {value}")


@dataclass(frozen=True)
class PartyConfig:
    """Everything a party agent needs to find the chain, its keys, its data and its storage."""

    rpc_url: str = "http://127.0.0.1:8545"  # any EVM JSON-RPC endpoint
    deployments: Path = Path("deployments")  # folder holding deployments/<chainId>.json
    storage: tuple[str, ...] = (
        "dir://.dppdl/blobs",
    )  # blob store specs: dir://PATH or http://HOST:PORT
    replication: int = 1  # write each blob to this many stores
    storage_token: str | None = None  # bearer token for writes to HTTP storage nodes
    key_file: Path = Path("party/eth-key.json")  # Ethereum keystore (eth-account format), mode 0600
    box_key_file: Path = Path("party/x25519-key.bin")  # X25519 key pair for masks and layer 3, 0600
    password_env: str = "DPPDL_KEY_PASSWORD"  # environment variable holding the key-file password
    state_dir: Path = Path("party/state")  # checkpoints (model, credibility, progress)
    behaviour: str = "honest"  # misbehaviour for tests and experiments (see BEHAVIOURS)
    poll_interval: float = 0.2  # seconds between chain polls while waiting
    # reuse standalone models and DP-GANs prepared from identical inputs (dppdl.learning.prepared)
    prepared_cache: Path | None = None
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        if not self.rpc_url.startswith(("http://", "https://")):
            raise ConfigError(f"rpc_url must be an http(s) URL, not {self.rpc_url!r}")
        if not self.storage:
            raise ConfigError("storage must name at least one blob store")
        if not 1 <= self.replication <= len(self.storage):
            raise ConfigError(
                f"replication {self.replication} must be between 1 and the {len(self.storage)} "
                "configured stores"
            )
        if self.behaviour not in BEHAVIOURS:
            raise ConfigError(
                f"behaviour must be one of {', '.join(BEHAVIOURS)}, not {self.behaviour!r}"
            )
        if self.poll_interval <= 0:
            raise ConfigError("poll_interval must be positive")


_PATH_FIELDS = {"deployments", "key_file", "box_key_file", "state_dir", "prepared_cache"}


def config_from_dict(raw: dict[str, Any], *, base: Path = Path(".")) -> PartyConfig:
    """Build a PartyConfig from parsed TOML; relative paths are taken from `base`."""
    raw = dict(raw)
    known = {f.name for f in dataclasses.fields(PartyConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    data_raw = raw.pop("data", {})
    if not isinstance(data_raw, dict):
        raise ConfigError("[data] must be a table")
    data_known = {f.name for f in dataclasses.fields(DataConfig)}
    data_unknown = sorted(set(data_raw) - data_known)
    if data_unknown:
        raise ConfigError(f"unknown [data] key(s): {', '.join(data_unknown)}")
    for name in _PATH_FIELDS & set(raw):
        path = Path(raw[name]).expanduser()
        raw[name] = path if path.is_absolute() else base / path
    if "storage" in raw:
        storage = raw["storage"]
        raw["storage"] = (storage,) if isinstance(storage, str) else tuple(storage)
    try:
        return PartyConfig(**raw, data=DataConfig(**data_raw))
    except TypeError as exc:  # a wrong type in the file
        raise ConfigError(f"malformed config: {exc}") from None


def load_config(path: Path) -> PartyConfig:
    """Read a party's TOML config; a missing or malformed file is a one-line ConfigError."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no party config at {path}; run `dppdl party init`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return config_from_dict(raw, base=path.parent)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dump_config(config: PartyConfig) -> str:
    """Render a PartyConfig as TOML (None values are left out)."""
    lines = []
    for f in dataclasses.fields(PartyConfig):
        value = getattr(config, f.name)
        if f.name == "data" or value is None:
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    lines.append("")
    lines.append("[data]")
    for f in dataclasses.fields(DataConfig):
        value = getattr(config.data, f.name)
        if value is not None:
            lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
