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
from dppdl.learning.prepared import Part, PreparedCache, prepared_key, restore_all
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


def prepared(cache: PreparedCache, **kw: object) -> Participant:
    p = party(**kw)
    model, gan = cache.model_entry(p), cache.gan_entry(p)
    p.pretrain()
    p.train_gan()
    model.save(), gan.save()
    return p


def restore(cache: PreparedCache, p: Participant) -> tuple[bool, bool]:
    return cache.model_entry(p).restore(), cache.gan_entry(p).restore()


def test_a_restore_is_the_training_it_replaces(tmp_path: Path) -> None:
    # Prepare
    cache = PreparedCache(tmp_path)
    trained = prepared(cache)
    # Execute
    restored = party()
    hits = restore(cache, restored)
    # Assert: same weights, SGD stream, step count and DP-GAN; the next epoch and samples agree
    assert hits == (True, True)
    assert np.array_equal(restored.params(), trained.params())
    assert restored.steps == trained.steps > 0
    assert restored.gan is not None and trained.gan is not None
    assert restored.gan.dp_epsilon_spent == trained.gan.dp_epsilon_spent
    assert torch.equal(restored.release_samples(round=1), trained.release_samples(round=1))
    assert np.array_equal(restored.local_update(), trained.local_update())


def test_the_other_model_of_a_party_restores_its_dp_gan_and_trains_its_own_classifier(
    tmp_path: Path,
) -> None:
    # Prepare: the MLP party prepared and stored; the same party with a CNN trained afresh
    cache = PreparedCache(tmp_path)
    prepared(cache)
    trained_cnn = party(model_name="cnn")
    trained_cnn.train_gan()
    # Execute
    cnn = party(model_name="cnn")
    hits = restore(cache, cnn)
    # Assert: the DP-GAN is the one the CNN party would have trained; its classifier is not
    assert hits == (False, True)
    assert cnn.steps == 0 and cnn.gan is not None
    assert torch.equal(cnn.release_samples(round=2), trained_cnn.release_samples(round=2))
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_each_key_reads_every_input_of_its_half(tmp_path: Path) -> None:
    x = party().x.clone()
    x[0, 0, 0, 0] += 1e-3
    variants = {
        "x": party(x=x), "seed": party(seed=8), "index": party(index=2),
        "model": party(model_name="cnn"), "train": party(train_config=replace(TRAIN, lr=0.02)),
        "gan": party(gan_config=replace(GAN, epochs=2)),
    }
    reads: dict[Part, set[str]] = {
        "model": {"x", "seed", "index", "model", "train"}, "gan": {"x", "seed", "index", "gan"},
    }
    for part, inputs in reads.items():
        base = prepared_key(party(), part)
        assert prepared_key(party(), part) == base
        for name, p in variants.items():
            changed = prepared_key(p, part) != base
            assert changed == (name in inputs), (part, name)
    assert prepared_key(party(), "model") != prepared_key(party(), "gan")
    p = party()
    p.pretrain()
    with pytest.raises(ValueError, match="model is already prepared"):
        prepared_key(p, "model")
    p.train_gan()
    with pytest.raises(ValueError, match="gan is already prepared"):
        prepared_key(p, "gan")


def test_a_miss_leaves_the_party_untouched(tmp_path: Path) -> None:
    p = party()
    before = p.params()
    assert restore(PreparedCache(tmp_path), p) == (False, False)
    assert p.steps == 0 and p.gan is None and np.array_equal(p.params(), before)


def test_a_batch_restores_all_its_models_or_none(tmp_path: Path) -> None:
    # Prepare: two parties stored, then one entry removed and the other truncated
    cache = PreparedCache(tmp_path, log=lambda line: None)
    prepared(cache), prepared(cache, index=2)
    batch = [party(), party(index=2)]
    assert restore_all(cache.model_entries(batch, batched=False))
    missing = [party(), party(index=2)]
    entries = cache.model_entries(missing, batched=False)
    entries[1].path.unlink()
    damaged = [party(), party(index=2)]
    prepared(cache, index=2)
    cut = cache.model_entries(damaged, batched=False)
    cut[1].path.write_bytes(cut[1].path.read_bytes()[:100])
    # Execute and assert: nothing restored, not even the first party
    for parties, es in ((missing, entries), (damaged, cut)):
        assert not restore_all(es)
        assert [p.steps for p in parties] == [0, 0]
    assert not restore_all([])


@pytest.mark.parametrize("part", ["model", "gan"])
@pytest.mark.parametrize("damage", ["truncated", "other-key"])
def test_a_damaged_entry_is_reported_missed_and_replaced(
    tmp_path: Path, damage: str, part: str
) -> None:
    # Prepare: an entry whose file is cut short, or holds another key's state
    lines: list[str] = []
    cache = PreparedCache(tmp_path, log=lines.append)
    prepared(cache)
    entry_of = cache.model_entry if part == "model" else cache.gan_entry
    path = entry_of(party()).path
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        other = party(seed=8)
        model, gan = cache.model_entry(other), cache.gan_entry(other)
        other.pretrain()
        other.train_gan()
        (model if part == "model" else gan).save().replace(path)  # type: ignore[union-attr]
    # Execute
    p = party()
    hit = entry_of(p).restore()
    # Assert
    assert not hit and p.steps == 0 and p.gan is None
    assert len(lines) == 1 and path.name in lines[0] and "training afresh" in lines[0]
    again = prepared(cache)
    fresh = party()
    assert restore(cache, fresh) == (True, True)
    assert np.array_equal(fresh.params(), again.params())


def test_saving_an_unprepared_half_is_refused(tmp_path: Path) -> None:
    cache = PreparedCache(tmp_path)
    with pytest.raises(ValueError, match="not pretrained"):
        cache.model_entry(party()).save()
    with pytest.raises(ValueError, match="no DP-GAN"):
        cache.gan_entry(party()).save()
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
    model, gan = cache.model_entry(p), cache.gan_entry(p)
    p.pretrain()
    p.train_gan()
    assert model.save() is None and gan.save() is None
    assert len(lines) == 2 and all("cannot store" in line for line in lines)


def test_a_party_without_a_dp_gan_says_so() -> None:
    p = party()
    for use in (lambda: p.trained_gan, lambda: p.release_samples(round=0)):
        with pytest.raises(RuntimeError, match="party 1: its DP-GAN is not trained yet"):
            use()
    p.train_gan()
    assert p.trained_gan is p.gan
