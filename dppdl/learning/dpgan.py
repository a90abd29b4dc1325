"""DP-GAN: a class-conditional generator trained against a DP-SGD discriminator.

Privacy guarantee. Only the discriminator touches the party's data, and it is trained with Opacus
(Poisson sampling, per-sample clipping to ``max_grad_norm``, Gaussian noise, RDP accountant), so
its whole training trajectory is (ε, δ)-DP with respect to adding or removing one original
example of the party's data set. In the conditional mode (``labels`` given, the default) an
example is the pair (image, label): the discriminator sees the label, and the label is covered by
the same accounting because it only enters that example's clipped per-sample gradient row. The
generator only ever sees the discriminator's (already private) parameters, its own noise and
class indices it draws itself, so it and every sample drawn from it are post-processing and carry
the same guarantee.

Augmentation (small rotations and shifts) is applied on the fly to each Poisson-sampled batch,
after sampling: every original example is still one row of at most one clipped per-sample
gradient per step, so the accounting is exact per original example (augmenting the data set up
front would have made one example several rows and the stated ε would only hold per row).
Generated rows in the same batch are data-independent; they are clipped too but cost no privacy.

The privacy unit is an example, not a person: if one person contributed k examples the guarantee
degrades by group privacy (roughly k·ε). The normalisation constants ``mean``/``std`` and the
number of classes are public, not statistics of the private shard.

Noise and sampling use seeded ``torch.Generator`` objects (``secure_mode=False``): fine for
research and simulation, not for a deployment whose adversary can attack the PRNG.

Quality (benchmarks/dpgan_samples.py, 600 examples, ε = 4): the default linear, class-projected
discriminator on SGD lets the generator learn one rough prototype per class (recognisable to a
CNN scorer for roughly 45-70% of samples depending on the seed; little variety within a class).
Convolutional discriminators, Adam, or more weights drown in the DP noise at this data size.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dppdl.errors import ConfigError
from dppdl.learning.augment import random_affine
from dppdl.learning.gan_config import DPGANConfig
from dppdl.learning.seeding import seeded_global_rng


@dataclass(frozen=True)
class DPGANResult:
    """A trained generator and the privacy it cost."""

    generator: nn.Module  # in eval mode; produces (n, 1, 32, 32) images in normalised space
    dp_epsilon_spent: float  # ε reported by the RDP accountant at ``delta``; inf when dp=False
    delta: float  # the δ the ε refers to
    steps: int  # discriminator steps taken
    seconds: float  # wall time of training
    noise_multiplier: float = 0.0  # σ chosen by Opacus for the target ε (0 when dp=False)


class Generator(nn.Module):
    """(z, class) -> 1x32x32: linear to 4x4, three transposed convolutions, sigmoid, normalise.

    ``n_classes = 0`` is the unconditional generator (labels are ignored and may be None).
    """

    def __init__(
        self, *, latent_dim: int, width: int, mean: float, std: float, n_classes: int = 0
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.n_classes = n_classes
        c = 4 * width
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + n_classes, c * 16), nn.BatchNorm1d(c * 16), nn.ReLU()
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(c, c // 2, 4, 2, 1),  # 4 -> 8
            nn.BatchNorm2d(c // 2),
            nn.ReLU(),
            nn.ConvTranspose2d(c // 2, c // 4, 4, 2, 1),  # 8 -> 16
            nn.BatchNorm2d(c // 4),
            nn.ReLU(),
            nn.Conv2d(c // 4, 1, 3, 1, 1),
            # 16 -> 32 by bilinear interpolation: strokes stay smooth, no pixel speckle to learn
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        )
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            if labels is None:
                raise ConfigError("a conditional generator needs class labels")
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)
        h = self.fc(z).view(z.shape[0], -1, 4, 4)
        pixels = torch.sigmoid(self.net(h))
        return (pixels - self.mean) / self.std


class Discriminator(nn.Module):
    """(1x32x32, class) -> one logit: features, linear head plus class projection.

    Features are the [0, 1] pixels themselves (``linear``, the default: 11 x 1024 weights, so the
    DP noise is spread over few coordinates and the generator learns class prototypes) or strided
    LeakyReLU convolutions down to 4x4 (more capacity; needs far more privacy budget). No
    normalisation layers (Opacus forbids BatchNorm). With ``n_classes > 0`` the logit adds
    <embed(class), features> (a projection discriminator).
    """

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(
        self, *, width: int, n_classes: int = 0, linear: bool = False, mean: float = 0.0,
        std: float = 1.0,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        layers: list[nn.Module] = []
        c_in, c_out, size = 1, width, 32
        while size > 4 and not linear:  # stride-2 convolutions down to 4x4
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in, c_out, size = c_out, 2 * c_out, size // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        dim = c_in * size * size
        self.head = nn.Linear(dim, 1)
        self.embed = nn.Embedding(n_classes, dim) if n_classes else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x * self.std + self.mean)  # pixels in [0, 1]: background is 0
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ConfigError("a conditional discriminator needs class labels")
            out = out + (self.embed(labels) * h).sum(dim=1)
        return out


def build_generator(config: DPGANConfig) -> Generator:
    """An untrained generator of the shape ``train_dpgan(config=config)`` returns (for loading)."""
    return Generator(
        latent_dim=config.latent_dim, width=config.width, mean=config.mean, std=config.std,
        n_classes=config.n_classes if config.conditional else 0,
    )


def _seeded_modules(config: DPGANConfig, seed: int) -> tuple[Generator, Discriminator]:
    """Build both networks from ``seed`` without disturbing the global RNG."""
    with seeded_global_rng(seed):
        gen = build_generator(config)
        disc = Discriminator(
            width=config.width_d, n_classes=gen.n_classes, linear=config.linear_d,
            mean=config.mean, std=config.std,
        )
    return gen, disc


def _check_inputs(images: torch.Tensor, labels: torch.Tensor | None, config: DPGANConfig) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1:] != (1, 32, 32):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ConfigError(f"train_dpgan expects images of shape (N, 1, 32, 32), got {shape}")
    if images.shape[0] < 2:
        raise ConfigError(f"train_dpgan needs at least 2 images, got {images.shape[0]}")
    if not torch.isfinite(images).all():
        raise ConfigError("train_dpgan: images contain NaN or infinite values")
    if not config.conditional:
        return
    if labels is None:
        raise ConfigError("train_dpgan: config.conditional needs labels= (or conditional=False)")
    if labels.shape != (images.shape[0],) or labels.dtype.is_floating_point:
        raise ConfigError(f"train_dpgan expects integer labels of shape ({images.shape[0]},)")
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < config.n_classes:
        raise ConfigError(f"train_dpgan: labels must lie in [0, {config.n_classes})")


@contextmanager
def _frozen(disc: nn.Module) -> Iterator[nn.Module]:
    """The plain discriminator with Opacus hooks off and no parameter gradients.

    The generator's pass must neither record activations nor per-sample gradients (they would
    be clipped, noised and charged to the privacy budget at the next discriminator step) nor
    leave ``.grad`` on the discriminator.
    """
    # an Opacus GradSampleModule has these two (opacus is imported only where it trains)
    disable_hooks = getattr(disc, "disable_hooks", None)
    enable_hooks = getattr(disc, "enable_hooks", None)
    trainable = [p for p in disc.parameters() if p.requires_grad]
    if disable_hooks is not None:
        disable_hooks()
    for p in trainable:
        p.requires_grad_(False)
    try:
        yield getattr(disc, "_module", disc)
    finally:
        for p in trainable:
            p.requires_grad_(True)
        if enable_hooks is not None:
            enable_hooks()


def _fake_labels(n: int, n_classes: int, rng: torch.Generator) -> torch.Tensor | None:
    return torch.randint(n_classes, (n,), generator=rng) if n_classes else None


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1.0 - decay)
    for eb, b in zip(ema.buffers(), model.buffers(), strict=True):
        eb.copy_(b)


def train_dpgan(
    images: torch.Tensor,
    *,
    config: DPGANConfig,
    seed: int,
    labels: torch.Tensor | None = None,
    progress: bool = False,
) -> DPGANResult:
    """Train a DP-GAN on ``images`` ((N, 1, 32, 32), normalised by ``config.mean``/``std``) and,
    when ``config.conditional``, their integer ``labels`` (N,); see the module for the privacy.

    Deterministic given ``seed``: weights, Poisson sampling, augmentation, latent draws and the
    DP noise each come from their own seeded ``torch.Generator``; the global RNG is untouched.
    """
    _check_inputs(images, labels, config)
    started = time.perf_counter()
    images = images.detach().to(torch.float32).cpu()
    if labels is None or not config.conditional:
        labels = torch.zeros(images.shape[0], dtype=torch.int64)  # unused placeholder column
    gen, disc = _seeded_modules(config, seed)
    ema = copy.deepcopy(gen) if config.ema > 0 else gen
    rngs = [torch.Generator().manual_seed(seed * 4 + k) for k in range(4)]
    sample_rng, noise_rng, aug_rng, latent_rng = rngs
    trainable = [p for p in disc.parameters() if p.requires_grad]
    opt_d: torch.optim.Optimizer = (
        torch.optim.SGD(trainable, lr=config.lr_d, momentum=config.betas_d[0])
        if config.sgd_d
        else torch.optim.Adam(trainable, lr=config.lr_d, betas=config.betas_d)
    )
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr_g, betas=config.betas)
    loader = DataLoader(
        TensorDataset(images, labels.detach().to(torch.int64).cpu()),
        batch_size=config.batch_size, shuffle=True, generator=sample_rng,
    )
    engine = None
    noise_multiplier = 0.0
    if config.dp:
        from opacus import PrivacyEngine

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]ecure.*")
            engine = PrivacyEngine(accountant="rdp", secure_mode=False)
            warnings.filterwarnings("ignore", message=".*Optimal order.*")
            disc, opt_d, loader = engine.make_private_with_epsilon(
                module=disc,
                optimizer=opt_d,
                data_loader=loader,
                target_epsilon=config.dp_epsilon,
                target_delta=config.delta,
                epochs=config.epochs,
                max_grad_norm=config.max_grad_norm,
                loss_reduction="sum",
                noise_generator=noise_rng,
                poisson_sampling=True,
            )
        noise_multiplier = float(opt_d.noise_multiplier)  # type: ignore[attr-defined]
    n_cls = gen.n_classes
    n_fake = max(2, round(config.fake_ratio * config.batch_size))  # BatchNorm needs two samples
    steps = 0
    gen.train()
    disc.train()
    bar = _progress(config.epochs * len(loader), enabled=progress)
    for _ in range(config.epochs):
        for real, real_y in loader:
            if config.augment:
                real = random_affine(
                    real, generator=aug_rng, max_degrees=config.max_degrees,
                    max_shift=config.max_shift,
                )
            # Discriminator: real and fake in ONE forward and ONE backward, so each real example
            # is exactly one per-sample row; an empty Poisson batch leaves only fake rows.
            z = torch.randn(n_fake, config.latent_dim, generator=latent_rng)
            fake_y = _fake_labels(n_fake, n_cls, latent_rng)
            with torch.no_grad():
                fake = gen(z, fake_y)
            both_y = torch.cat([real_y, fake_y]) if fake_y is not None else None
            logits = disc(torch.cat([real, fake]), both_y)
            targets = torch.cat(
                [torch.full((real.shape[0],), config.real_label), torch.zeros(n_fake)]
            )
            loss_d = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
            with warnings.catch_warnings():  # Opacus hooks on a leaf input: expected, harmless
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                loss_d.backward()
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)
            steps += 1
            # Generator: post-processing of the private discriminator, hooks off.
            with _frozen(disc) as plain_disc:
                for _ in range(config.gen_steps):
                    z = torch.randn(n_fake, config.latent_dim, generator=latent_rng)
                    fake_y = _fake_labels(n_fake, n_cls, latent_rng)
                    out = plain_disc(gen(z, fake_y), fake_y)
                    loss_g = F.binary_cross_entropy_with_logits(
                        out, torch.ones(n_fake), reduction="mean"
                    )
                    loss_g.backward()
                    opt_g.step()
                    opt_g.zero_grad(set_to_none=True)
            if ema is not gen:
                _ema_update(ema, gen, config.ema)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    spent = float("inf")
    if engine is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Optimal order.*")
            spent = float(engine.get_epsilon(config.delta))
    ema.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return DPGANResult(
        generator=ema,
        dp_epsilon_spent=spent,
        delta=config.delta,
        steps=steps,
        seconds=time.perf_counter() - started,
        noise_multiplier=noise_multiplier,
    )


def _progress(total: int, *, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="dp-gan", unit="step")


def generate_labeled(
    generator: nn.Module, n: int, *, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` samples and the classes they were drawn for (None if unconditional), by seed.

    Classes are balanced (``k mod n_classes``) in a seeded random order.
    """
    if n < 0:
        raise ConfigError(f"generate: n must be >= 0, got {n}")
    rng = torch.Generator().manual_seed(seed)
    latent_dim = int(getattr(generator, "latent_dim"))  # noqa: B009 - any module exposing it
    n_classes = int(getattr(generator, "n_classes", 0))
    z = torch.randn(n, latent_dim, generator=rng)
    labels = torch.arange(n)[torch.randperm(n, generator=rng)] % n_classes if n_classes else None
    if n == 0:
        return torch.empty(0, 1, 32, 32), labels
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            return generator(z, labels), labels
    finally:
        generator.train(was_training)


def generate(generator: nn.Module, n: int, *, seed: int) -> torch.Tensor:
    """Draw ``n`` samples (n, 1, 32, 32) in the data's normalised space, deterministic by seed."""
    return generate_labeled(generator, n, seed=seed)[0]


def save_sample_grid(
    images: torch.Tensor, path: str | Path, *, mean: float, std: float, nrow: int = 10
) -> Path:
    """Save normalised (n, 1, H, W) images as a grayscale PNG grid with ``nrow`` per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if images.dim() != 4 or images.shape[0] == 0 or images.shape[1] != 1:
        raise ConfigError(f"save_sample_grid expects (n>0, 1, H, W), got {tuple(images.shape)}")
    if nrow < 1:
        raise ConfigError(f"nrow must be >= 1, got {nrow}")
    pixels = (images.detach().cpu().float() * std + mean).clamp(0, 1)[:, 0]
    n, h, w = pixels.shape
    rows = -(-n // nrow)
    canvas = torch.ones(rows * (h + 2), nrow * (w + 2))
    for k in range(n):
        r, c = divmod(k, nrow)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = (
            pixels[k]
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, canvas.numpy(), cmap="gray", vmin=0.0, vmax=1.0)
    return path
