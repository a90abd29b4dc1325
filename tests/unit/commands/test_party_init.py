"""`dppdl party init`: keys and a party.toml that loads back, every flag in it; no overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from dppdl.cli import main
from dppdl.party.config import load_config


def test_init_writes_a_config_that_loads_back_and_refuses_a_second_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DPPDL_KEY_PASSWORD", "test-password")
    argv = ["party", "init", "p0", "--index", "2", "--parties", "5", "--setting", "imbalanced",
            "--prepared-cache", "cache", "--test-limit", "500", "--poll-interval", "0.5"]
    # Execute
    first = main(argv)
    config = load_config(tmp_path / "p0" / "party.toml")
    capsys.readouterr()
    second = main(argv)
    err = capsys.readouterr().err
    # Assert
    assert first == 0
    assert (config.data.index, config.data.n_parties, config.data.setting) == (2, 5, "imbalanced")
    assert config.prepared_cache == tmp_path / "cache"
    assert (config.data.test_limit, config.poll_interval) == (500, 0.5)
    assert config.key_file.exists() and (config.key_file.stat().st_mode & 0o777) == 0o600
    assert second == 2 and err.count("\n") == 1 and "already exists" in err
