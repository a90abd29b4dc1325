"""DP-GAN: a generator trained against a discriminator that sees real data only through DP-SGD.

Privacy guarantee. Only the discriminator touches the real images, and it is trained with
Opacus (Poisson sampling, per-sample clipping to ``max_grad_norm``, Gaussian noise, RDP
accountant), so the discriminator's whole training trajectory is (ε, δ)-DP with respect to adding
or removing one *original* example of ``images``. The generator only ever sees the
discriminator's (already private) parameters and its own noise, so it and every sample drawn from
it are post-processing and carry the same guarantee. Augmentation (small rotations and shifts) is
applied on the fly to each Poisson-sampled batch, after sampling: every original example is still
one row of at most one clipped per-sample gradient per step, so the accounting is exact for the
original example and no group-privacy factor is needed (augmenting the data set up front would
have made one person several rows, and the stated ε would only hold per row).

The privacy unit is an example, not a person: if one person contributed k examples the
guarantee degrades by group privacy (roughly k·ε). The normalisation constants ``mean``/``std``
are the public MNIST-wide ones, not statistics of the private shard.

Noise and sampling use seeded ``torch.Generator`` objects (``secure_mode=False``): fine for
research and simulation, not for a deployment whose adversary can attack the PRNG; Opacus warns
about this on purpose.

Status: the privacy mechanics are tested; sample QUALITY is not yet adequate. With 600 MNIST
examples at ε = 4 the default GAN mode-collapses to one unrecognisable pattern (see
benchmarks/dpgan_samples.py, which measures it); architecture and hyper-parameters need work.
"""

from __future__ import annotations

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

# MNIST training-set mean and standard deviation after zero-padding 28x28 -> 32x32 (public
# constants; dppdl.learning.data computes the same from the training set).
MNIST32_MEAN = 0.10003693
MNIST32_STD = 0.27521735


@dataclass(frozen=True)
class DPGANConfig:
    """Hyper-parameters of one party's DP-GAN; defaults sized for ~600 MNIST examples at ε = 4."""

    dp_epsilon: float = 4.0  # target DP ε of the discriminator (NOT the paper's privacy_level)
    delta: float = 1e-5  # target δ; well below 1/|D| for |D| <= 10^4
    dp: bool = True  # False trains the same GAN without clipping or noise (baseline only)
    epochs: int = 30  # passes over the data in expectation (steps = epochs * ceil(N / batch_size))
    batch_size: int = 64  # expected Poisson batch size of real examples (sample rate = 1/ceil(N/B))
    lr_d: float = 2e-3  # discriminator Adam learning rate
    lr_g: float = 2e-3  # generator Adam learning rate
    betas: tuple[float, float] = (0.5, 0.999)  # generator Adam betas (DCGAN's choice)
    betas_d: tuple[float, float] = (0.9, 0.999)  # discriminator Adam betas: β1 averages DP noise
    latent_dim: int = 32  # size of the generator's Gaussian input
    max_grad_norm: float = 1.0  # per-sample L2 clipping bound of discriminator gradients
    gen_steps: int = 2  # generator updates per discriminator update (free: post-processing)
    width: int = 16  # channel multiplier of both networks (discriminator: width, 2w, 4w)
    augment: bool = True  # random rotations/shifts on each sampled batch (on the fly, see module)
    max_degrees: float = 10.0  # augmentation rotation range, ± degrees
    max_shift: float = 2.0  # augmentation shift range, ± pixels
    mean: float = MNIST32_MEAN  # public normalisation mean of the pixel values in [0, 1]
    std: float = MNIST32_STD  # public normalisation std; generator output = (sigmoid - mean) / std

    def __post_init__(self) -> None:
        if not self.dp_epsilon > 0:
            raise ConfigError(f"dp_epsilon must be > 0, got {self.dp_epsilon}")
        if not 0 < self.delta < 1:
            raise ConfigError(f"delta must be in (0, 1), got {self.delta}")
        for name in ("epochs", "batch_size", "latent_dim", "gen_steps", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr_d", "lr_g", "max_grad_norm", "std"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not all(0 <= b < 1 for b in (*self.betas, *self.betas_d)):
            raise ConfigError(f"betas must be in [0, 1), got {self.betas}, {self.betas_d}")
        if self.max_degrees < 0 or self.max_shift < 0:
            raise ConfigError("max_degrees and max_shift must be >= 0")


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
    """z -> 1x32x32: linear to 4x4, three transposed convolutions, sigmoid, then normalise."""

    def __init__(self, *, latent_dim: int, width: int, mean: float, std: float) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        c = 4 * width
        self.fc = nn.Sequential(nn.Linear(latent_dim, c * 16), nn.BatchNorm1d(c * 16), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(c, c // 2, 4, 2, 1),  # 4 -> 8
            nn.BatchNorm2d(c // 2),
            nn.ReLU(),
            nn.ConvTranspose2d(c // 2, c // 4, 4, 2, 1),  # 8 -> 16
            nn.BatchNorm2d(c // 4),
            nn.ReLU(),
            nn.ConvTranspose2d(c // 4, 1, 4, 2, 1),  # 16 -> 32
        )
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], -1, 4, 4)
        pixels = torch.sigmoid(self.net(h))
        return (pixels - self.mean) / self.std


class Discriminator(nn.Module):
    """1x32x32 -> one logit; strided convolutions with GroupNorm (Opacus forbids BatchNorm)."""

    def __init__(self, *, width: int) -> None:
        super().__init__()
        w = width
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2)),  # 32 -> 16
                nn.Sequential(  # 16 -> 8
                    nn.Conv2d(w, 2 * w, 4, 2, 1), nn.GroupNorm(4, 2 * w), nn.LeakyReLU(0.2)
                ),
                nn.Sequential(  # 8 -> 4
                    nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.GroupNorm(4, 4 * w), nn.LeakyReLU(0.2)
                ),
            ]
        )
        self.head = nn.Linear(4 * w * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x.flatten(1)).squeeze(1)


