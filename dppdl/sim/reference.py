"""In-process reference runner: Algorithms 1 and 2 for n parties with plaintext sums.

No chain, crypto or storage: the ground truth that the on-chain path must match for one seed.
Every random choice belongs to a `Participant` (see dppdl.learning.participant), so stepping
parties in index order here gives the same numbers as independent agents.

Round numbering: round 0 is the initial benchmarking (Algorithm 1); round t + 1 is epoch t of
Algorithm 2. Per round the result records the credibility matrix the round's reports came from
(before removal), the credible set after removal, and the balances (round 0: the minted points).
The accuracy of every party on the test set is recorded after the rounds in ``evaluated``:
every round by default; with ``eval_every`` k, round 0, every k-th round and the last.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dppdl.learning.data import MnistData, load_mnist, make_partition
from dppdl.learning.participant import (
    Participant,
    local_update_many,
    participant_for_shard,
    pretrain_many,
)
from dppdl.learning.prepared import PreparedCache, restore_all
from dppdl.learning.train import Say, accuracy_summary, is_test_round, silent
from dppdl.protocol import credibility as cred
from dppdl.protocol import points
from dppdl.protocol.fairness import fairness_or_none
from dppdl.protocol.selection import magnitude_order, sell
from dppdl.sim.settings import ReferenceConfig

__all__ = ["ReferenceConfig", "ReferenceResult", "run_reference", "build_participants"]


@dataclass(frozen=True, eq=False)
class ReferenceResult:
    """Everything a reference run measured; `to_json()` drops the final weights."""

    config: ReferenceConfig
    privacy_levels: list[float]  # ε_i per party
    privacy_ppm: list[int]  # ε_i in parts per million, as on-chain
    data_sizes: list[int]  # |D_i| per party (after train_limit)
    n_params: int  # |w|
    accuracy: list[list[float]]  # [k][party] test accuracy after round evaluated[k]
    evaluated: list[int]  # the rounds whose accuracy was taken (0, every k-th and the last)
    credibility: list[list[list[float]]]  # [round][i][j] matrix the round's reports used
    active: list[list[bool]]  # [round][party] credible set after the round's removals
    reports: list[list[tuple[int, int]]]  # [round] (reporter, reported) pairs
    removals: list[tuple[int, int]]  # (round, party) in order
    balances: list[list[int]]  # [round][party]: round 0 minted, then after each epoch
    allocations: list[list[list[int]]]  # [epoch][i][j] entries (points) i bought from j
    dp_epsilon_spent: list[float]  # DP-GAN ε per party
    fairness: dict[str, float | None]  # Pearson r of final accuracy vs contribution
    seconds: dict[str, float]  # wall time per phase
    prepared_from_cache: bool  # standalone models and DP-GANs restored, not trained
    final_params: list[np.ndarray] = field(repr=False)  # flat float32 weights per party

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (everything except the final weights)."""
        return {
            "config": self.config.to_json(),
            "privacy_levels": self.privacy_levels,
            "privacy_ppm": self.privacy_ppm,
            "data_sizes": self.data_sizes,
            "n_params": self.n_params,
            "accuracy": self.accuracy,
            "evaluated": self.evaluated,
            "credibility": self.credibility,
            "active": self.active,
            "reports": [[list(p) for p in r] for r in self.reports],
            "removals": [{"round": r, "party": p} for r, p in self.removals],
            "balances": self.balances,
            "allocations": self.allocations,
            "dp_epsilon_spent": self.dp_epsilon_spent,
            "fairness": self.fairness,
            "seconds": self.seconds,
            "prepared_from_cache": self.prepared_from_cache,
        }


def build_participants(config: ReferenceConfig, data: MnistData) -> list[Participant]:
    """The n parties of the run, with their shards (cut to ``train_limit``) and behaviours."""
    shards = make_partition(
        setting=config.setting, n_parties=config.n_parties, seed=config.seed,
        n_train=int(data.train_x.shape[0]),
    )
    return [
        participant_for_shard(
            shard, data=data, limit=config.train_limit, model_name=config.model,
            seed=config.seed, train_config=config.train, gan_config=config.gan,
            collab=config.collab, behaviour=config.behaviour(shard.index),
        )
        for shard in shards
    ]


