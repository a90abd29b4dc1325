"""A simulation's run folder is absolute, so party configs written inside it load from anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from dppdl.chain.devnet import dev_accounts
from dppdl.party.config import load_config
from dppdl.party.setup import CONFIG_NAME
from dppdl.sim.config import SimulationConfig
from dppdl.sim.simulate import Simulation, _make_parties


def test_a_relative_runs_dir_gives_party_configs_that_find_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: `dppdl demo` passes the relative default runs/ (and a user a relative cache)
    monkeypatch.chdir(tmp_path)
    config = SimulationConfig(parties=3, runs_dir=Path("runs"), prepared_cache=Path("prepared"))
    sim = Simulation(config, log=lambda _: None)
    # Execute
    (sim.run_dir / "deployments").mkdir(parents=True)
    configs = _make_parties(config, sim.run_dir, "http://127.0.0.1:9", ("http://127.0.0.1:9",),
                            dev_accounts(3))  # fmt: skip
    loaded = load_config(configs[0].key_file.parent / CONFIG_NAME)
    # Assert
    assert sim.run_dir.is_absolute() and sim.run_dir.parent == tmp_path / "runs"
    assert loaded.deployments == tmp_path / "runs" / sim.run_id / "deployments"
    assert loaded.deployments.is_dir()
    assert loaded.prepared_cache == tmp_path / "prepared"
