"""Points with the contracts' integer arithmetic: minting, caps, download allocations, transfers.

Units: one point buys one gradient entry. Privacy levels are parts-per-million integers
(``privacy_ppm``; 0.1 -> 100_000) so that Python and Solidity compute the same integers:

- initial points   p_i   = privacy_ppm_i * n_params * (n - 1) // 1_000_000
- upload cap       cap_j = privacy_ppm_j * n_params // 1_000_000
- download budget  d_i   = min(balance_i, privacy_ppm_i * n_params * (n_c - 1) // 1_000_000)
  with n_c the current credible-set size: a party may spend per epoch at most what its initial
  grant was per epoch-sized share, and never more than it holds. With equal privacy levels and
  uniform credibility this spends exactly what the party earns back, so balances stay level.
- allocation       d_i^j = min(floor(c_i^j * d_i), cap_j) for j in C \\ {i}; 0 elsewhere.
  Since the row of c sums to 1, sum_j d_i^j <= d_i <= balance_i.
- transfer: receiver i pays uploader j d_i^j points once j's upload is delivered; an undelivered
  request is refunded. Minting happens once; afterwards the sum of balances never changes.
"""

from __future__ import annotations

import math

import numpy as np

from dppdl.errors import DppdlError

PPM = 1_000_000  # privacy levels are stored on-chain as parts per million


class PointsError(DppdlError, ValueError):
    """A points operation would break the rules (over budget, over cap, negative balance)."""


def to_ppm(privacy_level: float) -> int:
    """Privacy level in (0, 1] -> integer parts per million (rounded to nearest)."""
    if not (math.isfinite(privacy_level) and 0.0 < privacy_level <= 1.0):
        raise PointsError(f"privacy level must be in (0, 1], got {privacy_level!r}")
    return int(round(privacy_level * PPM))


def _check_ppm(privacy_ppm: int) -> int:
    if not (isinstance(privacy_ppm, int | np.integer) and 0 < int(privacy_ppm) <= PPM):
        raise PointsError(f"privacy_ppm must be an int in (0, {PPM}], got {privacy_ppm!r}")
    return int(privacy_ppm)


def _check_params(n_params: int) -> int:
    if not (isinstance(n_params, int | np.integer) and int(n_params) > 0):
        raise PointsError(f"n_params must be a positive int, got {n_params!r}")
    return int(n_params)


def initial_points(*, privacy_ppm: int, n_params: int, n_parties: int) -> int:
    """p_i = privacy_ppm_i * |w| * (n - 1) // 1e6, minted once when the task starts."""
    if n_parties < 1:
        raise PointsError(f"n_parties must be at least 1, got {n_parties}")
    return _check_ppm(privacy_ppm) * _check_params(n_params) * (n_parties - 1) // PPM


def upload_cap(*, privacy_ppm: int, n_params: int) -> int:
    """cap_j = privacy_ppm_j * |w| // 1e6: the most entries j sells to any one receiver."""
    return _check_ppm(privacy_ppm) * _check_params(n_params) // PPM


def download_budget(*, balance: int, privacy_ppm: int, n_params: int, n_credible: int) -> int:
    """d_i = min(balance_i, privacy_ppm_i * |w| * (n_c - 1) // 1e6)."""
    if balance < 0:
        raise PointsError(f"balance cannot be negative, got {balance}")
    per_epoch = initial_points(privacy_ppm=privacy_ppm, n_params=n_params, n_parties=n_credible)
    return min(int(balance), per_epoch)


def allocation_row(
    *, credibility_row: np.ndarray, budget: int, caps: np.ndarray, active: np.ndarray, owner: int
) -> np.ndarray:
    """d_i^j = min(floor(c_i^j * d_i), cap_j) for active j != owner; int64 row, 0 elsewhere."""
    c = np.asarray(credibility_row, dtype=np.float64)
    cap = np.asarray(caps, dtype=np.int64)
    mask = np.asarray(active, dtype=bool)
    if not (c.shape == cap.shape == mask.shape and c.ndim == 1):
        raise PointsError("credibility row, caps and active mask must have the same 1-D shape")
    if budget < 0:
        raise PointsError(f"budget cannot be negative, got {budget}")
    if np.any(c < 0) or not np.all(np.isfinite(c)) or c.sum() > 1.0 + 1e-9:
        raise PointsError("credibility row must be finite, non-negative and sum to at most 1")
    row = np.zeros(c.shape, dtype=np.int64)
    for j in np.flatnonzero(mask):
        if j == owner:
            continue
        row[j] = min(math.floor(float(c[j]) * int(budget)), int(cap[j]))
    if int(row.sum()) > budget:  # cannot happen with a normalised row; guard the invariant
        raise PointsError(f"allocation {int(row.sum())} exceeds budget {budget}")
    return row


def allocations(
    *,
    credibility: np.ndarray,
    balances: np.ndarray,
    privacy_ppm: np.ndarray,
    n_params: int,
    active: np.ndarray,
) -> np.ndarray:
    """(n, n) int64 matrix A[i, j] = entries (and points) active i buys from active j this epoch."""
    mask = np.asarray(active, dtype=bool)
    n = mask.shape[0]
    ppm = [_check_ppm(int(p)) for p in privacy_ppm]
    caps = np.array([upload_cap(privacy_ppm=p, n_params=n_params) for p in ppm], dtype=np.int64)
    n_credible = int(mask.sum())
    out = np.zeros((n, n), dtype=np.int64)
    for i in np.flatnonzero(mask):
        budget = download_budget(
            balance=int(balances[i]), privacy_ppm=ppm[i], n_params=n_params, n_credible=n_credible
        )
        out[i] = allocation_row(
            credibility_row=credibility[i], budget=budget, caps=caps, active=mask, owner=int(i)
        )
    return out


def settle(
    *, balances: np.ndarray, allocation: np.ndarray, delivered: np.ndarray | None = None
) -> np.ndarray:
    """Balances after receivers pay uploaders for delivered entries (undelivered: refunded).

    ``allocation[i, j]`` is what receiver i escrowed for uploader j; ``delivered[i, j]`` says
    whether j's upload to i landed. Raises PointsError if any receiver cannot cover its escrow.
    """
    bal = np.asarray(balances, dtype=np.int64)
    a = np.asarray(allocation, dtype=np.int64)
    if a.shape != (bal.shape[0], bal.shape[0]):
        raise PointsError(f"allocation has shape {a.shape}, expected square of {bal.shape[0]}")
    if np.any(a < 0) or np.any(np.diag(a) != 0):
        raise PointsError("allocations must be non-negative with a zero diagonal")
    escrow = a.sum(axis=1)
    if np.any(escrow > bal):
        short = int(np.flatnonzero(escrow > bal)[0])
        raise PointsError(f"party {short} escrows {int(escrow[short])} > balance {int(bal[short])}")
    paid = a if delivered is None else np.where(np.asarray(delivered, dtype=bool), a, 0)
    return bal - paid.sum(axis=1) + paid.sum(axis=0)