def _prepare(config: ReferenceConfig, data: MnistData, clock: _Clock, say: Say
             ) -> tuple[list[Participant], bool]:  # fmt: skip
    """The parties, pretrained and with their DP-GANs; True if all came from the prepared
    cache. The standalone models are restored all or none (a batched run's rounding depends on
    the whole batch), each DP-GAN on its own (a run of the other model may have stored it)."""
    parties = build_participants(config, data)
    cache = None if config.prepared_cache is None else PreparedCache(config.prepared_cache)
    models = [] if cache is None else cache.model_entries(parties, batched=config.batched)
    gans = [] if cache is None else [cache.gan_entry(p) for p in parties]
    models_restored = restore_all(models)
    if models_restored:
        say(f"restored {len(parties)} standalone models from {config.prepared_cache}")
    else:
        say(f"pretraining {len(parties)} standalone models")
        with clock.phase("pretrain"):
            pretrain_many(parties, batched=config.batched)
        for e in models:
            e.save()
    restored = [e.restore() for e in gans] or [False] * len(parties)
    if any(restored):
        say(f"restored {sum(restored)} DP-GANs from {config.prepared_cache}")
    todo = [k for k, hit in enumerate(restored) if not hit]
    if todo:
        with clock.phase("dpgan"):
            for done, k in enumerate(todo, 1):
                gan = parties[k].train_gan()
                say(f"DP-GAN {done}/{len(todo)}: ε = {gan.dp_epsilon_spent:.2f}")
                if gans:
                    gans[k].save()
    return parties, models_restored and not todo


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def credibility_round(
    parties: Sequence[Participant], *, active: np.ndarray, round: int
) -> np.ndarray:
    """Raw (un-normalised) credibility matrix of one round: publish, label, majority-vote."""
    n = len(parties)
    members = [int(i) for i in np.flatnonzero(active)]
    raw = np.zeros((n, n))
    for i in members:
        samples = parties[i].release_samples(round=round)
        labels = {j: parties[j].label(samples) for j in members if j != i}
        raw[i] = cred.raw_row(labels, owner=i, n_parties=n)
    return raw


