"""DPGANConfig: a party's DP-GAN hyper-parameters, apart from dppdl.learning.dpgan so that
configs and command lines can name them without importing torch and Opacus."""

from __future__ import annotations

from dataclasses import dataclass

from dppdl.errors import ConfigError

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
    conditional: bool = True  # generator and discriminator see the class; needs ``labels``
    n_classes: int = 10  # number of classes (public); labels must lie in [0, n_classes)
    epochs: int = 30  # passes over the data in expectation (steps = epochs * ceil(N / batch_size))
    batch_size: int = 64  # expected Poisson batch size of real examples (sample rate = 1/ceil(N/B))
    fake_ratio: float = 1.0  # generated rows per expected real row in a discriminator batch
    lr_d: float = 3e-4  # discriminator learning rate (SGD on the summed clipped gradients)
    lr_g: float = 2e-3  # generator Adam learning rate
    betas: tuple[float, float] = (0.5, 0.999)  # generator Adam betas (DCGAN's choice)
    betas_d: tuple[float, float] = (0.9, 0.999)  # discriminator momentum (SGD) / Adam betas
    sgd_d: bool = True  # SGD with momentum betas_d[0]; Adam would blow DP noise up per weight
    real_label: float = 0.9  # one-sided label smoothing of the discriminator's real target
    latent_dim: int = 32  # size of the generator's Gaussian input
    max_grad_norm: float = 1.0  # per-sample L2 clipping bound of discriminator gradients
    gen_steps: int = 3  # generator updates per discriminator update (free: post-processing)
    ema: float = 0.99  # decay of the returned exponential moving average of the generator; 0 = off
    width: int = 16  # channel multiplier of the generator (4w, 2w, w channels)
    width_d: int = 8  # channel multiplier of the discriminator (w, 2w, 4w): few weights, less noise
    linear_d: bool = True  # discriminator linear in the pixels (few weights: far less DP noise)
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
        for name in ("epochs", "batch_size", "latent_dim", "gen_steps", "width", "width_d"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be >= 2, got {self.n_classes}")
        for name in ("lr_d", "lr_g", "max_grad_norm", "std", "fake_ratio"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not all(0 <= b < 1 for b in (*self.betas, *self.betas_d)):
            raise ConfigError(f"betas must be in [0, 1), got {self.betas}, {self.betas_d}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema must be in [0, 1), got {self.ema}")
        if not 0 < self.real_label <= 1:
            raise ConfigError(f"real_label must be in (0, 1], got {self.real_label}")
        if self.max_degrees < 0 or self.max_shift < 0:
            raise ConfigError("max_degrees and max_shift must be >= 0")
