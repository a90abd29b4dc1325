"""Waiting on the chain: poll a condition until it holds or a block deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from dppdl.errors import DppdlError
from dppdl.party.context import PartyContext

T = TypeVar("T")


class AgentCancelled(DppdlError):
    """The agent was asked to stop (for example, another agent of its simulation failed)."""


def pause(ctx: PartyContext, *, head: int | None = None) -> None:
    """Sleep one poll interval, doing what is owed to others first; stop if cancelled.
    `head`: the latest block number, when the caller has just read it."""
    if ctx.cancel.is_set():
        raise AgentCancelled("stopped by request")
    if ctx.serve is not None:
        ctx.serve(head)
    with ctx.metrics.timed("waiting"):
        time.sleep(ctx.config.poll_interval)


def wait_until(
    ctx: PartyContext, condition: Callable[[], T | None], *, deadline_block: int, what: str
) -> T | None:
    """The first truthy value of `condition()`, or None once the chain is past `deadline_block`.

    The poll that finds the value is chain work; one that finds nothing yet is time spent
    waiting for peers, and is booked so (storage or crypto done inside a poll keeps its kind).
    """
    while True:
        with ctx.metrics.timed("chain") as poll:
            value = condition()
            if value:
                return value
            head = int(ctx.client.w3.eth.block_number)
            poll.kind = "waiting"
        if head > deadline_block:
            ctx.log(f"deadline block {deadline_block} passed waiting for {what}")
            return None
        pause(ctx, head=head)
