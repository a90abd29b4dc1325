"""SGD settings shared by the looped and the batched trainer (no torch import, so that configs
and command lines can name them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dppdl.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TrainConfig:
    """Plain SGD as in the paper.

    "decay" is Keras-style time-based decay: the t-th update (t = 0, 1, ... counted over the
    model's whole life, see `start_step`) uses lr_t = lr / (1 + decay * t).
    """

    lr: float = 0.001  # the paper's learning rate
    decay: float = 1e-7  # the paper's learning-rate decay (Keras time-based)
    batch_size: int = 1  # the paper trains with batch size 1
    local_epochs: int = 10  # local epochs before collaboration (standalone pre-training)

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if not self.decay >= 0:
            raise ConfigError(f"decay must be >= 0, got {self.decay}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.local_epochs < 0:
            raise ConfigError(f"local_epochs must be >= 0, got {self.local_epochs}")

    def lr_at(self, step: int) -> float:
        """Learning rate of the update with index `step` (0-based)."""
        return self.lr / (1.0 + self.decay * step)


def check_xy(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
