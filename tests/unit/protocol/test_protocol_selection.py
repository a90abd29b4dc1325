"""Top-k by magnitude: exactly k kept, the largest ones, ties by index, both code paths agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppdl.protocol.selection import magnitude_order, top_k, top_k_indices

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
