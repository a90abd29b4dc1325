"""SRU fixed point: floats ↔ a 32- or 64-bit ring, where wrap-around arithmetic is the modulus."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dppdl.crypto.errors import CodecError
from dppdl.errors import ConfigError

RING_BITS = (32, 64)  # supported ring widths: uint32 or uint64 words
RING_WORDS = (np.dtype(np.uint32), np.dtype(np.uint64))  # their word types, in that order
_CHUNK = 8192  # elements per encode step (64 KiB of float64 scratch)


def ring_dtype(ring_bits: int) -> np.dtype:
    """The unsigned word type of the ring Z_(2^ring_bits)."""
    if ring_bits not in RING_BITS:
        raise CodecError(f"ring_bits must be 32 or 64, got {ring_bits!r}")
    return RING_WORDS[RING_BITS.index(ring_bits)]


def _signed_max(ring_bits: int) -> int:
    return 2 ** (ring_bits - 1) - 1


def max_abs_encoded(*, frac_bits: int, clip: float) -> int:
    """Largest |integer| one encoded entry can take: ceil(clip · 2^frac_bits)."""
    return math.ceil(math.ldexp(clip, frac_bits))


def max_parties(*, frac_bits: int, clip: float, ring_bits: int) -> int:
    """Most vectors whose ring sum still decodes exactly: n · ceil(clip·2^f) ≤ 2^(bits−1) − 1."""
    ring_dtype(ring_bits)
    return _signed_max(ring_bits) // max(1, max_abs_encoded(frac_bits=frac_bits, clip=clip))


def encode(x: np.ndarray, *, frac_bits: int, clip: float, ring_bits: int) -> np.ndarray:
    """round(clip(x)·2^f) mod 2^bits as uint32/uint64 (same shape); beyond ±clip is clipped."""
    words = ring_dtype(ring_bits)
    if max_abs_encoded(frac_bits=frac_bits, clip=clip) > _signed_max(ring_bits):
        raise CodecError(f"clip·2^frac_bits must stay below 2^{ring_bits - 1} "
                         f"(frac_bits={frac_bits}, clip={clip})")  # fmt: skip
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise CodecError(f"cannot encode dtype {arr.dtype}; pass a real-valued array")
    flat = arr.reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.dtype(f"i{words.itemsize}"))
    scale = math.ldexp(1.0, frac_bits)
    tmp = np.empty(min(_CHUNK, flat.shape[0]), dtype=np.float64)
    for start in range(0, flat.shape[0], _CHUNK):  # cache-sized steps: no 1 MB temporaries
        seg = tmp[: min(_CHUNK, flat.shape[0] - start)]
        np.copyto(seg, flat[start : start + seg.shape[0]], casting="unsafe")
        if not np.isfinite(seg).all():
            raise CodecError("cannot encode NaN or infinite values")
        np.clip(seg, -clip, clip, out=seg)
        np.multiply(seg, scale, out=seg)
        np.rint(seg, out=seg)
        np.copyto(out[start : start + seg.shape[0]], seg, casting="unsafe")
    return out.view(words).reshape(arr.shape)


def decode(r: np.ndarray, *, frac_bits: int, dtype: type = np.float32) -> np.ndarray:
    """Two's-complement reading of ring words (uint32 or uint64), divided by 2^f, as `dtype`."""
    arr = np.asarray(r)
    if arr.dtype not in (np.uint32, np.uint64):
        raise CodecError(f"decode expects uint32 or uint64 ring words, got {arr.dtype}")
    signed = arr.view(np.dtype(f"i{arr.dtype.itemsize}")).astype(np.float64)
    return (signed * math.ldexp(1.0, -frac_bits)).astype(dtype)


@dataclass(frozen=True)
class CodecConfig:
    """Fixed-point settings shared by every party of a task.

    The default 32-bit ring halves the bytes of every blob against 64 bits. Its bound,
    256 · 2^22 < 2^31, lets any roster the contract allows (up to 256 parties) sum entries of
    up to ±1.0 exactly; MNIST updates at the paper's learning rate stay below 0.15
    (docs/PERFORMANCE.md), and larger entries are clipped (the agent logs how many).
    """

    frac_bits: int = 22  # resolution 2^-22 ≈ 2.4e-7
    clip: float = 1.0  # |entry| bound; larger gradient entries are clipped to ±clip
    max_summands: int = 256  # most vectors ever summed in one ring (senders to one receiver)
    ring_bits: int = 32  # 32 or 64: the word size of the masked vectors

    def __post_init__(self) -> None:
        if isinstance(self.ring_bits, bool) or self.ring_bits not in RING_BITS:
            raise ConfigError(f"ring_bits must be 32 or 64, got {self.ring_bits!r}")
        if isinstance(self.frac_bits, bool) or not isinstance(self.frac_bits, int):
            raise ConfigError("frac_bits must be an integer")
        if not 0 <= self.frac_bits <= 52:
            raise ConfigError(f"frac_bits must be in [0, 52], got {self.frac_bits}")
        if not (isinstance(self.clip, int | float) and math.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"clip must be a positive finite number, got {self.clip!r}")
        if isinstance(self.max_summands, bool) or not isinstance(self.max_summands, int):
            raise ConfigError("max_summands must be an integer")
        if self.max_summands < 1:
            raise ConfigError("max_summands must be at least 1")
        limit = max_parties(frac_bits=self.frac_bits, clip=self.clip, ring_bits=self.ring_bits)
        if self.max_summands > limit:
            raise ConfigError(
                f"a sum of {self.max_summands} vectors can overflow with frac_bits="
                f"{self.frac_bits}, clip={self.clip}: at most {limit} fit in {self.ring_bits} bits"
            )

    @classmethod
    def for_ring(cls, ring_bits: int) -> CodecConfig:
        """The default settings of a ring: 32 bits as above; 64 bits as every task had before
        2026-12-07 (a grid of 2^-24, entries up to ±64, up to 1,024 summands)."""
        if ring_bits == 64:
            return cls(frac_bits=24, clip=64.0, max_summands=1024, ring_bits=64)
        return cls(ring_bits=ring_bits)  # 32: the defaults; anything else is refused there

    @property
    def resolution(self) -> float:
        """Step of the fixed-point grid, 2^-frac_bits."""
        return math.ldexp(1.0, -self.frac_bits)

    @property
    def word_dtype(self) -> np.dtype:
        """uint32 or uint64: the type of an encoded, masked or summed vector."""
        return ring_dtype(self.ring_bits)

    def clipped(self, x: np.ndarray) -> int:
        """How many entries of `x` lie beyond ±clip (what `encode` would clip)."""
        return int(np.count_nonzero(np.abs(np.asarray(x)) > self.clip))

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Encode with this configuration."""
        return encode(x, frac_bits=self.frac_bits, clip=self.clip, ring_bits=self.ring_bits)

    def decode(self, r: np.ndarray, *, dtype: type = np.float32) -> np.ndarray:
        """Decode with this configuration; words of the other ring width are refused."""
        if np.asarray(r).dtype != self.word_dtype:
            raise CodecError(f"expected {self.ring_bits}-bit ring words, got {np.asarray(r).dtype}")
        return decode(r, frac_bits=self.frac_bits, dtype=dtype)
