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


@given(own=vectors, bought=vectors)
def test_sum_rule_adds_the_opened_sum(own: np.ndarray, bought: np.ndarray) -> None:
    step = aggregate_step(opened_sum=bought, own_update=own, n_senders=3, rule="sum")
    np.testing.assert_array_equal(step, bought)


def test_no_senders_keeps_the_local_update_under_either_rule() -> None:
    own = np.arange(4, dtype=np.float32)
    for rule in ("mean", "sum"):
        step = aggregate_step(opened_sum=np.zeros(4, np.float32), own_update=own, n_senders=0,
                              rule=rule)  # fmt: skip
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
