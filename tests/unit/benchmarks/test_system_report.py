"""The headings of docs/PERFORMANCE.md's generated section, from the results file's keys."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import system  # noqa: E402


@pytest.mark.parametrize(("key", "heading"), [
    ("P4 MLP in-process GNone/limNone/testNone", "P4 MLP, agents in one process, full schedule"),
    ("P15 MLP process G3/lim200/testNone",
     "P15 MLP, agents as processes, DP-GAN 3 epochs, 200 examples a party"),
    ("P4 MLP in-process quick", "P4 MLP, agents in one process, quick"),
    ("P4 MLP in-process GNone/limNone/testNone/ring64",
     "P4 MLP, agents in one process, 64-bit ring"),
    ("P4 MLP in-process quick/ring64", "P4 MLP, agents in one process, quick, 64-bit ring"),
])
def test_title_spells_out_the_schedule(key: str, heading: str) -> None:
    assert system.title(key) == heading
