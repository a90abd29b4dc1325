"""DP-GAN: privacy accounting, hooks during the generator pass, determinism, shapes, errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dppdl.errors import ConfigError
from dppdl.learning.augment import random_affine
from dppdl.learning.dpgan import (
    Discriminator,
    DPGANConfig,
    _frozen,
    build_generator,
    generate,
    generate_labeled,
    save_sample_grid,
    train_dpgan,
)

torch.set_num_threads(1)

# Tiny and fast: 128 blob images, 2 epochs of expected batch 32 (8 discriminator steps).
TINY = DPGANConfig(epochs=2, batch_size=32, width=4, width_d=4, latent_dim=8, gen_steps=1)


def _images(n: int = 128, seed: int = 0) -> torch.Tensor:
    """Bright squares at random places on a dark canvas, normalised like MNIST."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 32, 32)
    corners = torch.randint(4, 20, (n, 2), generator=g)
    for k, (r, c) in enumerate(corners.tolist()):
        x[k, 0, r : r + 8, c : c + 8] = 1.0
    return (x - TINY.mean) / TINY.std


def _labels(n: int = 128) -> torch.Tensor:
    return torch.arange(n) % 10


def _train(n: int = 128, *, config: DPGANConfig = TINY, seed: int = 0):  # type: ignore[no-untyped-def]
    return train_dpgan(_images(n), labels=_labels(n), config=config, seed=seed)


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([t.detach().flatten() for t in module.state_dict().values()])


def test_dp_epsilon_spent_is_positive_and_within_target() -> None:
    # Prepare
    config = replace(TINY, dp_epsilon=2.0)
    # Execute
    result = _train(config=config, seed=1)
    # Assert
    assert 0 < result.dp_epsilon_spent <= config.dp_epsilon
    assert result.dp_epsilon_spent > 0.8 * config.dp_epsilon  # the budget is actually used
    assert result.delta == config.delta
    assert result.noise_multiplier > 0
    assert result.steps == config.epochs * 4  # 128 / 32 batches per epoch


def test_non_dp_path_trains_without_accounting() -> None:
    # Prepare
    config = replace(TINY, dp=False)
    before = _flat(_train(config=replace(config, epochs=1), seed=3).generator)
    # Execute
    result = _train(config=config, seed=3)
    # Assert
    assert result.dp_epsilon_spent == float("inf")
    assert result.noise_multiplier == 0.0
    assert result.steps == 8
    assert not torch.equal(before, _flat(result.generator))  # more training changed weights


def test_same_seed_same_generator_weights_other_seed_differs() -> None:
    # Execute
    a = _train(seed=7)
    b = _train(seed=7)
    c = _train(seed=8)
    # Assert
    assert torch.equal(_flat(a.generator), _flat(b.generator))
    assert not torch.equal(_flat(a.generator), _flat(c.generator))


def test_dp_noise_is_seeded_not_global() -> None:
    # Prepare: disturb the global RNG between two runs with the same seed
    first = _train(seed=11)
    torch.manual_seed(12345)
    torch.rand(1000)
    # Execute
    second = _train(seed=11)
    # Assert
    assert torch.equal(_flat(first.generator), _flat(second.generator))


def test_generator_pass_leaves_no_per_sample_state_on_discriminator() -> None:
    # Prepare: a private discriminator exactly as train_dpgan builds it
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    disc = Discriminator(width=4)
    opt = torch.optim.Adam(disc.parameters())
    loader = DataLoader(TensorDataset(_images(64)), batch_size=16)
    engine = PrivacyEngine(accountant="rdp")
    private, opt, loader = engine.make_private(
        module=disc, optimizer=opt, data_loader=loader, noise_multiplier=1.0,
        max_grad_norm=1.0, loss_reduction="sum",
    )
    fake = torch.randn(16, 1, 32, 32, requires_grad=True)
    # Execute: the generator's pass, gradient flowing back into the "generator" input
    with _frozen(private) as plain:
        plain(fake).sum().backward()
    # Assert: the input got a gradient, the discriminator got nothing
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    for p in private.parameters():
        assert p.requires_grad
        assert p.grad is None
        assert getattr(p, "grad_sample", None) is None
    for module in private.modules():
        assert not getattr(module, "activations", [])
    # and a private step afterwards still works with per-sample gradients of the right size
    (real,) = next(iter(loader))
    private(real).sum().backward()
    for p in private.parameters():
        assert p.grad_sample.shape[0] == real.shape[0]


