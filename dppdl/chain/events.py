"""Poll contract logs over block ranges, decode them with the ABIs, and resume from `next_block`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractEvent

from dppdl.errors import ChainError, ConfigError


class EventTimeoutError(ChainError, TimeoutError):
    """No matching event arrived within the timeout."""


@dataclass(frozen=True)
class ChainEvent:
    """One decoded contract event."""

    contract: str  # the key under which the contract was given to the stream
    name: str  # event name, e.g. "PartyJoined"
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    address: str

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


def _to_plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | HexBytes):
        return bytes(value)
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_to_plain(v) for v in value)
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    return value


class EventStream:
    """Ordered, decoded events of several contracts from `from_block` on, polled in chunks.

    `next_block` is the first block not yet read; persist it and pass it back as `from_block`
    to resume after a restart without losing or repeating an event.
    """

    def __init__(
        self,
        w3: Web3,
        contracts: Mapping[str, Contract],
        *,
        from_block: int,
        poll_interval: float = 0.2,  # seconds between polls in the blocking iterator
        confirmations: int = 0,  # blocks to stay behind the head (0 on a devnet; >0 on reorgs)
        chunk_size: int = 2_000,  # at most this many blocks per eth_getLogs request
    ) -> None:
        if from_block < 0:
            raise ConfigError(f"from_block must be >= 0, got {from_block}")
        if confirmations < 0 or chunk_size < 1 or poll_interval <= 0:
            raise ConfigError("confirmations >= 0, chunk_size >= 1 and poll_interval > 0 required")
        self.w3 = w3
        self.next_block = from_block
        self.poll_interval = poll_interval
        self.confirmations = confirmations
        self.chunk_size = chunk_size
        self._decoders: dict[tuple[str, bytes], tuple[str, ContractEvent]] = {}
        self._addresses: list[ChecksumAddress] = []
        self._buffer: list[ChainEvent] = []  # read but not yet handed out (iteration stopped)
        for key, contract in contracts.items():
            if contract.address is None:
                raise ConfigError(f"contract {key!r} has no address")
            address = Web3.to_checksum_address(contract.address)
            self._addresses.append(address)
            for item in contract.abi:
                entry = cast(dict[str, Any], item)
                if entry.get("type") != "event" or entry.get("anonymous"):
                    continue
                event = contract.events[entry["name"]]()
                topic = bytes(HexBytes(event.topic))
                self._decoders[(address.lower(), topic)] = (key, event)

    def head(self) -> int:
        """The last block this stream may read (chain head minus confirmations)."""
        return int(self.w3.eth.block_number) - self.confirmations

    def poll(self) -> list[ChainEvent]:
        """Every event in blocks [next_block, head], in chain order; advances next_block.

        Events read by an iteration that stopped early (e.g. wait_for) come first.
        """
        head = self.head()
        events, self._buffer = self._buffer, []
        while self.next_block <= head:
            to_block = min(self.next_block + self.chunk_size - 1, head)
            logs = self.w3.eth.get_logs(
                {"fromBlock": self.next_block, "toBlock": to_block, "address": self._addresses}
            )
            batch = [e for e in (self._decode(log) for log in logs) if e is not None]
            events.extend(sorted(batch, key=lambda e: e.position))
            self.next_block = to_block + 1
        return events

    def _decode(self, log: Any) -> ChainEvent | None:
        topics = log.get("topics") or []
        if not topics:
            return None
        found = self._decoders.get((str(log["address"]).lower(), bytes(HexBytes(topics[0]))))
        if found is None:
            return None
        key, event = found
        data = event.process_log(log)
        return ChainEvent(
            contract=key,
            name=str(data["event"]),
            args=_to_plain(dict(data["args"])),
            block_number=int(data["blockNumber"]),
            log_index=int(data["logIndex"]),
            tx_hash=HexBytes(data["transactionHash"]).to_0x_hex(),
            address=Web3.to_checksum_address(data["address"]),
        )

    def iter(self, *, timeout: float | None = None) -> Iterator[ChainEvent]:
        """Yield events as they arrive; stop once `timeout` seconds have passed (None: never)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.poll()
            for i, event in enumerate(batch):
                self._buffer = batch[i + 1 :]  # kept if the consumer stops after this event
                yield event
            self._buffer = []
            if deadline is not None and time.monotonic() >= deadline:
                return
            wait = self.poll_interval
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            time.sleep(wait)

    def __iter__(self) -> Iterator[ChainEvent]:
        return self.iter()

    def wait_for(
        self, predicate: Callable[[ChainEvent], bool], *, timeout: float
    ) -> ChainEvent:
        """The first event matching `predicate` (earlier ones are consumed); else a timeout."""
        for event in self.iter(timeout=timeout):
            if predicate(event):
                return event
        raise EventTimeoutError(f"no matching event within {timeout:g} s")
