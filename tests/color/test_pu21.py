"""PU21 encoding (Mantiuk & Azimi 2021): reference values, clamping, inverse, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp.color.pu21 import (
    PU21_L_MAX,
    PU21_L_MIN,
    PU21_PARAMETERS,
    pu21_decode,
    pu21_encode,
)
from hdr_mcp.errors import InvalidArgument


def _formula(y: float, p: tuple[float, ...]) -> float:
    """The PU21 formula written out independently, in plain Python floats."""
    yp = min(max(y, 0.005), 10000.0) ** p[3]
    return p[6] * (((p[0] + p[1] * yp) / (1.0 + p[2] * yp)) ** p[4] - p[5])


def test_reference_values_from_facts():
    # FACTS section 2: PU(100) = 256.384, PU(1000) = 420.097 (banding_glare).
    v = pu21_encode(np.array([100.0, 1000.0]))
    assert round(float(v[0]), 3) == 256.384
    assert round(float(v[1]), 3) == 420.097
    np.testing.assert_allclose(v, [256.3838973127039, 420.0969213492443], rtol=0, atol=1e-9)


def test_banding_glare_constants_are_the_published_ones():
    assert PU21_PARAMETERS["banding_glare"] == (
        0.353487901,
        0.3734658629,
        8.277049286e-05,
        0.9062562627,
        0.09150303166,
        0.9099517204,
        596.3148142,
    )


@pytest.mark.parametrize("variant", sorted(PU21_PARAMETERS))
def test_matches_formula_over_hdr_range(variant):
    y = np.geomspace(2.0**-15, 2.0**15, 97)
    expected = [_formula(float(v), PU21_PARAMETERS[variant]) for v in y]
    np.testing.assert_allclose(pu21_encode(y, variant), expected, rtol=1e-12, atol=1e-9)


def test_clamps_to_luminance_range():
    lo = pu21_encode(PU21_L_MIN)
    hi = pu21_encode(PU21_L_MAX)
    np.testing.assert_array_equal(pu21_encode([-5.0, 0.0, 1e-4, PU21_L_MIN]), [lo] * 4)
    np.testing.assert_array_equal(pu21_encode([PU21_L_MAX, 65504.0, 1e9]), [hi] * 3)
    assert abs(float(lo)) < 1e-6  # banding_glare places 0.005 cd/m^2 at ~0
    assert float(hi) == pytest.approx(595.393920020095, abs=1e-9)


def test_monotonic_increasing():
    v = pu21_encode(np.geomspace(PU21_L_MIN, PU21_L_MAX, 10001))
    assert np.all(np.diff(v) > 0)


@pytest.mark.parametrize("variant", sorted(PU21_PARAMETERS))
def test_decode_inverts_encode(variant):
    y = np.geomspace(PU21_L_MIN, PU21_L_MAX, 1001)
    np.testing.assert_allclose(pu21_decode(pu21_encode(y, variant), variant), y, rtol=1e-10)


def test_decode_clamps_out_of_range_codes():
    np.testing.assert_allclose(pu21_decode([-10.0, 1e6]), [PU21_L_MIN, PU21_L_MAX], rtol=1e-9)


def test_dtypes_and_shapes():
    x32 = np.full((2, 3, 4), 100.0, np.float32)
    out = pu21_encode(x32)
    assert out.dtype == np.float32 and out.shape == (2, 3, 4)
    assert pu21_encode(np.float64(100.0)).dtype == np.float64
    assert pu21_encode([1, 2, 3]).dtype == np.float64  # ints and lists -> float64
    assert pu21_encode(100.0).shape == ()


def test_nan_propagates():
    v = pu21_encode(np.array([np.nan, 100.0]))
    assert np.isnan(v[0]) and np.isfinite(v[1])


def test_unknown_variant_lists_valid_ones():
    with pytest.raises(InvalidArgument, match="banding_glare") as e:
        pu21_encode(1.0, "nope")
    assert e.value.argument == "variant"


def test_rejects_non_numeric():
    with pytest.raises(InvalidArgument):
        pu21_encode(np.array(["a"]))
