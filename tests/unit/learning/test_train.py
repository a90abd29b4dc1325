"""Tests for local SGD (against a hand-written reference), evaluation, batching and top-k."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dppdl.errors import ConfigError
from dppdl.learning.data import MnistData
from dppdl.learning.models import build_model, flatten_params
from dppdl.learning.sparsify import keep_fraction, keep_largest, top_k_indices
from dppdl.learning.train import (
    EVAL_CHUNK,
    TrainConfig,
    evaluate,
    inference_layout,
    local_update,
    predict,
    train_local,
    train_local_batched,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    return torch.randn(n, 1, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


# --- config -----------------------------------------------------------------------------------


def test_config_defaults_are_the_papers() -> None:
    cfg = TrainConfig()
    assert (cfg.lr, cfg.decay, cfg.batch_size, cfg.local_epochs) == (0.001, 1e-7, 1, 10)


@pytest.mark.parametrize(
    "kwargs", [{"lr": 0.0}, {"decay": -1e-7}, {"batch_size": 0}, {"local_epochs": -1}]
)
def test_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_decay_is_keras_time_based() -> None:
    cfg = TrainConfig(lr=0.1, decay=0.5)
    assert [cfg.lr_at(t) for t in range(3)] == [0.1, 0.1 / 1.5, 0.1 / 2.0]


# --- looped training --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_train_local_matches_hand_written_sgd(name: str) -> None:
    # Prepare: a large decay so a wrong step counter would show
    cfg = TrainConfig(lr=0.05, decay=0.3, batch_size=3)
    x, y = _random_data(7, seed=1)
    model = build_model(name, seed=0)  # type: ignore[arg-type]
    ref = build_model(name, seed=0)  # type: ignore[arg-type]
    # Execute
    steps = train_local(model, x, y, config=cfg, epochs=2, generator=_gen(9))
    # reference: explicit permutation per epoch, batches of 3 (last one short), lr / (1 + decay t)
    g, t = _gen(9), 0
    for _ in range(2):
        perm = torch.randperm(7, generator=g)
        for lo in range(0, 7, 3):
            idx = perm[lo : lo + 3]
            ref.zero_grad()
            F.cross_entropy(ref(x[idx]), y[idx]).backward()
            with torch.no_grad():
                for p in ref.parameters():
                    p -= (0.05 / (1 + 0.3 * t)) * p.grad
            t += 1
    # Assert: the same weights (a CNN trains channels_last, so rounding differs a little),
    # and a CNN's weights handed back in the contiguous layout they came in
    assert steps == 6
    tolerance = 1e-6 if name == "mlp" else 1e-5
    assert torch.allclose(flatten_params(model), flatten_params(ref), atol=tolerance)
    assert all(p.is_contiguous() for p in model.parameters())


def test_train_local_is_deterministic_and_uses_the_generator() -> None:
    x, y = _random_data(20, seed=2)
    runs = []
    for gseed in (1, 1, 2):
        model = build_model("mlp", seed=0)
        train_local(model, x, y, config=TrainConfig(lr=0.01), epochs=1, generator=_gen(gseed))
        runs.append(flatten_params(model))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_start_step_continues_the_decay() -> None:
    cfg = TrainConfig(lr=0.05, decay=0.5)
    x, y = _random_data(5, seed=3)
    once, twice = build_model("mlp", seed=0), build_model("mlp", seed=0)
    train_local(once, x, y, config=cfg, epochs=2, generator=_gen(4))
    g = _gen(4)
    first = train_local(twice, x, y, config=cfg, epochs=1, generator=g)
    train_local(twice, x, y, config=cfg, epochs=1, generator=g, start_step=first)
    assert torch.allclose(flatten_params(once), flatten_params(twice), atol=1e-7)


def test_local_update_returns_the_weight_change() -> None:
    x, y = _random_data(6, seed=4)
    model = build_model("mlp", seed=0)
    before = flatten_params(model)
    delta, steps = local_update(model, x, y, config=TrainConfig(), epochs=1, generator=_gen(0))
    assert steps == 6
    assert torch.allclose(before + delta, flatten_params(model), atol=1e-7)
    assert float(delta.abs().max()) > 0


def test_training_on_mnist_learns(mnist: MnistData, small_test_set: tuple) -> None:
    model = build_model("mlp", seed=0)
    before = evaluate(model, *small_test_set)
    cfg = TrainConfig(lr=0.01)
    train_local(
        model, mnist.train_x[:600], mnist.train_y[:600], config=cfg, epochs=1, generator=_gen(0)
    )
    after = evaluate(model, *small_test_set)
    assert before < 0.25 < 0.6 < after


# --- evaluation -------------------------------------------------------------------------------


def test_predict_and_evaluate_agree_with_argmax() -> None:
    x, y = _random_data(30, seed=5)
    model = build_model("cnn", seed=0)
    model.train()
    pred = predict(model, x)
    assert pred.dtype == torch.int64 and pred.shape == (30,)
    with torch.no_grad():
        assert torch.equal(pred, model(x).argmax(dim=1))
    assert evaluate(model, x, y) == pytest.approx(float((pred == y).double().mean()))
    assert model.training, "mode restored"


def test_a_cnn_is_evaluated_as_a_channels_last_copy_and_left_as_it_was() -> None:
    # Prepare: more rows than one chunk, a CNN in training mode
    x, _ = _random_data(EVAL_CHUNK + 7, seed=6)
    model = build_model("cnn", seed=1)
    before = flatten_params(model).clone()
    # Execute
    net, x_cl = inference_layout(model, x)
    pred = predict(model, x)
    # Assert: the copy runs channels_last with the same logits; the model is untouched
    assert net is not model and x_cl.is_contiguous(memory_format=torch.channels_last)
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        plain = model.eval()(x)
        assert torch.allclose(net.eval()(x_cl), plain, atol=1e-5)
    agree = float((pred == plain.argmax(dim=1)).double().mean())
    assert agree >= 0.99  # only a logit tie within float rounding could differ
    model.train()
    assert model[0].weight.is_contiguous() and torch.equal(flatten_params(model), before)


def test_an_mlp_is_evaluated_as_it_is() -> None:
    model = build_model("mlp", seed=0)
    x, _ = _random_data(4, seed=7)
    net, same = inference_layout(model, x)
    assert net is model and same is x


def test_evaluate_rejects_empty_and_mismatched() -> None:
    model = build_model("mlp", seed=0)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, torch.zeros(0, 1, 32, 32), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ValueError, match="rows"):
        evaluate(model, torch.zeros(2, 1, 32, 32), torch.zeros(3, dtype=torch.int64))


# --- batched == looped ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sizes", "batch_size", "epochs"),
    [
        ("mlp", [12, 12, 12, 12], 1, 2),
        ("mlp", [5, 17, 0, 9], 4, 2),  # unequal sizes, an empty party, short last batches
        ("cnn", [6, 3], 2, 1),
    ],
)
def test_batched_equals_looped(name: str, sizes: list[int], batch_size: int, epochs: int) -> None:
    # Prepare
    cfg = TrainConfig(lr=0.05, decay=0.01, batch_size=batch_size)
    data = [_random_data(n, seed=10 + i) for i, n in enumerate(sizes)]
    start = [3 * i for i in range(len(sizes))]
    looped = [build_model(name, seed=i) for i in range(len(sizes))]  # type: ignore[arg-type]
    batched = [build_model(name, seed=i) for i in range(len(sizes))]  # type: ignore[arg-type]
    # Execute
    loop_steps = [
        train_local(m, x, y, config=cfg, epochs=epochs, generator=_gen(100 + i), start_step=s)
        for i, (m, (x, y), s) in enumerate(zip(looped, data, start, strict=True))
    ]
    batch_steps = train_local_batched(
        batched,
        [x for x, _ in data],
        [y for _, y in data],
        config=cfg,
        epochs=epochs,
        generators=[_gen(100 + i) for i in range(len(sizes))],
        start_steps=start,
    )
    # Assert
    assert batch_steps == loop_steps
    for a, b in zip(looped, batched, strict=True):
        assert torch.allclose(flatten_params(a), flatten_params(b), atol=1e-5, rtol=0)


def test_batched_rejects_mixed_architectures() -> None:
    x, y = _random_data(2, seed=0)
    with pytest.raises(ValueError, match="one architecture"):
        train_local_batched(
            [build_model("mlp", seed=0), build_model("cnn", seed=0)],
            [x, x],
            [y, y],
            config=TrainConfig(),
            epochs=1,
            generators=[_gen(0), _gen(1)],
        )


def test_batched_rejects_length_mismatch() -> None:
    x, y = _random_data(2, seed=0)
    with pytest.raises(ValueError, match="same length"):
        train_local_batched(
            [build_model("mlp", seed=0)],
            [x, x],
            [y],
            config=TrainConfig(),
            epochs=1,
            generators=[_gen(0)],
        )


# --- top-k by magnitude -----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=1, max_size=60),
    k=st.integers(0, 70),
)
def test_keep_largest_keeps_the_k_largest_magnitudes(values: list[float], k: int) -> None:
    vec = torch.tensor(values, dtype=torch.float32)
    out = keep_largest(vec, k=k)
    kept = top_k_indices(vec, k=k)
    assert len(kept) == min(k, len(values))
    mask = torch.zeros(len(values), dtype=torch.bool)
    mask[kept] = True
    assert torch.equal(out[mask], vec[mask]) and bool((out[~mask] == 0).all())
    if mask.any() and (~mask).any():
        assert float(vec[mask].abs().min()) >= float(vec[~mask].abs().max())


def test_top_k_ties_go_to_the_lower_index() -> None:
    vec = torch.tensor([1.0, -2.0, 2.0, 2.0, 0.5])
    assert top_k_indices(vec, k=2).tolist() == [1, 2]


def test_keep_fraction_floors() -> None:
    vec = torch.arange(1, 140_107, dtype=torch.float32)
    out = keep_fraction(vec, fraction=0.1)
    assert int((out != 0).sum()) == 14_010
    assert np.isclose(float(out[-1]), 140_106.0)
    with pytest.raises(ValueError):
        keep_fraction(vec, fraction=1.5)
