"""Collaborative fairness: Pearson r between each party's contribution and its final accuracy.

Pearson r is undefined when either side is constant (e.g. every party has privacy level 0.1 in
the same-privacy setting) or has fewer than two parties. `pearson` then raises
`FairnessUndefinedError`; `fairness_or_none` returns None instead, for reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dppdl.errors import DppdlError


class FairnessUndefinedError(DppdlError, ValueError):
    """Pearson r has no value for these inputs (constant side, fewer than two points, NaN)."""


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation coefficient of two equal-length sequences, in [-1, 1]."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise FairnessUndefinedError(f"need two flat sequences of one length: {a.shape}, {b.shape}")
    if a.shape[0] < 2:
        raise FairnessUndefinedError("Pearson r needs at least two parties")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise FairnessUndefinedError("contributions and accuracies must be finite")
    da = a - a.mean()
    db = b - b.mean()
    na = math.sqrt(float(da @ da))
    nb = math.sqrt(float(db @ db))
    scale_a = max(1.0, float(np.abs(a).max()))
    scale_b = max(1.0, float(np.abs(b).max()))
    if na <= 1e-12 * scale_a * a.shape[0] or nb <= 1e-12 * scale_b * b.shape[0]:
        raise FairnessUndefinedError("Pearson r is undefined when one side is constant")
    r = float(da @ db) / (na * nb)
    return max(-1.0, min(1.0, r))


def fairness(*, contributions: Sequence[float], accuracies: Sequence[float]) -> float:
    """Fairness r = Pearson(contribution, final test accuracy); see `pearson` for errors."""
    return pearson(contributions, accuracies)


def fairness_or_none(
    *, contributions: Sequence[float], accuracies: Sequence[float]
) -> float | None:
    """Like `fairness`, but None where r is undefined (for run reports)."""
    try:
        return fairness(contributions=contributions, accuracies=accuracies)
    except FairnessUndefinedError:
        return None
