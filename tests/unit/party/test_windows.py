"""Task windows: the defaults grow with n (a devnet mines one block per transaction)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dppdl.cli import build_parser
from dppdl.commands.simulate import config_from_args
from dppdl.commands.task import windows_from_args
from dppdl.errors import ConfigError
from dppdl.party.windows import TX_PER_PARTY, Windows
from dppdl.sim.config import SimulationConfig


def test_for_parties_adds_each_phases_transactions_per_party_and_keeps_the_dispute_windows(
) -> None:
    # Prepare
    base = Windows()
    # Execute
    at4, at50 = Windows.for_parties(4), Windows.for_parties(50)
    # Assert
    assert at50.request == base.request + 2 * 50 >= 50 + base.request  # the 50 requests fit
    for name, per in TX_PER_PARTY.items():
        assert getattr(at50, name) - getattr(at4, name) == per * 46
    assert (at50.dispute, at50.answer, at50.vote) == (base.dispute, base.answer, base.vote)
    assert at50.request <= at50.upload <= at50.epoch  # still a valid set of windows


def test_for_parties_rejects_an_empty_roster() -> None:
    with pytest.raises(ConfigError, match="positive"):
        Windows.for_parties(0)


def test_a_simulation_publishes_the_windows_for_its_n_unless_given_its_own() -> None:
    # Prepare
    own = Windows(request=70, upload=140)
    # Execute
    default, explicit = SimulationConfig(parties=30), SimulationConfig(parties=30, windows=own)
    # Assert
    assert default.task_windows() == Windows.for_parties(30)
    assert replace(default, parties=50).task_windows() == Windows.for_parties(50)
    assert explicit.task_windows() == own


def test_the_simulate_command_widens_only_the_windows_it_was_not_given() -> None:
    # Prepare
    parser = build_parser()
    # Execute
    plain = config_from_args(parser.parse_args(["simulate", "--parties", "50"]))
    narrowed = config_from_args(
        parser.parse_args(["simulate", "--parties", "50", "--request-window", "70"])
    )
    # Assert
    assert plain.windows is None and plain.task_windows() == Windows.for_parties(50)
    assert narrowed.task_windows() == replace(Windows.for_parties(50), request=70)


def test_task_publish_widens_the_defaults_for_its_parties_and_keeps_the_given_windows() -> None:
    # Prepare
    parser = build_parser()
    publish = ["task", "publish", "--storage", "http://127.0.0.1:1", "--parties", "50"]
    # Execute
    plain = windows_from_args(parser.parse_args(publish))
    given = windows_from_args(
        parser.parse_args([*publish, "--epoch-window", "900", "--join-window", "99"])
    )
    # Assert
    assert plain == Windows.for_parties(50)
    assert given == replace(Windows.for_parties(50), epoch=900, join=99)
