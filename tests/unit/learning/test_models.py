"""Tests for the MLP/CNN, seeded init and flat parameter vectors."""

from __future__ import annotations

import pytest
import torch

from dppdl.errors import ConfigError
from dppdl.learning.models import (
    CNN,
    MLP,
    build_model,
    flatten_params,
    load_flat_params,
    param_count,
)


def test_mlp_has_the_papers_140106_parameters() -> None:
    model = build_model("mlp", seed=0)
    assert isinstance(model, MLP)
    assert param_count(model) == 140_106
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(128, 1024), (128,), (64, 128), (64,), (10, 64), (10,)]


def test_cnn_parameter_count_matches_its_docstring() -> None:
    model = build_model("cnn", seed=0)
    assert isinstance(model, CNN)
    assert param_count(model) == 258_314
    assert "258,314" in (CNN.__doc__ or "")


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_forward_gives_ten_logits(name: str) -> None:
    out = build_model(name, seed=1)(torch.zeros(3, 1, 32, 32))  # type: ignore[arg-type]
    assert out.shape == (3, 10)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_init_depends_only_on_seed(name: str) -> None:
    state = torch.get_rng_state()
    a = flatten_params(build_model(name, seed=42))  # type: ignore[arg-type]
    torch.manual_seed(999)  # the global RNG must not matter
    b = flatten_params(build_model(name, seed=42))  # type: ignore[arg-type]
    c = flatten_params(build_model(name, seed=43))  # type: ignore[arg-type]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    torch.set_rng_state(state)


def test_build_model_leaves_global_rng_alone() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    build_model("mlp", seed=1)
    assert torch.equal(torch.rand(3), expected)


def test_flatten_and_load_round_trip() -> None:
    model = build_model("mlp", seed=0)
    flat = flatten_params(model)
    assert flat.dtype == torch.float32 and flat.shape == (140_106,)
    other = build_model("mlp", seed=1)
    load_flat_params(other, flat)
    assert torch.equal(flatten_params(other), flat)
    x = torch.randn(4, 1, 32, 32)
    assert torch.equal(model(x), other(x))


def test_flatten_is_a_copy() -> None:
    model = build_model("mlp", seed=0)
    flat = flatten_params(model)
    flat += 1.0
    assert not torch.equal(flatten_params(model), flat)


def test_load_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="does not fit 140106"):
        load_flat_params(build_model("mlp", seed=0), torch.zeros(10))


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'resnet'"):
        build_model("resnet", seed=0)  # type: ignore[arg-type]
