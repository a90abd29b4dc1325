"""A content-addressed cache of prepared learners: the standalone model and the DP-GAN.

Preparing a party (``Participant.pretrain`` then ``train_gan``) is the bulk of a short run's
time, and it is a pure function of the party's examples, its starting weights and SGD generator,
its seeds and configs, the learning code, the library versions, and the thread count and vector
instructions of the CPU kernels. A `PreparedCache` keys each prepared state by the sha-256 of all
of those, so a later run with the same inputs loads exactly what training would produce, and any
change to the inputs (or to a ``dppdl/learning`` source file) trains afresh. Entries are plain
tensors and numbers, read with ``weights_only=True``.

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

import numpy as np
import torch

from dppdl.errors import ConfigError
from dppdl.files import atomic_write
from dppdl.learning.models import flatten_params
from dppdl.learning.participant import Participant

FORMAT = 1  # bump when what an entry holds changes


@functools.cache
def _code_digest() -> bytes:
    """sha-256 over the learning package's sources: a change to any of them is a new key."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.digest()


def prepared_key(p: Participant) -> str:
    """Hex sha-256 of everything `pretrain` and `train_gan` depend on, for an unprepared `p`."""
    if p.steps or p.gan is not None:
        raise ValueError(f"party {p.index} is already prepared; key it before preparing")
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + len(data).to_bytes(8, "big") + data)

    add("format", str(FORMAT).encode())
    add("code", _code_digest())
    libraries = f"torch {torch.__version__} opacus {version('opacus')} numpy {np.__version__}"
    add("libraries", libraries.encode())
    # kernels round by thread count and by the vector instructions they dispatch to
    add("kernels", f"{torch.get_num_threads()} {torch.backends.cpu.get_cpu_capability()}".encode())
    add("party", f"{p.index} {p.seed} {p.model_name}".encode())
    add("train", repr(p.train_config).encode())
    add("gan", repr(p.gan_config).encode())
    add("x", p.x.contiguous().numpy().tobytes())
    add("y", p.y.contiguous().numpy().tobytes())
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

    def entry(self, p: Participant) -> PreparedEntry:
        """The entry of unprepared `p` (keyed now: preparing changes what the key reads)."""
        return PreparedEntry(self, p, prepared_key(p))

    def entries(self, parties: Sequence[Participant], *, batched: bool) -> list[PreparedEntry]:
        """The entries of unprepared `parties`, pretrained one by one or, with `batched`, in one
        vmapped run (``pretrain_many``), whose rounding differs: those entries are keyed by the
        whole batch as well, so they serve only that batch."""
        keys = [prepared_key(p) for p in parties]
        if batched and len(parties) > 1:
            batch = hashlib.sha256(b"batched" + b"".join(bytes.fromhex(k) for k in keys))
            keys = [hashlib.sha256(batch.digest() + bytes.fromhex(k)).hexdigest() for k in keys]
        return [PreparedEntry(self, p, k) for p, k in zip(parties, keys, strict=True)]


@dataclass(frozen=True)
class PreparedEntry:
    """One party's place in a `PreparedCache`: `restore` it, or prepare the party and `save`."""

    cache: PreparedCache
    participant: Participant
    key: str

    @property
    def path(self) -> Path:
        return self.cache.folder / f"{self.key}.pt"

    def restore(self) -> bool:
        """Load the prepared state if the cache holds it; False (the party untouched) if not.
        An unreadable or mismatched file is reported, missed, and replaced by the next save."""
        if not self.path.exists():
            return False
        try:
            stored = torch.load(self.path, weights_only=True)
            if stored["format"] != FORMAT or stored["key"] != self.key:
                raise ValueError("it was stored under another key")
            self.participant.load_state_dict(stored["state"])
        except (OSError, EOFError, KeyError, TypeError, ValueError, RuntimeError,
                pickle.UnpicklingError) as exc:  # fmt: skip
            self.cache.log(f"prepared cache entry {self.path.name} not used ({exc}); "
                           "training afresh")  # fmt: skip
            return False
        return True

    def save(self) -> Path | None:
        """Store the party's state, prepared since this entry was keyed (atomically). A cache
        that cannot be written is reported and skipped (None): the party needs no cache."""
        p = self.participant
        if p.gan is None:
            raise ValueError(f"party {p.index} has no DP-GAN yet; prepare it before saving")
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "key": self.key, "state": p.state_dict()}, buffer)
        try:  # concurrent writers of one key write the same bytes
            atomic_write(self.path, buffer.getvalue())
        except OSError as exc:
            self.cache.log(f"prepared cache: cannot store {self.path} ({exc.strerror or exc}); "
                           "going on without it")  # fmt: skip
            return None
        return self.path
