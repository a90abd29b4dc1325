"""Top-k gradient selection by magnitude (the paper's "largest values"), deterministic on ties."""

from __future__ import annotations

import numpy as np


def magnitude_order(vector: np.ndarray) -> np.ndarray:
    """Indices by decreasing |v|, ties by increasing index (stable); compute once per uploader."""
    v = np.asarray(vector)
    if v.ndim != 1:
        raise ValueError(f"expected a flat vector, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("gradient contains NaN or infinity; refusing to select from it")
    return np.argsort(-np.abs(v), kind="stable")


def top_k_indices(vector: np.ndarray, k: int, *, order: np.ndarray | None = None) -> np.ndarray:
    """The k indices of largest magnitude (ties: smaller index first), in increasing index order."""
    v = np.asarray(vector)
    if not 0 <= k <= v.shape[0]:
        raise ValueError(f"k must be in [0, {v.shape[0]}], got {k}")
    if order is None:
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        mag = np.abs(v)
        if not np.all(np.isfinite(mag)):
            raise ValueError("gradient contains NaN or infinity; refusing to select from it")
        kth = np.partition(mag, v.shape[0] - k)[v.shape[0] - k]  # k-th largest magnitude
        above = np.flatnonzero(mag > kth)
        ties = np.flatnonzero(mag == kth)[: k - above.shape[0]]
        return np.sort(np.concatenate([above, ties])).astype(np.int64)
    return np.sort(np.asarray(order)[:k]).astype(np.int64)


def top_k(vector: np.ndarray, k: int, *, order: np.ndarray | None = None) -> np.ndarray:
    """Copy of ``vector`` with all but its k largest-magnitude entries set to zero."""
    v = np.asarray(vector)
    out = np.zeros_like(v)
    keep = top_k_indices(v, k, order=order)
    out[keep] = v[keep]
    return out


def sell(
    update: np.ndarray, *, k: int, residual: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """What an uploader sends one buyer of ``k`` entries, and what it still owes that buyer.

    Without ``residual``: top-k of ``update`` (``order``, its `magnitude_order`, may be passed
    when one update is sold to many buyers), and None. With error feedback (``residual`` is
    what earlier sales to this buyer left unsent): top-k of update + residual, and the new
    residual (update + residual − sent), so every entry reaches a buyer that keeps buying,
    the large ones first (as in sparsified SGD with error feedback, Stich et al. 2018).
    """
    u = np.asarray(update)
    if residual is None:
        return top_k(u, k, order=order), None
    r = np.asarray(residual, dtype=u.dtype)
    if r.shape != u.shape:
        raise ValueError(f"residual has shape {r.shape}, update {u.shape}")
    owed = u + r
    sent = top_k(owed, k)
    return sent, owed - sent
