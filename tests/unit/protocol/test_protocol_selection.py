"""Top-k by magnitude: exactly k kept, the largest ones, ties by index, both code paths agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppdl.protocol.selection import magnitude_order, sell, top_k, top_k_indices

vectors = arrays(
    np.float32, st.integers(1, 200), elements=st.sampled_from([0.0, 1.0, -1.0, 2.5, -3.0, 0.5])
) | arrays(np.float32, st.integers(1, 200), elements=st.floats(-10, 10, width=32))


@given(vectors, st.data())
def test_top_k_keeps_the_k_largest_magnitudes(v: np.ndarray, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, v.shape[0]))
    out = top_k(v, k)
    kept = top_k_indices(v, k)
    assert kept.shape == (k,)
    assert out.dtype == v.dtype
    assert np.array_equal(out[kept], v[kept])
    dropped = np.setdiff1d(np.arange(v.shape[0]), kept)
    assert np.all(out[dropped] == 0)
    if 0 < k < v.shape[0]:
        assert np.abs(v[kept]).min() >= np.abs(v[dropped]).max()


@given(vectors, st.data())
def test_partition_and_sorted_order_paths_agree(v: np.ndarray, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, v.shape[0]))
    order = magnitude_order(v)
    assert np.array_equal(top_k_indices(v, k), top_k_indices(v, k, order=order))


def test_ties_are_broken_by_smaller_index() -> None:
    v = np.array([1.0, -2.0, 2.0, 1.0, -1.0], dtype=np.float32)
    assert top_k_indices(v, 3).tolist() == [0, 1, 2]
    assert top_k(v, 4).tolist() == [1.0, -2.0, 2.0, 1.0, 0.0]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        top_k(np.ones(3), 4)
    with pytest.raises(ValueError, match="NaN"):
        top_k(np.array([1.0, np.nan]), 1)


@given(vectors, st.data())
def test_a_sale_without_error_feedback_is_top_k(v: np.ndarray, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, v.shape[0]))
    sent, rest = sell(v, k=k)
    assert rest is None
    assert np.array_equal(sent, top_k(v, k))
    assert np.array_equal(sell(v, k=k, order=magnitude_order(v))[0], sent)


@given(vectors, st.data())
def test_error_feedback_sends_what_is_owed_and_keeps_the_rest(
    v: np.ndarray, data: st.DataObject
) -> None:
    # Prepare: an earlier sale left a residual
    n = v.shape[0]
    k = data.draw(st.integers(0, n))
    _, residual = sell(v, k=k // 2, residual=np.zeros_like(v))
    assert residual is not None
    # Execute
    sent, rest = sell(v, k=k, residual=residual)
    # Assert: exactly the top-k of what is owed goes out, nothing is lost or made up
    assert rest is not None
    owed = v + residual
    assert np.array_equal(sent, top_k(owed, k))
    assert np.array_equal(sent + rest, owed)
    assert np.count_nonzero(sent) <= k


def test_error_feedback_reaches_entries_plain_top_k_never_sends() -> None:
    # Prepare: one fixed update of 10 entries sold 3 entries an epoch, for 10 epochs
    update = np.arange(1, 11, dtype=np.float64)
    residual = np.zeros_like(update)
    received = np.zeros_like(update)
    # Execute
    for _ in range(10):
        sent, residual = sell(update, k=3, residual=residual)
        received += sent
    # Assert: the buyer got the whole of every epoch's update but what is still owed
    np.testing.assert_allclose(received + residual, 10 * update)
    assert np.count_nonzero(received) == 9  # plain top-k would only ever send entries 8-10
    assert residual.max() <= 2 * update.max()  # what is owed stays bounded
    with pytest.raises(ValueError, match="residual"):
        sell(update, k=1, residual=np.zeros(3))
