"""SMPTE ST 2084 (PQ) against the standard's constants, colour-science and OpenColorIO."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp.color.transfer_functions import st_2084
from hdr_mcp.errors import InvalidArgument

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def test_constants_are_exact_fractions():
    k = st_2084.CONSTANTS_ST2084
    assert k.m1 == 0.1593017578125
    assert k.m2 == 78.84375
    assert k.c1 == 0.8359375
    assert k.c2 == 18.8515625
    assert k.c3 == 18.6875
    assert k.code_asymptote == pytest.approx(1.99206, abs=1e-5)


@pytest.mark.parametrize(
    ("nits", "expected"),
    [(100.0, 0.5080784215), (1000.0, 0.7518270962), (10000.0, 1.0)],
)
def test_reference_values(nits, expected):
    # Default scaling: scene-linear 1.0 = 100 cd/m^2.
    assert st_2084.eotf_inverse_ST2084(nits / 100.0) == pytest.approx(expected, abs=5e-11)
    assert st_2084.eotf_inverse_ST2084(nits / 203.0, nits_per_unit=203.0) == pytest.approx(
        expected, abs=5e-11
    )


def test_zero_and_code_one():
    assert st_2084.eotf_inverse_ST2084(0.0) == pytest.approx(0.8359375**78.84375, rel=1e-12)
    assert st_2084.eotf_ST2084(1.0) == pytest.approx(100.0, rel=1e-12)
    assert st_2084.eotf_ST2084(1.0, nits_per_unit=1.0) == pytest.approx(10000.0, rel=1e-12)
    # Codes below PQ(0) decode to 0 (the standard's max(V - c1, 0)).
    assert st_2084.eotf_ST2084(1e-7) == 0.0


def test_matches_colour(colour, hdr_range):
    x = np.concatenate([[0.0], hdr_range])
    np.testing.assert_allclose(
        st_2084.eotf_inverse_ST2084(x), colour.models.eotf_inverse_ST2084(x * 100.0), atol=1e-13
    )
    codes = np.linspace(0.0, 1.5, 301)
    np.testing.assert_allclose(
        st_2084.eotf_ST2084(codes), colour.models.eotf_ST2084(codes) / 100.0, rtol=1e-11, atol=1e-14
    )


def test_encode_matches_ocio_lossless(ocio_ref, hdr_range):
    # 'CURVE - LINEAR_to_ST-2084' takes nits/100 like our default. It is a half-domain LUT:
    # exact at half values and within 1e-7 between them below 65504 (all of 2^-15..2^15).
    # (OCIO's FIXED_FUNCTION_LIN_TO_PQ runs in float32 and is off by up to 2e-5 there.)
    x = np.concatenate([-hdr_range[::10], [0.0], hdr_range]).astype(np.float32)
    ref = ocio_ref.apply(ocio_ref.ocio.BuiltinTransform("CURVE - LINEAR_to_ST-2084"), x)
    np.testing.assert_allclose(st_2084.eotf_inverse_ST2084(x.astype(np.float64)), ref, atol=1e-6)


def test_decode_matches_ocio(ocio_ref):
    codes = np.linspace(0.0, 1.0, 1001).astype(np.float32)
    ref = ocio_ref.apply(ocio_ref.ocio.BuiltinTransform("CURVE - ST-2084_to_LINEAR"), codes)
    # Between half-float LUT entries OCIO interpolates linearly: ~3e-5 relative at worst.
    np.testing.assert_allclose(
        st_2084.eotf_ST2084(codes.astype(np.float64)), ref, rtol=5e-5, atol=1e-9
    )


def test_negatives_are_mirrored():
    x = np.array([0.5, 3.0, 1e4])
    np.testing.assert_array_equal(st_2084.eotf_inverse_ST2084(-x), -st_2084.eotf_inverse_ST2084(x))
    codes = st_2084.eotf_inverse_ST2084(-x)
    np.testing.assert_allclose(st_2084.eotf_ST2084(codes), -x, rtol=1e-12)


def test_beyond_asymptote_decodes_to_inf_not_a_clamp():
    k = st_2084.CONSTANTS_ST2084
    out = st_2084.eotf_ST2084(np.array([k.code_asymptote + 0.01, 3.0, -3.0, 1.9]))
    assert out[0] == np.inf and out[1] == np.inf and out[2] == -np.inf
    assert np.isfinite(out[3]) and out[3] > 1e6
    # Large luminances keep encoding above 1 (no clamp at 10000 nits).
    assert 1.0 < st_2084.eotf_inverse_ST2084(1e6) < k.code_asymptote


def test_float32_is_evaluated_in_float64():
    x = np.array([0.18, 1.0, 50.0], dtype=np.float32)
    code = st_2084.eotf_inverse_ST2084(x)
    assert code.dtype == np.float32
    np.testing.assert_array_equal(
        code, st_2084.eotf_inverse_ST2084(x.astype(np.float64)).astype(np.float32)
    )
    back = st_2084.eotf_ST2084(code)
    np.testing.assert_allclose(back, x, rtol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "100"])
def test_bad_nits_per_unit(bad):
    with pytest.raises(InvalidArgument, match="nits_per_unit"):
        st_2084.eotf_inverse_ST2084(1.0, nits_per_unit=bad)
