"""How parties start and how a party folds the updates it bought into its model (Algorithm 2).

Choices the paper leaves open, fixed here by the task (DESIGN §4.3, steps 2 and 3):

- **Initial model.** With ``init_seed`` set, every party starts from the same weights
  ``build_model(model, seed=init_seed)``, published in the task spec. Exchanging weight updates
  between independently initialised networks adds vectors that live in unrelated coordinate
  systems (hidden units are only defined up to permutation); measured at P4 MLP, that drifts
  below standalone accuracy. ``None`` gives every party its own initialisation (ablation only).
- **Start of collaboration.** Every party first trains a standalone model for the local epochs
  of the task; Algorithm 1 labels the others' samples with it. ``start="pretrained"`` then
  continues Algorithm 2 from that standalone model. ``start="init"`` starts Algorithm 2 from
  the task's initial model again, the standalone model having served benchmarking only. The
  parties exchange updates, never models, so what their standalone epochs drove apart is never
  averaged away; started together they stay close and each update bought lands where it was
  computed. Measured at P4 MLP, same privacy, seed 0, 30 epochs, mean rule: 88.78 % from the
  standalone models, 90.35 % from the initial model. The restart costs the first epochs:
  from the initial model the parties pass their standalone accuracy only after about eight.
- **Aggregation.** After its local epoch a party holds w_i + Δw_i and has opened the sum
  T = Σ_{j∈S} Δw̃_j^i of the sparse updates of the |S| senders it bought from.
  ``"mean"`` sets w_i' = w_i + (Δw_i + T) / (1 + |S|): its own update and the bought ones
  averaged, as in FedAvg. ``"sum"`` is the update rule read literally,
  w_i' = w_i + Δw_i + T. With a shared initialisation and near-iid data every Δw_j moves
  along the same high-curvature directions, so the sum takes about (1 + |S|) times a step
  each party's local epoch had already sized to the valley floor, and diverges for |S| ≥ 2
  (measured at P4 MLP: 86 % to 30 % in three epochs). The mean stays stable.
- **Own weight** (off by default, mean rule only). The mean gives a party's own update the
  weight 1/(1 + |S|), which shrinks as it buys from more senders. With ``own_weight`` λ the
  party keeps λ of its own update and takes 1 − λ of the bought ones' mean:
  w_i' = w_i + λ·Δw_i + (1 − λ)·T/|S|. A party's own data then keeps a fixed share of its
  model however much it buys, which matters for fairness when contributions differ by data
  size (imbalanced). Measured at P15 MLP, imbalanced, 90 epochs from the initial model,
  λ = 0.25 raised r from +0.34 to +0.77 (seed 0) and from −0.22 to +0.87 (seed 2), and cost
  the best party 2.1 and 3.1 points: fairness bought with accuracy, hence off by default.
- **Update bound** (off by default). With ``update_bound`` γ every entry of a party's local
  update is cut to [−γ, γ] before the party applies it or sells any of it, the bounded
  gradients of Shokri & Shmatikov's distributed selective SGD. A bound makes the literal sum
  stable: no entry moves by more than (1 + |S|)·γ in an epoch, however many updates are added.
- **Error feedback** (off by default). With ``error_feedback`` an uploader sells each buyer the
  top-k entries of its update plus what earlier sales to that buyer left unsent, and keeps the
  remainder (dppdl.protocol.selection.sell); without it, what was not among this epoch's top-k
  is lost to that buyer. Error feedback delivers every entry sooner or later whatever the buyer
  paid, so it erodes collaborative fairness for little accuracy (measured at P4 MLP, seed 0:
  different privacy r = +0.02 with it, +0.60 without; same privacy 88.91 % against 88.78 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from dppdl.errors import ConfigError

Aggregation = Literal["mean", "sum"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
Start = Literal["pretrained", "init"]
STARTS: tuple[str, ...] = get_args(Start)


@dataclass(frozen=True)
class CollabConfig:
    """The task's initial model and aggregation rule; every party of a task uses the same."""

    init_seed: int | None = 0  # shared initial weights from this seed; None = one per party
    aggregation: Aggregation = "mean"  # "mean" (stable, ours) or "sum" (the literal rule)
    error_feedback: bool = False  # sell top-k of update + unsent remainder (costs fairness)
    update_bound: float | None = None  # cut each local update's entries to ±this; None = no cut
    start: Start = "pretrained"  # Algorithm 2 starts from the standalone model, or "init" again
    own_weight: float | None = None  # mean rule: λ of the own update; None = 1/(1 + |S|)

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(
                f"unknown aggregation {self.aggregation!r}; choose one of {AGGREGATIONS}"
            )
        if self.start not in STARTS:
            raise ConfigError(f"unknown start {self.start!r}; choose one of {STARTS}")
        if not isinstance(self.error_feedback, bool):
            raise ConfigError(f"error_feedback must be true or false, got {self.error_feedback!r}")
        bound = self.update_bound
        if bound is not None and not (_is_real(bound) and bound > 0):
            raise ConfigError(f"update_bound must be a positive number or None, got {bound!r}")
        weight = self.own_weight
        if weight is not None:
            if not (_is_real(weight) and 0 < weight < 1):
                raise ConfigError(
                    f"own_weight must be a number strictly between 0 and 1 or None, "
                    f"got {weight!r}"
                )
            if self.aggregation != "mean":
                raise ConfigError("own_weight applies to the mean aggregation only")
        seed = self.init_seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ConfigError(f"init_seed must be a non-negative integer or None, got {seed!r}")


def _is_real(value: object) -> bool:
    """A finite int or float, and not a bool (which Python counts as an int)."""
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value))


def aggregate_step(
    *, opened_sum: np.ndarray, own_update: np.ndarray, n_senders: int, rule: Aggregation,
    own_weight: float | None = None,
) -> np.ndarray:
    """What to add to a model that already holds w_i + Δw_i, so that it follows ``rule``.

    ``"sum"``: T. ``"mean"``: (Δw_i + T)/(1 + |S|) − Δw_i = (T − |S|·Δw_i)/(1 + |S|); with
    ``own_weight`` λ and |S| > 0: λ·Δw_i + (1 − λ)·T/|S| − Δw_i = (1 − λ)(T/|S| − Δw_i).
    """
    total = np.asarray(opened_sum, dtype=np.float32)
    own = np.asarray(own_update, dtype=np.float32)
    if total.shape != own.shape:
        raise ValueError(f"sum has shape {total.shape} but the own update {own.shape}")
    if n_senders < 0:
        raise ValueError(f"n_senders must be >= 0, got {n_senders}")
    if rule == "sum":
        return total
    if rule == "mean":
        if own_weight is None:
            return ((total - np.float32(n_senders) * own) / np.float32(1 + n_senders)).astype(
                np.float32
            )
        if n_senders == 0:
            return np.zeros_like(own)
        keep = np.float32(1.0 - own_weight)
        return (keep * (total / np.float32(n_senders) - own)).astype(np.float32)
    raise ValueError(f"unknown aggregation {rule!r}")


def bound_update(update: np.ndarray, bound: float | None) -> np.ndarray:
    """``update`` with every entry cut to [−bound, bound] (float32); unchanged for None."""
    u = np.asarray(update, dtype=np.float32)
    if bound is None:
        return u
    return np.clip(u, -bound, bound).astype(np.float32, copy=False)
