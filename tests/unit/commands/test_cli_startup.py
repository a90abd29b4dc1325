"""The command line parses without torch, Opacus or web3: commands that need them import them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "opacus", "web3", "matplotlib")


def test_building_the_parser_imports_no_heavy_library() -> None:
    # Execute: a fresh interpreter, as `dppdl devnet status` starts
    probe = (
        "import sys; from dppdl.cli import build_parser; build_parser(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)  # fmt: skip
    # Assert
    assert out.stdout.strip() == ""
