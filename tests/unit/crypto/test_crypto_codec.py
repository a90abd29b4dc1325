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


@given(frac=FRAC, clip=CLIP, data=st.data())
@settings(max_examples=60, deadline=None)
def test_round_trip_error_at_most_resolution(frac: int, clip: float, data: st.DataObject) -> None:
    # Prepare
    x = data.draw(
        hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-clip, clip, width=32))
    )
    # Execute
    back32 = decode(encode(x, frac_bits=frac, clip=clip), frac_bits=frac)
    back64 = decode(encode(x, frac_bits=frac, clip=clip), frac_bits=frac, dtype=np.float64)
    # Assert
    assert back32.dtype == np.float32
    assert np.max(np.abs(back64 - x.astype(np.float64))) <= math.ldexp(1.0, -frac - 1)
    assert np.max(np.abs(back32.astype(np.float64) - x)) <= math.ldexp(1.0, -frac)


@given(frac=FRAC, clip=CLIP, data=st.data())
@settings(max_examples=60, deadline=None)
def test_sum_of_n_vectors_within_bound_never_wraps(
    frac: int, clip: float, data: st.DataObject
) -> None:
    # Prepare: n vectors at the extreme ±clip, n as large as the stated bound allows (capped)
    n = min(max_parties(frac_bits=frac, clip=clip), 64)
    signs = data.draw(hnp.arrays(np.int8, (n, 8), elements=st.sampled_from([-1, 1])))
    vectors = signs.astype(np.float64) * clip
    # Execute
    ring = np.zeros(8, dtype=np.uint64)
    for v in vectors:
        ring += encode(v, frac_bits=frac, clip=clip)
    # Assert
    expected = vectors.sum(axis=0)
    got = decode(ring, frac_bits=frac, dtype=np.float64)
    assert np.allclose(got, expected, atol=n * math.ldexp(1.0, -frac))


def test_overflow_bound_is_tight() -> None:
    # Prepare: a setting where the bound is small enough to exceed
    frac, clip = 60, 2.0  # 2·2^60 per entry: only 3 such entries fit below 2^63
    n = max_parties(frac_bits=frac, clip=clip)
    # Execute
    ring_ok = sum(
        (encode(np.array([clip]), frac_bits=frac, clip=clip) for _ in range(n)),
        start=np.zeros(1, np.uint64),
    )
    ring_bad = ring_ok + encode(np.array([clip]), frac_bits=frac, clip=clip)
    # Assert: n summands decode correctly, n + 1 wrap to a negative number
    assert n == 3
    assert decode(ring_ok, frac_bits=frac, dtype=np.float64)[0] == n * clip
    assert decode(ring_bad, frac_bits=frac, dtype=np.float64)[0] < 0


def test_values_beyond_clip_are_clipped() -> None:
    out = decode(encode(np.array([100.0, -100.0, 3.0]), frac_bits=10, clip=4.0), frac_bits=10)
    assert out.tolist() == [4.0, -4.0, 3.0]


def test_known_answer_encoding() -> None:
    ring = encode(np.array([1.5, -1.0, 0.0], dtype=np.float32), frac_bits=24, clip=64.0)
    assert ring.tolist() == [3 << 23, 2**64 - (1 << 24), 0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad: float) -> None:
    with pytest.raises(CodecError, match="NaN or infinite"):
        encode(np.array([0.0, bad]), frac_bits=24, clip=64.0)


def test_decode_rejects_non_ring_dtype() -> None:
    with pytest.raises(CodecError, match="uint64"):
        decode(np.zeros(3, dtype=np.int64), frac_bits=24)


def test_config_defaults_and_methods() -> None:
    cfg = CodecConfig()
    x = np.array([0.25, -3.0], dtype=np.float32)
    assert cfg.decode(cfg.encode(x)).tolist() == [0.25, -3.0]
    assert cfg.resolution == 2.0**-24


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frac_bits": 60}, "frac_bits"),
        ({"frac_bits": 1.5}, "integer"),
        ({"clip": 0.0}, "clip"),
        ({"clip": float("inf")}, "clip"),
        ({"max_summands": 0}, "at least 1"),
        ({"frac_bits": 52, "clip": 64.0, "max_summands": 32}, "overflow"),
        ({"frac_bits": 40, "clip": 1024.0, "max_summands": 10_000}, "overflow"),
    ],
)
def test_config_rejects_unsafe_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CodecConfig(**kwargs)  # type: ignore[arg-type]
