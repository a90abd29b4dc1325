"""SRU codec: round-trip bound, overflow bound, config validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dppdl.crypto import CodecConfig, decode, encode, max_parties
from dppdl.crypto.errors import CodecError
from dppdl.errors import ConfigError

FRAC = st.integers(min_value=8, max_value=30)
CLIP = st.sampled_from([1.0, 4.0, 64.0, 1000.0])
# (ring bits, frac bits, clip) drawn so that clip·2^f fits the signed half of the ring
RING = st.one_of(
    st.tuples(st.just(64), FRAC, CLIP),
    st.tuples(st.just(32), st.integers(4, 20), st.sampled_from([1.0, 4.0, 64.0])),
)


@given(ring=RING, data=st.data())
@settings(max_examples=80, deadline=None)
def test_round_trip_error_at_most_resolution(
    ring: tuple[int, int, float], data: st.DataObject
) -> None:
    # Prepare
    bits, frac, clip = ring
    x = data.draw(
        hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-clip, clip, width=32))
    )
    # Execute
    words = encode(x, frac_bits=frac, clip=clip, ring_bits=bits)
    back32 = decode(words, frac_bits=frac)
    back64 = decode(words, frac_bits=frac, dtype=np.float64)
    # Assert
    assert words.dtype == (np.uint32 if bits == 32 else np.uint64)
    assert back32.dtype == np.float32
    assert np.max(np.abs(back64 - x.astype(np.float64))) <= math.ldexp(1.0, -frac - 1)
    assert np.max(np.abs(back32.astype(np.float64) - x)) <= math.ldexp(1.0, -frac)


@given(ring=RING, data=st.data())
@settings(max_examples=80, deadline=None)
def test_sum_of_n_vectors_within_bound_never_wraps(
    ring: tuple[int, int, float], data: st.DataObject
) -> None:
    # Prepare: n vectors at the extreme ±clip, n as large as the stated bound allows (capped)
    bits, frac, clip = ring
    n = min(max_parties(frac_bits=frac, clip=clip, ring_bits=bits), 64)
    signs = data.draw(hnp.arrays(np.int8, (n, 8), elements=st.sampled_from([-1, 1])))
    vectors = signs.astype(np.float64) * clip
    # Execute
    total = np.zeros(8, dtype=np.uint32 if bits == 32 else np.uint64)
    for v in vectors:
        total += encode(v, frac_bits=frac, clip=clip, ring_bits=bits)
    # Assert
    expected = vectors.sum(axis=0)
    got = decode(total, frac_bits=frac, dtype=np.float64)
    assert np.allclose(got, expected, atol=n * math.ldexp(1.0, -frac))


@pytest.mark.parametrize("bits, frac, clip, fits", [
    (64, 60, 2.0, 3),  # 2·2^60 per entry: only 3 such entries fit below 2^63
    (32, 28, 2.0, 3),  # 2·2^28 per entry: only 3 fit below 2^31
    (32, 22, 1.0, 511),  # the default 32-bit codec: 511 entries of ±1.0
])  # fmt: skip
def test_overflow_bound_is_tight(bits: int, frac: int, clip: float, fits: int) -> None:
    # Prepare: the stated bound
    n = max_parties(frac_bits=frac, clip=clip, ring_bits=bits)
    one = encode(np.array([clip]), frac_bits=frac, clip=clip, ring_bits=bits)
    # Execute
    ring_ok = sum((one for _ in range(n)), start=np.zeros(1, one.dtype))
    ring_bad = ring_ok + one
    # Assert: n summands decode correctly, n + 1 wrap to a negative number
    assert n == fits
    assert decode(ring_ok, frac_bits=frac, dtype=np.float64)[0] == n * clip
    assert decode(ring_bad, frac_bits=frac, dtype=np.float64)[0] < 0


@pytest.mark.parametrize("bits", [32, 64])
def test_values_beyond_clip_are_clipped(bits: int) -> None:
    x = np.array([100.0, -100.0, 3.0])
    out = decode(encode(x, frac_bits=10, clip=4.0, ring_bits=bits), frac_bits=10)
    assert out.tolist() == [4.0, -4.0, 3.0]
    assert CodecConfig(frac_bits=10, clip=4.0, ring_bits=bits).clipped(x) == 2


def test_known_answer_encoding() -> None:
    x = np.array([1.5, -1.0, 0.0], dtype=np.float32)
    ring = encode(x, frac_bits=24, clip=64.0, ring_bits=64)
    assert ring.tolist() == [3 << 23, 2**64 - (1 << 24), 0]
    ring = encode(x, frac_bits=22, clip=1.0, ring_bits=32)
    assert ring.dtype == np.uint32
    assert ring.tolist() == [1 << 22, 2**32 - (1 << 22), 0]  # 1.5 is clipped to 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad: float) -> None:
    with pytest.raises(CodecError, match="NaN or infinite"):
        encode(np.array([0.0, bad]), frac_bits=24, clip=64.0, ring_bits=64)


def test_decode_rejects_non_ring_dtype_and_the_other_ring() -> None:
    with pytest.raises(CodecError, match="uint32 or uint64"):
        decode(np.zeros(3, dtype=np.int64), frac_bits=24)
    with pytest.raises(CodecError, match="expected 32-bit ring words"):
        CodecConfig().decode(np.zeros(3, dtype=np.uint64))
    with pytest.raises(CodecError, match="ring_bits must be 32 or 64"):
        encode(np.zeros(3), frac_bits=10, clip=1.0, ring_bits=16)
    with pytest.raises(CodecError, match="below 2\\^31"):
        encode(np.zeros(3), frac_bits=31, clip=1.0, ring_bits=32)


def test_config_defaults_and_methods() -> None:
    cfg = CodecConfig()
    x = np.array([0.25, -0.75], dtype=np.float32)
    assert cfg.decode(cfg.encode(x)).tolist() == [0.25, -0.75]
    assert cfg.encode(x).dtype == np.uint32 and cfg.word_dtype == np.uint32
    assert cfg.resolution == 2.0**-22
    # the default bound covers every roster the contract allows (3..256 parties)
    assert cfg.max_summands == 256 <= max_parties(frac_bits=22, clip=1.0, ring_bits=32)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frac_bits": 60}, "frac_bits"),
        ({"frac_bits": 1.5}, "integer"),
        ({"clip": 0.0}, "clip"),
        ({"clip": float("inf")}, "clip"),
        ({"max_summands": 0}, "at least 1"),
        ({"frac_bits": 52, "clip": 64.0, "max_summands": 32, "ring_bits": 64}, "overflow"),
        ({"frac_bits": 40, "clip": 1024.0, "max_summands": 10_000, "ring_bits": 64}, "overflow"),
        ({"frac_bits": 24, "clip": 1.0, "max_summands": 256}, "at most 127 fit in 32 bits"),
        ({"ring_bits": 16}, "ring_bits must be 32 or 64"),
        ({"ring_bits": True}, "ring_bits must be 32 or 64"),
    ],
)
def test_config_rejects_unsafe_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CodecConfig(**kwargs)  # type: ignore[arg-type]
