"""The paper's MLP and CNN for 1x32x32 inputs, seeded init, and flat parameter vectors."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from dppdl.errors import ConfigError
from dppdl.learning.seeding import seeded_global_rng

ModelName = Literal["mlp", "cnn"]
MODEL_NAMES: tuple[str, ...] = get_args(ModelName)


class MLP(nn.Sequential):
    """The paper's MLP: 1024-128-64-10 with ReLU; 140,106 parameters.

    1024*128+128 = 131,200; 128*64+64 = 8,256; 64*10+10 = 650.
    """

    def __init__(self) -> None:
        super().__init__(
            nn.Flatten(),
            nn.Linear(1024, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )


class CNN(nn.Sequential):
    """A CNN after Shokri & Shmatikov (CCS 2015) for 1x32x32 inputs; 258,314 parameters.

    Our reconstruction (their exact widths are not pinned here): two 5x5 convolutions with 32
    and 64 filters (no padding), each followed by ReLU and 2x2 max pooling, then a 128-unit
    ReLU layer and 10 logits.
    Shapes: 1x32x32 -> 32x28x28 -> 32x14x14 -> 64x10x10 -> 64x5x5 (1,600) -> 128 -> 10.
    Parameters: conv1 1*32*25+32 = 832; conv2 32*64*25+64 = 51,264;
    fc1 1600*128+128 = 204,928; fc2 128*10+10 = 1,290; total 258,314.
    """

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(1, 32, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 5 * 5, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )


_REGISTRY: dict[str, type[nn.Module]] = {"mlp": MLP, "cnn": CNN}


def build_model(name: ModelName, *, seed: int) -> nn.Module:
    """A fresh model whose initial weights depend only on `seed` (the global RNG is untouched)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
    with seeded_global_rng(seed):
        return _REGISTRY[name]()


def param_count(model: nn.Module) -> int:
    """Number of parameter scalars (the length of flatten_params(model))."""
    return sum(p.numel() for p in model.parameters())


def flatten_params(model: nn.Module) -> torch.Tensor:
    """A 1-D float32 copy of all parameters in `model.parameters()` order."""
    return torch.cat([p.detach().reshape(-1).to(torch.float32) for p in model.parameters()])


def load_flat_params(model: nn.Module, flat: torch.Tensor) -> None:
    """Write a flat vector (as from flatten_params) back into the model, in place."""
    if flat.dim() != 1 or flat.numel() != param_count(model):
        raise ValueError(
            f"flat vector of shape {tuple(flat.shape)} does not fit {param_count(model)} params"
        )
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p))
            offset += n
