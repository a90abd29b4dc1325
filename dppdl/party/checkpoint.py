"""Crash-safe local checkpoints of a party: progress marks in JSON, learner state via torch."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from dppdl.files import atomic_write


class Checkpoint:
    """Progress markers (`done(key)`) and named blobs of learner state under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._marks_path = folder / "progress.json"
        self._marks: dict[str, Any] = (
            json.loads(self._marks_path.read_text()) if self._marks_path.exists() else {}
        )

    def get(self, key: str, default: Any = None) -> Any:
        return self._marks.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self._marks[key] = value
        atomic_write(self._marks_path, json.dumps(self._marks, indent=1, sort_keys=True).encode())

    def save_state(self, name: str, state: Any) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write(self.folder / f"{name}.pt", buffer.getvalue())

    def load_state(self, name: str) -> Any | None:
        path = self.folder / f"{name}.pt"
        if not path.exists():
            return None
        return torch.load(path, weights_only=False)
