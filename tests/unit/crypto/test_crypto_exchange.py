"""All three layers end to end: sums open, individuals stay hidden, dropouts recover."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import numpy as np
import pytest
from conftest import Network
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dppdl.crypto import CodecConfig, Slot, encrypt_for, mask_for, open_blob, open_sum
from dppdl.crypto.errors import CryptoInputError, MaskError, SenderBlobError, TooFewSendersError
from dppdl.crypto.masks import add_pair_stream
from dppdl.errors import DecryptionError

CODEC = CodecConfig()  # the default: a 32-bit ring, entries within ±1.0
CODEC64 = CodecConfig.for_ring(64)  # the ring every task had before


class _Ids(TypedDict):
    task: int
    epoch: int
    request_id: int


IDS: _Ids = {"task": 4, "epoch": 2, "request_id": 9}
MASK_IDS = {"task": 4, "epoch": 2, "round_id": 0}  # masks are per (task, epoch, receiver, round)


def opening(blobs: dict[bytes, bytes]) -> dict[str, object]:
    """open_sum's slot arguments: every arrived sender sealed for request 9."""
    return {"task": 4, "epoch": 2, "request_ids": {s: 9 for s in blobs}}


def upload_all(
    net: Network, receiver: bytes, senders: list[bytes], grads: dict[bytes, np.ndarray],
    codec: CodecConfig = CODEC,
) -> dict[bytes, bytes]:  # fmt: skip
    return {
        s: encrypt_for(
            grads[s],
            slot=Slot(sender=s, receiver=receiver, **IDS),
            masks=net.masks[s],
            senders=senders,
            codec=codec,
        ).data  # fmt: skip
        for s in grads
    }


def tolerance(n: int, total: np.ndarray, codec: CodecConfig = CODEC) -> np.ndarray:
    return n * codec.resolution + np.abs(total) * 2.0**-23


@given(n=st.integers(2, 6), receiver_index=st.integers(0, 6),
       codec=st.sampled_from([CODEC, CODEC64]), data=st.data())  # fmt: skip
@settings(max_examples=40, deadline=None)
def test_sum_of_ciphertexts_opens_to_sum_of_plaintexts(
    network_of: Callable[[int], Network], n: int, receiver_index: int, codec: CodecConfig,
    data: st.DataObject,
) -> None:  # fmt: skip
    # Prepare
    net = network_of(7)
    members = [p.address for p in net.parties[: n + 1]]
    receiver = members[receiver_index % len(members)]
    senders = [a for a in members if a != receiver]
    length = data.draw(st.integers(1, 30))
    floats = st.floats(-codec.clip, codec.clip, width=32)
    grads = {s: data.draw(hnp.arrays(np.float32, length, elements=floats)) for s in senders}
    # Execute
    blobs = upload_all(net, receiver, senders, grads, codec)
    ring = open_sum(blobs, masks=net.masks[receiver], expected_senders=senders,
                    ring_bits=codec.ring_bits, **opening(blobs))  # fmt: skip
    # Assert
    assert ring.dtype == codec.word_dtype
    exact = np.sum([g.astype(np.float64) for g in grads.values()], axis=0)
    error = np.abs(codec.decode(ring).astype(np.float64) - exact)
    assert np.all(error <= tolerance(n, exact, codec))


def test_a_blob_of_the_other_ring_width_is_its_senders_fault(
    network_of: Callable[[int], Network],
) -> None:
    # Prepare: three senders to r; b seals 64-bit words in a task whose ring is 32-bit
    net = network_of(4)
    r, a, b, c = (p.address for p in net.parties)
    grads = {s: np.full(5, 0.25, np.float32) for s in (a, b, c)}
    blobs = upload_all(net, r, [a, b, c], grads)
    blobs[b] = upload_all(net, r, [a, b, c], {b: grads[b]}, CODEC64)[b]
    # Execute / Assert: b is named, whichever blob is opened first
    for first in (a, b):
        ordered = {first: blobs[first], **blobs}
        with pytest.raises(SenderBlobError, match="64-bit words") as err:
            open_sum(ordered, masks=net.masks[r], expected_senders=[a, b, c],
                     ring_bits=32, **opening(ordered))  # fmt: skip
        assert err.value.sender == b


