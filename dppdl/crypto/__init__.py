"""Fixed-point codec, zero-sum masks, onion layers and keys for the gradient exchange."""

from dppdl.crypto.blob import SealKind, Slot, parse_blob
from dppdl.crypto.codec import CodecConfig, decode, encode, max_parties
from dppdl.crypto.exchange import encrypt_for, mask_for, open_sum
from dppdl.crypto.keys import PartyKeys
from dppdl.crypto.masks import PairwiseMasks
from dppdl.crypto.onion import SealedBlob, key_commitment, open_blob, open_with_key, seal_gradient

__all__ = [
    "CodecConfig",
    "PairwiseMasks",
    "PartyKeys",
    "SealKind",
    "SealedBlob",
    "Slot",
    "decode",
    "encode",
    "encrypt_for",
    "key_commitment",
    "mask_for",
    "max_parties",
    "open_blob",
    "open_sum",
    "open_with_key",
    "parse_blob",
    "seal_gradient",
]
