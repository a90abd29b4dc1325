"""The terminal table of a run: one row per party, the totals, and what was restored."""

from __future__ import annotations

from typing import Any

from dppdl.sim.report import summary_table


def run(restored: list[bool]) -> dict[str, Any]:
    return {
        "parties": [
            {"index": i, "n_examples": 600, "privacy_level": 0.1, "behaviour": "honest",
             "prepared_from_cache": r}
            for i, r in enumerate(restored)
        ],
        "accuracy": [[0.80, 0.90], [0.70, 0.91], [0.60, 0.40]],
        "points": [[10, 10, 10], [12, 13, 5]],
        "removals": [{"party": 2, "epoch": 1}],
        "fairness": {"contribution": "privacy_level", "r": None},
        "timings": {"training": 3.0, "dpgan": 1.0},
    }


def test_rows_totals_and_removals() -> None:
    lines = summary_table(run([False, False, False])).splitlines()
    assert lines[2].split() == ["0", "600", "0.100", "12", "80.00%", "90.00%", "honest"]
    assert lines[4].endswith("removed (epoch 1)")
    assert "best party accuracy: 91.00%" in lines[6]  # the removed party is left out
    assert "undefined (equal contributions)" in lines[6]
    assert lines[7] == "agent time (summed over parties): training 3.0s (75%), dpgan 1.0s (25%)"
    assert not any("restored" in line for line in lines)


def test_restored_preparations_are_said() -> None:
    text = summary_table(run([True, True, False]))
    assert "standalone models and DP-GANs: 2 of 3 restored from the prepared cache" in text
