"""The reproduction scorecard: which of the issue's targets the results file meets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import reproduce_tables as rt  # noqa: E402

MLP = rt.HEADLINE["mlp"]


def _cell(setting: str, seed: int, best: float, r: float | None, *, parties: int = 4,
          schedule: str = MLP, model: str = "mlp") -> tuple[str, dict[str, Any]]:  # fmt: skip
    key = f"{model}/p{parties}/{setting}/dppdl/seed{seed}/{schedule}"
    return key, {
        "model": model, "parties": parties, "setting": setting, "method": "dppdl",
        "schedule": schedule, "seed": seed, "best": best, "mean": best - 0.01,
        "fairness": r, "seconds": 1.0, "finished": f"2026-12-07T00:00:0{seed}", "path": "reference",
    }


def _results(*cells: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"cells": dict(cells)}


def _row(card: str, prefix: str) -> list[str]:
    rows = [line for line in card.splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, rows
    return [c.strip() for c in rows[0].strip("|").split("|")]


def test_scorecard_judges_the_mean_over_seeds_against_the_paper() -> None:
    card = rt.scorecard(_results(
        _cell("different-privacy", 0, 0.9150, 0.80),  # mean 91.60: -0.32 from 91.92
        _cell("different-privacy", 1, 0.9170, 0.90),  # mean r +0.85 >= +0.84
        _cell("imbalanced", 0, 0.8900, 0.50),  # -1.75 from 90.75; r under +0.96
        _cell("imbalanced", 1, 0.9990, 0.99, schedule="E30/L10/B40/x"),  # another schedule
    ))
    diff = _row(card, "| MLP | 4 | different-privacy")
    assert diff[3:10] == ["91.60 ± 0.14 [2]", "91.92", "-0.32", "met", "+0.85 ± 0.07 [2]",
                          "+0.84", "met"]
    imb = _row(card, "| MLP | 4 | imbalanced")
    assert imb[3:10] == ["89.00 [1]", "90.75", "-1.75", "missed", "+0.50 [1]", "+0.96", "missed"]
    assert _row(card, "| MLP | 4 | same-privacy")[3:7] == ["not run", "90.13", "", "not run"]
    assert "in 1 of 2 cells run, fairness at or above the paper in 1 of 2" in card


@pytest.mark.parametrize(("r", "verdict"), [(0.786, "met"), (0.784, "missed")])
def test_fairness_is_compared_at_the_papers_two_decimals(r: float, verdict: str) -> None:
    card = rt.scorecard(_results(_cell("different-privacy", 0, 0.957, r, parties=15)))
    assert _row(card, "| MLP | 15 | different-privacy")[9] == verdict


def test_above_the_band_is_not_counted_as_met() -> None:
    card = rt.scorecard(_results(_cell("imbalanced", 0, 0.9181, 0.97)))  # +1.06 over 90.75
    assert _row(card, "| MLP | 4 | imbalanced")[5:7] == ["+1.06", "above the band"]
    assert "in 0 of 1 cells run" in card


def test_large_rosters_are_shown_only_when_run_and_never_counted() -> None:
    assert "| MLP | 30 |" not in rt.scorecard(_results())
    card = rt.scorecard(_results(_cell("imbalanced", 0, 0.9476, 0.58, parties=30)))
    assert _row(card, "| MLP | 30 | imbalanced")[6:10] == ["(met)", "+0.58 [1]", "+0.63",
                                                           "(missed)"]
    assert "in 0 of 0 cells run, fairness at or above the paper in 0 of 0" in card


def test_write_doc_fills_both_blocks_and_keeps_the_prose(tmp_path: Path) -> None:
    doc = tmp_path / "R.md"
    doc.write_text(f"intro\n{rt.SCORE_BEGIN}\nold card\n{rt.SCORE_END}\nprose\n"
                   f"{rt.BEGIN}\nold tables\n{rt.END}\nend\n")
    rt.write_doc(doc, _results(_cell("imbalanced", 0, 0.9095, 0.89)))
    text = doc.read_text()
    assert "old card" not in text and "old tables" not in text
    assert text.startswith("intro\n") and "\nprose\n" in text and text.endswith("end\n")
    assert "| MLP | 4 | imbalanced | 90.95 [1] |" in text
    assert "#### Schedule" in text


def test_write_doc_without_scorecard_markers_writes_the_tables_only(tmp_path: Path) -> None:
    doc = tmp_path / "R.md"
    doc.write_text(f"{rt.BEGIN}\n{rt.END}\n")
    rt.write_doc(doc, _results(_cell("imbalanced", 0, 0.9095, 0.89)))
    assert "accuracy target" not in doc.read_text() and "#### Schedule" in doc.read_text()
