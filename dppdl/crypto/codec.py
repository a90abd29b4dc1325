"""SRU fixed point: floats ↔ the uint64 ring, where wrap-around arithmetic is the modulus 2^64."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dppdl.crypto.errors import CodecError
from dppdl.errors import ConfigError

RING_BITS = 64
_SIGNED_MAX = 2 ** (RING_BITS - 1) - 1
_CHUNK = 8192  # elements per encode step (64 KiB of float64 scratch)


def max_abs_encoded(*, frac_bits: int, clip: float) -> int:
    """Largest |integer| one encoded entry can take: ceil(clip · 2^frac_bits)."""
    return math.ceil(math.ldexp(clip, frac_bits))


def max_parties(*, frac_bits: int, clip: float) -> int:
    """Most vectors whose ring sum still decodes exactly: n · ceil(clip·2^f) ≤ 2^63 − 1."""
    return _SIGNED_MAX // max(1, max_abs_encoded(frac_bits=frac_bits, clip=clip))


def encode(x: np.ndarray, *, frac_bits: int, clip: float) -> np.ndarray:
    """round(clip(x)·2^f) mod 2^64 as uint64 (same shape); entries beyond ±clip are clipped."""
    if max_abs_encoded(frac_bits=frac_bits, clip=clip) > _SIGNED_MAX:
        raise CodecError(
            f"clip·2^frac_bits must stay below 2^63 (frac_bits={frac_bits}, clip={clip})"
        )
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise CodecError(f"cannot encode dtype {arr.dtype}; pass a real-valued array")
    flat = arr.reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.int64)
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
    return out.view(np.uint64).reshape(arr.shape)


def decode(r: np.ndarray, *, frac_bits: int, dtype: type = np.float32) -> np.ndarray:
    """Two's-complement reading of ring elements, divided by 2^f, as `dtype` (float32 default)."""
    arr = np.asarray(r)
    if arr.dtype != np.uint64:
        raise CodecError(f"decode expects uint64 ring elements, got {arr.dtype}")
    signed = arr.view(np.int64).astype(np.float64)
    return (signed * math.ldexp(1.0, -frac_bits)).astype(dtype)


@dataclass(frozen=True)
class CodecConfig:
    """Fixed-point settings shared by every party of a task."""

    frac_bits: int = 24  # resolution 2^-24 ≈ 6e-8: finer than float32 near 1.0
    clip: float = 64.0  # |entry| bound; larger gradient entries are clipped to ±clip
    max_summands: int = 1024  # most vectors ever summed in one ring (senders to one receiver)

    def __post_init__(self) -> None:
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
        limit = max_parties(frac_bits=self.frac_bits, clip=self.clip)
        if self.max_summands > limit:
            raise ConfigError(
                f"a sum of {self.max_summands} vectors can overflow with frac_bits="
                f"{self.frac_bits}, clip={self.clip}: at most {limit} fit in 64 bits"
            )

    @property
    def resolution(self) -> float:
        """Step of the fixed-point grid, 2^-frac_bits."""
        return math.ldexp(1.0, -self.frac_bits)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Encode with this configuration."""
        return encode(x, frac_bits=self.frac_bits, clip=self.clip)

    def decode(self, r: np.ndarray, *, dtype: type = np.float32) -> np.ndarray:
        """Decode with this configuration."""
        return decode(r, frac_bits=self.frac_bits, dtype=dtype)
