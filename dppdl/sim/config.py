"""SimulationConfig: one `dppdl simulate` run (N agents on this machine against one chain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dppdl.crypto.codec import CodecConfig
from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig
from dppdl.learning.gan_config import DPGANConfig
from dppdl.learning.sgd import TrainConfig
from dppdl.party.config import BEHAVIOURS, SETTINGS
from dppdl.party.windows import Windows


@dataclass(frozen=True)
class SimulationConfig:
    """What `dppdl simulate` runs; defaults are the demo's (4 parties, MLP, same privacy)."""

    parties: int = 4  # n
    setting: str = "same-privacy"  # partition rule (DESIGN §8)
    model: str = "mlp"  # the paper's MLP or CNN
    epochs: int = 2  # training epochs after benchmarking
    seed: int = 0  # partition, model inits, SGD order, DP-GANs, samples
    limit: int | None = None  # examples per party (tiny runs); None = the paper's sizes
    test_limit: int | None = None  # MNIST test examples for accuracy; None = all 10,000
    behaviours: tuple[str, ...] = ()  # per party by shard index; missing ones are honest
    in_process: bool = False  # run the agents as threads of this process instead of processes
    rpc_url: str | None = None  # use this chain instead of starting Anvil
    storage: tuple[str, ...] = ()  # use these storage nodes instead of starting one
    runs_dir: Path = Path("runs")  # where runs/<id>/ is written
    prepared_cache: Path | None = None  # reuse standalone models and DP-GANs prepared before
    gan: DPGANConfig = field(default_factory=DPGANConfig)  # each party's DP-GAN (ε = 4)
    train: TrainConfig = field(default_factory=TrainConfig)  # local SGD (lr 0.001, batch 1, ...)
    collab: CollabConfig = field(default_factory=CollabConfig)  # shared init, mean aggregation
    codec: CodecConfig = field(default_factory=CodecConfig)  # masking ring (32-bit default)
    windows: Windows | None = None  # task phase windows in blocks; None = for_parties(n)
    credibility_threshold_ppm: int = 0  # c_th of the task in ppm; 0 = the paper's (2/3)(1/n)
    block_time: float = 1.0  # seconds per interval-mined block (transactions mine at once)
    timeout: float = 3600.0  # seconds before the simulation gives up on its agents

    def __post_init__(self) -> None:
        if self.parties < 3:
            raise ConfigError(f"--parties must be at least 3, not {self.parties}")
        if self.setting not in SETTINGS:
            raise ConfigError(f"--setting must be one of {', '.join(SETTINGS)}")
        if self.model not in ("mlp", "cnn"):
            raise ConfigError("--model must be mlp or cnn")
        if self.epochs < 1:
            raise ConfigError("--epochs must be at least 1")
        if self.seed < 0:
            raise ConfigError("--seed must be non-negative")
        if len(self.behaviours) > self.parties:
            raise ConfigError(f"{len(self.behaviours)} behaviours for {self.parties} parties")
        for b in self.behaviours:
            if b not in BEHAVIOURS:
                raise ConfigError(f"unknown behaviour {b!r}; choose from {', '.join(BEHAVIOURS)}")
        for name in ("limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 2")

    def task_windows(self) -> Windows:
        """The windows the task is published with: the given ones, or the defaults for n."""
        return self.windows if self.windows is not None else Windows.for_parties(self.parties)

    def behaviour(self, index: int) -> str:
        return self.behaviours[index] if index < len(self.behaviours) else "honest"