def test_sender_order_in_mapping_does_not_matter(network_of: Callable[[int], Network]) -> None:
    net = network_of(4)
    r, *senders = (p.address for p in net.parties)
    grads = {s: np.full(5, i / 4 + 0.125, dtype=np.float32) for i, s in enumerate(senders)}
    blobs = upload_all(net, r, senders, grads)
    reordered = dict(reversed(list(blobs.items())))
    ring = open_sum(
        reordered,
        masks=net.masks[r],
        expected_senders=list(reversed(senders)),
        **opening(reordered),
    )
    assert CODEC.decode(ring).tolist() == [1.125] * 5


def _top_byte_chi_square(values: np.ndarray) -> float:
    shift = 8 * values.dtype.itemsize - 8
    counts = np.bincount((values >> values.dtype.type(shift)).astype(np.int64), minlength=256)
    expected = values.size / 256
    return float(((counts - expected) ** 2 / expected).sum())


def test_one_ciphertext_stays_uniform_with_everything_the_receiver_knows(
    network_of: Callable[[int], Network],
) -> None:
    # Prepare: receiver r, two senders; a strongly structured gradient from sender a
    net = network_of(3)
    r, a, b = (p.address for p in net.parties)
    length = 20_000
    grads = {a: np.linspace(-1, 1, length, dtype=np.float32), b: np.ones(length, np.float32)}
    blobs = upload_all(net, r, [a, b], grads)
    # Execute: peel a's blob and strip every mask term r can compute (its own pair with a)
    c_a = open_blob(
        blobs[a], slot=Slot(sender=a, receiver=r, **IDS), receiver_keys=net.parties[0].keys
    )
    best_effort = c_a.copy()
    key_ra = net.masks[r].slot_key(a, receiver=r, **MASK_IDS)
    add_pair_stream(best_effort, key_ra, owner=r, peer=a)  # adds −sign(a, r)·PRG: removes a's term
    total = open_sum(blobs, masks=net.masks[r], expected_senders=[a, b], **opening(blobs))
    # Assert: uniform top byte (5σ bound for 255 dof ≈ 368), while the plain encoding is not
    plain = CODEC.encode(grads[a])
    assert _top_byte_chi_square(best_effort) < 368
    assert _top_byte_chi_square(plain) > 10_000
    assert _top_byte_chi_square(best_effort - plain) < 368  # what remains is a's mask with b
    np.testing.assert_allclose(CODEC.decode(total), grads[a] + grads[b], atol=1e-6)
    # Control: the one key r lacks (a's pair key with b) is exactly what hides a's vector
    key_ab = net.masks[a].slot_key(b, receiver=r, **MASK_IDS)
    add_pair_stream(best_effort, key_ab, owner=b, peer=a)
    assert np.array_equal(best_effort, plain)


def test_dropout_recovery_opens_sum_of_those_who_sent(network_of: Callable[[int], Network]) -> None:
    # Prepare: 5 expected senders, 2 never upload
    net = network_of(6)
    r, *senders = (p.address for p in net.parties)
    dropped = senders[1:3]
    arrived = [s for s in senders if s not in dropped]
    rng = np.random.default_rng(0)
    grads = {s: rng.normal(scale=0.3, size=50).clip(-1, 1).astype(np.float32) for s in arrived}
    blobs = upload_all(net, r, senders, grads)
    revealed = {
        s: net.masks[s].reveal_slot_keys(receiver=r, dropped=dropped, **MASK_IDS) for s in arrived
    }
    # Execute
    ring = open_sum(
        blobs, masks=net.masks[r], expected_senders=senders, revealed=revealed, **opening(blobs)
    )
    # Assert
    exact = np.sum([grads[s].astype(np.float64) for s in arrived], axis=0)
    assert np.all(np.abs(CODEC.decode(ring) - exact) <= tolerance(3, exact))


def test_dropout_without_reveals_is_a_clear_error(network_of: Callable[[int], Network]) -> None:
    net = network_of(4)
    r, *senders = (p.address for p in net.parties)
    grads = {s: np.ones(4, np.float32) for s in senders[:2]}
    blobs = upload_all(net, r, senders, grads)
    partial = {
        senders[0]: net.masks[senders[0]].reveal_slot_keys(
            receiver=r, dropped=[senders[2]], **MASK_IDS
        )
    }
    with pytest.raises(MaskError, match="missing slot key"):
        open_sum(
            blobs, masks=net.masks[r], expected_senders=senders, revealed=partial, **opening(blobs)
        )
    outsider = {**partial, senders[2]: {}}
    with pytest.raises(MaskError, match="non-senders"):
        open_sum(
            blobs, masks=net.masks[r], expected_senders=senders, revealed=outsider, **opening(blobs)
        )


