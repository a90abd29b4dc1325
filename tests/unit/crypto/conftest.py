"""Shared fixtures for the crypto unit tests: deterministic parties and a deterministic rng."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dppdl.crypto import PairwiseMasks, PartyKeys


@dataclass(frozen=True)
class Party:
    address: bytes
    keys: PartyKeys


def make_party(label: bytes) -> Party:
    """A party whose address and X25519 key are derived from `label` (reproducible)."""
    digest = hashlib.sha256(b"test-party/" + label).digest()
    address = hashlib.sha256(b"addr/" + label).digest()[:20]
    return Party(
        address=address, keys=PartyKeys(x25519=X25519PrivateKey.from_private_bytes(digest))
    )


def counter_rng(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic byte source for known-answer vectors (never for real use)."""
    state = {"n": 0}

    def draw(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + state["n"].to_bytes(8, "big")).digest()
            state["n"] += 1
        return out[:n]

    return draw


class Network:
    """Parties of one task with their pairwise-mask views."""

    def __init__(self, parties: list[Party]) -> None:
        self.parties = parties
        self.publics = {p.address: p.keys.public_bytes for p in parties}
        self.masks = {
            p.address: PairwiseMasks(keys=p.keys, address=p.address, peer_publics=self.publics)
            for p in parties
        }


@pytest.fixture(scope="session")
def network_of() -> Callable[[int], Network]:
    cache: dict[int, Network] = {}

    def build(n: int) -> Network:
        if n not in cache:
            cache[n] = Network([make_party(f"p{i}".encode()) for i in range(n)])
        return cache[n]

    return build
