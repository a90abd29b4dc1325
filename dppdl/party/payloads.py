"""Off-chain payloads other than gradients: DP-GAN samples, labels, mask-key reveals (npy/JSON)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import numpy as np

from dppdl.errors import DppdlError

N_CLASSES = 10


class PayloadError(DppdlError, ValueError):
    """A public payload fetched from storage is malformed (bad format, shape or range)."""


def _to_npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _from_npy(data: bytes, what: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise PayloadError(f"{what} blob is not a valid .npy array: {exc}") from None


def encode_samples(samples: np.ndarray) -> bytes:
    """All rounds of a party's released DP-GAN samples: float32 (rounds, u, 1, 32, 32)."""
    if samples.ndim != 5 or samples.shape[2:] != (1, 32, 32):
        raise ValueError(f"samples must be (rounds, u, 1, 32, 32), got {samples.shape}")
    return _to_npy(np.ascontiguousarray(samples, dtype=np.float32))


def decode_samples(data: bytes, *, rounds: int) -> np.ndarray:
    array = _from_npy(data, "samples")
    if (
        array.dtype != np.float32
        or array.ndim != 5
        or array.shape[0] != rounds
        or array.shape[2:] != (1, 32, 32)
        or array.shape[1] < 1
    ):
        raise PayloadError(
            f"samples blob has dtype {array.dtype} and shape {array.shape}, expected float32 "
            f"({rounds}, u, 1, 32, 32)"
        )
    if not np.isfinite(array).all():
        raise PayloadError("samples blob holds non-finite values")
    return array


SAMPLES_INDEX_MAGIC = b"DPPDL samples index 1\n"
# Data bytes per samples chunk: a publisher's rounds of samples grow with epochs and ε_i·|D_i|
# (90 epochs of 213 samples are 79 MB) past what one blob may hold (storage's 64 MiB).
SAMPLES_CHUNK_BYTES = 16 * 1024 * 1024


def encode_sample_chunks(
    samples: np.ndarray, *, chunk_bytes: int = SAMPLES_CHUNK_BYTES
) -> list[tuple[bytes, int]]:
    """`encode_samples` of consecutive runs of whole rounds, each at most `chunk_bytes` of
    data (at least one round): (blob, rounds) in order. One chunk is the plain samples blob."""
    per_round = max(1, int(np.asarray(samples[0], dtype=np.float32).nbytes))
    step = max(1, chunk_bytes // per_round)
    return [(encode_samples(samples[lo : lo + step]), len(samples[lo : lo + step]))
            for lo in range(0, len(samples), step)]  # fmt: skip


def encode_sample_index(chunks: list[tuple[bytes, int]]) -> bytes:
    """The blob whose digest a publisher posts when its samples take several chunks: the
    chunks' (sha2-256 digest, rounds) in order."""
    body = [[digest.hex(), rounds] for digest, rounds in chunks]
    return SAMPLES_INDEX_MAGIC + json.dumps(body).encode()


def decode_sample_index(data: bytes, *, rounds: int) -> list[tuple[bytes, int]] | None:
    """The chunks an index blob lists, None if `data` is not an index (a plain samples blob).
    The chunks' rounds must add up to `rounds`."""
    if not data.startswith(SAMPLES_INDEX_MAGIC):
        return None
    try:
        body = json.loads(data[len(SAMPLES_INDEX_MAGIC) :])
        chunks = [(bytes.fromhex(d), int(r)) for d, r in body]
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"samples index blob is malformed: {exc}") from None
    if (not chunks or any(len(d) != 32 or r < 1 for d, r in chunks)
            or sum(r for _, r in chunks) != rounds):  # fmt: skip
        raise PayloadError(f"samples index blob lists {[r for _, r in chunks]} rounds of "
                           f"32-byte digests, expected {rounds} in all")  # fmt: skip
    return chunks


LABEL_SETS_MAGIC = b"DPPDL label sets 1\n"
_HEADER_LENGTH = 4  # bytes of the big-endian length of the JSON header that follows the magic


