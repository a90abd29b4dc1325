"""The prepared-learner cache: a restore is the training it replaces, and only for equal inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dppdl.errors import ConfigError
from dppdl.learning.dpgan import DPGANConfig
from dppdl.learning.participant import Participant
from dppdl.learning.prepared import PreparedCache, prepared_key
from dppdl.learning.train import TrainConfig

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TRAIN = TrainConfig(lr=0.01, local_epochs=1)
GAN = DPGANConfig(epochs=1, batch_size=16, width=4, dp=False)


def party(**kw: object) -> Participant:
    g = torch.Generator().manual_seed(11)
    args: dict = dict(
        index=1, x=torch.randn(32, 1, 32, 32, generator=g),
        y=torch.randint(0, 10, (32,), generator=g), privacy_level=0.1, model_name="mlp",
        seed=7, train_config=TRAIN, gan_config=GAN,
    )
    args.update(kw)
    return Participant(**args)


def prepared(cache: PreparedCache) -> Participant:
    p = party()
    entry = cache.entry(p)
    p.pretrain()
    p.train_gan()
    entry.save()
    return p


def test_a_restore_is_the_training_it_replaces(tmp_path: Path) -> None:
    # Prepare
    cache = PreparedCache(tmp_path)
    trained = prepared(cache)
    # Execute
    restored = party()
    hit = cache.entry(restored).restore()
    # Assert: same weights, SGD stream, step count and DP-GAN; the next epoch and samples agree
    assert hit
    assert np.array_equal(restored.params(), trained.params())
    assert restored.steps == trained.steps > 0
    assert restored.gan is not None and trained.gan is not None
    assert restored.gan.dp_epsilon_spent == trained.gan.dp_epsilon_spent
    assert torch.equal(restored.release_samples(round=1), trained.release_samples(round=1))
    assert np.array_equal(restored.local_update(), trained.local_update())


def test_the_key_reads_every_input(tmp_path: Path) -> None:
    base = prepared_key(party())
    x = party().x.clone()
    x[0, 0, 0, 0] += 1e-3
    variants = [
        party(x=x), party(seed=8), party(index=2), party(model_name="cnn"),
        party(train_config=replace(TRAIN, lr=0.02)), party(gan_config=replace(GAN, epochs=2)),
    ]
    keys = [prepared_key(p) for p in variants]
    assert prepared_key(party()) == base
    assert len(set(keys) | {base}) == len(keys) + 1
    p = party()
    p.pretrain()
    with pytest.raises(ValueError, match="already prepared"):
        prepared_key(p)


def test_a_miss_leaves_the_party_untouched(tmp_path: Path) -> None:
    p = party()
    before = p.params()
    assert not PreparedCache(tmp_path).entry(p).restore()
    assert p.steps == 0 and p.gan is None and np.array_equal(p.params(), before)


@pytest.mark.parametrize("damage", ["truncated", "other-key"])
def test_a_damaged_entry_is_reported_missed_and_replaced(tmp_path: Path, damage: str) -> None:
    # Prepare: an entry whose file is cut short, or holds another key's state
    lines: list[str] = []
    cache = PreparedCache(tmp_path, log=lines.append)
    prepared(cache)
    path = cache.entry(party()).path
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        other = party(seed=8)
        entry = cache.entry(other)
        other.pretrain()
        other.train_gan()
        entry.save().replace(path)
    # Execute
    p = party()
    hit = cache.entry(p).restore()
    # Assert
    assert not hit and p.steps == 0 and p.gan is None
    assert len(lines) == 1 and path.name in lines[0] and "training afresh" in lines[0]
    again = prepared(cache)
    fresh = party()
    assert cache.entry(fresh).restore()
    assert np.array_equal(fresh.params(), again.params())


def test_saving_an_unprepared_party_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no DP-GAN"):
        PreparedCache(tmp_path).entry(party()).save()
    assert list(tmp_path.iterdir()) == []


def test_a_cache_that_cannot_be_written_is_refused_early_and_skipped_late(tmp_path: Path) -> None:
    # Prepare: the cache path runs through a plain file
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    lines: list[str] = []
    cache = PreparedCache(blocker / "prepared", log=lines.append)
    # Execute and assert: up front, a one-line ConfigError; after training, a logged skip
    with pytest.raises(ConfigError, match="cannot use .* as the prepared cache"):
        cache.create()
    p = party()
    entry = cache.entry(p)
    p.pretrain()
    p.train_gan()
    assert entry.save() is None
    assert len(lines) == 1 and "cannot store" in lines[0]


def test_a_party_without_a_dp_gan_says_so() -> None:
    p = party()
    for use in (lambda: p.trained_gan, lambda: p.release_samples(round=0)):
        with pytest.raises(RuntimeError, match="party 1: its DP-GAN is not trained yet"):
            use()
    p.train_gan()
    assert p.trained_gan is p.gan
