"""Fixtures of the party unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dppdl.party.context import PartyContext
from dppdl.party.metrics import Metrics
from storage import BlobStore

BareContext = Callable[[BlobStore], PartyContext]


@pytest.fixture
def bare_context() -> BareContext:
    """Makes a PartyContext holding only `store` and fresh metrics (every other part None), for
    tests of its storage helpers and of the payloads built on them."""

    def make(store: BlobStore) -> PartyContext:
        defaulted = ("learner_marks", "first_epoch", "cancel", "serve")
        fields = [name for name in PartyContext.__dataclass_fields__ if name not in defaulted]
        ctx = PartyContext(**dict.fromkeys(fields))
        ctx.store, ctx.metrics = store, Metrics()
        return ctx

    return make
