"""ARRI LogC3 (EI 800) and LogC4 against the specs, OpenColorIO and colour-science."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdr_mcp.color.transfer_functions import arri

# colour-science evaluates both np.where branches and warns about the unused one.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

LOGC3_BUILTIN = "ARRI_ALEXA-LOGC-EI800-AWG_to_ACES2065-1"
LOGC4_BUILTIN = "ARRI_LOGC4_to_ACES2065-1"


def _with_negatives(hdr_range: np.ndarray) -> np.ndarray:
    # Toe region and small negatives (both curves are linear there), zero, and the HDR range.
    return np.concatenate([-np.logspace(-15, 0, 61, base=2.0), [0.0], hdr_range])


# ----------------------------------------------------------------------------- constants


def test_logc3_constants_are_ocio_builtin(ocio_ref):
    curve = ocio_ref.builtin_curve(LOGC3_BUILTIN, "encode")
    k = arri.CONSTANTS_ARRILOGC3
    assert curve.getBase() == 10.0
    assert curve.getLinSideSlopeValue()[0] == pytest.approx(k.a, rel=1e-15)
    assert curve.getLinSideOffsetValue()[0] == pytest.approx(k.b, rel=1e-15)
    assert curve.getLogSideSlopeValue()[0] == pytest.approx(k.c, rel=1e-15)
    assert curve.getLogSideOffsetValue()[0] == pytest.approx(k.d, rel=1e-15)
    assert curve.getLinSideBreakValue()[0] == pytest.approx(k.cut, rel=1e-12)


def test_logc3_derived_constants_match_arri_published():
    k = arri.CONSTANTS_ARRILOGC3
    assert k.a * k.cut + k.b == pytest.approx(1.0 / 9.0, abs=1e-16)
    # ARRI (2012) prints e, f and the break rounded to 6 decimals.
    assert k.e == pytest.approx(5.367655, abs=5e-7)
    assert k.f == pytest.approx(0.092809, abs=5e-7)
    assert k.cut == pytest.approx(0.010591, abs=5e-7)
    assert k.cut_encoded == pytest.approx(0.149658, abs=5e-7)


def test_logc3_is_c1_continuous_at_cut():
    k = arri.CONSTANTS_ARRILOGC3
    log_value = k.c * math.log10(k.a * k.cut + k.b) + k.d
    log_slope = k.c * k.a / ((k.a * k.cut + k.b) * math.log(10.0))
    assert k.e * k.cut + k.f == pytest.approx(log_value, abs=1e-15)
    assert k.e == pytest.approx(log_slope, rel=1e-15)


def test_logc4_constants():
    k = arri.CONSTANTS_ARRILOGC4
    assert k.s == pytest.approx(0.1135972086, abs=1e-10)
    assert k.t == pytest.approx(-0.0180569961, abs=1e-10)
    assert arri.log_encoding_ARRILogC4(k.t) == pytest.approx(0.0, abs=1e-15)


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.18, 0.2783958365), (1.0, 0.4275193648), (100.0, 0.8553946934)],
)
def test_logc4_reference_values(x, expected):
    assert arri.log_encoding_ARRILogC4(x) == pytest.approx(expected, abs=5e-11)


@pytest.mark.parametrize(("x", "expected"), [(0.18, 0.3910068426), (1.0, 0.5706312827)])
def test_logc3_reference_values(x, expected):
    assert arri.log_encoding_ARRILogC3(x) == pytest.approx(expected, abs=5e-11)


def test_decode_code_one_and_zero():
    assert arri.log_decoding_ARRILogC4(1.0) == pytest.approx(469.8, rel=1e-14)
    assert arri.log_decoding_ARRILogC4(0.0) == pytest.approx(arri.CONSTANTS_ARRILOGC4.t, abs=1e-15)
    assert arri.log_decoding_ARRILogC3(1.0) == pytest.approx(55.0800431098, rel=1e-11)
    assert arri.log_decoding_ARRILogC3(0.0) == pytest.approx(-0.0172904854, abs=1e-10)


# ----------------------------------------------------------------------------- OpenColorIO


@pytest.mark.parametrize(("name", "builtin"), [("logc3", LOGC3_BUILTIN), ("logc4", LOGC4_BUILTIN)])
def test_encode_matches_ocio_lossless(ocio_ref, hdr_range, name, builtin):
    x = _with_negatives(hdr_range).astype(np.float32)  # OCIO works in float32
    ref = ocio_ref.apply(ocio_ref.builtin_curve(builtin, "encode"), x)
    encode = arri.log_encoding_ARRILogC3 if name == "logc3" else arri.log_encoding_ARRILogC4
    ours = encode(x.astype(np.float64))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("name", "builtin"), [("logc3", LOGC3_BUILTIN), ("logc4", LOGC4_BUILTIN)])
def test_decode_matches_ocio_lossless(ocio_ref, name, builtin):
    codes = np.linspace(-0.1, 1.3, 1401).astype(np.float32)
    ref = ocio_ref.apply(ocio_ref.builtin_curve(builtin, "decode"), codes)
    decode = arri.log_decoding_ARRILogC3 if name == "logc3" else arri.log_decoding_ARRILogC4
    ours = decode(codes.astype(np.float64))
    # OCIO evaluates 2^(~30 * code) in float32: relative error up to ~2e-6 of the value.
    np.testing.assert_allclose(ours, ref, rtol=4e-6, atol=1e-7)


# ----------------------------------------------------------------------------- colour-science


def test_logc4_matches_colour(colour, hdr_range):
    x = _with_negatives(hdr_range)
    np.testing.assert_allclose(
        arri.log_encoding_ARRILogC4(x), colour.models.log_encoding_ARRILogC4(x), rtol=0, atol=1e-12
    )
    codes = np.linspace(-0.2, 1.3, 301)
    np.testing.assert_allclose(
        arri.log_decoding_ARRILogC4(codes),
        colour.models.log_decoding_ARRILogC4(codes),
        rtol=1e-12,
        atol=1e-14,
    )


def test_logc3_matches_colour_within_its_rounding(colour, hdr_range):
    # colour-science rounds the LogC3 constants to 6 decimals (ARRI's printed table), which
    # moves codes by up to ~2e-6 over 2^-15..2^15 and decoded values by ~1.3e-5 relative.
    x = _with_negatives(hdr_range)
    np.testing.assert_allclose(
        arri.log_encoding_ARRILogC3(x), colour.models.log_encoding_ARRILogC3(x), rtol=0, atol=3e-6
    )
    codes = np.linspace(-0.2, 1.3, 301)
    np.testing.assert_allclose(
        arri.log_decoding_ARRILogC3(codes),
        colour.models.log_decoding_ARRILogC3(codes),
        rtol=2e-5,
        atol=1e-7,
    )


# ----------------------------------------------------------------------------- numpy details


def test_float32_fast_path_matches_float64(hdr_range):
    x = hdr_range.astype(np.float32)
    code32 = arri.log_encoding_ARRILogC4(x)
    assert code32.dtype == np.float32
    np.testing.assert_allclose(code32, arri.log_encoding_ARRILogC4(x.astype(np.float64)), atol=2e-7)
    back = arri.log_decoding_ARRILogC4(code32)
    assert back.dtype == np.float32
    # float32 codes carry ~6e-8 absolute rounding; the exponential turns it into ~1.5e-6 relative.
    np.testing.assert_allclose(back, x, rtol=3e-6, atol=1e-8)


def test_toe_is_used_across_chunk_boundaries():
    # More elements than one kernel chunk, with toe values only in the second chunk.
    from hdr_mcp.color._array import CHUNK_ELEMENTS

    x = np.full(CHUNK_ELEMENTS + 10, 0.18)
    x[-5:] = -0.05  # below t = -0.018057: linear segment
    out = arri.log_encoding_ARRILogC4(x)
    k = arri.CONSTANTS_ARRILOGC4
    assert out[-1] == pytest.approx((-0.05 - k.t) / k.s, rel=1e-14)
    assert out[0] == pytest.approx(0.2783958365, abs=5e-11)
