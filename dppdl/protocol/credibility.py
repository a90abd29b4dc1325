"""Mutual credibility: majority-vote labels, c_i^j scores, normalisation, 0.2/0.8 update, reports.

Conventions (shared by the reference runner, the agents and the contracts):

- A credibility matrix ``c`` is an (n, n) float64 array over *all* parties of the task, indexed by
  party index; ``c[i, j]`` is the credibility party i holds for party j. ``active`` is a boolean
  mask of the current credible set C. Only entries with i, j in C and j != i are meaningful; all
  others are kept at 0.
- A publisher's majority vote is taken over the labels of the *other* parties in C (the paper:
  "combine the predicted labels from all other parties"). A sample whose vote is tied has no
  majority (label -1) and counts for nobody: breaking ties towards any fixed label would reward
  a party that always answers that label, and a random labeller would win many three-way ties.
- Normalisation is per row over j in C \\ {i}, so each active row sums to 1. A row whose raw
  scores are all 0 (every labeller disagreed with the majority everywhere, which only happens
  in degenerate cases) becomes uniform over the others: nobody is singled out on no evidence.
- Threshold c_th = (2/3) * (1/n) with n = |C| (the paper's choice; note the mean of a row is
  1/(n-1), so an average party sits above the threshold).
- Removal: party j is removed when a *strict majority of the credible set* reports it, i.e. when
  its number of reporters r satisfies 2*r > |C|, with |C| counting j itself (the paper counts
  the credible set). j cannot report itself. All removals of one round are decided from the same
  report matrix, simultaneously.
"""

from __future__ import annotations

import numpy as np

KEEP_OLD = 0.2  # weight of the old credibility in the per-epoch update (paper: 0.2)


def _check_active(active: np.ndarray, n: int) -> np.ndarray:
    mask = np.asarray(active, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"active mask has shape {mask.shape}, expected ({n},)")
    return mask


def majority_vote(labels: np.ndarray) -> np.ndarray:
    """Per-sample majority label of a (labellers, samples) int matrix; -1 where the vote ties."""
    table = np.asarray(labels)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError(f"labels must be a non-empty (labellers, samples) matrix: {table.shape}")
    if table.size and table.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    n_classes = int(table.max()) + 1 if table.size else 1
    n_samples = table.shape[1]
    counts = np.zeros((n_samples, n_classes), dtype=np.int64)
    columns = np.broadcast_to(np.arange(n_samples), table.shape)
    np.add.at(counts, (columns.ravel(), table.ravel().astype(np.int64)), 1)
    top = counts.max(axis=1)
    tied = (counts == top[:, None]).sum(axis=1) > 1
    return np.where(tied, -1, counts.argmax(axis=1))


def agreement(labels: np.ndarray, majority: np.ndarray | None = None) -> np.ndarray:
    """Raw credibility m_j / u_i of each labeller (row) against the majority vote."""
    table = np.asarray(labels)
    vote = majority_vote(table) if majority is None else np.asarray(majority)
    if vote.shape != (table.shape[1],):
        raise ValueError(f"majority has shape {vote.shape}, expected ({table.shape[1]},)")
    if table.shape[1] == 0:
        raise ValueError("cannot score labellers on zero samples (u_i must be at least 1)")
    return (table == vote[None, :]).mean(axis=1)


def raw_row(
    labels_by_party: dict[int, np.ndarray], *, owner: int, n_parties: int
) -> np.ndarray:
    """Un-normalised credibility row of publisher ``owner`` from each labeller's labels.

    ``labels_by_party`` maps labeller index -> its (u_i,) labels for owner's samples; the
    labellers should be exactly C \\ {owner}. Parties not in the map get 0.
    """
    if owner in labels_by_party:
        raise ValueError(f"party {owner} cannot label its own samples")
    row = np.zeros(n_parties, dtype=np.float64)
    if not labels_by_party:
        return row
    order = sorted(labels_by_party)
    scores = agreement(np.stack([np.asarray(labels_by_party[j]) for j in order]))
    row[order] = scores
    return row


