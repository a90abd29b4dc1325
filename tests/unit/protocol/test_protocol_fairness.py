"""Fairness r: Pearson against numpy, positive when accuracy grows with contribution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppdl.protocol.fairness import (
    FairnessUndefinedError,
    fairness,
    fairness_or_none,
    pearson,
)


def test_more_contribution_more_accuracy_is_fair() -> None:
    # Constructed case: accuracy increases with privacy level, with a little noise.
    levels = [0.1, 0.2, 0.3, 0.4, 0.5]
    acc = [0.80, 0.84, 0.83, 0.88, 0.90]
    r = fairness(contributions=levels, accuracies=acc)
    assert 0.9 < r <= 1.0
    assert fairness(contributions=levels, accuracies=acc[::-1]) < -0.9


@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=st.floats(-100, 100)),
            arrays(np.float64, n, elements=st.floats(-100, 100)),
        )
    )
)
def test_matches_numpy_where_defined(pair: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = pair
    try:
        r = pearson(x, y)
    except FairnessUndefinedError:
        assert np.ptp(x) < 1e-6 or np.ptp(y) < 1e-6
        return
    assert -1.0 <= r <= 1.0
    assert r == pytest.approx(float(np.corrcoef(x, y)[0, 1]), abs=1e-6)


def test_constant_side_is_undefined() -> None:
    with pytest.raises(FairnessUndefinedError, match="constant"):
        fairness(contributions=[0.1, 0.1, 0.1], accuracies=[0.7, 0.8, 0.9])
    assert fairness_or_none(contributions=[0.1, 0.1], accuracies=[0.7, 0.8]) is None
    with pytest.raises(FairnessUndefinedError, match="two parties"):
        pearson([1.0], [2.0])
    with pytest.raises(FairnessUndefinedError, match="finite"):
        pearson([1.0, float("nan")], [2.0, 3.0])
