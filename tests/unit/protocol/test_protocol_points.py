"""Points: the contracts' integer formulas, allocations within budget and caps, conservation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppdl.protocol import credibility as cred
from dppdl.protocol import points as pts


def test_integer_formulas_match_the_agreed_api() -> None:
    assert pts.to_ppm(0.1) == 100_000
    assert pts.to_ppm(0.123456789) == 123_457
    assert pts.initial_points(privacy_ppm=100_000, n_params=140_106, n_parties=4) == 42_031
    assert pts.upload_cap(privacy_ppm=100_000, n_params=140_106) == 14_010
    assert pts.upload_cap(privacy_ppm=333_333, n_params=10) == 3  # floor, like Solidity


@pytest.mark.parametrize("level", [0.0, -0.1, 1.5, float("nan")])
def test_bad_privacy_level_is_refused(level: float) -> None:
    with pytest.raises(pts.PointsError, match="privacy level"):
        pts.to_ppm(level)


def test_privacy_ppm_must_be_an_int() -> None:
    with pytest.raises(pts.PointsError, match="privacy_ppm"):
        pts.upload_cap(privacy_ppm=0.1, n_params=100)  # type: ignore[arg-type]


def test_budget_is_capped_by_balance_and_per_epoch_share() -> None:
    common = {"privacy_ppm": 100_000, "n_params": 1000, "n_credible": 5}
    assert pts.download_budget(balance=10**9, **common) == 400
    assert pts.download_budget(balance=123, **common) == 123


def test_allocation_row_floors_and_caps() -> None:
    row = pts.allocation_row(
        credibility_row=np.array([0.0, 0.7, 0.2, 0.1]),
        budget=100,
        caps=np.array([50, 50, 50, 50]),
        active=np.ones(4, dtype=bool),
        owner=0,
    )
    assert row.tolist() == [0, 50, 20, 10]


def test_uniform_equal_privacy_balances_stay_level() -> None:
    # With equal ε and uniform credibility each party spends exactly what it earns.
    n, n_params = 4, 1000
    ppm = np.full(n, 100_000)
    start = pts.initial_points(privacy_ppm=100_000, n_params=n_params, n_parties=n)
    balances = np.full(n, start)
    c = cred.normalise(np.ones((n, n)), active=np.ones(n, dtype=bool))
    a = pts.allocations(
        credibility=c, balances=balances, privacy_ppm=ppm, n_params=n_params, active=c.sum(1) > 0
    )
    assert a[0].tolist() == [0, 100, 100, 100]
    assert pts.settle(balances=balances, allocation=a).tolist() == balances.tolist()


@st.composite
def market(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(2, 7))
    n_params = draw(st.integers(1, 5000))
    ppm = draw(arrays(np.int64, (n,), elements=st.integers(1, 1_000_000)))
    raw = draw(arrays(np.float64, (n, n), elements=st.floats(0, 1)))
    mask = draw(arrays(np.bool_, (n,), elements=st.booleans()))
    balances = draw(arrays(np.int64, (n,), elements=st.integers(0, 10**7)))
    delivered = draw(arrays(np.bool_, (n, n), elements=st.booleans()))
    return ppm, np.array([n_params]), raw, mask, balances, delivered


@settings(max_examples=200)
@given(market())
def test_allocations_respect_budget_caps_and_conserve_points(case: tuple[np.ndarray, ...]) -> None:
    # Prepare
    ppm, n_params_arr, raw, mask, balances, delivered = case
    n_params = int(n_params_arr[0])
    c = cred.normalise(raw, active=mask)
    # Execute
    a = pts.allocations(
        credibility=c, balances=balances, privacy_ppm=ppm, n_params=n_params, active=mask
    )
    after = pts.settle(balances=balances, allocation=a, delivered=delivered)
    # Assert
    caps = [pts.upload_cap(privacy_ppm=int(p), n_params=n_params) for p in ppm]
    assert np.all(a >= 0) and np.all(np.diag(a) == 0)
    assert np.all(a[~mask] == 0) and np.all(a[:, ~mask] == 0)
    assert np.all(a <= np.array(caps)[None, :])
    assert np.all(a.sum(axis=1) <= balances)
    assert int(after.sum()) == int(balances.sum())  # conservation
    assert np.all(after >= 0)


def test_settle_refuses_over_budget_escrow() -> None:
    with pytest.raises(pts.PointsError, match="escrows"):
        pts.settle(balances=np.array([5, 5]), allocation=np.array([[0, 6], [0, 0]]))


def test_undelivered_request_is_refunded() -> None:
    after = pts.settle(
        balances=np.array([10, 10, 10]),
        allocation=np.array([[0, 3, 4], [0, 0, 0], [2, 0, 0]]),
        delivered=np.array([[False, True, False], [False] * 3, [True, False, False]]),
    )
    assert after.tolist() == [10 - 3 + 2, 13, 8]
