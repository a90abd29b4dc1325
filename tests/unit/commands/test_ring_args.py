"""--ring-bits picks the task's masking ring in `dppdl simulate` and `dppdl task publish`."""

from __future__ import annotations

import pytest

from dppdl.cli import build_parser
from dppdl.commands.simulate import config_from_args
from dppdl.crypto import CodecConfig


def test_simulate_takes_the_ring_from_the_flag_and_defaults_to_32_bits() -> None:
    parser = build_parser()
    default = config_from_args(parser.parse_args(["simulate"]))
    wide = config_from_args(parser.parse_args(["simulate", "--ring-bits", "64"]))
    assert default.codec == CodecConfig() and default.codec.ring_bits == 32
    assert wide.codec == CodecConfig.for_ring(64)
    publish = ["task", "publish", "--storage", "http://127.0.0.1:1", "--ring-bits", "64"]
    assert parser.parse_args(publish).ring_bits == 64


def test_an_unknown_ring_width_is_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--ring-bits", "16"])
