"""Independent, reproducible seeds derived from one run seed; seeded module construction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

# Streams keep seeds for different purposes apart even when the party index is equal.
STREAM_INIT = 0  # model initialisation
STREAM_SHUFFLE = 1  # per-epoch data permutations


def derive_seed(seed: int, *keys: int) -> int:
    """A 62-bit seed determined by (seed, *keys), e.g. derive_seed(run_seed, STREAM_INIT, i)."""
    if seed < 0 or any(k < 0 for k in keys):
        raise ValueError(f"seeds and keys must be non-negative, got {seed}, {keys}")
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def torch_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU torch.Generator seeded with derive_seed(seed, *keys)."""
    return torch.Generator().manual_seed(derive_seed(seed, *keys))


# torch's module initialisers draw from the process-global RNG. Building under a fixed seed
# means seeding that global RNG, so two threads (in-process agents) doing it at once would
# interleave their seeds; one lock makes each seeded construction atomic.
_GLOBAL_RNG_LOCK = threading.Lock()


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Run the body with the global torch RNG seeded to `seed`, then restore it; thread-safe
    against other users of this function (the only code here that touches the global RNG)."""
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
