"""The three-layer onion end to end: a sender's `encrypt_for` and a receiver's `open_sum`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from dppdl.crypto.blob import SealKind, Slot, check_address, parse_blob
from dppdl.crypto.codec import CodecConfig
from dppdl.crypto.errors import CryptoInputError, SenderBlobError, TooFewSendersError
from dppdl.crypto.masks import PairwiseMasks, members_of
from dppdl.crypto.onion import Rng, SealedBlob, open_blob, open_blob_into, seal_gradient
from dppdl.errors import DecryptionError


def mask_for(
    gradient: np.ndarray, *, slot: Slot, masks: PairwiseMasks, senders: Iterable[bytes],
    codec: CodecConfig, mask_round: int = 0,
) -> np.ndarray:  # fmt: skip
    """Layer 1: encode a float vector and add the sender's zero-sum mask for `slot`.

    Masks are per (task, epoch, receiver, `mask_round`), not per request id: on-chain each
    (receiver, uploader) pair has its own request id, while all senders to one receiver must
    share a mask round. The chain takes one batched request per receiver and epoch, so 0.
    """
    if masks.address != slot.sender:
        raise CryptoInputError("the slot's sender is not the owner of these masks")
    masked = codec.encode(np.asarray(gradient).ravel())
    masks.add_mask(masked, task=slot.task, epoch=slot.epoch, receiver=slot.receiver,
                   round_id=mask_round, senders=senders)  # fmt: skip
    return masked


def encrypt_for(
    gradient: np.ndarray, *, slot: Slot, masks: PairwiseMasks, senders: Iterable[bytes],
    codec: CodecConfig, mask_round: int = 0, seal: SealKind = SealKind.X25519,
    receiver_public_key: bytes | None = None, rng: Rng | None = None,
) -> SealedBlob:  # fmt: skip
    """All three layers for one message; the layer-3 key defaults to the receiver's X25519 key."""
    masked = mask_for(gradient, slot=slot, masks=masks, senders=senders, codec=codec,
                      mask_round=mask_round)
    if receiver_public_key is None:
        if seal is not SealKind.X25519:
            raise CryptoInputError("RSA sealing needs the receiver's RSA public key")
        receiver_public_key = masks.public_key_of(slot.receiver)
    return seal_gradient(masked=masked, slot=slot, receiver_public_key=receiver_public_key,
                         seal=seal, rng=rng)  # fmt: skip


def _check_width(blob: bytes, ring_bits: int) -> None:
    bits = 8 * parse_blob(blob).header.word_bytes
    if bits != ring_bits:
        raise DecryptionError(f"{bits}-bit words, the task's ring is {ring_bits}-bit")


def open_sum(
    blobs: Mapping[bytes, bytes], *, task: int, epoch: int, request_ids: Mapping[bytes, int],
    masks: PairwiseMasks, expected_senders: Iterable[bytes],
    revealed: Mapping[bytes, Mapping[bytes, bytes]] | None = None, allow_single: bool = False,
    mask_round: int = 0, ring_bits: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Peel layers 3 and 2 of every blob, sum, remove the receiver's mask and dropout terms.

    `blobs` maps sender address → blob for the senders that uploaded, `request_ids` maps each
    of them to the request id its blob was sealed for (its slot); the others in
    `expected_senders` count as dropped and need slot keys in `revealed[sender][dropped]`.
    Returns Σ m_j in the ring of the blobs' words (decode with the task's CodecConfig); with
    `ring_bits` (the task's) a blob of another word size is that sender's fault. Opens nothing
    partially: any bad blob raises SenderBlobError (a DecryptionError) naming its sender.
    """
    receiver = masks.address
    expected = members_of(senders=expected_senders, receiver=receiver)
    expected.remove(receiver)
    arrived = sorted(check_address(s, "sender") for s in blobs)
    missing_ids = [s for s in arrived if s not in request_ids]
    if missing_ids:
        raise CryptoInputError(f"no request id for sender 0x{missing_ids[0].hex()}")
    if not set(arrived) <= set(expected):
        raise CryptoInputError("a blob came from a sender outside the expected sender set")
    if not arrived:
        raise TooFewSendersError("no blob arrived: there is no sum to open")
    if len(arrived) < 2 and not allow_single:
        raise TooFewSendersError(
            "only one sender's blob arrived: its sum is that sender's own vector; "
            "pass allow_single=True to open it anyway"
        )
    total: np.ndarray | None = None
    scratch = bytearray()
    for sender in arrived:  # a running sum: the caller gets the total or an exception, never part
        slot = Slot(task=task, epoch=epoch, sender=sender, receiver=receiver,
                    request_id=request_ids[sender])
        try:
            if ring_bits is not None:
                _check_width(blobs[sender], ring_bits)
            if total is None:
                total = open_blob(blobs[sender], slot=slot, receiver_keys=masks.keys)
                scratch = bytearray(total.nbytes)
            else:
                vec = open_blob_into(blobs[sender], slot=slot, receiver_keys=masks.keys,
                                     out=scratch)  # fmt: skip
                np.add(total, vec, out=total)
        except DecryptionError as exc:
            raise SenderBlobError(sender, f"blob from 0x{sender.hex()}: {exc}") from None
    assert total is not None
    masks.unmask(total, task=task, epoch=epoch, round_id=mask_round, senders=expected,
                 arrived=arrived, revealed=revealed)  # fmt: skip
    return total
