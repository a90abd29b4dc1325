"""Dev accounts, key files and devnet argument checks, without starting a node."""

from __future__ import annotations

from pathlib import Path

import pytest

from dppdl.chain import paths
from dppdl.chain.devnet import PublicKeyWarning, dev_accounts, start_devnet
from dppdl.chain.keys import load_account, load_key_file
from dppdl.errors import ConfigError, UserError

# Well-known first two addresses of "test test ... junk" (Anvil/Hardhat print them too).
ADDR0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ADDR1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_dev_accounts_are_the_well_known_ones_and_warn() -> None:
    with pytest.warns(PublicKeyWarning, match="PUBLIC"):
        accounts = dev_accounts(2)
    assert [a.address for a in accounts] == [ADDR0, ADDR1]


def test_key_files(tmp_path: Path) -> None:
    with pytest.warns(PublicKeyWarning):
        key = dev_accounts(1)[0].key.hex()
    (tmp_path / "k").write_text(key + "\n")
    (tmp_path / "bad").write_text("zz")
    assert load_key_file(tmp_path / "k").address == ADDR0
    with pytest.raises(UserError, match="no valid hex private key"):
        load_key_file(tmp_path / "bad")
    with pytest.raises(UserError, match="cannot read key file"):
        load_key_file(tmp_path / "missing")


def test_dev_accounts_only_on_devnet_chain_ids() -> None:
    with pytest.warns(PublicKeyWarning):
        assert load_account(dev_account=1, chain_id=31337).address == ADDR1
    with pytest.raises(UserError, match="not a local devnet"):
        load_account(chain_id=1)


def test_devnet_arguments_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown devnet kind"):
        start_devnet(kind="geth")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="block_time"):
        start_devnet(block_time=0)
    monkeypatch.setattr(paths, "devnet_dir", lambda: tmp_path)
    with pytest.raises(UserError, match="npm ci --ignore-scripts"):
        start_devnet()
