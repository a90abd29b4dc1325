"""Shared fixtures: one Anvil per session, Web3, dev accounts, compiled contracts, snapshots."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from dppdl.chain.compiler import Artifact, compile_contracts
from dppdl.chain.devnet import Devnet, PublicKeyWarning, start_devnet
from dppdl.chain.devnet import dev_accounts as _dev_accounts
from dppdl.chain.tx import connect

FIXTURES = Path(__file__).parent / "contracts" / "fixtures"


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    """One Anvil node for the whole session (automine, 10 funded dev accounts)."""
    node = start_devnet(kind="anvil", accounts=10)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def w3(devnet: Devnet) -> Web3:
    return connect(devnet.rpc_url)


@pytest.fixture(scope="session")
def dev_accounts() -> list[LocalAccount]:
    """The 10 public dev accounts (funded on Anvil and Ganache). Devnet only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PublicKeyWarning)
        return _dev_accounts(10)


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    """The project's contracts (contracts/), compiled once and cached in build/contracts."""
    return compile_contracts()


@pytest.fixture(scope="session")
def fixture_artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    """The tiny test contracts of tests/contracts/fixtures/contracts (Counter, Registry)."""
    return compile_contracts(
        source_dir=FIXTURES / "contracts", build_dir=tmp_path_factory.mktemp("fixture-build")
    )


@pytest.fixture
def chain_snapshot(w3: Web3) -> Iterator[str]:
    """Revert the session chain to its state before the test (evm_snapshot / evm_revert).

    Nonces go back too: create TxSender objects inside the test, not across tests.
    """
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield snapshot
    reply = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    assert reply.get("result") is True, f"evm_revert failed: {reply}"


@pytest.fixture(scope="session")
def ganache() -> Iterator[Devnet]:
    """Opt-in Ganache node (slow to start: ~5 s); request it explicitly."""
    node = start_devnet(kind="ganache", accounts=10)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def ganache_w3(ganache: Devnet) -> Web3:
    return connect(ganache.rpc_url)
