"""Tests for the baselines at tiny scale on real MNIST."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dppdl.errors import ConfigError
from dppdl.learning.baselines import (
    BASELINES,
    GLOBAL_INIT,
    BaselineResult,
    fedavg,
    run_baseline,
    standalone,
)
from dppdl.learning.data import MnistData, make_partition, party_tensors
from dppdl.learning.models import build_model
from dppdl.learning.seeding import STREAM_INIT, STREAM_SHUFFLE, derive_seed, torch_generator
from dppdl.learning.sgd import TrainConfig
from dppdl.learning.train import evaluate, train_local

FAST = TrainConfig(lr=0.01)  # 10x the paper's rate so two tiny epochs learn something


@pytest.fixture(scope="module")
def tiny_parties(mnist: MnistData) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Three parties of 150 real MNIST examples each, from the same-privacy partition."""
    shards = make_partition(setting="same-privacy", n_parties=3, seed=0)
    return [tuple(t[:150] for t in party_tensors(mnist, s)) for s in shards]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "rows"), [("standalone", 3), ("centralized", 1), ("dssgd", 3), ("fedavg", 1)]
)
def test_baseline_runs_and_beats_chance(
    name: str, rows: int, tiny_parties: list, small_test_set: tuple
) -> None:
    result = run_baseline(
        name, model="mlp", parties=tiny_parties, test=small_test_set, epochs=2, seed=0, config=FAST
    )
    assert isinstance(result, BaselineResult) and result.name == name
    assert result.accuracy.shape == (rows, 2)
    assert np.all((result.accuracy >= 0) & (result.accuracy <= 1))
    assert result.final.shape == (rows,)
    assert result.final.mean() > 0.4, "chance is 0.1"


def test_cnn_baseline_runs(tiny_parties: list, small_test_set: tuple) -> None:
    result = run_baseline(
        "centralized",
        model="cnn",
        parties=tiny_parties,
        test=small_test_set,
        epochs=1,
        seed=0,
        config=FAST,
    )
    assert result.final[0] > 0.4


def test_collaboration_beats_standalone_here(tiny_parties: list, small_test_set: tuple) -> None:
    kwargs = {
        "model": "mlp",
        "parties": tiny_parties,
        "test": small_test_set,
        "epochs": 2,
        "seed": 0,
        "config": FAST,
    }
    alone = standalone(**kwargs).final.mean()
    together = run_baseline("centralized", **kwargs).final[0]
    assert together > alone


def test_baselines_are_deterministic(tiny_parties: list, small_test_set: tuple) -> None:
    kwargs = {
        "model": "mlp",
        "parties": tiny_parties[:2],
        "test": small_test_set,
        "epochs": 1,
        "seed": 3,
        "config": FAST,
    }
    for name in ("standalone", "dssgd"):
        assert np.array_equal(
            run_baseline(name, **kwargs).accuracy, run_baseline(name, **kwargs).accuracy
        )


def test_fedavg_with_one_party_is_plain_training(tiny_parties: list, small_test_set: tuple) -> None:
    # Prepare: with one party the average is that party's model, so FedAvg = local SGD
    seed, x, y = 4, *tiny_parties[0]
    ref = build_model("mlp", seed=derive_seed(seed, STREAM_INIT, GLOBAL_INIT))
    gen = torch_generator(seed, STREAM_SHUFFLE, 0)
    expected, step = [], 0
    for _ in range(2):
        step += train_local(ref, x, y, config=FAST, epochs=1, generator=gen, start_step=step)
        expected.append(evaluate(ref, *small_test_set))
    # Execute
    result = fedavg(
        model="mlp", parties=[(x, y)], test=small_test_set, epochs=2, seed=seed, config=FAST
    )
    # Assert (batched vs looped float noise could flip at most a borderline prediction)
    assert np.allclose(result.accuracy[0], expected, atol=2 / len(small_test_set[1]))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_reject_zero_epochs(name: str, tiny_parties: list, small_test_set: tuple) -> None:
    with pytest.raises(ConfigError, match="epochs"):
        run_baseline(name, model="mlp", parties=tiny_parties, test=small_test_set, epochs=0, seed=0)


def test_unknown_baseline_and_bad_theta(tiny_parties: list, small_test_set: tuple) -> None:
    with pytest.raises(ConfigError, match="unknown baseline"):
        run_baseline("swarm")
    with pytest.raises(ConfigError, match="theta_u"):
        run_baseline(
            "dssgd",
            model="mlp",
            parties=tiny_parties,
            test=small_test_set,
            epochs=1,
            seed=0,
            theta_u=0.0,
        )


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_testing_every_kth_epoch_keeps_the_finals(
    name: str, tiny_parties: list, small_test_set: tuple
) -> None:
    # Prepare: the same run tested after every epoch and after every 2nd (and the last)
    kwargs = {"model": "mlp", "parties": tiny_parties[:2], "test": small_test_set,
              "epochs": 3, "seed": 5, "config": FAST}  # fmt: skip
    # Execute
    every = run_baseline(name, **kwargs)
    lines: list[str] = []
    thinned = run_baseline(name, **kwargs, eval_every=2, log=lines.append)
    # Assert: testing changes no model, so the tested columns are the same numbers
    best = 100 * thinned.final.max()
    assert lines[0] == f"{name} epoch 1/3" and len(lines) == 3
    assert lines[1].startswith(f"{name} epoch 2/3: best ")
    assert lines[2].startswith(f"{name} epoch 3/3: best {best:.2f} %, mean ")
    assert every.evaluated == (1, 2, 3) and thinned.evaluated == (2, 3)
    assert np.array_equal(thinned.accuracy, every.accuracy[:, 1:])
    assert np.array_equal(thinned.final, every.final)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_baselines_reject_a_bad_eval_every(bad: object, tiny_parties: list,
                                           small_test_set: tuple) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match="positive integer"):
        run_baseline("standalone", model="mlp", parties=tiny_parties, test=small_test_set,
                     epochs=1, seed=0, eval_every=bad)
