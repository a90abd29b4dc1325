"""Every custom error of the Dppdl ABI is reached by name somewhere in this test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from dppdl.chain.clients import CONTRACT_NAME
from dppdl.chain.compiler import Artifact

pytestmark = pytest.mark.contracts

SOURCES = ("test_lifecycle.py", "test_benchmarking.py", "test_points.py", "test_disputes.py",
           "test_recovery.py")


def test_every_custom_error_is_exercised(artifacts: dict[str, Artifact]) -> None:
    names = {e["name"] for e in artifacts[CONTRACT_NAME].abi if e["type"] == "error"}
    text = "".join((Path(__file__).parent / f).read_text() for f in SOURCES)
    missing = sorted(n for n in names if f'"{n}"' not in text)  # R("Name") or a param
    assert len(names) >= 40
    assert {"RevealEmpty", "RevealNotASender", "RevealTooEarly"} <= names  # recovery concern
    assert missing == []
