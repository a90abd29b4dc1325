"""The aggregation rules against their definitions, and CollabConfig validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig, aggregate_step, bound_update

vectors = arrays(np.float32, 16, elements=st.floats(-1, 1, width=32))


@settings(max_examples=60, deadline=None)
@given(w=vectors, own=vectors, bought=vectors, n=st.integers(0, 60))
def test_mean_rule_lands_on_the_average_of_own_and_bought_updates(
    w: np.ndarray, own: np.ndarray, bought: np.ndarray, n: int
) -> None:
    # Prepare: the model already holds w + Δw_i
    held = w + own
    # Execute
    after = held + aggregate_step(opened_sum=bought, own_update=own, n_senders=n, rule="mean")
    # Assert
    np.testing.assert_allclose(after, w + (own + bought) / (1 + n), atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(w=vectors, own=vectors, bought=vectors, n=st.integers(1, 60),
       lam=st.floats(0.01, 0.99))  # fmt: skip
def test_own_weight_keeps_that_share_of_the_own_update_and_the_rest_of_the_bought_mean(
    w: np.ndarray, own: np.ndarray, bought: np.ndarray, n: int, lam: float
) -> None:
    # Prepare: the model already holds w + Δw_i; the opened sum of n senders
    held = w + own
    # Execute
    after = held + aggregate_step(opened_sum=bought, own_update=own, n_senders=n, rule="mean",
                                  own_weight=lam)  # fmt: skip
    # Assert
    np.testing.assert_allclose(after, w + lam * own + (1 - lam) * bought / n, atol=1e-5)


def test_own_weight_of_one_over_one_plus_senders_is_the_plain_mean() -> None:
    rng = np.random.default_rng(0)
    own, bought = rng.normal(size=(2, 32)).astype(np.float32)
    for n in (1, 3, 14):
        plain = aggregate_step(opened_sum=bought, own_update=own, n_senders=n, rule="mean")
        weighted = aggregate_step(opened_sum=bought, own_update=own, n_senders=n, rule="mean",
                                  own_weight=1 / (1 + n))  # fmt: skip
        np.testing.assert_allclose(weighted, plain, atol=1e-6)


@given(own=vectors, bought=vectors)
def test_sum_rule_adds_the_opened_sum(own: np.ndarray, bought: np.ndarray) -> None:
    step = aggregate_step(opened_sum=bought, own_update=own, n_senders=3, rule="sum")
    np.testing.assert_array_equal(step, bought)


def test_no_senders_keeps_the_local_update_under_either_rule() -> None:
    own = np.arange(4, dtype=np.float32)
    for rule, weight in (("mean", None), ("mean", 0.3), ("sum", None)):
        step = aggregate_step(opened_sum=np.zeros(4, np.float32), own_update=own, n_senders=0,
                              rule=rule, own_weight=weight)  # type: ignore[arg-type]
        np.testing.assert_array_equal(step, np.zeros(4, np.float32))


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        aggregate_step(opened_sum=np.zeros(3), own_update=np.zeros(4), n_senders=1, rule="mean")
    with pytest.raises(ValueError, match="n_senders"):
        aggregate_step(opened_sum=np.zeros(4), own_update=np.zeros(4), n_senders=-1, rule="mean")
    with pytest.raises(ConfigError, match="unknown aggregation"):
        CollabConfig(aggregation="max")  # type: ignore[arg-type]
    for bad in (-1, True, 1.5):
        with pytest.raises(ConfigError, match="init_seed"):
            CollabConfig(init_seed=bad)  # type: ignore[arg-type]
    assert CollabConfig(init_seed=None).init_seed is None
    for bad_bound in (0, -0.001, float("inf"), float("nan"), True, "0.001"):
        with pytest.raises(ConfigError, match="update_bound"):
            CollabConfig(update_bound=bad_bound)  # type: ignore[arg-type]
    assert CollabConfig(update_bound=1).update_bound == 1
    for bad_weight in (0, 1, -0.5, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ConfigError, match="own_weight must be"):
            CollabConfig(own_weight=bad_weight)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="mean aggregation only"):
        CollabConfig(aggregation="sum", own_weight=0.5)
    assert CollabConfig(own_weight=0.25).own_weight == 0.25


@given(update=vectors, bound=st.floats(1e-4, 2.0))
def test_bound_cuts_each_entry_and_keeps_the_small_ones(update: np.ndarray, bound: float) -> None:
    cut = bound_update(update, bound)
    assert cut.dtype == np.float32
    assert np.all(np.abs(cut) <= np.float32(bound))
    small = np.abs(update) <= np.float32(bound)
    np.testing.assert_array_equal(cut[small], update[small])
    np.testing.assert_array_equal(np.sign(cut), np.sign(update))


def test_no_bound_leaves_the_update_as_it_is() -> None:
    update = np.array([-3.0, 0.5, 7.0], dtype=np.float32)
    np.testing.assert_array_equal(bound_update(update, None), update)
