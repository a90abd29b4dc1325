"""A receiver's size check of an opened blob: entry count and ring word size, from the spec."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from dppdl.crypto import CodecConfig
from dppdl.party.disputes import _size_problem
from dppdl.party.spec import TaskSpec


def _ctx(spec: TaskSpec) -> Any:
    return SimpleNamespace(spec=spec)


def test_a_blob_must_have_the_models_entries_in_the_tasks_ring() -> None:
    # Prepare: the default spec (MLP, 32-bit ring) and one that keeps the 64-bit ring
    spec = TaskSpec()
    wide = TaskSpec(codec=CodecConfig.for_ring(64))
    n = spec.n_params
    # Execute / Assert
    assert _size_problem(_ctx(spec), np.zeros(n, np.uint32)) is None
    assert _size_problem(_ctx(wide), np.zeros(n, np.uint64)) is None
    assert _size_problem(_ctx(spec), np.zeros(n - 1, np.uint32)) == (
        f"{n - 1} entries, the model has {n}"
    )
    assert _size_problem(_ctx(spec), np.zeros(n, np.uint64)) == (
        "64-bit words, the task's ring is 32-bit"
    )
    assert _size_problem(_ctx(wide), np.zeros(n, np.uint32)) == (
        "32-bit words, the task's ring is 64-bit"
    )