def _seeded_modules(config: DPGANConfig, seed: int) -> tuple[Generator, Discriminator]:
    """Build both networks from ``seed`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = Generator(
            latent_dim=config.latent_dim, width=config.width, mean=config.mean, std=config.std,
        )
        disc = Discriminator(width=config.width)
    return gen, disc


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1:] != (1, 32, 32):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ConfigError(f"train_dpgan expects images of shape (N, 1, 32, 32), got {shape}")
    if images.shape[0] < 2:
        raise ConfigError(f"train_dpgan needs at least 2 images, got {images.shape[0]}")
    if not torch.isfinite(images).all():
        raise ConfigError("train_dpgan: images contain NaN or infinite values")


@contextmanager
def _frozen(disc: nn.Module) -> Iterator[nn.Module]:
    """The plain discriminator with Opacus hooks off and no parameter gradients.

    The generator's pass must neither record activations nor per-sample gradients (they would
    be clipped, noised and charged to the privacy budget at the next discriminator step) nor
    leave ``.grad`` on the discriminator.
    """
    gsm = disc if hasattr(disc, "disable_hooks") else None
    trainable = [p for p in disc.parameters() if p.requires_grad]
    if gsm is not None:
        gsm.disable_hooks()
    for p in trainable:
        p.requires_grad_(False)
    try:
        yield getattr(disc, "_module", disc)
    finally:
        for p in trainable:
            p.requires_grad_(True)
        if gsm is not None:
            gsm.enable_hooks()


def train_dpgan(
    images: torch.Tensor,
    *,
    config: DPGANConfig,
    seed: int,
    progress: bool = False,
) -> DPGANResult:
    """Train a DP-GAN on ``images`` ((N, 1, 32, 32), normalised by ``config.mean``/``std``).

    Deterministic given ``seed``: weights, Poisson sampling, augmentation, latent draws and the
    DP noise each come from their own seeded ``torch.Generator``; the global RNG is untouched.
    """
    _check_images(images)
    started = time.perf_counter()
    images = images.detach().to(torch.float32).cpu()
    gen, disc = _seeded_modules(config, seed)
    rngs = [torch.Generator().manual_seed(seed * 4 + k) for k in range(4)]
    sample_rng, noise_rng, aug_rng, latent_rng = rngs
    opt_d: torch.optim.Optimizer = torch.optim.Adam(
        [p for p in disc.parameters() if p.requires_grad], lr=config.lr_d, betas=config.betas_d
    )
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr_g, betas=config.betas)
    loader = DataLoader(
        TensorDataset(images), batch_size=config.batch_size, shuffle=True, generator=sample_rng
    )
    engine = None
    noise_multiplier = 0.0
    if config.dp:
        from opacus import PrivacyEngine

        engine = PrivacyEngine(accountant="rdp", secure_mode=False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]ecure.*")
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
    n_fake = max(2, config.batch_size)  # BatchNorm in the generator needs two samples
    steps = 0
    gen.train()
    disc.train()
    bar = _progress(config.epochs * len(loader), enabled=progress)
    for _ in range(config.epochs):
        for (real,) in loader:
            if config.augment:
                real = random_affine(
                    real, generator=aug_rng, max_degrees=config.max_degrees,
                    max_shift=config.max_shift,
                )
            # Discriminator: real and fake in ONE forward and ONE backward, so each real example
            # is exactly one per-sample row; an empty Poisson batch leaves only fake rows.
            z = torch.randn(n_fake, config.latent_dim, generator=latent_rng)
            with torch.no_grad():
                fake = gen(z)
            logits = disc(torch.cat([real, fake]))
            targets = torch.cat([torch.ones(real.shape[0]), torch.zeros(n_fake)])
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
                    out = plain_disc(gen(z))
                    loss_g = F.binary_cross_entropy_with_logits(
                        out, torch.ones(n_fake), reduction="mean"
                    )
                    loss_g.backward()
                    opt_g.step()
                    opt_g.zero_grad(set_to_none=True)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    spent = float("inf")
    if engine is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Optimal order.*")
            spent = float(engine.get_epsilon(config.delta))
    gen.eval()
    for p in gen.parameters():
        p.requires_grad_(False)
    return DPGANResult(
        generator=gen,
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


def generate(generator: nn.Module, n: int, *, seed: int) -> torch.Tensor:
    """Draw ``n`` samples (n, 1, 32, 32) in the data's normalised space, deterministic by seed."""
    if n < 0:
        raise ConfigError(f"generate: n must be >= 0, got {n}")
    latent_dim = int(getattr(generator, "latent_dim"))  # noqa: B009 - any module exposing it
    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            return generator(z) if n > 0 else torch.empty(0, 1, 32, 32)
    finally:
        generator.train(was_training)


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
