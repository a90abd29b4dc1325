"""Baselines on the same partitions and models: standalone, centralized, DSSGD and FedAvg.

Each tests its model(s) after every epoch by default; with ``eval_every`` k, after every k-th
epoch and the last (testing 15 CNNs on 10,000 images is a large share of a DSSGD run, and
testing changes no model or random stream, so the finals are the same whatever k is). With
``log``, each writes a line per epoch, with the accuracies when the epoch is tested.
"""

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
from dppdl.learning.train import (
    Say,
    accuracy_summary,
    evaluate,
    is_test_round,
    local_update,
    silent,
    train_local,
)

PartyData = tuple[torch.Tensor, torch.Tensor]  # (x, y) of one party
GLOBAL_INIT = 0xFFFF_FFFF  # party key of the shared model in centralized/DSSGD/FedAvg


@dataclass(frozen=True, eq=False)
class BaselineResult:
    """Test accuracy: one row per party, or a single row for one global model."""

    name: str
    accuracy: np.ndarray  # float64 (rows, len(evaluated)), each in [0, 1]
    evaluated: tuple[int, ...]  # the epochs (1-based) after which column k was tested

    @property
    def final(self) -> np.ndarray:
        """Accuracy after the last epoch, one entry per row."""
        return self.accuracy[:, -1]


def _check(parties: Sequence[PartyData], epochs: int) -> None:
    if not parties:
        raise ConfigError("a baseline needs at least one party")
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")


class _Tests:
    """The test accuracies of a baseline run, taken after the epochs ``eval_every`` selects."""

    def __init__(self, name: str, *, epochs: int, eval_every: int, log: Say | None) -> None:
        is_test_round(epochs, every=eval_every, last=epochs)  # checks eval_every
        self.name, self.epochs, self.every = name, epochs, eval_every
        self.say = log or silent
        self.columns: list[list[float]] = []
        self.evaluated: list[int] = []

    def after(self, epoch: int, models: Sequence[nn.Module], test: PartyData) -> None:
        """Test ``models`` if 1-based ``epoch`` is one to test; a progress line either way."""
        tested = ""
        if is_test_round(epoch, every=self.every, last=self.epochs):
            self.columns.append([evaluate(m, *test) for m in models])
            self.evaluated.append(epoch)
            tested = f": {accuracy_summary(self.columns[-1])}"
        self.say(f"{self.name} epoch {epoch}/{self.epochs}{tested}")

    def result(self) -> BaselineResult:
        acc = np.asarray(self.columns, dtype=np.float64).T
        return BaselineResult(self.name, acc, tuple(self.evaluated))


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
    eval_every: int = 1,
    log: Say | None = None,
) -> BaselineResult:
    """Each party trains alone on its own data (batched over parties); one row per party."""
    cfg = config or TrainConfig()
    _check(parties, epochs)
    n = len(parties)
    models = [build_model(model, seed=derive_seed(seed, STREAM_INIT, i)) for i in range(n)]
    gens = _generators(seed, n)
    xs, ys = [p[0] for p in parties], [p[1] for p in parties]
    steps = [0] * n
    tests = _Tests("standalone", epochs=epochs, eval_every=eval_every, log=log)
    for e in range(1, epochs + 1):
        done = train_local_batched(
            models, xs, ys, config=cfg, epochs=1, generators=gens, start_steps=steps
        )
        steps = [s + d for s, d in zip(steps, done, strict=True)]
        tests.after(e, models, test)
    return tests.result()


def centralized(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
    eval_every: int = 1,
    log: Say | None = None,
) -> BaselineResult:
    """One model trained on the union of all parties' data; a single row."""
    cfg = config or TrainConfig()
    _check(parties, epochs)
    net = build_model(model, seed=derive_seed(seed, STREAM_INIT, GLOBAL_INIT))
    x = torch.cat([p[0] for p in parties])
    y = torch.cat([p[1] for p in parties])
    gen = torch_generator(seed, STREAM_SHUFFLE, GLOBAL_INIT)
    step = 0
    tests = _Tests("centralized", epochs=epochs, eval_every=eval_every, log=log)
    for e in range(1, epochs + 1):
        step += train_local(net, x, y, config=cfg, epochs=1, generator=gen, start_step=step)
        tests.after(e, [net], test)
    return tests.result()


def dssgd(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
    theta_u: float = 0.1,
    eval_every: int = 1,
    log: Say | None = None,
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
    tests = _Tests("dssgd", epochs=epochs, eval_every=eval_every, log=log)
    for e in range(1, epochs + 1):
        for i, (x, y) in enumerate(parties):
            load_flat_params(locals_[i], global_w)
            delta, done = local_update(
                locals_[i], x, y, config=cfg, epochs=1, generator=gens[i], start_step=steps[i]
            )
            steps[i] += done
            global_w = global_w + keep_fraction(delta, fraction=theta_u)
        tests.after(e, locals_, test)
    return tests.result()


def fedavg(
    *,
    model: ModelName,
    parties: Sequence[PartyData],
    test: PartyData,
    epochs: int,
    seed: int,
    config: TrainConfig | None = None,
    local_epochs: int = 1,
    eval_every: int = 1,
    log: Say | None = None,
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
    tests = _Tests("fedavg", epochs=epochs, eval_every=eval_every, log=log)
    for e in range(1, epochs + 1):
        global_w = flatten_params(global_net)
        for net in locals_:
            load_flat_params(net, global_w)
        done = train_local_batched(
            locals_, xs, ys, config=cfg, epochs=local_epochs, generators=gens, start_steps=steps
        )
        steps = [s + d for s, d in zip(steps, done, strict=True)]
        stacked = torch.stack([flatten_params(net) for net in locals_])
        load_flat_params(global_net, weights @ stacked)
        tests.after(e, [global_net], test)
    return tests.result()


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
