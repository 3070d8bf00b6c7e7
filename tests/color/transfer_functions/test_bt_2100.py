"""ITU-R BT.2100 HLG OETF (BT.2100 scaling) against colour-science and OpenColorIO."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdr_mcp.color.transfer_functions import bt_2100

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def test_constants():
    k = bt_2100.CONSTANTS_BT2100_HLG
    assert k.a == 0.17883277
    assert k.b == pytest.approx(0.28466892, abs=1e-12)
    assert k.c == pytest.approx(0.55991073, abs=5e-9)  # BT.2100 prints c rounded


@pytest.mark.parametrize(
    ("e", "expected"),
    [
        (0.0, 0.0),
        (1.0 / 12.0, 0.5),
        (1.0, 1.0),
        (0.18 / 12.0, math.sqrt(3 * 0.18 / 12.0)),
        (0.18, 0.17883277 * math.log(12 * 0.18 - 0.28466892) + 0.5599107295),
    ],
)
def test_reference_values(e, expected):
    # BT.2100 prints a rounded, so E = 1 lands 5e-9 below 1.
    assert bt_2100.oetf_BT2100_HLG(e) == pytest.approx(expected, abs=1e-8)


def test_matches_colour_including_above_one(colour):
    e = np.concatenate([[0.0], np.logspace(-15, 6, 400, base=2.0)])
    np.testing.assert_allclose(
        bt_2100.oetf_BT2100_HLG(e), colour.models.oetf_BT2100_HLG(e), atol=1e-13
    )
    codes = np.linspace(0.0, 2.0, 201)
    np.testing.assert_allclose(
        bt_2100.oetf_inverse_BT2100_HLG(codes),
        colour.models.oetf_inverse_BT2100_HLG(codes),
        rtol=1e-12,
        atol=1e-15,
    )


def test_ocio_hlg_is_the_same_curve_on_e_over_3(ocio_ref):
    # OCIO's 'CURVE - HLG-OETF' (a half-domain LUT) equals the BT.2100 OETF of E/3.
    e = np.linspace(0.0, 3.0, 301).astype(np.float32)
    ref = ocio_ref.apply(ocio_ref.ocio.BuiltinTransform("CURVE - HLG-OETF"), e)
    np.testing.assert_allclose(bt_2100.oetf_BT2100_HLG(e.astype(np.float64) / 3.0), ref, atol=2e-6)


def test_out_of_range_is_extrapolated_and_invertible():
    e = np.array([-4.0, -0.5, -1e-3, 2.0, 4.0, 1000.0])
    code = bt_2100.oetf_BT2100_HLG(e)
    np.testing.assert_array_equal(code[:3], -bt_2100.oetf_BT2100_HLG(-e[:3]))
    assert code[4] == pytest.approx(1.2511445860, abs=1e-9)
    np.testing.assert_allclose(bt_2100.oetf_inverse_BT2100_HLG(code), e, rtol=1e-13)
