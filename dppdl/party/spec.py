"""The task spec a requester publishes: stored off-chain as canonical JSON, its digest on-chain."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dppdl.crypto.codec import CodecConfig
from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig
from dppdl.learning.gan_config import DPGANConfig
from dppdl.learning.models import build_model, param_count
from dppdl.learning.train import TrainConfig

SPEC_FORMAT = "dppdl-task-spec/5"
FORMAT_4 = "dppdl-task-spec/4"
FORMAT_3 = "dppdl-task-spec/3"
FORMAT_2 = "dppdl-task-spec/2"
# the keys each older format lacked, by section, with the values its tasks ran with (written
# out, not taken from today's defaults, which may differ: the codec's ring was 64-bit)
_RING_64 = {"ring_bits": 64}
_NO_OWN_WEIGHT = {"own_weight": None}
KEYS_ADDED_AFTER: dict[str, dict[str, dict[str, Any]]] = {
    FORMAT_4: {"codec": _RING_64},
    FORMAT_3: {"codec": _RING_64, "collab": _NO_OWN_WEIGHT},
    FORMAT_2: {"codec": _RING_64,
               "collab": {**_NO_OWN_WEIGHT, "start": "pretrained", "update_bound": None}},
}  # fmt: skip
# format 1 had no `collab`: its tasks ran with per-party initial models and the "sum" rule
LEGACY_FORMAT = "dppdl-task-spec/1"
LEGACY_COLLAB = CollabConfig(init_seed=None, aggregation="sum", error_feedback=False)


def _fill_older(doc: dict[str, Any], version: str) -> None:
    """Add to `doc` the keys `version` lacked, refusing a doc of that version that has them."""
    for section, added in KEYS_ADDED_AFTER[version].items():
        if set(added) & doc[section].keys():
            raise ConfigError(f"a {version} spec has no {' or '.join(sorted(added))}")
        doc[section].update(added)


@dataclass(frozen=True)
class TaskSpec:
    """What every party of a task must agree on; the chain holds only sha2-256 of its JSON."""

    model: str = "mlp"  # "mlp" (1024-128-64-10, the paper's) or "cnn"
    n_parties: int = 4  # roster size n
    epochs: int = 2  # collaborative epochs after benchmarking (chain epochs 1..epochs)
    dataset: str = "mnist"  # data schema: 1x32x32 images, 10 classes
    train: TrainConfig = field(default_factory=TrainConfig)  # local SGD of every party
    gan: DPGANConfig = field(default_factory=DPGANConfig)  # every party's DP-GAN (ε = 4, δ = 1e-5)
    codec: CodecConfig = field(default_factory=CodecConfig)  # fixed point of the masked sums
    # the initial model every party starts from and how bought updates are folded in
    collab: CollabConfig = field(default_factory=CollabConfig)

    def __post_init__(self) -> None:
        if self.model not in ("mlp", "cnn"):
            raise ConfigError(f"spec.model must be mlp or cnn, not {self.model!r}")
        if self.n_parties < 3:
            raise ConfigError(f"spec.n_parties must be at least 3, not {self.n_parties}")
        if self.epochs < 1:
            raise ConfigError(f"spec.epochs must be at least 1, not {self.epochs}")
        if self.dataset != "mnist":
            raise ConfigError(f"spec.dataset {self.dataset!r} is not supported (only mnist)")
        if self.codec.max_summands < self.n_parties:
            raise ConfigError("spec.codec.max_summands must cover n_parties senders")

    @cached_property
    def n_params(self) -> int:
        """|w| of the spec's model."""
        return param_count(build_model(self.model, seed=0))  # type: ignore[arg-type]

    def to_json_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): the bytes whose digest goes on-chain."""
        doc = {"format": SPEC_FORMAT, **dataclasses.asdict(self)}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> TaskSpec:
        """Parse a published spec; anything malformed is a one-line ConfigError."""
        try:
            doc: dict[str, Any] = json.loads(data)
            version = doc.pop("format")
            if version == LEGACY_FORMAT:
                if "collab" in doc:
                    raise ConfigError(f"a {LEGACY_FORMAT} spec has no collab")
                doc["collab"] = dataclasses.asdict(LEGACY_COLLAB)
                _fill_older(doc, FORMAT_4)
            elif version in KEYS_ADDED_AFTER:
                _fill_older(doc, version)
            elif version != SPEC_FORMAT:
                raise ConfigError(
                    f"task spec is not {SPEC_FORMAT} (nor {FORMAT_4}, {FORMAT_3}, {FORMAT_2} "
                    f"or {LEGACY_FORMAT})"
                )
            # JSON has no tuples: every list in the GAN config was a tuple (e.g. Adam betas)
            gan: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in doc.pop("gan").items()
            }
            return cls(
                train=TrainConfig(**doc.pop("train")),
                gan=DPGANConfig(**gan),
                codec=CodecConfig(**doc.pop("codec")),
                collab=CollabConfig(**doc.pop("collab")),
                **doc,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"malformed task spec: {exc!r}") from None