def aggregate_for(
    receiver: int, *, allocation: np.ndarray, deltas: dict[int, np.ndarray],
    orders: dict[int, np.ndarray] | None, n_params: int,
    residuals: dict[tuple[int, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Σ_j of what each j sells the receiver (top-k of Δw_j, d_i^j entries), summed in uploader
    index order (float32). With ``residuals`` ((uploader, receiver) → what is still owed) the
    sales use error feedback and the residuals are updated in place."""
    total = np.zeros(n_params, dtype=np.float32)
    for j in sorted(deltas):
        k = int(allocation[receiver, j])
        if k == 0:
            continue
        if residuals is None:
            sent, _ = sell(deltas[j], k=k, order=None if orders is None else orders[j])
        else:
            owed = residuals.get((j, receiver), np.zeros(n_params, dtype=np.float32))
            sent, rest = sell(deltas[j], k=k, residual=owed)
            assert rest is not None
            residuals[(j, receiver)] = rest
        total += sent
    return total


def run_reference(
    config: ReferenceConfig, *, data: MnistData | None = None, progress: bool = False,
    log: Say | None = None,
) -> ReferenceResult:
    """Run benchmarking and ``config.epochs`` epochs of DPPDL for all parties in this process.

    ``progress`` draws a bar per round (for a terminal); ``log`` gets a line per preparation
    step and per round, with the accuracies when the round is tested (for a log file).
    """
    say: Say = log or silent
    clock = _Clock()
    if data is None:
        data = load_mnist(cache_dir=config.data_dir)
    test_x, test_y = data.test_x, data.test_y
    if config.test_limit is not None:
        test_x, test_y = test_x[: config.test_limit], test_y[: config.test_limit]
    parties, restored = _prepare(config, data, clock, say)
    n = len(parties)
    n_params = parties[0].n_params
    ppm = np.array([p.privacy_ppm for p in parties], dtype=np.int64)
    bar = _bar(config.epochs + 1, enabled=progress)

    # Algorithm 1: standalone models, DP-GANs (both prepared above), mutual labelling,
    # credibility, reports, removal.
    active = np.ones(n, dtype=bool)
    with clock.phase("credibility"):
        c = cred.normalise(credibility_round(parties, active=active, round=0), active=active)
    record = _Log(threshold_ppm=config.credibility_threshold_ppm, eval_every=config.eval_every,
                    last_round=config.epochs, say=say)
    c, active = record.close_round(c, active, round=0)
    balances = np.array(
        [points.initial_points(privacy_ppm=int(q), n_params=n_params, n_parties=n) for q in ppm],
        dtype=np.int64,
    )
    record.end(parties, balances, test_x, test_y, clock, round=0)
    _tick(bar)

    # Algorithm 2, one iteration per epoch.
    residuals: dict[tuple[int, int], np.ndarray] | None = (
        {} if config.collab.error_feedback else None
    )
    for epoch in range(config.epochs):
        members = [int(i) for i in np.flatnonzero(active)]
        alloc = points.allocations(
            credibility=c, balances=balances, privacy_ppm=ppm, n_params=n_params, active=active
        )
        with clock.phase("train"):
            updates = local_update_many([parties[i] for i in members], batched=config.batched)
        deltas = dict(zip(members, updates, strict=True))
        with clock.phase("aggregate"):
            sold = {j: deltas[j] for j in members if alloc[:, j].any()}
            orders = None if residuals is not None else {
                j: magnitude_order(d) for j, d in sold.items()}  # fmt: skip
            for i in members:
                parties[i].apply_aggregate(
                    aggregate_for(i, allocation=alloc, deltas=sold, orders=orders,
                                  n_params=n_params, residuals=residuals),
                    own_update=deltas[i], n_senders=int(np.count_nonzero(alloc[i])),
                )
        balances = points.settle(balances=balances, allocation=alloc)
        record.allocations.append(alloc.tolist())
        with clock.phase("credibility"):
            fresh = cred.normalise(
                credibility_round(parties, active=active, round=epoch + 1), active=active
            )
            c = cred.update(c, fresh, active=active)
        c, active = record.close_round(c, active, round=epoch + 1)
        record.end(parties, balances, test_x, test_y, clock, round=epoch + 1)
        _tick(bar)
    if bar is not None:
        bar.close()

    final = record.accuracy[-1]
    members = [int(i) for i in np.flatnonzero(active)]
    return ReferenceResult(
        config=config,
        privacy_levels=[p.privacy_level for p in parties],
        privacy_ppm=[int(q) for q in ppm],
        data_sizes=[p.n_examples for p in parties],
        n_params=n_params,
        accuracy=record.accuracy,
        evaluated=record.evaluated,
        credibility=record.credibility,
        active=record.active,
        reports=record.reports,
        removals=record.removals,
        balances=record.balances,
        allocations=record.allocations,
        dp_epsilon_spent=[p.trained_gan.dp_epsilon_spent for p in parties],
        fairness={
            "privacy_level": fairness_or_none(
                contributions=[parties[i].privacy_level for i in members],
                accuracies=[final[i] for i in members],
            ),
            "data_size": fairness_or_none(
                contributions=[float(parties[i].n_examples) for i in members],
                accuracies=[final[i] for i in members],
            ),
        },
        seconds=dict(clock.seconds),
        prepared_from_cache=restored,
        final_params=[p.params().copy() for p in parties],
    )


class _Log:
    """Per-round records of a run."""

    def __init__(self, *, threshold_ppm: int = 0, eval_every: int = 1, last_round: int,
                 say: Say = silent) -> None:  # fmt: skip
        self.threshold_ppm = threshold_ppm  # the task's c_th in ppm; 0 = the paper's rule
        self.eval_every = eval_every
        self.last_round = last_round
        self.say = say
        self.accuracy: list[list[float]] = []
        self.evaluated: list[int] = []
        self.credibility: list[list[list[float]]] = []
        self.active: list[list[bool]] = []
        self.reports: list[list[tuple[int, int]]] = []
        self.removals: list[tuple[int, int]] = []
        self.balances: list[list[int]] = []
        self.allocations: list[list[list[int]]] = []

    def close_round(
        self, c: np.ndarray, active: np.ndarray, *, round: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Record the matrix, decide reports and removals, return the renormalised state."""
        r = cred.reports(c, active=active, threshold_ppm=self.threshold_ppm)
        gone = cred.removals(r, active=active)
        self.credibility.append(c.tolist())
        self.reports.append([(int(i), int(j)) for i, j in np.argwhere(r)])
        self.removals.extend((round, j) for j in gone)
        c, active = cred.remove(c, active=active, removed=gone)
        self.active.append(active.tolist())
        return c, active

    def end(
        self, parties: Sequence[Participant], balances: np.ndarray, test_x: torch.Tensor,
        test_y: torch.Tensor, clock: _Clock, *, round: int,
    ) -> None:
        tested = ""
        if is_test_round(round, every=self.eval_every, last=self.last_round):
            with clock.phase("evaluate"):
                self.accuracy.append([p.evaluate(test_x, test_y) for p in parties])
            self.evaluated.append(round)
            tested = f", {accuracy_summary(self.accuracy[-1], active=self.active[-1])}"
        self.balances.append([int(b) for b in balances])
        credible = sum(self.active[-1])
        self.say(f"round {round}/{self.last_round}: {credible}/{len(parties)} credible{tested}")


def _bar(total: int, *, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="reference", unit="round")


def _tick(bar) -> None:  # type: ignore[no-untyped-def]
    if bar is not None:
        bar.update(1)
