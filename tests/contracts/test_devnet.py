"""Devnet, transactions, reverts and the event stream on a real Anvil; one Ganache smoke test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3RPCError

from dppdl.chain.compiler import Artifact
from dppdl.chain.devnet import Devnet, pid_alive, start_devnet
from dppdl.chain.events import ChainEvent, EventStream, EventTimeoutError
from dppdl.chain.reverts import UnknownRevert, decoding_reverts, revert_class
from dppdl.chain.tx import TxSender, connect
from dppdl.errors import ContractRevert, RpcUnavailableError

pytestmark = pytest.mark.contracts

FIXTURES = Path(__file__).parent / "fixtures"


def _dppdl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("DPPDL_RPC_URL", None)
    return subprocess.run([sys.executable, "-m", "dppdl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _counter(sender: TxSender, artifacts: dict[str, Artifact], limit: int = 1000) -> Contract:
    address, _ = sender.deploy(artifacts["Counter"], limit)
    return sender.w3.eth.contract(address=address, abi=artifacts["Counter"].abi)


# -- devnet lifecycle -------------------------------------------------------------------------

def test_cli_up_deploy_twice_down(tmp_path: Path) -> None:
    # Execute: the README's by-hand flow, with the fixture contracts and steps
    up = _dppdl(tmp_path, "devnet", "up", "--json")
    try:
        state = json.loads(up.stdout)
        status = _dppdl(tmp_path, "devnet", "status")
        deploy_args = ["deploy", "--contracts", str(FIXTURES / "contracts"),
                       "--migrations", str(FIXTURES / "migrations")]
        first = _dppdl(tmp_path, *deploy_args)
        second = _dppdl(tmp_path, *deploy_args)
    finally:
        down = _dppdl(tmp_path, "devnet", "down")
    after = _dppdl(tmp_path, "devnet", "status", "--json")
    # Assert
    assert up.returncode == 0, up.stderr
    assert state["kind"] == "anvil" and state["chain_id"] == 31337 and state["started"]
    assert status.returncode == 0 and "running at http://127.0.0.1:" in status.stdout
    assert first.returncode == 0, first.stderr
    assert "deployed Counter" in first.stdout and (tmp_path / "deployments/31337.json").exists()
    assert second.returncode == 0 and "up to date" in second.stdout
    assert "deployed" not in second.stdout
    assert down.returncode == 0 and f"stopped anvil (pid {state['pid']})" in down.stdout
    assert not pid_alive(state["pid"])
    assert after.returncode == 1 and json.loads(after.stdout) == {"running": False}


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    no_rpc = _dppdl(tmp_path, "deploy")
    bad_rpc = _dppdl(tmp_path, "deploy", "--rpc", "http://127.0.0.1:9")
    assert no_rpc.returncode == 2 and no_rpc.stderr.strip().count("\n") == 0
    assert "no --rpc URL given" in no_rpc.stderr
    assert bad_rpc.stderr.strip() == "dppdl: error: no JSON-RPC node answers at http://127.0.0.1:9"


def test_start_and_stop_in_process() -> None:
    with start_devnet(accounts=2, block_time=1) as node:
        assert node.answers() and node.chain_id == 31337 and node.port > 0
        pid = node.pid
    assert not pid_alive(pid)
    with pytest.raises(RpcUnavailableError, match=node.rpc_url):
        connect(node.rpc_url, timeout=1)


# -- transactions and reverts -------------------------------------------------------------------

def test_nonce_manager_sends_20_before_the_first_receipt(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str,
) -> None:
    # Prepare: stop automining so nothing is mined until we say so
    sender = TxSender(w3, dev_accounts[1])
    counter = _counter(sender, fixture_artifacts)
    start = w3.eth.get_transaction_count(sender.address)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        # Execute
        hashes = [sender.send(counter.functions.increment(i + 1), gas=80_000, wait=False)
                  for i in range(20)]
        pending_before = w3.eth.get_transaction_count(sender.address, "pending")
        mined_before = w3.eth.get_transaction_count(sender.address, "latest")
        w3.provider.make_request("evm_mine", [])
        receipts = [sender.wait(h, timeout=10) for h in hashes]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    # Assert
    assert mined_before == start and pending_before == start + 20
    assert [w3.eth.get_transaction(h)["nonce"] for h in hashes] == list(range(start, start + 20))
    assert all(r["status"] == 1 for r in receipts)
    assert counter.functions.value().call() == sum(range(1, 21))


def test_nonce_too_low_resyncs(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str,
) -> None:
    # Prepare: two senders for one key, as two processes would be
    first, other = TxSender(w3, dev_accounts[2]), TxSender(w3, dev_accounts[2])
    counter = _counter(first, fixture_artifacts)
    other.send(counter.functions.increment(1))  # `first`'s local counter is now behind
    # Execute
    receipt = first.send(counter.functions.increment(2))
    # Assert
    assert receipt["status"] == 1
    assert counter.functions.value().call() == 3


def test_reverts_decode_from_estimate_mined_tx_and_call(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str,
) -> None:
    sender = TxSender(w3, dev_accounts[3])
    counter = _counter(sender, fixture_artifacts, limit=10)
    too_large = revert_class("CounterTooLarge")
    # eth_estimateGas fails: nothing is sent
    with pytest.raises(too_large) as estimated:
        sender.send(counter.functions.increment(11))
    # explicit gas: the transaction is mined with status 0 and replayed for its data
    with pytest.raises(too_large) as mined:
        sender.send(counter.functions.increment(12), gas=100_000)
    with pytest.raises(revert_class("Panic"), match="division or modulo by zero"):
        sender.send(counter.functions.divide(1, 0), gas=100_000)
    with pytest.raises(revert_class("CounterNotOwner")), decoding_reverts():
        counter.functions.setLimit(1).call({"from": dev_accounts[4].address})
    assert estimated.value.fields == {"value": 11, "limit": 10}
    assert estimated.value.tx_hash is None
    assert mined.value.args == (12, 10) and mined.value.tx_hash is not None
    assert str(mined.value).startswith(f"contract reverted in tx {mined.value.tx_hash}:")
    assert isinstance(mined.value, ContractRevert)
    # the nonce counter survived the failures: the next transaction goes through
    assert sender.send(counter.functions.increment(1))["status"] == 1


def test_a_node_error_keeps_its_message_and_the_nonce(
    w3: Web3, dev_accounts: list[LocalAccount], chain_snapshot: str,
) -> None:
    # Prepare: a key the devnet never funded
    poor = TxSender(w3, Account.from_key(b"\x07" * 32))
    # Execute: the node refuses the raw transaction (not a revert)
    with pytest.raises(Web3RPCError, match="(?i)insufficient funds"):
        poor.transfer(dev_accounts[0].address, value_wei=10**18)
    # Assert: the refused nonce was given back, the receipt of a real transfer is formatted
    assert poor.nonces.peek() == 0
    receipt = TxSender(w3, dev_accounts[5]).transfer(poor.address, value_wei=10**18)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert isinstance(receipt["transactionHash"], HexBytes) and receipt["logs"] == []
    assert receipt["from"] == dev_accounts[5].address  # checksummed, as web3 gives it


def test_out_of_gas_is_reported(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str,
) -> None:
    sender = TxSender(w3, dev_accounts[3])
    counter = _counter(sender, fixture_artifacts)
    with pytest.raises(UnknownRevert):
        sender.send(counter.functions.increment(1), gas=30_000)


# -- events -----------------------------------------------------------------------------------

def test_event_stream_is_ordered_decoded_and_resumable(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str,
) -> None:
    # Prepare
    sender = TxSender(w3, dev_accounts[5])
    counter = _counter(sender, fixture_artifacts)
    start = w3.eth.block_number
    for amount in (1, 2, 3):
        sender.send(counter.functions.increment(amount))
    sender.send(counter.functions.setLimit(500))
    # Execute: read everything, then "restart" from next_block after more activity
    stream = EventStream(w3, {"Counter": counter}, from_block=start, chunk_size=2)
    seen = stream.poll()
    resume_at = stream.next_block
    sender.send(counter.functions.increment(4))
    resumed = EventStream(w3, {"Counter": counter}, from_block=resume_at).poll()
    # Assert
    assert [(e.name, e.args.get("amount")) for e in seen] == [
        ("Incremented", 1), ("Incremented", 2), ("Incremented", 3), ("LimitSet", None)]
    assert seen[2].args == {"by": sender.address, "amount": 3, "value": 6}
    assert seen[3].args == {"limit": 500} and seen[3].contract == "Counter"
    assert [e.position for e in seen] == sorted(e.position for e in seen)
    assert resume_at == w3.eth.block_number
    assert [(e.name, e.args["amount"]) for e in resumed] == [("Incremented", 4)]
    assert stream.poll()[0].args["amount"] == 4  # the first stream also sees it, once
    assert stream.poll() == []


def test_wait_for_keeps_later_events_and_times_out(
    w3: Web3, dev_accounts: list[LocalAccount], fixture_artifacts: dict[str, Artifact],
    chain_snapshot: str,
) -> None:
    sender = TxSender(w3, dev_accounts[6])
    counter = _counter(sender, fixture_artifacts)
    stream = EventStream(w3, {"c": counter}, from_block=w3.eth.block_number, poll_interval=0.05)
    for amount in (5, 6, 7):
        sender.send(counter.functions.increment(amount))
    hit = stream.wait_for(lambda e: e.args.get("amount") == 6, timeout=5)
    rest: list[ChainEvent] = stream.poll()
    assert hit.args["value"] == 11
    assert [e.args["amount"] for e in rest] == [7]
    with pytest.raises(EventTimeoutError):
        stream.wait_for(lambda e: True, timeout=0.2)


# -- Ganache ----------------------------------------------------------------------------------

def test_ganache_smoke(ganache: Devnet, ganache_w3: Web3, dev_accounts: list[LocalAccount],
                       fixture_artifacts: dict[str, Artifact]) -> None:
    # Execute: same accounts, same bytecode, same sender as on Anvil
    sender = TxSender(ganache_w3, dev_accounts[0])
    counter = _counter(sender, fixture_artifacts, limit=10)
    receipt = sender.send(counter.functions.increment(4))
    # Assert
    assert ganache.kind == "ganache" and ganache_w3.eth.chain_id == 1337
    assert ganache_w3.eth.get_balance(dev_accounts[9].address) > 0
    assert receipt["status"] == 1 and counter.functions.value().call() == 4
    with pytest.raises(revert_class("CounterTooLarge")):
        sender.send(counter.functions.increment(100))
