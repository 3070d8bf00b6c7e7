"""IEC 61966-2-1 sRGB (sign-preserving extension) against colour-science and OpenColorIO."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp.color.transfer_functions import srgb

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def test_reference_values():
    assert srgb.eotf_inverse_sRGB(0.18) == pytest.approx(0.4613561295, abs=5e-11)
    assert srgb.eotf_inverse_sRGB(1.0) == pytest.approx(1.0, abs=1e-15)
    assert srgb.eotf_inverse_sRGB(0.001) == pytest.approx(0.01292, abs=1e-15)
    assert srgb.eotf_sRGB(0.5) == pytest.approx(0.2140411405, abs=5e-11)


def test_matches_colour_on_non_negative_values(colour):
    x = np.concatenate([[0.0], np.logspace(-15, 6, 300, base=2.0)])
    np.testing.assert_allclose(
        srgb.eotf_inverse_sRGB(x), colour.models.eotf_inverse_sRGB(x), atol=1e-14
    )
    v = np.linspace(0.0, 2.0, 401)
    np.testing.assert_allclose(
        srgb.eotf_sRGB(v), colour.models.eotf_sRGB(v), rtol=1e-13, atol=1e-16
    )


def test_matches_ocio_srgb_texture(ocio_ref):
    ocio = ocio_ref.ocio
    cfg = ocio.Config.CreateFromFile("ocio://studio-config-latest")
    proc = cfg.getProcessor("Linear Rec.709 (sRGB)", "sRGB Encoded Rec.709 (sRGB)")
    proc = proc.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
    # Power segment only: OCIO derives the toe slope from continuity (12.9232 instead of the
    # standard's 12.92), so below 0.0031308 the two differ by up to 1e-5.
    x = np.linspace(0.004, 1.0, 997, dtype=np.float32)
    rgb = np.ascontiguousarray(np.repeat(x[:, None], 3, axis=1))
    proc.applyRGB(rgb)
    np.testing.assert_allclose(srgb.eotf_inverse_sRGB(x.astype(np.float64)), rgb[:, 0], atol=1e-6)


def test_negative_and_above_one_extension():
    x = np.array([0.001, 0.18, 2.0, 100.0])
    np.testing.assert_array_equal(srgb.eotf_inverse_sRGB(-x), -srgb.eotf_inverse_sRGB(x))
    assert srgb.eotf_inverse_sRGB(2.0) == pytest.approx(1.055 * 2.0 ** (1 / 2.4) - 0.055, rel=1e-14)
    np.testing.assert_allclose(srgb.eotf_sRGB(srgb.eotf_inverse_sRGB(-x)), -x, rtol=1e-13)
