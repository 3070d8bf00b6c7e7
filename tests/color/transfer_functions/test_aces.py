"""ACEScct (S-2016-001) against colour-science and OpenColorIO."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp.color.transfer_functions import aces

pytestmark = pytest.mark.filterwarnings("ignore:(invalid value|divide by zero):RuntimeWarning")


def test_reference_values():
    assert aces.log_encoding_ACEScct(0.18) == pytest.approx(0.4135884025, abs=5e-11)
    assert aces.log_encoding_ACEScct(0.0) == pytest.approx(0.0729055341958355, abs=1e-16)
    assert aces.log_decoding_ACEScct(1.0) == pytest.approx(2.0**7.8, rel=1e-14)
    k = aces.CONSTANTS_ACESCCT
    # Both segments meet at the break (S-2016-001 chose A, B for continuity).
    assert k.A * k.X_BRK + k.B == pytest.approx((np.log2(k.X_BRK) + 9.72) / 17.52, abs=1e-14)


def test_matches_colour(colour, hdr_range):
    x = np.concatenate([-np.logspace(-15, 0, 31, base=2.0), [0.0], hdr_range])
    np.testing.assert_allclose(
        aces.log_encoding_ACEScct(x), colour.models.log_encoding_ACEScct(x), atol=1e-14
    )
    codes = np.linspace(-0.1, 1.6, 341)
    np.testing.assert_allclose(
        aces.log_decoding_ACEScct(codes), colour.models.log_decoding_ACEScct(codes), rtol=1e-13
    )


def test_matches_ocio(ocio_ref, hdr_range):
    x = np.concatenate([[0.0, -0.01], hdr_range]).astype(np.float32)
    curve = ocio_ref.ocio.BuiltinTransform("CURVE - ACEScct-LOG_to_LINEAR")
    curve.setDirection(ocio_ref.ocio.TRANSFORM_DIR_INVERSE)
    ref = ocio_ref.apply(curve, x)
    np.testing.assert_allclose(aces.log_encoding_ACEScct(x.astype(np.float64)), ref, atol=1e-6)


def test_no_65504_clamp_on_decode():
    code = aces.log_encoding_ACEScct(1e6)
    assert aces.log_decoding_ACEScct(code) == pytest.approx(1e6, rel=1e-12)
