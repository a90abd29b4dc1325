"""One party's local DPPDL computation, shared by the reference runner and the on-chain agent.

A `Participant` owns everything random it uses, seeded from (task seed, party index, purpose),
so its results do not depend on the order in which parties are stepped or on any global RNG:

- model initial weights: the task's shared ``collab.init_seed`` (see dppdl.learning.collab), or
  ``derive_seed(seed, index, "model")`` when the task gives each party its own
- local SGD permutations: one ``torch.Generator`` seeded ``derive_seed(seed, index, "train")``,
  consumed by `pretrain` and then one `local_update` per epoch, in that order
- DP-GAN: ``train_dpgan(..., seed=derive_seed(seed, index, "gan"))``
- released samples of round r (0 = benchmarking, t + 1 = credibility update after epoch t):
  ``generate(..., seed=derive_seed(seed, index, "samples", r))``
- misbehaving labels: derived from the sha-256 of the samples' bytes, so labelling the same
  samples gives the same answer in any order and after a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import torch

from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig, aggregate_step, bound_update
from dppdl.learning.data import MnistData, PartyShard, party_tensors
from dppdl.learning.dpgan import (
    DPGANConfig,
    DPGANResult,
    build_generator,
    generate,
    train_dpgan,
)
from dppdl.learning.models import (
    ModelName,
    build_model,
    flatten_params,
    load_flat_params,
    param_count,
)
from dppdl.learning.seeding import seeded_global_rng
from dppdl.learning.train import TrainConfig, evaluate, predict, train_local
from dppdl.protocol.points import PPM

Behaviour = Literal["honest", "random-labels", "constant-labels"]
BEHAVIOURS: tuple[str, ...] = get_args(Behaviour)
N_CLASSES = 10  # MNIST digits
CONSTANT_LABEL = 0  # what a "constant-labels" party answers for every sample
_PURPOSES = {"model": 1, "train": 2, "gan": 3, "samples": 4, "labels": 5}


def derive_seed(seed: int, index: int, purpose: str, *extra: int) -> int:
    """A 60-bit seed for (task seed, party index, purpose, extra ints), independent per input."""
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}")
    if seed < 0 or index < 0 or any(e < 0 for e in extra):
        raise ValueError("seed, index and extra must be non-negative")
    words = np.random.SeedSequence([seed, index, _PURPOSES[purpose], *extra]).generate_state(2)
    return ((int(words[0]) << 32) | int(words[1])) >> 4


def sample_count(*, privacy_ppm: int, n_examples: int) -> int:
    """u_i = round(ε_i * |D_i|) in integer arithmetic (half up), at least 1."""
    return max(1, (privacy_ppm * n_examples + PPM // 2) // PPM)


class Participant:
    """Party i's data, model, DP-GAN and the local steps of Algorithms 1 and 2."""

    def __init__(
        self,
        *,
        index: int,
        x: torch.Tensor,
        y: torch.Tensor,
        privacy_level: float,
        model_name: ModelName,
        seed: int,
        train_config: TrainConfig,
        gan_config: DPGANConfig,
        collab: CollabConfig | None = None,
        behaviour: Behaviour = "honest",
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ConfigError(f"unknown behaviour {behaviour!r}; choose one of {BEHAVIOURS}")
        if not 0.0 < privacy_level <= 1.0:
            raise ConfigError(f"privacy_level must be in (0, 1], got {privacy_level}")
        if x.shape[0] != y.shape[0] or x.shape[0] < 2:
            raise ConfigError(f"party {index} needs at least 2 examples with labels")
        self.index = index
        self.x = x
        self.y = y
        self.privacy_level = privacy_level
        self.model_name = model_name
        self.seed = seed
        self.train_config = train_config
        self.gan_config = gan_config
        self.behaviour: Behaviour = behaviour
        self.collab = collab or CollabConfig()
        init = self.collab.init_seed
        self.init_seed = derive_seed(seed, index, "model") if init is None else init
        self.model = build_model(model_name, seed=self.init_seed)
        self.collaborating = False  # True from the first local update of Algorithm 2 on
        self.generator = torch.Generator().manual_seed(derive_seed(seed, index, "train"))
        self.steps = 0  # SGD updates so far (drives the decayed learning rate)
        self.gan: DPGANResult | None = None

    @property
    def privacy_ppm(self) -> int:
        """ε_i in parts per million, as stored on-chain."""
        return round(self.privacy_level * PPM)

    @property
    def n_examples(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_params(self) -> int:
        return param_count(self.model)

    @property
    def sample_count(self) -> int:
        """u_i, the number of DP-GAN samples released per round."""
        return sample_count(privacy_ppm=self.privacy_ppm, n_examples=self.n_examples)

    def params(self) -> np.ndarray:
        """Current flat weights as float32 numpy."""
        return flatten_params(self.model).numpy()

    def pretrain(self) -> None:
        """Standalone training: ``train_config.local_epochs`` passes over the local data."""
        self.steps += train_local(
            self.model, self.x, self.y, config=self.train_config,
            epochs=self.train_config.local_epochs, generator=self.generator,
            start_step=self.steps,
        )

    def train_gan(self, *, progress: bool = False) -> DPGANResult:
        """Train this party's class-conditional DP-GAN on its (image, label) examples."""
        self.gan = train_dpgan(
            self.x, labels=self.y, config=self.gan_config,
            seed=derive_seed(self.seed, self.index, "gan"), progress=progress,
        )
        return self.gan

    @property
    def trained_gan(self) -> DPGANResult:
        """The DP-GAN from `train_gan` (or a prepared-cache restore); an error before it."""
        if self.gan is None:
            raise RuntimeError(f"party {self.index}: its DP-GAN is not trained yet (train_gan())")
        return self.gan

    def release_samples(self, count: int | None = None, *, round: int) -> torch.Tensor:
        """``count`` (default u_i) fresh DP-GAN samples for credibility round ``round``."""
        n = self.sample_count if count is None else count
        return generate(
            self.trained_gan.generator, n, seed=derive_seed(self.seed, self.index, "samples", round)
        )

    def label(self, samples: torch.Tensor) -> np.ndarray:
        """Labels (int64) for another party's samples, according to this party's behaviour."""
        n = int(samples.shape[0])
        if self.behaviour == "constant-labels":
            return np.full(n, CONSTANT_LABEL, dtype=np.int64)
        if self.behaviour == "random-labels":
            digest = hashlib.sha256(samples.detach().contiguous().numpy().tobytes()).digest()
            content = int.from_bytes(digest[:7], "big")
            rng = np.random.default_rng(derive_seed(self.seed, self.index, "labels", content))
            return rng.integers(0, N_CLASSES, n, dtype=np.int64)
        return predict(self.model, samples).numpy().astype(np.int64)

    def begin_collaboration(self) -> None:
        """Before the first local update of Algorithm 2: with the task's ``start="init"`` the
        model goes back to the initial weights (the standalone model has served benchmarking).
        Later calls do nothing, so a resumed party does not restart twice."""
        if self.collaborating:
            return
        if self.collab.start == "init":
            initial = build_model(self.model_name, seed=self.init_seed)
            self.model.load_state_dict(initial.state_dict())
        self.collaborating = True

    def local_update(self) -> np.ndarray:
        """One local epoch; keeps w_i + Δw_i and returns Δw_i (float32, flat), its entries cut
        to the task's ``update_bound`` when it has one."""
        self.begin_collaboration()
        before = flatten_params(self.model)
        self.steps += train_local(
            self.model, self.x, self.y, config=self.train_config, epochs=1,
            generator=self.generator, start_step=self.steps,
        )
        return self._keep_bounded(before)

    def _keep_bounded(self, before: torch.Tensor) -> np.ndarray:
        delta = (flatten_params(self.model) - before).numpy()
        if self.collab.update_bound is None:
            return delta
        delta = bound_update(delta, self.collab.update_bound)
        load_flat_params(self.model, before + torch.from_numpy(delta))
        return delta

    def apply_aggregate(
        self, sum_of_sparse_updates: np.ndarray, *, own_update: np.ndarray, n_senders: int
    ) -> None:
        """Fold Σ_{j∈S} Δw̃_j^i of ``n_senders`` senders into the model (which holds w_i + Δw_i)
        by the task's rule: "mean" w_i + (Δw_i + Σ)/(1 + |S|), or w_i + λ·Δw_i + (1 − λ)·Σ/|S|
        with an own weight λ; "sum" w_i + Δw_i + Σ."""
        total = np.asarray(sum_of_sparse_updates, dtype=np.float32)
        if total.shape != (self.n_params,):
            raise ValueError(f"aggregate has shape {total.shape}, expected ({self.n_params},)")
        step = aggregate_step(
            opened_sum=total, own_update=own_update, n_senders=n_senders,
            rule=self.collab.aggregation, own_weight=self.collab.own_weight,
        )
        load_flat_params(self.model, flatten_params(self.model) + torch.from_numpy(step))

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> float:
        """Test accuracy of the current model."""
        return evaluate(self.model, test_x, test_y)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, SGD generator and step count, the DP-GAN."""
        return {**self.model_state(), "collaborating": self.collaborating,
                "gan": self.gan_state()}  # fmt: skip

    def model_state(self) -> dict[str, Any]:
        """The classifier's part of `state_dict`: weights, SGD generator, step count."""
        return {
            "index": self.index,
            "model": {k: v.clone() for k, v in self.model.state_dict().items()},
            "generator": self.generator.get_state(),
            "steps": self.steps,
        }

    def gan_state(self) -> dict[str, Any] | None:
        """The DP-GAN's part of `state_dict` (None before `train_gan`)."""
        if self.gan is None:
            return None
        return {
            "generator": self.gan.generator.state_dict(),
            "dp_epsilon_spent": self.gan.dp_epsilon_spent,
            "delta": self.gan.delta,
            "steps": self.gan.steps,
            "seconds": self.gan.seconds,
            "noise_multiplier": self.gan.noise_multiplier,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from `state_dict()`; the party's data and configs come from the constructor."""
        self.load_model_state(state)
        self.collaborating = bool(state.get("collaborating", False))
        self.load_gan_state(state["gan"])

    def load_model_state(self, state: dict[str, Any]) -> None:
        """Restore the classifier from `model_state()` (or a whole `state_dict()`)."""
        if state.get("index") != self.index:
            raise ConfigError(f"checkpoint is for party {state.get('index')}, not {self.index}")
        self.model.load_state_dict(state["model"])
        self.generator.set_state(state["generator"])
        self.steps = int(state["steps"])

    def load_gan_state(self, gan: dict[str, Any] | None) -> None:
        """Restore the DP-GAN from `gan_state()`; None leaves the party without one."""
        if gan is None:
            self.gan = None
            return
        cfg = self.gan_config
        with seeded_global_rng(0):  # the weights are overwritten; do not race other threads
            module = build_generator(cfg)
        module.load_state_dict(gan["generator"])
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
        self.gan = DPGANResult(
            generator=module,
            dp_epsilon_spent=float(gan["dp_epsilon_spent"]),
            delta=float(gan["delta"]),
            steps=int(gan["steps"]),
            seconds=float(gan["seconds"]),
            noise_multiplier=float(gan["noise_multiplier"]),
        )


def pretrain_many(parties: Sequence[Participant], *, batched: bool) -> None:
    """`pretrain` for each party; with ``batched`` one vmapped run (same numbers, faster)."""
    if not batched or len(parties) < 2:
        for p in parties:
            p.pretrain()
        return
    _train_batched(parties, epochs=parties[0].train_config.local_epochs)


def local_update_many(parties: Sequence[Participant], *, batched: bool) -> list[np.ndarray]:
    """`local_update` for each party (one local epoch), optionally vmapped; returns each Δw."""
    if not batched or len(parties) < 2:
        return [p.local_update() for p in parties]
    for p in parties:
        p.begin_collaboration()
    before = [flatten_params(p.model) for p in parties]
    _train_batched(parties, epochs=1)
    return [p._keep_bounded(b) for p, b in zip(parties, before, strict=True)]


def _train_batched(parties: Sequence[Participant], *, epochs: int) -> None:
    from dppdl.learning.batched import train_local_batched

    configs = {p.train_config for p in parties}
    if len(configs) != 1:
        raise ValueError("batched training needs one TrainConfig for all parties")
    counts = train_local_batched(
        [p.model for p in parties], [p.x for p in parties], [p.y for p in parties],
        config=parties[0].train_config, epochs=epochs,
        generators=[p.generator for p in parties], start_steps=[p.steps for p in parties],
    )
    for p, c in zip(parties, counts, strict=True):
        p.steps += c


def participant_for_shard(
    shard: PartyShard, *, data: MnistData, limit: int | None, model_name: ModelName, seed: int,
    train_config: TrainConfig, gan_config: DPGANConfig, collab: CollabConfig | None = None,
    behaviour: Behaviour = "honest",
) -> Participant:  # fmt: skip
    """Party ``shard.index`` on its shard (the first ``limit`` examples, if given).

    The reference runner and the on-chain agent both build parties here, so the same seed
    gives the same party in both.
    """
    x, y = party_tensors(data, shard)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return Participant(
        index=shard.index, x=x, y=y, privacy_level=shard.privacy_level, model_name=model_name,
        seed=seed, train_config=train_config, gan_config=gan_config, collab=collab,
        behaviour=behaviour,
    )
