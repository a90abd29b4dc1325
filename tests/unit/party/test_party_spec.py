"""The task spec: its canonical JSON (whose digest goes on-chain) round-trips exactly."""

from __future__ import annotations

import json

import pytest

from dppdl.crypto import CodecConfig
from dppdl.errors import ConfigError
from dppdl.learning.collab import CollabConfig
from dppdl.party.spec import LEGACY_COLLAB, TaskSpec


def test_spec_round_trips_through_its_canonical_json() -> None:
    collab = CollabConfig(init_seed=9, aggregation="sum", error_feedback=False,
                          update_bound=0.001, start="init")  # fmt: skip
    spec = TaskSpec(model="cnn", n_parties=5, epochs=3, collab=collab)
    data = spec.to_json_bytes()
    again = TaskSpec.from_json_bytes(data)
    assert again == spec
    assert again.to_json_bytes() == data  # same bytes, same on-chain digest
    assert spec.n_params == 258_314
    weighted = TaskSpec(collab=CollabConfig(own_weight=0.25))
    assert TaskSpec.from_json_bytes(weighted.to_json_bytes()).collab.own_weight == 0.25


def test_malformed_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="malformed task spec"):
        TaskSpec.from_json_bytes(b'{"format": "dppdl-task-spec/2"}')
    with pytest.raises(ConfigError, match="malformed task spec"):
        TaskSpec.from_json_bytes(b'{"format": "dppdl-task-spec/2", "collab": {"seed": 1}}')
    with pytest.raises(ConfigError, match="unknown aggregation"):
        TaskSpec.from_json_bytes(
            TaskSpec().to_json_bytes().replace(b'"aggregation":"mean"', b'"aggregation":"max"')
        )


def test_a_format_1_spec_keeps_the_rules_its_task_ran_with() -> None:
    # Prepare: a spec as format 1 wrote it (no collab section)
    doc = json.loads(TaskSpec(n_parties=3).to_json_bytes())
    doc["format"] = "dppdl-task-spec/1"
    del doc["collab"], doc["codec"]["ring_bits"]
    # Execute
    spec = TaskSpec.from_json_bytes(json.dumps(doc).encode())
    # Assert
    assert spec.collab == LEGACY_COLLAB
    assert CollabConfig(init_seed=None, aggregation="sum", error_feedback=False) == LEGACY_COLLAB
    assert spec.n_parties == 3
    assert spec.codec.ring_bits == 64


def test_a_format_2_spec_keeps_the_rules_its_task_ran_with() -> None:
    # Prepare: a spec as format 2 wrote it (collab without update_bound and start)
    doc = json.loads(TaskSpec(collab=CollabConfig(aggregation="sum")).to_json_bytes())
    doc["format"] = "dppdl-task-spec/2"
    del doc["collab"]["update_bound"], doc["collab"]["start"], doc["collab"]["own_weight"]
    del doc["codec"]["ring_bits"]
    # Execute
    spec = TaskSpec.from_json_bytes(json.dumps(doc).encode())
    # Assert: no bound, Algorithm 2 from the standalone models
    assert spec.collab == CollabConfig(aggregation="sum", update_bound=None, start="pretrained")
    assert spec.codec.ring_bits == 64
    # a format-2 spec cannot carry the newer keys, and an unknown start is refused
    doc["collab"]["start"] = "init"
    with pytest.raises(ConfigError, match="has no own_weight or start or update_bound"):
        TaskSpec.from_json_bytes(json.dumps(doc).encode())
    with pytest.raises(ConfigError, match="unknown start"):
        TaskSpec.from_json_bytes(
            TaskSpec().to_json_bytes().replace(b'"start":"pretrained"', b'"start":"scratch"')
        )


def test_a_format_3_spec_keeps_the_rules_its_task_ran_with() -> None:
    # Prepare: a spec as format 3 wrote it (collab without own_weight)
    doc = json.loads(TaskSpec(collab=CollabConfig(start="init")).to_json_bytes())
    doc["format"] = "dppdl-task-spec/3"
    del doc["collab"]["own_weight"], doc["codec"]["ring_bits"]
    # Execute
    spec = TaskSpec.from_json_bytes(json.dumps(doc).encode())
    # Assert: the plain mean and the 64-bit ring, every other key as written
    assert spec.collab == CollabConfig(start="init", own_weight=None)
    assert spec.codec.ring_bits == 64
    doc["collab"]["own_weight"] = 0.5
    with pytest.raises(ConfigError, match="spec/3 spec has no own_weight"):
        TaskSpec.from_json_bytes(json.dumps(doc).encode())


def test_a_format_4_spec_keeps_the_64_bit_ring_its_task_ran_with() -> None:
    # Prepare: a spec as format 4 wrote it (its codec had no ring_bits; the ring was 64-bit)
    old_codec = CodecConfig(frac_bits=24, clip=64.0, max_summands=1024, ring_bits=64)
    assert CodecConfig.for_ring(64) == old_codec and CodecConfig.for_ring(32) == CodecConfig()
    doc = json.loads(TaskSpec(codec=old_codec).to_json_bytes())
    doc["format"] = "dppdl-task-spec/4"
    del doc["codec"]["ring_bits"]
    # Execute
    spec = TaskSpec.from_json_bytes(json.dumps(doc).encode())
    # Assert: the old codec exactly; today's default is the 32-bit ring
    assert spec.codec == old_codec
    assert TaskSpec().codec.ring_bits == 32
    doc["codec"]["ring_bits"] = 32
    with pytest.raises(ConfigError, match="spec/4 spec has no ring_bits"):
        TaskSpec.from_json_bytes(json.dumps(doc).encode())
    doc["format"] = "dppdl-task-spec/1"
    with pytest.raises(ConfigError, match="spec/1 spec has no collab"):
        TaskSpec.from_json_bytes(json.dumps(doc).encode())
