"""ReferenceConfig: what one in-process DPPDL run (Algorithms 1 and 2) is made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig
from dppdl.learning.data import Setting
from dppdl.learning.gan_config import DPGANConfig
from dppdl.learning.models import ModelName
from dppdl.learning.participant import BEHAVIOURS, Behaviour
from dppdl.learning.train import TrainConfig

SETTINGS: tuple[str, ...] = get_args(Setting)
MODELS: tuple[str, ...] = get_args(ModelName)


@dataclass(frozen=True)
class ReferenceConfig:
    """One reference run; every default is the paper's unless the comment says otherwise."""

    n_parties: int = 4  # parties in the task (the paper uses 4, 15, 30, 50)
    setting: Setting = "same-privacy"  # partition of MNIST over the parties
    model: ModelName = "mlp"  # the paper's MLP (1024-128-64-10) or CNN
    epochs: int = 5  # collaborative epochs of Algorithm 2 after benchmarking (ours: short)
    seed: int = 0  # one seed for partition, model inits, SGD order, DP-GANs and samples
    train: TrainConfig = field(default_factory=TrainConfig)  # local SGD (lr 0.001, batch 1, ...)
    gan: DPGANConfig = field(default_factory=DPGANConfig)  # DP-GAN of each party (ε = 4)
    # shared initial model and the aggregation rule (ours: the paper leaves both open)
    collab: CollabConfig = field(default_factory=CollabConfig)
    train_limit: int | None = None  # keep only the first k examples of each shard (tiny runs)
    test_limit: int | None = None  # evaluate on the first k MNIST test examples; None = 10,000
    behaviours: tuple[Behaviour, ...] = ()  # per party in index order; missing ones are honest
    credibility_threshold_ppm: int = 0  # c_th in ppm for reports; 0 = the paper's (2/3)(1/n)
    # vmapped training of all parties: faster; SGD equal up to float rounding, but an entry at a
    # top-k boundary may then swap, so use False where bit-equality with agents matters
    batched: bool = False
    # test every party after round 0, every k-th round and the last one (ours: 1 = every round);
    # testing draws no randomness, so the models and the final accuracies do not depend on k
    eval_every: int = 1
    data_dir: Path | None = None  # MNIST cache folder; None = $DPPDL_DATA_DIR or ~/.cache/dppdl
    # restore standalone models and DP-GANs prepared before from identical inputs, store new ones
    prepared_cache: Path | None = None

    def __post_init__(self) -> None:
        if self.n_parties < 2:
            raise ConfigError(f"n_parties must be at least 2, got {self.n_parties}")
        if self.setting not in SETTINGS:
            raise ConfigError(f"unknown setting {self.setting!r}; choose one of {SETTINGS}")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {MODELS}")
        if self.epochs < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise ConfigError(f"{name} must be at least 2 (or None), got {value}")
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or (
            self.eval_every < 1
        ):
            raise ConfigError(f"eval_every must be a positive integer, got {self.eval_every!r}")
        if not 0 <= self.credibility_threshold_ppm <= 1_000_000:
            raise ConfigError("credibility_threshold_ppm must be in 0..1e6")
        if len(self.behaviours) > self.n_parties:
            raise ConfigError(
                f"{len(self.behaviours)} behaviours given for {self.n_parties} parties"
            )
        for b in self.behaviours:
            if b not in BEHAVIOURS:
                raise ConfigError(f"unknown behaviour {b!r}; choose one of {BEHAVIOURS}")

    def behaviour(self, index: int) -> Behaviour:
        """Behaviour of party ``index`` (honest unless listed)."""
        return self.behaviours[index] if index < len(self.behaviours) else "honest"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the configuration."""
        out = asdict(self)
        for folder in ("data_dir", "prepared_cache"):
            value = getattr(self, folder)
            out[folder] = None if value is None else str(value)
        out["behaviours"] = [self.behaviour(i) for i in range(self.n_parties)]
        out["gan"]["betas"] = list(self.gan.betas)
        return out