def normalise(matrix: np.ndarray, *, active: np.ndarray) -> np.ndarray:
    """Rows of active parties normalised over the other active parties; everything else 0."""
    c = np.array(matrix, dtype=np.float64)
    n = c.shape[0]
    if c.shape != (n, n):
        raise ValueError(f"credibility matrix must be square, got {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError("credibility scores must be finite and non-negative")
    mask = _check_active(active, n)
    allowed = np.outer(mask, mask) & ~np.eye(n, dtype=bool)
    c = np.where(allowed, c, 0.0)
    sums = c.sum(axis=1)
    others = allowed.sum(axis=1)
    out = np.zeros_like(c)
    for i in np.flatnonzero(mask):
        if others[i] == 0:
            continue  # a lone party holds no credibility for anyone
        if sums[i] > 0:
            out[i] = c[i] / sums[i]
        else:
            out[i] = allowed[i] / others[i]  # all-zero row: uniform over the others
    return out


def threshold(n_credible: int) -> float:
    """c_th = (2/3) * (1/n) for a credible set of n parties."""
    if n_credible < 1:
        raise ValueError(f"credible set must have at least one party, got {n_credible}")
    return (2.0 / 3.0) / n_credible


def update(old: np.ndarray, new: np.ndarray, *, active: np.ndarray) -> np.ndarray:
    """c <- 0.2 * c_old + 0.8 * c_new, then normalised over the current credible set."""
    a = normalise(old, active=active)
    b = normalise(new, active=active)
    return normalise(KEEP_OLD * a + (1.0 - KEEP_OLD) * b, active=active)


def reports(matrix: np.ndarray, *, active: np.ndarray, threshold_ppm: int = 0) -> np.ndarray:
    """Boolean (n, n) matrix: r[i, j] is True when active i reports active j (c_i^j < c_th).

    c_th is the paper's (2/3)(1/n) unless the task fixes `threshold_ppm` (parts per million,
    the contract's `credibilityThresholdPpm`; 0 means the paper's rule).
    """
    if not 0 <= threshold_ppm <= 1_000_000:
        raise ValueError(f"threshold_ppm must be in 0..1e6, got {threshold_ppm}")
    c = np.asarray(matrix, dtype=np.float64)
    n = c.shape[0]
    mask = _check_active(active, n)
    n_credible = int(mask.sum())
    if n_credible < 2:
        return np.zeros((n, n), dtype=bool)
    allowed = np.outer(mask, mask) & ~np.eye(n, dtype=bool)
    limit = threshold_ppm / 1_000_000 if threshold_ppm else threshold(n_credible)
    return allowed & (c < limit)


def votes_needed(n_credible: int) -> int:
    """Reports needed to remove a party: a strict majority of the credible set (n // 2 + 1)."""
    if n_credible < 1:
        raise ValueError(f"credible set must have at least one party, got {n_credible}")
    return n_credible // 2 + 1


def removals(report_matrix: np.ndarray, *, active: np.ndarray) -> list[int]:
    """Indices of active parties reported by a strict majority of the credible set."""
    r = np.asarray(report_matrix, dtype=bool)
    mask = _check_active(active, r.shape[0])
    counted = r & mask[:, None]  # only reports from credible parties count
    votes = counted.sum(axis=0)
    needed = votes_needed(int(mask.sum()))
    return [int(j) for j in np.flatnonzero(mask & (votes >= needed))]


def remove(
    matrix: np.ndarray, *, active: np.ndarray, removed: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """New (credibility, active) after dropping ``removed``; the matrix is renormalised."""
    mask = _check_active(active, np.asarray(matrix).shape[0]).copy()
    mask[list(removed)] = False
    return normalise(matrix, active=mask), mask


def reputation(matrix: np.ndarray, *, active: np.ndarray) -> np.ndarray:
    """How the others rate each party j in C: the sum of c[i, j] over i in C \\ {j}, that is
    the mean rating times |C| - 1, so 1.0 for a uniform matrix; NaN outside C.

    Not part of the protocol (no party sees the others' rows): a diagnostic of what credibility
    says about the parties, such as whether it tracks their data sizes.
    """
    c = np.asarray(matrix, dtype=np.float64)
    mask = _check_active(active, c.shape[0])
    out = np.full(c.shape[0], np.nan)
    if mask.sum() < 2:
        return out
    others = c[np.ix_(mask, mask)] * (1.0 - np.eye(int(mask.sum())))  # no self-ratings
    out[mask] = others.sum(axis=0)
    return out
