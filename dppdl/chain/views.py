"""Contract views read cheaply: the ABI is parsed once and each call goes to the provider.

web3's `contract.functions.f(...).call()` looks `f` up in the whole ABI again on every call. It
validates the arguments against every entry and formats the request and the result through
its middleware. For the Dppdl contract that is about 2.2 ms of CPU per call on this machine,
against 0.7 ms through this path (`benchmarks/chain.py` measures both in one run). An agent
makes about 25 calls per epoch, and on a shared machine that CPU is taken from training.

Here each function's selector and its input and output types are computed once
(`dppdl.chain.abi.FunctionSpec`). A call encodes with eth_abi and posts one `eth_call` (or one
JSON-RPC batch) through the provider, so the same HTTP session and its round-trip counter
carry it. The result is decoded with eth_abi and has web3's shapes: one output is returned as
itself and several as a list, arrays are lists, structs tuples, and addresses checksummed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.types import RPCEndpoint

from dppdl.chain.abi import FunctionSpec
from dppdl.chain.reverts import register_abi, revert_from_rpc_error
from dppdl.errors import ChainError

Block = int | str  # a block number, or "latest" / "pending" / ...
Call = tuple[str, Sequence[Any]]  # (function name, arguments)
Topic = str | list[str] | None  # one topic, any of several, or any at all


class Views:
    """The view functions of one deployed contract, called without web3's per-call lookups."""

    def __init__(self, w3: Web3, address: str, abi: Sequence[Mapping[str, Any]]) -> None:
        register_abi(abi)  # custom errors of this contract decode by name
        self.w3 = w3
        self.address = to_checksum_address(address)
        functions = [item for item in abi if item.get("type") == "function"]
        names = [str(f["name"]) for f in functions]
        # an overloaded name is ambiguous without web3's argument matching: left out
        self.specs = {str(f["name"]): FunctionSpec.of(f) for f in functions
                      if names.count(str(f["name"])) == 1}  # fmt: skip

    def call(self, name: str, *args: Any, block: Block = "latest") -> Any:
        """`name(*args)` as of `block`; a revert raises its named ContractRevert class."""
        spec = self._spec(name)
        params = self._params(spec, args, block)
        response = self.w3.provider.make_request(RPCEndpoint("eth_call"), params)
        return self._answer(spec, response)

    def call_many(self, calls: Sequence[Call], *, block: Block = "latest") -> list[Any]:
        """Several views in one JSON-RPC batch (one HTTP round trip), results in order.

        A batch is not a snapshot: the node may answer its calls at different blocks unless
        `block` is a number."""
        specs = [self._spec(name) for name, _ in calls]
        batch = getattr(self.w3.provider, "make_batch_request", None)
        if len(calls) <= 1 or batch is None:  # one call, or a provider that cannot batch
            return [self.call(name, *args, block=block) for name, args in calls]
        requests = [(RPCEndpoint("eth_call"), self._params(spec, args, block))
                    for spec, (_, args) in zip(specs, calls, strict=True)]  # fmt: skip
        responses = batch(requests)
        if not isinstance(responses, list):  # the node refused the whole batch
            raise ChainError(f"the node refused a batch of {len(calls)} calls: {responses!r}")
        return [self._answer(s, r) for s, r in zip(specs, responses, strict=True)]

    def head_and_call_many(self, calls: Sequence[Call]) -> tuple[int, list[Any]]:
        """The latest block number and several views at "latest", in one JSON-RPC batch.

        The views may be answered at a later block than the number (one mined meanwhile)."""
        specs = [self._spec(name) for name, _ in calls]
        answered = self._with_head([(RPCEndpoint("eth_call"), self._params(spec, args, "latest"))
                                    for spec, (_, args) in zip(specs, calls, strict=True)])
        if answered is None:  # a provider that cannot batch: the number, then the views at it
            head = int(self.w3.eth.block_number)
            return head, self.call_many(calls, block=head)
        head, responses = answered
        return head, [self._answer(s, r) for s, r in zip(specs, responses, strict=True)]

    def logs(
        self, topics: Sequence[Topic], *, from_block: int, to_block: Block = "latest"
    ) -> list[dict[str, Any]]:
        """This contract's logs matching `topics` (eth_getLogs), as the node sends them."""
        response = self.w3.provider.make_request(
            RPCEndpoint("eth_getLogs"), [self._filter(topics, from_block, to_block)]
        )
        return self._logs(response)

    def head_and_logs(
        self, topics: Sequence[Topic], *, from_block: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """The latest block number and this contract's logs from `from_block` on, in one batch
        (the logs may reach a block mined after the number was read)."""
        answered = self._with_head(
            [(RPCEndpoint("eth_getLogs"), [self._filter(topics, from_block, "latest")])]
        )
        if answered is None:
            head = int(self.w3.eth.block_number)
            return head, self.logs(topics, from_block=from_block, to_block=head)
        head, (response,) = answered
        if head < from_block:  # no new block: the node refuses a range that starts past it
            return head, []
        return head, self._logs(response)

    def _with_head(
        self, requests: list[tuple[RPCEndpoint, Any]]
    ) -> tuple[int, list[Any]] | None:
        """eth_blockNumber and `requests` in one batch: (the number, the requests' replies), or
        None if the provider cannot batch."""
        batch = getattr(self.w3.provider, "make_batch_request", None)
        if batch is None:
            return None
        responses = batch([(RPCEndpoint("eth_blockNumber"), []), *requests])
        if not isinstance(responses, list) or "result" not in responses[0]:
            raise ChainError(f"the node refused a batch of {len(requests) + 1} requests: "
                             f"{responses!r}")  # fmt: skip
        return int(responses[0]["result"], 16), responses[1:]

    def _filter(self, topics: Sequence[Topic], from_block: int, to_block: Block
                ) -> dict[str, Any]:  # fmt: skip
        return {"address": self.address, "topics": list(topics), "fromBlock": hex(from_block),
                "toBlock": hex(to_block) if isinstance(to_block, int) else to_block}

    @staticmethod
    def _logs(response: Mapping[str, Any]) -> list[dict[str, Any]]:
        if response.get("error") is not None or not isinstance(response.get("result"), list):
            raise ChainError(f"eth_getLogs failed: {response.get('error')!r}")
        return [log for log in response["result"] if not log.get("removed")]

    def _spec(self, name: str) -> FunctionSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise ChainError(f"the contract ABI has no (unique) function {name!r}") from None

    def _params(self, spec: FunctionSpec, args: Sequence[Any], block: Block) -> list[Any]:
        at = hex(block) if isinstance(block, int) else block
        return [{"to": self.address, "data": spec.calldata(args)}, at]

    def _answer(self, spec: FunctionSpec, response: Mapping[str, Any]) -> Any:
        error = response.get("error")
        if error is not None:
            revert = revert_from_rpc_error(error) if isinstance(error, Mapping) else None
            if revert is not None:
                raise revert
            raise ChainError(f"eth_call {spec.name} failed: {error!r}")
        return spec.result(str(response.get("result") or "0x"))
