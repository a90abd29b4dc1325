"""Connect to a node; sign and send transactions with local nonces and pre-filled fields.

`TxSender` posts its JSON-RPC requests (gas estimate, fees, nonce, raw transaction, receipt)
straight to the provider. web3's `w3.eth` methods put each through method lookup, middleware
and result formatters: about 3.4 ms of CPU for `estimate_gas` and 1.8 ms for a receipt on
this machine, against 0.4 ms for the bare round trip (docs/PERFORMANCE.md). A party sends four
transactions an epoch, so that was half of its chain CPU. Receipts are still formatted by
web3's own receipt formatter (ints, HexBytes, checksummed addresses), as plain dicts.
Transactions are signed by `dppdl.chain.signing.Type2Signer`: 0.17 ms of CPU against
eth_account's 0.77 ms.

A transaction whose receipt is wanted goes out as `eth_sendRawTransactionSync` (EIP-7966),
which answers with the receipt once the transaction is mined: one round trip instead of a send
and receipt polls. Anvil has it. A node without it (Ganache) is noticed at the first
transaction, which is then sent the old way, as is every later one; a node that gives up
waiting (EIP-7966's timeout error, or no reply within the connection's timeout, as on a chain
with long blocks) leaves the receipt to polls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint, TxParams, TxReceipt

from dppdl.chain.abi import FunctionSpec
from dppdl.chain.compiler import Artifact
from dppdl.chain.http_provider import KeepAliveHTTPProvider
from dppdl.chain.reverts import (
    UnknownRevert,
    register_abi,
    revert_from_exception,
    revert_from_rpc_error,
)
from dppdl.chain.rpc_stats import Sink
from dppdl.chain.signing import Type2Signer
from dppdl.errors import ChainError, ConfigError, ContractRevert, RpcUnavailableError


class TxTimeoutError(ChainError, TimeoutError):
    """A transaction was not mined within the timeout."""


def connect(rpc_url: str, *, timeout: float = 10.0, sink: Sink | None = None) -> Web3:
    """A Web3 over HTTP that has answered eth_chainId; one-line RpcUnavailableError otherwise.

    Requests go over one kept-alive connection (`KeepAliveHTTPProvider`), with no automatic
    retries: a wrong URL fails within `timeout`, not after a backoff series. `sink` (e.g. a
    party's `Metrics.record_rpc`) is told of every round trip and the methods it carried."""
    w3 = Web3(KeepAliveHTTPProvider(rpc_url, timeout=timeout, sink=sink))
    try:
        w3.eth.chain_id  # noqa: B018 - a round trip that every node answers
    except Exception as exc:  # connection refused, timeout, bad JSON, HTTP error...
        raise RpcUnavailableError(f"no JSON-RPC node answers at {rpc_url}") from exc
    return w3


class NonceManager:
    """A local nonce counter, initialised from the chain's pending count, resynced on demand.

    `take()` hands out consecutive nonces without a round trip, so several transactions can be
    in flight before the first receipt. Thread-safe.
    """

    def __init__(self, fetch_pending: Callable[[], int]) -> None:
        self._fetch = fetch_pending
        self._next: int | None = None
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            if self._next is None:
                self._next = self._fetch()
            nonce = self._next
            self._next += 1
            return nonce

    def resync(self) -> int:
        """Forget the local counter and start again from the chain's pending count."""
        with self._lock:
            self._next = self._fetch()
            return self._next

    def peek(self) -> int | None:
        return self._next


_NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "already been used", "oldnonce")
_ALREADY_KNOWN = ("already known", "already imported", "known transaction")
_FIRST_RECEIPT_PAUSE = 0.002  # seconds before the second receipt poll; then doubling
_SYNC = "eth_sendRawTransactionSync"
# how nodes without a method say so: Anvil "Method not found" (-32601), Ganache "The method ...
# does not exist/is not available" (-32700)
_NO_METHOD = ("method not found", "does not exist", "not available", "not supported",
              "unsupported method", "unknown method")  # fmt: skip
_SYNC_TIMEOUT_CODE = 4  # EIP-7966: not mined within the node's timeout; the hash is in `data`


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc).lower()


