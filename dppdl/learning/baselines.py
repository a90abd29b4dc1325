"""Baselines on the same partitions and models: standalone, centralized, DSSGD and FedAvg."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dppdl.errors import ConfigError
from dppdl.learning.batched import train_local_batched
from dppdl.learning.models import ModelName, build_model, flatten_params, load_flat_params
from dppdl.learning.seeding import STREAM_INIT, STREAM_SHUFFLE, derive_seed, torch_generator
from dppdl.learning.sgd import TrainConfig
from dppdl.learning.sparsify import keep_fraction
from dppdl.learning.train import evaluate, local_update, train_local

PartyData = tuple[torch.Tensor, torch.Tensor]  # (x, y) of one party
GLOBAL_INIT = 0xFFFF_FFFF  # party key of the shared model in centralized/DSSGD/FedAvg


@dataclass(frozen=True, eq=False)
class BaselineResult:
    """Test accuracy per epoch: one row per party, or a single row for one global model."""

    name: str
    accuracy: np.ndarray  # float64 (rows, epochs), each in [0, 1]

    @property
    def final(self) -> np.ndarray:
        """Accuracy after the last epoch, one entry per row."""
        return self.accuracy[:, -1]


def _check(parties: Sequence[PartyData], epochs: int) -> None:
    if not parties:
        raise ConfigError("a baseline needs at least one party")
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")


def _generators(seed: int, n: int) -> list[torch.Generator]:
    return [torch_generator(seed, STREAM_SHUFFLE, i) for i in range(n)]


def standalone(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
) -> BaselineResult:
    """Each party trains alone on its own data (batched over parties); one row per party."""
    cfg = config or TrainConfig()
    _check(parties, epochs)
    n = len(parties)
    models = [build_model(model, seed=derive_seed(seed, STREAM_INIT, i)) for i in range(n)]
    gens = _generators(seed, n)
    xs, ys = [p[0] for p in parties], [p[1] for p in parties]
    steps = [0] * n
    acc = np.zeros((n, epochs))
    for e in range(epochs):
        done = train_local_batched(
            models, xs, ys, config=cfg, epochs=1, generators=gens, start_steps=steps
        )
        steps = [s + d for s, d in zip(steps, done, strict=True)]
        acc[:, e] = [evaluate(m, *test) for m in models]
    return BaselineResult("standalone", acc)


def centralized(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
) -> BaselineResult:
    """One model trained on the union of all parties' data; a single row."""
    cfg = config or TrainConfig()
    _check(parties, epochs)
    net = build_model(model, seed=derive_seed(seed, STREAM_INIT, GLOBAL_INIT))
    x = torch.cat([p[0] for p in parties])
    y = torch.cat([p[1] for p in parties])
    gen = torch_generator(seed, STREAM_SHUFFLE, GLOBAL_INIT)
    step = 0
    acc = np.zeros((1, epochs))
    for e in range(epochs):
        step += train_local(net, x, y, config=cfg, epochs=1, generator=gen, start_step=step)
        acc[0, e] = evaluate(net, *test)
    return BaselineResult("centralized", acc)


def dssgd(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
    theta_u: float = 0.1,
) -> BaselineResult:
    """Distributed selective SGD (Shokri & Shmatikov 2015), round robin; one row per party.

    Each epoch, parties take turns in index order: download all global parameters (θ_d = 1),
    train one local epoch, and upload the floor(θ_u·|w|) entries of largest magnitude of their
    update Δw, which are added to the global parameters. A party's accuracy is that of its own
    local model at the end of the epoch.
    """
    cfg = config or TrainConfig()
    _check(parties, epochs)
    if not 0.0 < theta_u <= 1.0:
        raise ConfigError(f"theta_u must be in (0, 1], got {theta_u}")
    n = len(parties)
    init = build_model(model, seed=derive_seed(seed, STREAM_INIT, GLOBAL_INIT))
    global_w = flatten_params(init)
    locals_ = [copy.deepcopy(init) for _ in range(n)]
    gens = _generators(seed, n)
    steps = [0] * n
    acc = np.zeros((n, epochs))
    for e in range(epochs):
        for i, (x, y) in enumerate(parties):
            load_flat_params(locals_[i], global_w)
            delta, done = local_update(
                locals_[i], x, y, config=cfg, epochs=1, generator=gens[i], start_step=steps[i]
            )
            steps[i] += done
            global_w = global_w + keep_fraction(delta, fraction=theta_u)
        acc[:, e] = [evaluate(m, *test) for m in locals_]
    return BaselineResult("dssgd", acc)


def fedavg(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
    local_epochs: int = 1,
) -> BaselineResult:
    """FedAvg (McMahan et al. 2017) with all parties every round; a single row (global model).

    Each round every party starts from the global model, trains `local_epochs` epochs (batched
    over parties), and the global model becomes the average weighted by |D_i|.
    """
    cfg = config or TrainConfig()
    _check(parties, epochs)
    if local_epochs < 1:
        raise ConfigError(f"local_epochs must be at least 1, got {local_epochs}")
    n = len(parties)
    global_net = build_model(model, seed=derive_seed(seed, STREAM_INIT, GLOBAL_INIT))
    locals_: list[nn.Module] = [copy.deepcopy(global_net) for _ in range(n)]
    gens = _generators(seed, n)
    xs, ys = [p[0] for p in parties], [p[1] for p in parties]
    weights = torch.tensor([float(len(y)) for y in ys])
    if weights.sum() <= 0:
        raise ConfigError("FedAvg needs at least one training example")
    weights = weights / weights.sum()
    steps = [0] * n
    acc = np.zeros((1, epochs))
    for e in range(epochs):
        global_w = flatten_params(global_net)
        for net in locals_:
            load_flat_params(net, global_w)
        done = train_local_batched(
            locals_, xs, ys, config=cfg, epochs=local_epochs, generators=gens, start_steps=steps
        )
        steps = [s + d for s, d in zip(steps, done, strict=True)]
        stacked = torch.stack([flatten_params(net) for net in locals_])
        load_flat_params(global_net, weights @ stacked)
        acc[0, e] = evaluate(global_net, *test)
    return BaselineResult("fedavg", acc)


BaselineFn = Callable[..., BaselineResult]
BASELINES: dict[str, BaselineFn] = {
    "standalone": standalone,
    "centralized": centralized,
    "dssgd": dssgd,
    "fedavg": fedavg,
}


def run_baseline(name: str, **kwargs: object) -> BaselineResult:
    """Run a baseline by name (see BASELINES) with the keyword arguments of that function."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose one of {tuple(BASELINES)}")
    return BASELINES[name](**kwargs)
