"""Keep the entries of largest magnitude of a flat update (the paper's "largest values")."""

from __future__ import annotations

import torch


def top_k_indices(vec: torch.Tensor, *, k: int) -> torch.Tensor:
    """Indices of the k entries of largest |value|; ties go to the lower index (deterministic)."""
    if vec.dim() != 1:
        raise ValueError(f"expected a 1-D vector, got shape {tuple(vec.shape)}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    order = torch.sort(vec.abs(), descending=True, stable=True).indices
    return order[: min(k, vec.numel())]


def keep_largest(vec: torch.Tensor, *, k: int) -> torch.Tensor:
    """A copy of `vec` with all but its k largest-magnitude entries set to zero."""
    out = torch.zeros_like(vec)
    idx = top_k_indices(vec, k=k)
    out[idx] = vec[idx]
    return out


def keep_fraction(vec: torch.Tensor, *, fraction: float) -> torch.Tensor:
    """keep_largest with k = floor(fraction * len(vec)), e.g. DSSGD's θ_u = 0.1."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    return keep_largest(vec, k=int(fraction * vec.numel()))