def test_single_sender_is_refused_unless_allowed(network_of: Callable[[int], Network]) -> None:
    # Prepare: three expected senders, two dropped, so the "sum" is one vector
    net = network_of(4)
    r, *senders = (p.address for p in net.parties)
    grads = {senders[0]: np.array([0.5, -0.75], np.float32)}
    blobs = upload_all(net, r, senders, grads)
    revealed = {
        senders[0]: net.masks[senders[0]].reveal_slot_keys(
            receiver=r, dropped=senders[1:], **MASK_IDS
        )
    }
    # Execute / Assert
    with pytest.raises(TooFewSendersError, match="allow_single"):
        open_sum(
            blobs, masks=net.masks[r], expected_senders=senders, revealed=revealed, **opening(blobs)
        )
    ring = open_sum(blobs, masks=net.masks[r], expected_senders=senders, revealed=revealed,
                    allow_single=True, **opening(blobs))  # fmt: skip
    assert CODEC.decode(ring).tolist() == [0.5, -0.75]
    with pytest.raises(TooFewSendersError, match="no blob"):
        open_sum({}, masks=net.masks[r], expected_senders=senders, **opening({}))


def test_one_bad_blob_names_its_sender_and_opens_nothing(
    network_of: Callable[[int], Network],
) -> None:
    # Prepare
    net = network_of(4)
    r, *senders = (p.address for p in net.parties)
    blobs = upload_all(net, r, senders, {s: np.ones(8, np.float32) for s in senders})
    bad = dict(blobs)
    bad[senders[1]] = blobs[senders[1]][:-1] + bytes([blobs[senders[1]][-1] ^ 1])
    # Execute / Assert
    with pytest.raises(SenderBlobError) as info:
        open_sum(bad, masks=net.masks[r], expected_senders=senders, **opening(bad))
    assert info.value.sender == senders[1]
    assert isinstance(info.value, DecryptionError)
    ring = open_sum(blobs, masks=net.masks[r], expected_senders=senders, **opening(blobs))
    assert CODEC.decode(ring).tolist() == [3.0] * 8


def test_blobs_of_different_lengths_are_rejected(network_of: Callable[[int], Network]) -> None:
    net = network_of(4)
    r, *senders = (p.address for p in net.parties)
    grads = {senders[0]: np.ones(4, np.float32), senders[1]: np.ones(5, np.float32)}
    blobs = upload_all(net, r, senders[:2], grads)
    with pytest.raises(SenderBlobError, match="entries") as info:
        open_sum(blobs, masks=net.masks[r], expected_senders=senders[:2], **opening(blobs))
    assert info.value.sender == max(senders[:2])  # the one opened second


def test_blob_moved_to_another_sender_slot_fails(network_of: Callable[[int], Network]) -> None:
    net = network_of(4)
    r, *senders = (p.address for p in net.parties)
    blobs = upload_all(net, r, senders, {s: np.ones(8, np.float32) for s in senders})
    swapped = {**blobs, senders[0]: blobs[senders[1]]}
    with pytest.raises(SenderBlobError, match="another slot"):
        open_sum(swapped, masks=net.masks[r], expected_senders=senders, **opening(swapped))


def test_caller_mistakes_are_clear(network_of: Callable[[int], Network]) -> None:
    net = network_of(4)
    r, a, b, c = (p.address for p in net.parties)
    blobs = upload_all(net, r, [a, b], {a: np.ones(2, np.float32), b: np.ones(2, np.float32)})
    with pytest.raises(CryptoInputError, match="outside the expected"):
        open_sum(blobs, masks=net.masks[r], expected_senders=[a, c], **opening(blobs))
    with pytest.raises(CryptoInputError, match="not the owner"):
        mask_for(np.ones(2), slot=Slot(sender=b, receiver=r, **IDS), masks=net.masks[a],
                 senders=[a, b], codec=CODEC)  # fmt: skip