def _call_of(tx: Mapping[str, Any]) -> dict[str, Any]:
    """The eth_call / eth_estimateGas object of a transaction being built."""
    call = {"from": tx["from"], "data": HexBytes(tx.get("data", b"")).to_0x_hex(),
            "value": hex(int(tx.get("value", 0)))}  # fmt: skip
    if tx.get("to"):
        call["to"] = str(tx["to"])
    return call


def _result(response: Any) -> Any:
    """A JSON-RPC reply's result; an error raises its decoded revert, or Web3RPCError with the
    node's message (as web3 would)."""
    error: Any = response.get("error")
    if error is None:
        return response.get("result")
    message = error
    if isinstance(error, Mapping):
        revert = revert_from_rpc_error(error)
        if revert is not None:
            raise revert
        message = error.get("message", error)
    raise Web3RPCError(str(message), rpc_response=response)


class TxSender:
    """Sign with a local account and send: local nonces, chain id once, fees cached per block."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        gas_headroom: float = 1.25,  # estimate × this, since state may change before mining
        base_fee_multiplier: int = 2,  # maxFee = base fee × this + tip: survives ~6 full blocks
        priority_fee: int | None = None,  # wei; None asks the node once (eth_maxPriorityFeePerGas)
        fee_ttl: float = 1.0,  # seconds a fetched base fee is reused before asking again
        timeout: float = 60.0,  # seconds to wait for a receipt
        poll_interval: float = 0.05,  # longest pause between receipt polls (the first is 2 ms)
    ) -> None:
        if gas_headroom < 1.0:
            raise ConfigError(f"gas_headroom must be >= 1.0, got {gas_headroom}")
        if base_fee_multiplier < 1:
            raise ConfigError(f"base_fee_multiplier must be >= 1, got {base_fee_multiplier}")
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.signer = Type2Signer(account)
        self.gas_headroom = gas_headroom
        self.base_fee_multiplier = base_fee_multiplier
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.fee_ttl = fee_ttl
        self.chain_id = w3.eth.chain_id
        self._priority_fee = priority_fee
        self._fees: tuple[float, int, int] | None = None  # (fetched_at, block, base fee)
        self._fee_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.sync = True  # eth_sendRawTransactionSync until the node lacks it or is too slow
        self.nonces = NonceManager(
            lambda: int(self._rpc("eth_getTransactionCount", [self.address, "pending"]), 16)
        )

    def _rpc(self, method: str, params: list[Any]) -> Any:
        """One request straight to the provider; an error reply raises its decoded revert, or
        Web3RPCError with the node's message (as web3 would)."""
        return _result(self.w3.provider.make_request(RPCEndpoint(method), params))

    # -- fields --------------------------------------------------------------------------
    def fees(self, *, block: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) from the latest base fee, cached for fee_ttl;
        `block`: the latest block, when the caller has just read it."""
        with self._fee_lock:
            now = time.monotonic()
            if block is not None or self._fees_stale(now):
                if block is None:
                    block = self._rpc("eth_getBlockByNumber", ["latest", False])
                base_fee = int(block.get("baseFeePerGas") or "0x0", 16)
                self._fees = (now, int(block["number"], 16), base_fee)
            if self._priority_fee is None:
                try:
                    self._priority_fee = int(self._rpc("eth_maxPriorityFeePerGas", []), 16)
                except Exception:  # nodes without the method: 1 gwei is a safe devnet tip
                    self._priority_fee = 10**9
            tip = self._priority_fee
            assert self._fees is not None
            return self._fees[2] * self.base_fee_multiplier + tip, tip

    def _fees_stale(self, now: float) -> bool:
        return self._fees is None or now - self._fees[0] > self.fee_ttl

    def estimate(self, tx: TxParams) -> int:
        """Gas estimate × headroom; a revert during estimation raises its decoded class."""
        return self._headroom(self._rpc("eth_estimateGas", [_call_of(tx)]))

    def _headroom(self, estimate: str) -> int:
        return int(int(estimate, 16) * self.gas_headroom)

    def _estimate_and_fees(self, tx: TxParams) -> tuple[int, tuple[int, int]]:
        """`estimate` and `fees`; when the fees need the latest block, both in one batch."""
        batch = getattr(self.w3.provider, "make_batch_request", None)
        if batch is None or not self._fees_stale(time.monotonic()):
            return self.estimate(tx), self.fees()
        replies = batch([(RPCEndpoint("eth_estimateGas"), [_call_of(tx)]),
                         (RPCEndpoint("eth_getBlockByNumber"), ["latest", False])])  # fmt: skip
        if not isinstance(replies, list):  # the node refused the batch: one at a time
            return self.estimate(tx), self.fees()
        gas = self._headroom(_result(replies[0]))  # a revert raises its decoded class
        return gas, self.fees(block=_result(replies[1]))

    def build(
        self, fn: ContractFunction | None = None, *, to: str | None = None, data: bytes = b"",
        value: int = 0, gas: int | None = None,
    ) -> TxParams:
        """A complete EIP-1559 transaction except the nonce (estimating gas when not given)."""
        if fn is not None:  # encoded from the ABI entry web3 already matched (no 2nd lookup)
            to = fn.address
            data = HexBytes(FunctionSpec.of(fn.abi).calldata(fn.arguments or ()))
        tx: dict[str, Any] = {
            "from": self.address,
            "value": value,
            "data": HexBytes(data),
            "chainId": self.chain_id,
            "type": 2,
        }
        if to is not None:
            tx["to"] = Web3.to_checksum_address(to)
        if gas is None:
            tx["gas"], (tx["maxFeePerGas"], tx["maxPriorityFeePerGas"]) = (
                self._estimate_and_fees(tx)  # type: ignore[arg-type]
            )
        else:
            tx["gas"] = gas
            tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = self.fees()
        return tx  # type: ignore[return-value]

    # -- sending -------------------------------------------------------------------------
    def send_tx(self, tx: TxParams) -> HexBytes:
        """Assign the next nonce, sign and submit; resync once on 'nonce too low'."""
        outcome = self._submit(tx, sync=False)
        assert isinstance(outcome, HexBytes)
        return outcome

    def send_and_wait(self, tx: TxParams, *, timeout: float | None = None) -> TxReceipt:
        """Submit and return the receipt (a revert raises decoded): in one round trip where the
        node has eth_sendRawTransactionSync, else by polling as `wait` does."""
        outcome = self._submit(tx, sync=self.sync)
        if isinstance(outcome, HexBytes):  # sent the old way, or the node stopped waiting
            return self.wait(outcome, timeout=timeout)
        return self._mined(outcome)

    def _submit(self, tx: TxParams, *, sync: bool) -> HexBytes | TxReceipt:
        """Sign with the next nonce and send: the receipt when `sync` and the node waited for
        it, else the transaction hash. Resync once on 'nonce too low'. The send lock is held
        until the node replies (with a sync send, until it mined), so one sender's
        transactions reach the node in nonce order."""
        with self._send_lock:
            for attempt in (0, 1):
                raw, tx_hash = self.signer.sign(dict(tx, nonce=self.nonces.take()))
                try:
                    if sync and self.sync:
                        found = self._send_sync(raw.to_0x_hex(), tx_hash)
                        if found is not None:
                            return found
                    return HexBytes(self._rpc("eth_sendRawTransaction", [raw.to_0x_hex()]))
                except Exception as exc:
                    text = _message(exc)
                    if any(k in text for k in _ALREADY_KNOWN):
                        return tx_hash
                    self.nonces.resync()  # the taken nonce was not used: close the gap
                    if attempt == 0 and any(k in text for k in _NONCE_TOO_LOW):
                        continue
                    decoded = revert_from_exception(exc)
                    if decoded is not None:
                        raise decoded from exc
                    raise
        raise AssertionError("unreachable")

    def _send_sync(self, raw: str, tx_hash: HexBytes) -> TxReceipt | HexBytes | None:
        """eth_sendRawTransactionSync: the receipt; the hash if the node gave up waiting; None
        if the node has no such method (nothing was sent; the old way is used from now)."""
        try:
            response = self.w3.provider.make_request(RPCEndpoint(_SYNC), [raw])
        except RpcUnavailableError as exc:
            if not isinstance(exc.__cause__, TimeoutError):
                raise
            self.sync = False  # this node mines slower than the connection waits: poll
            return tx_hash
        error = response.get("error")
        if isinstance(error, Mapping):  # its `data` is the hash, not revert data: look first
            if error.get("code") == _SYNC_TIMEOUT_CODE:
                return tx_hash  # submitted, not mined yet: poll for the rest of our timeout
            message = str(error.get("message", "")).lower()
            if error.get("code") == -32601 or any(k in message for k in _NO_METHOD):
                self.sync = False
                return None
        return receipt_formatter(_result(response))  # type: ignore[no-any-return]

    def send(
        self, fn: ContractFunction, *, gas: int | None = None, value: int = 0, wait: bool = True
    ) -> TxReceipt | HexBytes:
        """Send a contract call; with wait=True return the receipt (a revert raises decoded)."""
        tx = self.build(fn, gas=gas, value=value)
        return self.send_and_wait(tx) if wait else self.send_tx(tx)

    def transfer(self, to: str, *, value_wei: int, wait: bool = True) -> TxReceipt | HexBytes:
        tx = self.build(to=to, value=value_wei, gas=21_000)
        return self.send_and_wait(tx) if wait else self.send_tx(tx)

    def wait(self, tx_hash: HexBytes | str, *, timeout: float | None = None) -> TxReceipt:
        """Poll for the receipt; status 0 replays the call to raise the decoded revert."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        wanted = HexBytes(tx_hash).to_0x_hex()
        # An automining devnet has the receipt within milliseconds, often not yet at the first
        # poll: pauses of 2, 4, 8 ... ms up to poll_interval, not poll_interval at once.
        pause = min(_FIRST_RECEIPT_PAUSE, self.poll_interval)
        while True:
            found = self._rpc("eth_getTransactionReceipt", [wanted])
            if found is not None:
                return self._mined(receipt_formatter(found))
            if time.monotonic() > deadline:
                raise TxTimeoutError(
                    f"transaction {wanted} not mined in "
                    f"{self.timeout if timeout is None else timeout:.0f} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, self.poll_interval)

    def _mined(self, receipt: TxReceipt) -> TxReceipt:
        """A receipt as mined: status 0 replays the call to raise the decoded revert."""
        if receipt["status"] != 1:
            raise replay_revert(self.w3, receipt)
        self.on_mined(receipt)
        return receipt

    def on_mined(self, receipt: TxReceipt) -> None:
        """Called with every successful receipt this sender returns (a hook for subclasses)."""

    def deploy(
        self, artifact: Artifact, *args: Any, gas: int | None = None
    ) -> tuple[str, TxReceipt]:
        """Deploy `artifact` with constructor `args`; returns (checksum address, receipt)."""
        if not artifact.deployable:
            raise ChainError(f"{artifact.name} has no bytecode (interface or abstract contract)")
        register_abi(artifact.abi)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = self.send_and_wait(self.build(data=HexBytes(data), gas=gas))
        address = receipt["contractAddress"]
        if address is None:
            raise ChainError(f"deploying {artifact.name} produced no contract address")
        return Web3.to_checksum_address(address), receipt


def replay_revert(w3: Web3, receipt: TxReceipt) -> ContractRevert:
    """The decoded revert of a mined failed transaction, by replaying it with eth_call."""
    tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    if receipt["gasUsed"] >= tx["gas"]:
        return UnknownRevert(message=f"out of gas (used all {tx['gas']})", tx_hash=tx_hash)
    call: dict[str, Any] = {"from": tx["from"], "data": tx["input"], "value": tx["value"]}
    if tx.get("to"):
        call["to"] = tx["to"]
    call["gas"] = tx["gas"]
    try:  # state before the transaction's block; exact unless an earlier tx in it mattered
        w3.eth.call(call, max(int(receipt["blockNumber"]) - 1, 0))  # type: ignore[arg-type]
    except (ContractLogicError, Web3RPCError) as exc:
        decoded = revert_from_exception(exc, tx_hash=tx_hash)
        if decoded is not None:
            return decoded
        return UnknownRevert(message=f"replay failed: {_message(exc)}", tx_hash=tx_hash)
    return UnknownRevert(message="mined with status 0; replay did not revert", tx_hash=tx_hash)
