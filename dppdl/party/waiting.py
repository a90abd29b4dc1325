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
    serve(ctx, head)
    sleep(ctx)


def serve(ctx: PartyContext, head: int | None) -> int | None:
    """Do what is owed to others (stop if cancelled); the block number it used, or `head`."""
    if ctx.cancel.is_set():
        raise AgentCancelled("stopped by request")
    return head if ctx.serve is None else ctx.serve(head)


def sleep(ctx: PartyContext) -> None:
    with ctx.metrics.timed("waiting"):
        time.sleep(ctx.config.poll_interval)


def wait_until(
    ctx: PartyContext, condition: Callable[[], T | None], *, deadline_block: int, what: str
) -> T | None:
    """The first truthy value of `condition()`, or None once the chain is past `deadline_block`.

    The poll that finds the value is chain work; one that finds nothing yet is time spent
    waiting for peers, and is booked so (storage or crypto done inside a poll keeps its kind).
    Between polls the agent's duties are served; their dispute scan reads the block number
    for the deadline in the same round trip.
    """
    while True:
        with ctx.metrics.timed("chain") as poll:
            value = condition()
            if value:
                return value
            head = None if ctx.serve is not None else int(ctx.client.w3.eth.block_number)
            poll.kind = "waiting"
        head = serve(ctx, head)
        assert head is not None  # read by the duties' scan when not before
        if head > deadline_block:
            ctx.log(f"deadline block {deadline_block} passed waiting for {what}")
            return None
        sleep(ctx)
