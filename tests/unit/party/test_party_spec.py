"""The task spec: its canonical JSON (whose digest goes on-chain) round-trips exactly."""

from __future__ import annotations

import pytest

from dppdl.errors import ConfigError
from dppdl.party.spec import TaskSpec


def test_spec_round_trips_through_its_canonical_json() -> None:
    spec = TaskSpec(model="cnn", n_parties=5, epochs=3)
    data = spec.to_json_bytes()
    again = TaskSpec.from_json_bytes(data)
    assert again == spec
    assert again.to_json_bytes() == data  # same bytes, same on-chain digest
    assert spec.n_params == 258_314


def test_malformed_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="malformed task spec"):
        TaskSpec.from_json_bytes(b'{"format": "dppdl-task-spec/1"}')
