"""Credibility rules: majority vote, normalisation, update, reports and strict-majority removal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppdl.protocol import credibility as cred

label_tables = st.integers(1, 6).flatmap(
    lambda k: st.integers(1, 20).flatmap(
        lambda u: arrays(np.int64, (k, u), elements=st.integers(0, 9))
    )
)


def _square(n: int) -> st.SearchStrategy[np.ndarray]:
    return arrays(np.float64, (n, n), elements=st.floats(0.0, 1.0))


@st.composite
def matrix_and_mask(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 8))
    mask = draw(arrays(np.bool_, (n,), elements=st.booleans()))
    return draw(_square(n)), mask


def test_majority_vote_ties_have_no_majority() -> None:
    # Prepare: column 0 has 3 vs 3 (tie), column 1 a clear majority, column 2 a 3-way tie
    labels = np.array([[7, 1, 5], [7, 1, 4], [2, 1, 3], [2, 0, 3], [7, 1, 4], [2, 0, 5]])
    # Execute
    vote = cred.majority_vote(labels)
    # Assert
    assert vote.tolist() == [-1, 1, -1]


def test_a_constant_labeller_gains_nothing_from_ties() -> None:
    # Prepare: two honest labellers that disagree on every sample, one that always answers 0
    honest_a = np.array([3, 4, 5, 6])
    honest_b = np.array([7, 8, 9, 1])
    constant = np.zeros(4, dtype=np.int64)
    # Execute
    row = cred.raw_row({1: honest_a, 2: honest_b, 3: constant}, owner=0, n_parties=4)
    # Assert: every sample is a three-way tie, so nobody earns credibility from it
    np.testing.assert_allclose(row, [0.0, 0.0, 0.0, 0.0])


@given(label_tables)
def test_majority_vote_is_a_most_common_label(labels: np.ndarray) -> None:
    vote = cred.majority_vote(labels)
    for s in range(labels.shape[1]):
        counts = np.bincount(labels[:, s], minlength=10)
        winners = np.flatnonzero(counts == counts.max())
        assert vote[s] == (int(winners[0]) if len(winners) == 1 else -1)


@given(label_tables)
def test_agreement_is_fraction_matching_majority(labels: np.ndarray) -> None:
    scores = cred.agreement(labels)
    vote = cred.majority_vote(labels)
    assert scores.shape == (labels.shape[0],)
    assert np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_allclose(scores * labels.shape[1], (labels == vote).sum(axis=1))


def test_raw_row_refuses_own_labels_and_fills_labellers() -> None:
    labels = {1: np.array([0, 1, 2, 3]), 2: np.array([0, 1, 2, 9]), 3: np.array([5, 5, 5, 5])}
    row = cred.raw_row(labels, owner=0, n_parties=4)
    # majority per sample: [0, 1, 2, none (3/9/5 tie)]
    np.testing.assert_allclose(row, [0.0, 0.75, 0.75, 0.0])
    with pytest.raises(ValueError, match="own samples"):
        cred.raw_row({0: np.array([1])}, owner=0, n_parties=2)


@settings(max_examples=200)
@given(matrix_and_mask())
def test_normalised_rows_sum_to_one_over_the_others(case: tuple[np.ndarray, np.ndarray]) -> None:
    matrix, mask = case
    out = cred.normalise(matrix, active=mask)
    n = mask.shape[0]
    for i in range(n):
        others = mask.copy()
        others[i] = False
        if mask[i] and others.any():
            assert out[i].sum() == pytest.approx(1.0)
            assert np.all(out[i][~others] == 0)
            assert np.all(out[i] >= 0)
        else:
            assert np.all(out[i] == 0)


def test_all_zero_row_becomes_uniform_over_the_others() -> None:
    matrix = np.zeros((4, 4))
    mask = np.array([True, True, False, True])
    out = cred.normalise(matrix, active=mask)
    np.testing.assert_allclose(out[0], [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(out[2], 0)


def test_threshold_is_two_thirds_of_one_over_n() -> None:
    assert cred.threshold(4) == pytest.approx(1 / 6)
    with pytest.raises(ValueError):
        cred.threshold(0)


@given(matrix_and_mask(), st.data())
def test_update_mixes_point_two_old_point_eight_new(
    case: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    old, mask = case
    new = data.draw(_square(mask.shape[0]))
    out = cred.update(old, new, active=mask)
    expected = cred.normalise(
        0.2 * cred.normalise(old, active=mask) + 0.8 * cred.normalise(new, active=mask),
        active=mask,
    )
    np.testing.assert_allclose(out, expected)
    assert np.all(out.sum(axis=1)[mask] <= 1 + 1e-9)


def test_reports_only_between_active_parties_below_threshold() -> None:
    c = np.array(
        [
            [0.0, 0.5, 0.45, 0.05],
            [0.45, 0.0, 0.45, 0.10],
            [0.45, 0.45, 0.0, 0.10],
            [0.30, 0.30, 0.40, 0.0],
        ]
    )
    mask = np.ones(4, dtype=bool)
    r = cred.reports(c, active=mask)
    assert np.argwhere(r).tolist() == [[0, 3], [1, 3], [2, 3]]  # c_th = 1/6
    assert cred.removals(r, active=mask) == [3]
    mask[0] = False
    assert not cred.reports(c, active=mask)[0].any()


@pytest.mark.parametrize(("n", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (50, 26)])
def test_strict_majority_of_the_credible_set(n: int, needed: int) -> None:
    assert cred.votes_needed(n) == needed
    r = np.zeros((n, n), dtype=bool)
    r[1 : 1 + needed - 1, 0] = True  # one vote short
    assert cred.removals(r, active=np.ones(n, dtype=bool)) == []
    if needed <= n - 1:  # party 0 cannot report itself
        r[needed, 0] = True
        assert cred.removals(r, active=np.ones(n, dtype=bool)) == [0]


def test_reports_from_removed_parties_do_not_count() -> None:
    r = np.zeros((5, 5), dtype=bool)
    r[[1, 2, 3], 4] = True
    mask = np.array([True, True, True, False, True])  # party 3 already removed
    assert cred.removals(r, active=mask) == []  # 2 votes of a 4-party set is not > half


def test_random_labeller_is_reported_and_removed_synthetic() -> None:
    # Prepare: 5 parties, 60 samples each; honest labellers agree with the truth 90% of the
    # time, party 4 answers uniformly random labels.
    rng = np.random.default_rng(0)
    n, u = 5, 60
    mask = np.ones(n, dtype=bool)
    raw = np.zeros((n, n))
    for owner in range(n):
        truth = rng.integers(0, 10, u)
        labels = {}
        for j in range(n):
            if j == owner:
                continue
            if j == 4:
                labels[j] = rng.integers(0, 10, u)
            else:
                noisy = rng.random(u) < 0.1
                labels[j] = np.where(noisy, rng.integers(0, 10, u), truth)
        raw[owner] = cred.raw_row(labels, owner=owner, n_parties=n)
    # Execute
    c = cred.normalise(raw, active=mask)
    r = cred.reports(c, active=mask)
    gone = cred.removals(r, active=mask)
    c2, mask2 = cred.remove(c, active=mask, removed=gone)
    # Assert
    assert r[:4, 4].all() and not r[:, :4].any()
    assert gone == [4]
    assert mask2.tolist() == [True, True, True, True, False]
    np.testing.assert_allclose(c2[:4].sum(axis=1), 1.0)
    assert np.all(c2[:, 4] == 0) and np.all(c2[4] == 0)


def test_reputation_is_the_column_sum_over_the_other_credible_parties() -> None:
    # Prepare: four parties, party 3 removed; parties 0 and 1 rate party 2 low
    active = np.array([True, True, True, False])
    c = cred.normalise(np.array([
        [9.0, 1.0, 0.5, 1.0],
        [1.0, 9.0, 0.5, 1.0],
        [1.0, 1.0, 9.0, 1.0],
        [1.0, 1.0, 1.0, 9.0],
    ]), active=active)  # fmt: skip
    # Execute
    rep = cred.reputation(c, active=active)
    uniform = cred.reputation(cred.normalise(np.ones((4, 4)), active=active), active=active)
    # Assert: rows 0 and 1 give party 2 one third each; the diagonal and party 3 do not count
    assert rep[:3] == pytest.approx([0.5 + 2 / 3, 0.5 + 2 / 3, 2 / 3])
    assert np.isnan(rep[3])
    assert uniform[:3] == pytest.approx([1.0, 1.0, 1.0])
    assert np.isnan(cred.reputation(c, active=np.array([True, False, False, False]))).all()
