"""DiffHDR log-gamma: closed form, clamping on encode, extrapolation on decode, parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdr_mcp.color.transfer_functions import log_gamma
from hdr_mcp.errors import InvalidArgument


def _closed_form(x, g=2.2, m=65536.0):
    return (math.log(g * x + 1.0) / math.log(g * m + 1.0)) ** (1.0 / g)


@pytest.mark.parametrize("x", [1e-6, 0.18, 1.0, 100.0, 4096.0])
def test_closed_form(x):
    assert log_gamma.log_encoding_LogGamma(x) == pytest.approx(_closed_form(x), rel=1e-13)
    assert log_gamma.log_encoding_LogGamma(x, gamma=1.5, max_value=1e5) == pytest.approx(
        _closed_form(x, 1.5, 1e5), rel=1e-13
    )


def test_reference_values():
    assert log_gamma.log_encoding_LogGamma(1.0) == pytest.approx(0.3477773169, abs=5e-11)
    assert log_gamma.log_encoding_LogGamma(0.0) == 0.0
    assert log_gamma.log_encoding_LogGamma(65536.0) == pytest.approx(1.0, abs=1e-15)
    assert log_gamma.log_decoding_LogGamma(1.0) == pytest.approx(65536.0, rel=1e-13)
    assert log_gamma.log_decoding_LogGamma(1.0, max_value=1000.0) == pytest.approx(
        1000.0, rel=1e-13
    )


def test_encode_clamps_to_domain():
    out = log_gamma.log_encoding_LogGamma(np.array([-5.0, -1e-9, 1e5, 1e30, np.inf]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 1.0, 1.0, 1.0])


def test_decode_extrapolates_outside_unit_interval():
    assert log_gamma.log_decoding_LogGamma(1.05) > 65536.0
    y = np.array([0.01, 0.3, 0.9])
    np.testing.assert_array_equal(
        log_gamma.log_decoding_LogGamma(-y), -log_gamma.log_decoding_LogGamma(y)
    )


@pytest.mark.parametrize(
    ("name", "bad"), [("gamma", 0.0), ("gamma", float("nan")), ("max_value", -1.0)]
)
def test_bad_parameters(name, bad):
    with pytest.raises(InvalidArgument, match=name):
        log_gamma.log_encoding_LogGamma(1.0, **{name: bad})
