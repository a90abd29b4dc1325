"""Participant and the in-process reference runner, with the real learning components."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig
from dppdl.learning.data import MnistData, load_mnist, mnist_present
from dppdl.learning.gan_config import MNIST32_MEAN, MNIST32_STD, DPGANConfig
from dppdl.learning.participant import (
    Participant,
    derive_seed,
    local_update_many,
    pretrain_many,
    sample_count,
)
from dppdl.learning.train import TrainConfig, predict
from dppdl.protocol import points
from dppdl.sim.reference import ReferenceConfig, run_reference

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY_TRAIN = TrainConfig(lr=0.01, local_epochs=2)
TINY_GAN = DPGANConfig(epochs=1, batch_size=16, width=4, dp=False)


def synthetic_data(n_parties: int) -> MnistData:
    """MNIST-shaped, easy data: class k is a bright 8x8 square in cell k of a 4x4 grid, plus noise.

    Pixels live in [0, 1] and are normalised with the public MNIST constants, like the DP-GAN's
    output, so a tiny GAN learns to draw squares that any honest classifier labels alike.
    600 training rows per party as in the paper.
    """
    g = torch.Generator().manual_seed(123)
    n_train, n_test = 600 * n_parties, 200
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    pixels = 0.15 * torch.rand(n_train + n_test, 1, 32, 32, generator=g)
    for k in range(10):
        r, c = divmod(k, 4)
        pixels[y == k, :, 8 * r : 8 * r + 8, 8 * c : 8 * c + 8] += 0.8
    x = (pixels.clamp(0, 1) - MNIST32_MEAN) / MNIST32_STD
    return MnistData(
        train_x=x[:n_train], train_y=y[:n_train], test_x=x[n_train:], test_y=y[n_train:],
        mean=MNIST32_MEAN, std=MNIST32_STD,
    )


@pytest.fixture(scope="module")
def data() -> MnistData:
    return synthetic_data(3)


def make_party(data: MnistData, index: int = 0, **kw: object) -> Participant:
    args: dict = dict(
        index=index, x=data.train_x[index * 40 : index * 40 + 40],
        y=data.train_y[index * 40 : index * 40 + 40], privacy_level=0.1, model_name="mlp",
        seed=7, train_config=TINY_TRAIN, gan_config=TINY_GAN,
    )
    args.update(kw)
    return Participant(**args)


def tiny_config(**kw: object) -> ReferenceConfig:
    base: dict = dict(
        n_parties=3, epochs=2, seed=5, train=TINY_TRAIN, gan=TINY_GAN, train_limit=40,
        test_limit=100,
    )
    base.update(kw)
    return ReferenceConfig(**base)


# --- Participant -------------------------------------------------------------------------------


def test_seeds_differ_by_party_purpose_and_round() -> None:
    seeds = {
        derive_seed(1, 0, "train"), derive_seed(1, 1, "train"), derive_seed(1, 0, "gan"),
        derive_seed(1, 0, "samples", 0), derive_seed(1, 0, "samples", 1),
        derive_seed(2, 0, "train"),
    }
    assert len(seeds) == 6
    assert all(0 <= s < 2**60 for s in seeds)
    assert derive_seed(1, 0, "samples", 3) == derive_seed(1, 0, "samples", 3)


def test_sample_count_is_integer_rounded_privacy_share() -> None:
    assert sample_count(privacy_ppm=100_000, n_examples=600) == 60
    assert sample_count(privacy_ppm=123_457, n_examples=600) == 74  # 74.07
    assert sample_count(privacy_ppm=100_000, n_examples=3) == 1  # never zero


def test_bad_participant_input_is_refused(data: MnistData) -> None:
    with pytest.raises(ConfigError, match="behaviour"):
        make_party(data, behaviour="lazy")
    with pytest.raises(ConfigError, match="privacy_level"):
        make_party(data, privacy_level=0.0)


def test_release_samples_is_fresh_per_round_and_deterministic(data: MnistData) -> None:
    # Prepare
    a, b = make_party(data), make_party(data)
    a.train_gan()
    b.train_gan()
    # Execute
    r0, r0_again = a.release_samples(round=0), b.release_samples(round=0)
    r1 = a.release_samples(round=1)
    # Assert
    assert r0.shape == (a.sample_count, 1, 32, 32) == (4, 1, 32, 32)
    assert torch.equal(r0, r0_again)
    assert not torch.equal(r0, r1)


def test_labels_by_behaviour(data: MnistData) -> None:
    samples = data.test_x[:50]
    honest = make_party(data)
    liar = make_party(data, index=1, behaviour="random-labels")
    const = make_party(data, index=2, behaviour="constant-labels")
    assert np.array_equal(honest.label(samples), predict(honest.model, samples).numpy())
    lies = liar.label(samples)
    assert np.array_equal(lies, liar.label(samples.clone()))  # same samples, same answer
    assert not np.array_equal(lies, liar.label(data.test_x[50:100]))
    assert lies.dtype == np.int64 and lies.min() >= 0 and lies.max() <= 9
    assert len(set(lies.tolist())) > 3
    assert set(const.label(samples).tolist()) == {0}


def test_local_update_returns_delta_and_sum_rule_adds(data: MnistData) -> None:
    # Prepare
    p = make_party(data, collab=CollabConfig(aggregation="sum"))
    before = p.params().copy()
    # Execute
    delta = p.local_update()
    after = p.params().copy()
    extra = np.zeros_like(delta)
    extra[:5] = 1.0
    p.apply_aggregate(extra, own_update=delta, n_senders=2)
    # Assert
    assert delta.dtype == np.float32 and delta.shape == (p.n_params,)
    assert np.abs(delta).sum() > 0
    np.testing.assert_allclose(after, before + delta, atol=1e-6)
    np.testing.assert_allclose(p.params(), after + extra, atol=1e-6)
    assert p.steps == 40
    with pytest.raises(ValueError, match="shape"):
        p.apply_aggregate(np.zeros(3, dtype=np.float32), own_update=delta, n_senders=2)


def test_mean_rule_averages_own_and_bought_updates(data: MnistData) -> None:
    # Prepare
    p = make_party(data)  # the default rule is the mean
    before = p.params().copy()
    delta = p.local_update()
    bought = np.zeros_like(delta)
    bought[:5] = 3.0  # the sum of two senders' sparse updates
    # Execute
    p.apply_aggregate(bought, own_update=delta, n_senders=2)
    # Assert: w' = w + (Δw + Σ)/3, computed from the weights before the local epoch
    np.testing.assert_allclose(p.params(), before + (delta + bought) / 3, atol=1e-6)


def test_update_bound_cuts_the_kept_and_returned_update(data: MnistData) -> None:
    # Prepare: the same party with and without a bound small enough to bite
    free = make_party(data)
    bounded = make_party(data, collab=CollabConfig(update_bound=1e-3))
    before = bounded.params().copy()
    # Execute
    d_free = free.local_update()
    d_bound = bounded.local_update()
    # Assert: the bound bit, the model holds exactly w + the cut update, small entries survive
    assert np.abs(d_free).max() > 1e-3
    assert np.abs(d_bound).max() <= np.float32(1e-3)
    np.testing.assert_allclose(bounded.params(), before + d_bound, atol=1e-7)
    small = np.abs(d_free) <= 1e-3
    np.testing.assert_allclose(d_bound[small], d_free[small], atol=1e-7)
    np.testing.assert_array_equal(np.sign(d_bound), np.sign(d_free))


def test_batched_updates_are_bounded_too(data: MnistData) -> None:
    bound = CollabConfig(update_bound=5e-4)
    looped = [make_party(data, index=i, collab=bound) for i in range(2)]
    batched = [make_party(data, index=i, collab=bound) for i in range(2)]
    d_loop = local_update_many(looped, batched=False)
    d_batch = local_update_many(batched, batched=True)
    for lp, bp, dl, db in zip(looped, batched, d_loop, d_batch, strict=True):
        assert np.abs(db).max() <= np.float32(5e-4)
        np.testing.assert_allclose(dl, db, atol=1e-5)
        np.testing.assert_allclose(lp.params(), bp.params(), atol=1e-5)


def test_start_init_restarts_collaboration_from_the_initial_model_once(data: MnistData) -> None:
    # Prepare: two parties pretrained alike, one continuing, one restarting from the init
    initial = make_party(data).params().copy()
    cont = make_party(data)
    restart = make_party(data, collab=CollabConfig(start="init"))
    for p in (cont, restart):
        p.pretrain()
    pretrained = restart.params().copy()
    # Execute
    d_cont = cont.local_update()
    d_restart = restart.local_update()
    after_first = restart.params().copy()
    d_second = restart.local_update()
    # Assert: the first update starts from the initial weights, later ones go on from there
    assert not np.array_equal(pretrained, initial)
    np.testing.assert_allclose(after_first, initial + d_restart, atol=1e-6)
    np.testing.assert_allclose(cont.params(), pretrained + d_cont, atol=1e-6)
    np.testing.assert_allclose(restart.params(), after_first + d_second, atol=1e-6)
    # a party restored from a checkpoint taken after the restart does not restart again
    resumed = make_party(data, collab=CollabConfig(start="init"))
    resumed.load_state_dict(restart.state_dict())
    assert np.array_equal(resumed.local_update(), restart.local_update())
    np.testing.assert_array_equal(resumed.params(), restart.params())


def test_batched_updates_restart_from_the_initial_model(data: MnistData) -> None:
    start = CollabConfig(start="init")
    looped = [make_party(data, index=i, collab=start) for i in range(2)]
    batched = [make_party(data, index=i, collab=start) for i in range(2)]
    pretrain_many(looped, batched=False)
    pretrain_many(batched, batched=True)
    d_loop = local_update_many(looped, batched=False)
    d_batch = local_update_many(batched, batched=True)
    for lp, bp, dl, db in zip(looped, batched, d_loop, d_batch, strict=True):
        assert bp.collaborating and lp.collaborating
        np.testing.assert_allclose(dl, db, atol=1e-5)
        np.testing.assert_allclose(lp.params(), bp.params(), atol=1e-5)


def test_parties_share_the_task_initial_model_unless_told_otherwise(data: MnistData) -> None:
    # Prepare / Execute
    shared = [make_party(data, index=i).params() for i in range(2)]
    other_seed = make_party(data, collab=CollabConfig(init_seed=1)).params()
    own = [make_party(data, index=i, collab=CollabConfig(init_seed=None)).params()
           for i in range(2)]  # fmt: skip
    # Assert
    np.testing.assert_array_equal(shared[0], shared[1])
    assert not np.array_equal(shared[0], other_seed)
    assert not np.array_equal(own[0], own[1])


def test_checkpoint_resumes_identically(data: MnistData) -> None:
    # Prepare: a party part-way through, and a fresh one restored from its checkpoint
    a = make_party(data)
    a.pretrain()
    a.train_gan()
    state = a.state_dict()
    b = make_party(data)
    # Execute
    b.load_state_dict(state)
    # Assert: the next steps are bit-identical
    assert np.array_equal(a.local_update(), b.local_update())
    assert torch.equal(a.release_samples(round=3), b.release_samples(round=3))
    assert b.gan is not None and a.gan is not None
    assert b.gan.dp_epsilon_spent == a.gan.dp_epsilon_spent
    with pytest.raises(ConfigError, match="party"):
        make_party(data, index=1).load_state_dict(state)


def test_batched_training_matches_looped(data: MnistData) -> None:
    looped = [make_party(data, index=i) for i in range(3)]
    batched = [make_party(data, index=i) for i in range(3)]
    pretrain_many(looped, batched=False)
    pretrain_many(batched, batched=True)
    d_loop = local_update_many(looped, batched=False)
    d_batch = local_update_many(batched, batched=True)
    for lp, bp, dl, db in zip(looped, batched, d_loop, d_batch, strict=True):
        assert lp.steps == bp.steps
        assert torch.equal(lp.generator.get_state(), bp.generator.get_state())
        np.testing.assert_allclose(lp.params(), bp.params(), atol=1e-5)
        np.testing.assert_allclose(dl, db, atol=1e-5)


# --- Reference runner --------------------------------------------------------------------------


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="n_parties"):
        tiny_config(n_parties=1)
    with pytest.raises(ConfigError, match="behaviour"):
        tiny_config(behaviours=("honest", "sneaky"))
    with pytest.raises(ConfigError, match="behaviours given"):
        tiny_config(behaviours=("honest",) * 4)
    with pytest.raises(ConfigError, match="setting"):
        tiny_config(setting="iid")
    with pytest.raises(ConfigError, match="train_limit"):
        tiny_config(train_limit=1)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="eval_every"):
            tiny_config(eval_every=bad)


@pytest.fixture(scope="module")
def tiny_run(data: MnistData):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_reference(tiny_config(), data=data)


def test_reference_run_is_deterministic(data: MnistData, tiny_run) -> None:  # type: ignore[no-untyped-def]
    # Execute
    again = run_reference(tiny_config(), data=data)
    other_seed = run_reference(tiny_config(seed=6), data=data)
    # Assert
    first, second = tiny_run.to_json(), again.to_json()
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    for a, b in zip(tiny_run.final_params, again.final_params, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(tiny_run.final_params[0], other_seed.final_params[0])


def test_reference_run_keeps_protocol_invariants(tiny_run) -> None:  # type: ignore[no-untyped-def]
    r = tiny_run
    n, rounds = 3, 3
    assert len(r.accuracy) == len(r.credibility) == len(r.balances) == len(r.active) == rounds
    assert len(r.allocations) == 2
    minted = points.initial_points(privacy_ppm=100_000, n_params=r.n_params, n_parties=n)
    assert r.balances[0] == [minted] * n
    cap = points.upload_cap(privacy_ppm=100_000, n_params=r.n_params)
    for t, alloc in enumerate(r.allocations):
        a = np.array(alloc)
        assert sum(r.balances[t + 1]) == minted * n  # conservation
        assert np.all(a <= cap) and np.all(np.diag(a) == 0)
        assert np.all(a.sum(axis=1) <= np.array(r.balances[t]))
        assert a.sum() > 0
    for m, act in zip(r.credibility, [[True] * n] + r.active[:-1], strict=True):
        c = np.array(m)
        for i in range(n):
            if act[i]:
                assert c[i].sum() == pytest.approx(1.0)
    assert all(0.0 <= acc <= 1.0 for row in r.accuracy for acc in row)
    assert r.fairness == {"privacy_level": None, "data_size": None}  # equal contributions
    assert set(r.seconds) >= {"pretrain", "dpgan", "train", "credibility", "aggregate"}


def test_testing_every_kth_round_changes_nothing_but_the_curve(data: MnistData, tiny_run) -> None:  # type: ignore[no-untyped-def]
    # Arrange: three epochs, so round 3 is the last and round 1 falls between the k = 2 tests
    every = run_reference(tiny_config(epochs=3), data=data)
    lines: list[str] = []
    # Execute
    thinned = run_reference(tiny_config(epochs=3, eval_every=2), data=data, log=lines.append)
    # Assert: a progress line per step, with the accuracies of the tested rounds
    n = len(thinned.privacy_levels)
    assert lines[0] == f"pretraining {n} standalone models"
    assert [x.split(":")[0] for x in lines[1:n + 1]] == [f"DP-GAN {k}/{n}" for k in range(1, n + 1)]
    rounds = lines[n + 1:]
    assert [x.split(":")[0] for x in rounds] == [f"round {r}/3" for r in range(4)]
    assert ["best" in x for x in rounds] == [True, False, True, True]
    best = max(a for a, on in zip(thinned.accuracy[-1], thinned.active[-1], strict=True) if on)
    assert f"best {100 * best:.2f} %" in rounds[-1]
    assert every.evaluated == [0, 1, 2, 3] and tiny_run.evaluated == [0, 1, 2]
    assert thinned.evaluated == [0, 2, 3]
    assert thinned.accuracy == [every.accuracy[r] for r in (0, 2, 3)]
    assert thinned.fairness == every.fairness and thinned.balances == every.balances
    for a, b in zip(every.final_params, thinned.final_params, strict=True):
        assert np.array_equal(a, b)


def test_a_run_restored_from_the_prepared_cache_is_the_run_that_trained(
    data: MnistData, tmp_path: Path, tiny_run  # type: ignore[no-untyped-def]
) -> None:
    # Prepare: a first run with the cache trains and stores the preparations
    config = tiny_config(prepared_cache=tmp_path)
    stored = run_reference(config, data=data)
    # Execute
    restored = run_reference(config, data=data)
    batched = run_reference(replace(config, batched=True), data=data)
    # Assert: storing and restoring change nothing against the run without a cache; the
    # batched run rounds otherwise, so it pretrains and stores models of its own (the DP-GANs
    # it restores: they do not depend on how the classifiers were trained)
    assert (stored.prepared_from_cache, restored.prepared_from_cache) == (False, True)
    assert not batched.prepared_from_cache
    assert "pretrain" in batched.seconds and "dpgan" not in batched.seconds
    assert len(list(tmp_path.glob("*.pt"))) == 3 * config.n_parties
    reference = tiny_run.to_json()
    reference.pop("seconds"), reference.pop("config"), reference.pop("prepared_from_cache")
    assert json.loads(json.dumps(stored.to_json()))["config"]["prepared_cache"] == str(tmp_path)
    for run in (stored, restored):
        got = run.to_json()
        got.pop("seconds"), got.pop("config")
        assert got.pop("prepared_from_cache") == (run is restored)
        assert got == reference
        for a, b in zip(tiny_run.final_params, run.final_params, strict=True):
            assert np.array_equal(a, b)
    assert {"pretrain", "dpgan"} <= set(stored.seconds)
    assert not {"pretrain", "dpgan"} & set(restored.seconds)


def test_batched_reference_run_matches_looped(data: MnistData, tiny_run) -> None:  # type: ignore[no-untyped-def]
    # Batched SGD equals looped SGD up to float rounding, but top-k is discontinuous: an entry
    # at the selection boundary may swap, so a handful of weights differ by one entry's value.
    batched = run_reference(tiny_config(batched=True), data=data)
    assert batched.removals == tiny_run.removals
    assert batched.balances == tiny_run.balances
    for a, b in zip(tiny_run.final_params, batched.final_params, strict=True):
        far = np.abs(a - b) > 1e-4
        assert far.mean() < 1e-4
        assert np.abs(a - b).max() < 1e-2


def test_parties_with_random_labels_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: 5 parties on easy synthetic data, two answering random labels. A tiny DP-GAN
    # draws noise that honest models label at random too, so for this unit test of the runner
    # the released samples are held-out real images (distinct per party and round); the real
    # DP-GAN path is covered by the slow MNIST test below.
    data = synthetic_data(5)
    pool = data.test_x

    def held_out(self: Participant, count: int | None = None, *, round: int) -> torch.Tensor:
        n = self.sample_count if count is None else count
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.index, "samples", round))
        return pool[torch.randperm(pool.shape[0], generator=g)[:n]]

    monkeypatch.setattr(Participant, "release_samples", held_out)
    config = tiny_config(
        n_parties=5, epochs=1, train=TrainConfig(lr=0.01, local_epochs=3), train_limit=100,
        behaviours=("honest", "random-labels", "honest", "honest", "random-labels"),
    )
    # Execute
    result = run_reference(config, data=data)
    # Assert
    assert min(result.accuracy[0][i] for i in (0, 2, 3)) > 0.9
    reported = {j for (i, j) in result.reports[0] if i not in (1, 4)}
    assert reported == {1, 4}
    assert sorted(p for _, p in result.removals) == [1, 4]
    assert result.active[-1] == [True, False, True, True, False]
    assert np.all(np.array(result.allocations[0])[:, [1, 4]] == 0)  # nobody buys from them
    assert np.all(np.array(result.allocations[0])[[1, 4]] == 0)  # and they buy nothing


@pytest.mark.slow
@pytest.mark.skipif(not mnist_present(), reason="MNIST not fetched (`dppdl data fetch mnist`)")
def test_random_labeller_is_removed_on_real_mnist() -> None:
    # 4 parties of real MNIST with ε = 4 DP-GANs; party 3 answers random labels.
    config = ReferenceConfig(
        n_parties=4, epochs=1, seed=2, train=TrainConfig(lr=0.01, local_epochs=5),
        gan=DPGANConfig(epochs=20, batch_size=32, width=8), train_limit=200, test_limit=500,
        behaviours=("honest", "honest", "honest", "random-labels"),
    )
    result = run_reference(config, data=load_mnist())
    assert all(e <= 4.0 + 1e-6 for e in result.dp_epsilon_spent)
    assert [p for _, p in result.removals] == [3]
    assert result.accuracy[-1][0] > 0.5
