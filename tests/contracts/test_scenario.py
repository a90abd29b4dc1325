"""The 4-party happy path on Anvil and, behind the `ganache` marker, on Ganache."""

from __future__ import annotations

import pytest
from dppdl_world import World
from eth_account.signers.local import LocalAccount
from happy_path import run_happy_path
from web3 import Web3

from dppdl.chain.clients import CONTRACT_NAME
from dppdl.chain.compiler import Artifact
from dppdl.chain.devnet import Devnet
from dppdl.chain.tx import TxSender

pytestmark = pytest.mark.contracts

# publish, 4 joins, 4 label posts, 4 done, 3 requests + 3 commits, 2 x (file, answer, vote),
# a refund, 3 done, then 2 x (3 requests, 3 commits, 3 done)
TRANSACTIONS = 1 + 4 + 4 + 4 + 3 + 3 + 6 + 1 + 3 + 2 * 9


def test_happy_path_on_anvil(world: World) -> None:
    # Execute (the scenario asserts as it goes)
    sent = run_happy_path(world)
    # Assert
    assert sent == TRANSACTIONS


@pytest.mark.ganache
def test_happy_path_on_ganache(ganache: Devnet, ganache_w3: Web3,
                               dev_accounts: list[LocalAccount],
                               artifacts: dict[str, Artifact]) -> None:
    # Prepare: the same bytecode deployed on Ganache by the same account as on Anvil
    art = artifacts[CONTRACT_NAME]
    address, _ = TxSender(ganache_w3, dev_accounts[-1]).deploy(art)
    contract = ganache_w3.eth.contract(address=address, abi=art.abi)
    world = World(w3=ganache_w3, contract=contract, accounts=dev_accounts[:9], devnet="ganache")
    # Execute (Ganache answers calls ~10x slower than Anvil: one conservation call per tx)
    sent = run_happy_path(world, full_checks=False)
    # Assert
    assert ganache.kind == "ganache" and sent == TRANSACTIONS