def encode_labels(labels: np.ndarray) -> bytes:
    """One labeller's labels for one publisher's samples of one round: int8 (u,) as .npy (what
    agents posted, one blob per publisher, before label sets)."""
    return _to_npy(np.asarray(labels, dtype=np.int8))


def encode_label_sets(sets: Mapping[str, np.ndarray]) -> bytes:
    """One labeller's labels for every publisher's samples of one round, in one blob (one put
    instead of one per publisher; the digests are public on-chain either way).

    Layout: `LABEL_SETS_MAGIC`, a 4-byte big-endian header length, a JSON header
    ``[[publisher address in lower-case hex, count], ...]``, then each publisher's labels as
    int8 in header order."""
    header = json.dumps([[a.lower(), int(np.asarray(v).shape[0])] for a, v in sets.items()])
    raw = header.encode()
    body = b"".join(np.asarray(v, dtype=np.int8).tobytes() for v in sets.values())
    return LABEL_SETS_MAGIC + len(raw).to_bytes(_HEADER_LENGTH, "big") + raw + body


def decode_labels(data: bytes, *, count: int, publisher: str) -> np.ndarray:
    """`publisher`'s `count` labels from a labeller's blob: its part of a label-sets blob, or a
    whole single-publisher .npy blob."""
    if data.startswith(LABEL_SETS_MAGIC):
        array = _label_set_of(data, publisher)
    else:
        array = _from_npy(data, "labels")
    if array.dtype != np.int8 or array.shape != (count,):
        raise PayloadError(
            f"labels blob has dtype {array.dtype} and shape {array.shape}, expected int8 ({count},)"
        )
    if array.min(initial=0) < 0 or array.max(initial=0) >= N_CLASSES:
        raise PayloadError("labels blob holds a label outside 0..9")
    return array.astype(np.int64)


def _label_set_of(data: bytes, publisher: str) -> np.ndarray:
    start = len(LABEL_SETS_MAGIC) + _HEADER_LENGTH
    size = int.from_bytes(data[len(LABEL_SETS_MAGIC) : start], "big")
    try:
        header = json.loads(data[start : start + size])
        entries = [(str(a), int(n)) for a, n in header]
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"label-sets blob has a malformed header: {exc}") from None
    body = data[start + size :]
    if len(data) < start + size or any(n < 0 for _, n in entries) or sum(
            n for _, n in entries) != len(body):  # fmt: skip
        raise PayloadError("label-sets blob's header does not match its length")
    if len({a for a, _ in entries}) != len(entries):
        raise PayloadError("label-sets blob names a publisher twice")
    offset = 0
    for address, n in entries:
        if address == publisher.lower():
            return np.frombuffer(body, dtype=np.int8, count=n, offset=offset).copy()
        offset += n
    raise PayloadError(f"label-sets blob holds no labels for {publisher}")


def encode_reveal(*, receiver: bytes, epoch: int, keys: dict[bytes, bytes]) -> bytes:
    """A sender's per-(task, epoch, receiver) slot keys shared with dropped senders (JSON)."""
    doc = {
        "receiver": receiver.hex(),
        "epoch": epoch,
        "keys": {peer.hex(): key.hex() for peer, key in sorted(keys.items())},
    }
    return json.dumps(doc, sort_keys=True).encode()


def decode_reveal(data: bytes, *, receiver: bytes, epoch: int) -> dict[bytes, bytes]:
    try:
        doc = json.loads(data)
        if doc["receiver"] != receiver.hex() or doc["epoch"] != epoch:
            raise PayloadError("reveal blob is for another receiver or epoch")
        keys = {bytes.fromhex(p): bytes.fromhex(k) for p, k in doc["keys"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"malformed reveal blob: {exc!r}") from None
    if any(len(p) != 20 or len(k) != 32 for p, k in keys.items()):
        raise PayloadError("reveal blob holds a malformed address or key")
    return keys