def test_generate_shapes_and_determinism() -> None:
    # Prepare
    gen = _train(seed=2).generator
    # Execute
    x = generate(gen, 12, seed=5)
    y = generate(gen, 12, seed=5)
    z = generate(gen, 12, seed=6)
    # Assert
    assert x.shape == (12, 1, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, y) and not torch.equal(x, z)
    lo, hi = (0 - TINY.mean) / TINY.std, (1 - TINY.mean) / TINY.std
    assert x.min() >= lo - 1e-5 and x.max() <= hi + 1e-5  # sigmoid pixels, normalised
    assert generate(gen, 0, seed=1).shape == (0, 1, 32, 32)


def test_handles_empty_poisson_batches() -> None:
    # Prepare: 4 images with expected batch 1 -> P(empty batch) = 0.75**4 ~ 0.32 per step
    config = replace(TINY, batch_size=1, epochs=3)
    # Execute
    result = _train(4, config=config, seed=0)
    # Assert
    assert result.steps == 12
    assert 0 < result.dp_epsilon_spent <= config.dp_epsilon


def test_augmentation_is_seeded_and_keeps_background() -> None:
    # Prepare
    x = _images(8)
    # Execute
    a = random_affine(x, generator=torch.Generator().manual_seed(0))
    b = random_affine(x, generator=torch.Generator().manual_seed(0))
    # Assert
    assert torch.equal(a, b)
    assert not torch.equal(a, x)
    background = (0 - TINY.mean) / TINY.std
    assert torch.allclose(a[:, :, 0, :], torch.full_like(a[:, :, 0, :], background), atol=1e-5)
    assert random_affine(x[:0], generator=torch.Generator()).shape == (0, 1, 32, 32)


@pytest.mark.parametrize(
    "field, value",
    [("dp_epsilon", 0.0), ("delta", 1.0), ("epochs", 0), ("batch_size", 0), ("lr_d", -1.0),
     ("max_grad_norm", 0.0), ("betas_d", (1.0, 0.9)), ("max_shift", -1.0), ("n_classes", 1),
     ("ema", 1.0), ("width_d", 0), ("fake_ratio", 0.0), ("real_label", 0.0)],
)
def test_bad_config_is_a_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field.split("_")[0]):
        DPGANConfig(**{field: value})


def test_bad_images_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="shape"):
        train_dpgan(torch.zeros(10, 28, 28), config=TINY, seed=0)
    with pytest.raises(ConfigError, match="NaN"):
        train_dpgan(torch.full((4, 1, 32, 32), float("nan")), config=TINY, seed=0)


def test_save_sample_grid_writes_png(tmp_path: Path) -> None:
    # Prepare
    x = _images(15)
    # Execute
    path = save_sample_grid(x, tmp_path / "sub" / "grid.png", mean=TINY.mean, std=TINY.std, nrow=4)
    # Assert
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[:2] == (4 * 34, 4 * 34)
    with pytest.raises(ConfigError):
        save_sample_grid(x[:0], tmp_path / "empty.png", mean=0.0, std=1.0)


def test_conditional_needs_valid_labels() -> None:
    with pytest.raises(ConfigError, match="labels"):
        train_dpgan(_images(8), config=TINY, seed=0)
    with pytest.raises(ConfigError, match="labels"):
        train_dpgan(_images(8), labels=torch.full((8,), 10), config=TINY, seed=0)
    with pytest.raises(ConfigError, match="labels"):
        train_dpgan(_images(8), labels=_labels(7), config=TINY, seed=0)


def test_unconditional_path_and_conv_discriminator_still_train() -> None:
    # Prepare
    uncond = replace(TINY, conditional=False)
    conv = replace(TINY, linear_d=False)
    # Execute
    a = train_dpgan(_images(), config=uncond, seed=4)
    b = _train(config=conv, seed=4)
    # Assert
    assert a.generator.n_classes == 0
    assert generate_labeled(a.generator, 5, seed=0)[1] is None
    for result, config in ((a, uncond), (b, conv)):
        assert 0 < result.dp_epsilon_spent <= config.dp_epsilon
        assert torch.isfinite(generate(result.generator, 4, seed=0)).all()


def test_generate_labeled_draws_balanced_classes() -> None:
    # Prepare
    gen = build_generator(TINY)
    # Execute
    x, y = generate_labeled(gen, 50, seed=3)
    # Assert
    assert y is not None and x.shape == (50, 1, 32, 32)
    assert torch.bincount(y, minlength=10).tolist() == [5] * 10
    assert not torch.equal(y, torch.arange(50) % 10)  # shuffled, by seed
    assert torch.equal(generate(gen, 50, seed=3), x)


def test_build_generator_loads_a_trained_state_dict() -> None:
    # Prepare
    trained = _train(seed=5).generator
    # Execute
    fresh = build_generator(TINY)
    fresh.load_state_dict(trained.state_dict())
    # Assert
    assert torch.equal(generate(fresh, 6, seed=1), generate(trained, 6, seed=1))
