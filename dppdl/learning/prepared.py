"""A content-addressed cache of prepared learners: the standalone model and the DP-GAN.

Preparing a party (``Participant.pretrain`` then ``train_gan``) is the bulk of a short run's
time. Each half is a pure function of its inputs: the standalone model of the party's examples,
its starting weights and SGD generator, its seeds and training config; the DP-GAN of the
party's examples, its seeds and DP-GAN config, and not of the classifier. Both depend on the
learning code, the library versions, and the thread count and vector instructions of the CPU
kernels. A `PreparedCache` keeps the two halves apart, each keyed by the sha-256 of all of its
inputs, so a later run with the same inputs loads exactly what training would produce, a run of
the other model on the same party restores the DP-GAN alone, and any change to the inputs (or
to a ``dppdl/learning`` source file) trains afresh. Entries are plain tensors and numbers, read
with ``weights_only=True``.

For simulations, experiments and tests that repeat a preparation; a party on real data has no
use for it (each task seeds its own).
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from dppdl.errors import ConfigError
from dppdl.files import atomic_write
from dppdl.learning.models import flatten_params
from dppdl.learning.participant import Participant

FORMAT = 2  # bump when what an entry holds changes (2: the model and the DP-GAN apart)
Part = Literal["model", "gan"]


@functools.cache
def _code_digest() -> bytes:
    """sha-256 over the learning package's sources: a change to any of them is a new key."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.digest()


def prepared_key(p: Participant, part: Part) -> str:
    """Hex sha-256 of everything `pretrain` (part "model") or `train_gan` (part "gan") depends
    on, for a party that has not done that part yet."""
    if part == "model" and p.steps or part == "gan" and p.gan is not None:
        raise ValueError(f"party {p.index}'s {part} is already prepared; key it before")
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + len(data).to_bytes(8, "big") + data)

    add("format", str(FORMAT).encode())
    add("part", part.encode())
    add("code", _code_digest())
    libraries = f"torch {torch.__version__} opacus {version('opacus')} numpy {np.__version__}"
    add("libraries", libraries.encode())
    # kernels round by thread count and by the vector instructions they dispatch to
    add("kernels", f"{torch.get_num_threads()} {torch.backends.cpu.get_cpu_capability()}".encode())
    add("party", f"{p.index} {p.seed}".encode())
    add("x", p.x.contiguous().numpy().tobytes())
    add("y", p.y.contiguous().numpy().tobytes())
    if part == "gan":
        add("gan", repr(p.gan_config).encode())
    else:
        add("model", p.model_name.encode())
        add("train", repr(p.train_config).encode())
        add("weights", flatten_params(p.model).numpy().tobytes())
        add("sgd", p.generator.get_state().numpy().tobytes())
    return h.hexdigest()


class PreparedCache:
    """Prepared learner states under `folder`, one ``<key>.pt`` file each."""

    def __init__(self, folder: Path, *, log: Callable[[str], None] = print) -> None:
        self.folder = folder
        self.log = log

    def create(self) -> PreparedCache:
        """Make the folder now, so a bad path is a one-line ConfigError before any training."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot use {self.folder} as the prepared cache: {exc.strerror or exc}"
            ) from None
        return self

    def model_entry(self, p: Participant) -> PreparedEntry:
        """The standalone model's entry of unpretrained `p` (keyed now: pretraining changes
        what the key reads)."""
        return PreparedEntry(self, p, prepared_key(p, "model"), "model")

    def gan_entry(self, p: Participant) -> PreparedEntry:
        """The DP-GAN's entry of `p`, which any classifier of the same party shares."""
        return PreparedEntry(self, p, prepared_key(p, "gan"), "gan")

    def model_entries(self, parties: Sequence[Participant], *, batched: bool
                      ) -> list[PreparedEntry]:  # fmt: skip
        """The standalone models' entries of unpretrained `parties`, pretrained one by one or,
        with `batched`, in one vmapped run (``pretrain_many``), whose rounding differs: those
        entries are keyed by the whole batch as well, so they serve only that batch."""
        keys = [prepared_key(p, "model") for p in parties]
        if batched and len(parties) > 1:
            batch = hashlib.sha256(b"batched" + b"".join(bytes.fromhex(k) for k in keys))
            keys = [hashlib.sha256(batch.digest() + bytes.fromhex(k)).hexdigest() for k in keys]
        return [PreparedEntry(self, p, k, "model") for p, k in zip(parties, keys, strict=True)]


def restore_all(entries: Sequence[PreparedEntry]) -> bool:
    """Restore every entry or none (a batch's models round together): True if all were
    stored and readable, else False with every party untouched."""
    if not entries or not all(e.path.exists() for e in entries):
        return False
    states = [state for state in (e.load() for e in entries) if state is not None]
    if len(states) < len(entries):
        return False
    for e, state in zip(entries, states, strict=True):
        e.apply(state)
    return True


@dataclass(frozen=True)
class PreparedEntry:
    """One half of one party's preparation in a `PreparedCache`: `restore` it, or prepare that
    half and `save`."""

    cache: PreparedCache
    participant: Participant
    key: str
    part: Part

    @property
    def path(self) -> Path:
        return self.cache.folder / f"{self.key}.pt"

    def load(self) -> dict[str, Any] | None:
        """The stored state, or None if there is none. An unreadable or mismatched file is
        reported and missed (the next save replaces it)."""
        if not self.path.exists():
            return None
        try:
            stored = torch.load(self.path, weights_only=True)
            if stored["format"] != FORMAT or stored["key"] != self.key:
                raise ValueError("it was stored under another key")
            return dict(stored["state"])
        except (OSError, EOFError, KeyError, TypeError, ValueError, RuntimeError,
                pickle.UnpicklingError) as exc:  # fmt: skip
            self.cache.log(f"prepared cache entry {self.path.name} not used ({exc}); "
                           "training afresh")  # fmt: skip
            return None

    def apply(self, state: dict[str, Any]) -> None:
        """Put a state from `load` into the party."""
        if self.part == "model":
            self.participant.load_model_state(state)
        else:
            self.participant.load_gan_state(state)

    def restore(self) -> bool:
        """Load this half if the cache holds it; False (the party untouched) if not."""
        state = self.load()
        if state is None:
            return False
        self.apply(state)
        return True

    def save(self) -> Path | None:
        """Store this half of the party, prepared since this entry was keyed (atomically). A
        cache that cannot be written is reported and skipped (None): the party needs no cache."""
        p = self.participant
        state = p.model_state() if self.part == "model" else p.gan_state()
        if self.part == "model" and not p.steps and p.train_config.local_epochs:
            raise ValueError(f"party {p.index} is not pretrained yet; pretrain before saving")
        if state is None:
            raise ValueError(f"party {p.index} has no DP-GAN yet; train it before saving")
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "key": self.key, "state": state}, buffer)
        try:  # concurrent writers of one key write the same bytes
            atomic_write(self.path, buffer.getvalue())
        except OSError as exc:
            self.cache.log(f"prepared cache: cannot store {self.path} ({exc.strerror or exc}); "
                           "going on without it")  # fmt: skip
            return None
        return self.path
