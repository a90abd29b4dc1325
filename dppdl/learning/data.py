"""MNIST as padded, normalised tensors, and the paper's three deterministic party partitions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch

from dppdl.errors import ConfigError, DataMissingError
from dppdl.learning.mnist_files import (
    FETCH_COMMAND,
    MNIST_FILES,
    DataCorruptError,
    default_cache_dir,
    fetch_mnist,
    mnist_dir,
    mnist_present,
    read_idx,
)

__all__ = [
    "DataCorruptError",
    "MnistData",
    "PartyShard",
    "Setting",
    "default_cache_dir",
    "fetch_mnist",
    "load_mnist",
    "make_partition",
    "mnist_present",
    "party_tensors",
]

Setting = Literal["same-privacy", "different-privacy", "imbalanced"]
SETTINGS: tuple[str, ...] = get_args(Setting)

PAD = 2  # 28 + 2*2 = 32: the paper's 1024 inputs
SHARD_SIZE = 600  # examples per party in the same- and different-privacy settings
IMBALANCED_TOTALS = {4: 2400, 15: 9000, 30: 18000, 50: 30000}  # the paper's totals; else 600*n
IMBALANCED_MIN_FRACTION = 0.1  # every imbalanced party gets at least 10% of the mean size
PRIVACY_LEVEL_FIXED = 0.1  # ε_i in same-privacy and imbalanced
PRIVACY_LEVEL_RANGE = (0.1, 0.5)  # ε_i ~ U[0.1, 0.5] in different-privacy


@dataclass(frozen=True, eq=False)
class MnistData:
    """MNIST, 28x28 zero-padded to 32x32 then normalised: x = (pixel/255 - mean) / std.

    mean and std are those of the padded training images in [0, 1] (padding included).
    """

    train_x: torch.Tensor  # float32 (60000, 1, 32, 32)
    train_y: torch.Tensor  # int64 (60000,)
    test_x: torch.Tensor  # float32 (10000, 1, 32, 32)
    test_y: torch.Tensor  # int64 (10000,)
    mean: float
    std: float


@dataclass(frozen=True, eq=False)
class PartyShard:
    """One party's slice of the training set: sorted, read-only row indices and its ε_i."""

    index: int
    indices: np.ndarray
    privacy_level: float  # the paper's ε_i = u_i/|D_i| (NOT a differential-privacy ε)

    @property
    def size(self) -> int:
        return int(self.indices.size)

    @property
    def privacy_ppm(self) -> int:
        """ε_i in parts per million, the integer the contracts store (0.1 -> 100_000)."""
        return round(self.privacy_level * 1_000_000)


def load_mnist(*, cache_dir: Path | None = None) -> MnistData:
    """Load the fetched IDX files; DataMissingError naming the fetch command if absent."""
    folder = mnist_dir(cache_dir)
    if not all((folder / name).is_file() for name in MNIST_FILES):
        raise DataMissingError(f"MNIST not found in {folder}; run `{FETCH_COMMAND}`")
    train_raw = _padded(read_idx(folder / "train-images-idx3-ubyte", images=True))
    test_raw = _padded(read_idx(folder / "t10k-images-idx3-ubyte", images=True))
    train_y = read_idx(folder / "train-labels-idx1-ubyte", images=False)
    test_y = read_idx(folder / "t10k-labels-idx1-ubyte", images=False)
    if len(train_y) != len(train_raw) or len(test_y) != len(test_raw):
        raise DataCorruptError(f"MNIST in {folder}: image and label counts differ")
    scaled = train_raw.astype(np.float64) / 255.0
    mean, std = float(scaled.mean()), float(scaled.std())
    return MnistData(
        train_x=_normalised(train_raw, mean, std),
        train_y=torch.from_numpy(train_y.astype(np.int64)),
        test_x=_normalised(test_raw, mean, std),
        test_y=torch.from_numpy(test_y.astype(np.int64)),
        mean=mean,
        std=std,
    )


def _padded(images: np.ndarray) -> np.ndarray:
    return np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))[:, None, :, :]


def _normalised(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    x = torch.from_numpy(images).to(torch.float32).div_(255.0)
    return x.sub_(mean).div_(std)


def party_tensors(data: MnistData, shard: PartyShard) -> tuple[torch.Tensor, torch.Tensor]:
    """The (x, y) training tensors of one party."""
    idx = torch.from_numpy(shard.indices.astype(np.int64))
    return data.train_x[idx], data.train_y[idx]


def make_partition(
    *, setting: Setting, n_parties: int, seed: int, n_train: int = 60000
) -> list[PartyShard]:
    """Split rows 0..n_train-1 into disjoint party shards, deterministically from `seed`.

    - same-privacy: 600 examples each, ε_i = 0.1.
    - different-privacy: 600 examples each, ε_i ~ U[0.1, 0.5] rounded to whole ppm.
    - imbalanced: a total of {4: 2400, 15: 9000, 30: 18000, 50: 30000}[n] examples (600·n for
      other n), ε_i = 0.1. Sizes: every party gets a floor of 10% of the mean size; the rest is
      split by Dirichlet(1, ..., 1) proportions (a uniformly random point on the simplex),
      rounded by largest remainder so the sizes sum exactly to the total.
    """
    if setting not in SETTINGS:
        raise ConfigError(f"unknown partition setting {setting!r}; choose one of {SETTINGS}")
    if n_parties < 1:
        raise ConfigError(f"n_parties must be at least 1, got {n_parties}")
    if n_train < 1:
        raise ConfigError(f"n_train must be at least 1, got {n_train}")
    rng = np.random.default_rng(seed)
    if setting == "imbalanced":
        total = IMBALANCED_TOTALS.get(n_parties, SHARD_SIZE * n_parties)
        sizes = _imbalanced_sizes(rng, total=total, n_parties=n_parties)
    else:
        sizes = np.full(n_parties, SHARD_SIZE, dtype=np.int64)
    if setting == "different-privacy":
        levels = np.round(rng.uniform(*PRIVACY_LEVEL_RANGE, size=n_parties), 6)
    else:
        levels = np.full(n_parties, PRIVACY_LEVEL_FIXED)
    total = int(sizes.sum())
    if total > n_train:
        raise ConfigError(
            f"{setting} with {n_parties} parties needs {total} training examples, "
            f"only {n_train} available"
        )
    perm = rng.permutation(n_train)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    shards = []
    for i in range(n_parties):
        idx = np.sort(perm[bounds[i] : bounds[i + 1]])
        idx.setflags(write=False)
        shards.append(PartyShard(index=i, indices=idx, privacy_level=float(levels[i])))
    return shards


def _imbalanced_sizes(rng: np.random.Generator, *, total: int, n_parties: int) -> np.ndarray:
    floor = int(IMBALANCED_MIN_FRACTION * total / n_parties)
    spare = total - floor * n_parties
    share = rng.dirichlet(np.ones(n_parties)) * spare
    sizes = np.floor(share).astype(np.int64)
    short = spare - int(sizes.sum())
    sizes[np.argsort(sizes - share, kind="stable")[:short]] += 1  # largest remainders first
    return sizes + floor
