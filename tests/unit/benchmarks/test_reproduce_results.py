"""The reproduction results file: several runs append cells to it at once."""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import reproduce  # noqa: E402


def _append(path: Path, writer: int) -> None:
    for k in range(15):
        reproduce.save_cell(path, f"w{writer}/c{k}", {"writer": writer, "k": k})


def test_concurrent_runs_lose_no_cell(tmp_path: Path) -> None:
    path = tmp_path / "docs" / "results.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append, args=(path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    cells = json.loads(path.read_text())["cells"]
    assert sorted(cells) == sorted(f"w{w}/c{k}" for w in range(4) for k in range(15))
    assert cells["w3/c14"] == {"writer": 3, "k": 14}
    assert sorted(p.name for p in path.parent.iterdir()) == [".results.json.lock", "results.json"]


def test_reference_config_is_the_cells_and_the_traces() -> None:
    from dppdl.learning.collab import CollabConfig
    from dppdl.learning.dpgan import DPGANConfig
    from dppdl.learning.sgd import TrainConfig

    collab = CollabConfig(init_seed=2, start="init")
    small = reproduce.reference_config(model="mlp", n=4, setting="imbalanced", seed=2,
                                       epochs=30, collab=collab)  # fmt: skip
    large = reproduce.reference_config(model="mlp", n=15, setting="imbalanced", seed=2,
                                       epochs=30, collab=collab, local_epochs=3)  # fmt: skip
    assert (small.batched, large.batched) == (False, True)  # vmapped from 15 parties on
    assert small.train == TrainConfig() and small.gan == DPGANConfig()
    assert large.train == TrainConfig(local_epochs=3) and large.collab == collab
