"""Seeded small rotations and shifts of image batches (the paper's augmentation), torch only."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dppdl.errors import ConfigError


def random_affine(
    images: torch.Tensor,
    *,
    generator: torch.Generator,
    max_degrees: float = 10.0,
    max_shift: float = 2.0,
) -> torch.Tensor:
    """Rotate each image by U[-max_degrees, max_degrees] and shift it by U[-max_shift, max_shift]
    pixels in x and y, drawing from ``generator`` only (no global RNG).

    ``images`` is (N, C, H, W). Pixels pulled in from outside are copied from the border, which
    for padded MNIST is background in whatever normalisation the batch uses. An empty batch is
    returned unchanged (Poisson sampling can draw one).
    """
    if images.dim() != 4:
        shape = tuple(images.shape)
        raise ConfigError(f"random_affine expects (N, C, H, W) images, got shape {shape}")
    if max_degrees < 0 or max_shift < 0:
        raise ConfigError("max_degrees and max_shift must be >= 0")
    n, _, h, w = images.shape
    if n == 0:
        return images
    dtype = images.dtype
    angle = (torch.rand(n, generator=generator, dtype=dtype) * 2 - 1) * math.radians(max_degrees)
    shift = (torch.rand(n, 2, generator=generator, dtype=dtype) * 2 - 1) * max_shift
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3, dtype=dtype)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / size.
    theta[:, 0, 2] = shift[:, 0] * 2.0 / w
    theta[:, 1, 2] = shift[:, 1] * 2.0 / h
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
