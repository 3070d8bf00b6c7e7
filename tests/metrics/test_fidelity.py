"""PU21-PSNR, PU21-SSIM and Delta E ITP against closed forms, FACTS and colour-science."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from hdr_mcp.color.pu21 import pu21_decode, pu21_encode
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics.fidelity import (
    PU21_REFERENCE_Y,
    delta_e_itp,
    ictcp,
    psnr_from_mse,
    pu21_mse,
    pu21_psnr,
    pu21_ssim,
    ssim,
)


@pytest.fixture(scope="module")
def colour():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Matplotlib related API features are not available"
        import colour
    return colour


def _hdr_image(rng, shape=(24, 32, 3), low=-6.0, high=8.0):
    """Scene-linear values log-uniform over 2^low .. 2^high."""
    return (2.0 ** rng.uniform(low, high, size=shape)).astype(np.float32)


# --------------------------------------------------------------------------- PSNR


@pytest.mark.parametrize("offset", [0.5, 3.0, 17.25])
def test_pu21_psnr_closed_form_constant_offset_in_pu_space(offset):
    # ref luminances well inside the PU21 range so +offset does not hit the clamp.
    rng = np.random.default_rng(1)
    nits_per_unit = 100.0
    ref = 2.0 ** rng.uniform(-4.0, 3.0, size=(16, 16, 3))
    pred = pu21_decode(pu21_encode(ref * nits_per_unit) + offset) / nits_per_unit
    expected = 20.0 * math.log10(256.0 / offset)
    assert pu21_psnr(pred, ref, nits_per_unit=nits_per_unit) == pytest.approx(expected, abs=1e-8)
    assert pu21_mse(pred, ref, nits_per_unit=nits_per_unit) == pytest.approx(offset**2, rel=1e-9)


def test_pu21_psnr_depends_on_nits_per_unit():
    rng = np.random.default_rng(2)
    ref = _hdr_image(rng)
    pred = ref * 1.1
    assert pu21_psnr(pred, ref, nits_per_unit=100.0) != pytest.approx(
        pu21_psnr(pred, ref, nits_per_unit=1000.0), abs=0.1
    )


def test_pu21_psnr_identical_is_inf_and_jsonable_via_convention():
    rng = np.random.default_rng(3)
    x = _hdr_image(rng)
    value = pu21_psnr(x, x.copy())
    assert value == math.inf
    with pytest.raises(ValueError):
        json.dumps(value, allow_nan=False)  # why evaluate() maps it to null + non_finite


def test_psnr_from_mse():
    assert psnr_from_mse(0.0, 256.0) == math.inf
    assert psnr_from_mse(256.0**2, 256.0) == pytest.approx(0.0)
    assert psnr_from_mse(1.0, 10.0) == pytest.approx(20.0)


def test_pu21_psnr_rejects_mismatch_and_nonfinite():
    a = np.ones((4, 4, 3), np.float32)
    with pytest.raises(InvalidArgument) as e:
        pu21_psnr(a, np.ones((4, 5, 3), np.float32))
    assert e.value.argument == "ref"
    bad = a.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidArgument) as e:
        pu21_psnr(bad, a)
    assert e.value.argument == "pred"
    bad[0, 0, 0] = np.inf
    with pytest.raises(InvalidArgument) as e:
        pu21_psnr(a, bad)
    assert e.value.argument == "ref"
    with pytest.raises(InvalidArgument) as e:
        pu21_psnr(a, a, nits_per_unit=0.0)
    assert e.value.argument == "nits_per_unit"


# --------------------------------------------------------------------------- SSIM


def test_ssim_identical_is_one():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 256, size=(40, 37))
    assert ssim(x, x.copy(), data_range=256.0) == pytest.approx(1.0, abs=1e-12)
    img = _hdr_image(rng, (32, 32, 3))
    assert pu21_ssim(img, img.copy()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("a", "b"), [(10.0, 10.0), (50.0, 80.0), (0.0, 200.0)])
def test_ssim_closed_form_constant_images(a, b):
    # No variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1) at every window.
    c1 = (0.01 * 256.0) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    got = ssim(np.full((20, 30), a), np.full((20, 30), b), data_range=256.0)
    assert got == pytest.approx(expected, rel=1e-12)


def test_ssim_is_symmetric_and_below_one_for_different_images():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 100, size=(30, 30))
    y = 2.0 * x
    ssim_xy = ssim(x, y, data_range=256.0)
    assert 0.0 < ssim_xy < 1.0
    assert ssim(y, x, data_range=256.0) == pytest.approx(ssim_xy, rel=1e-12)


def test_ssim_matches_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 600, size=(48, 41))
    y = np.clip(x + rng.normal(0, 25, size=x.shape), 0, 600)
    expected = skm.structural_similarity(
        x, y, data_range=256.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(x, y, data_range=256.0) == pytest.approx(expected, abs=1e-12)


def test_pu21_ssim_matches_scikit_image_on_pu_luminance():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(7)
    ref = _hdr_image(rng, (40, 48, 3))
    pred = ref * rng.uniform(0.7, 1.3, size=ref.shape).astype(np.float32)
    w = np.asarray(PU21_REFERENCE_Y)
    yr = pu21_encode(ref.astype(np.float64) @ w * 100.0)
    yp = pu21_encode(pred.astype(np.float64) @ w * 100.0)
    expected = skm.structural_similarity(
        yp, yr, data_range=256.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert pu21_ssim(pred, ref, nits_per_unit=100.0) == pytest.approx(expected, abs=1e-12)


def test_pu21_ssim_accepts_luminance_images():
    rng = np.random.default_rng(8)
    y = 2.0 ** rng.uniform(-4, 6, size=(20, 20))
    assert pu21_ssim(y, y[..., None].copy()[..., 0]) == pytest.approx(1.0)
    assert pu21_ssim(y[..., None], (y * 1.5)[..., None]) < 1.0


def test_ssim_rejects_small_images():
    with pytest.raises(InvalidArgument, match="11x11"):
        ssim(np.ones((10, 40)), np.ones((10, 40)), data_range=1.0)


# --------------------------------------------------------------------------- Delta E ITP


def test_delta_e_itp_facts_value():
    # FACTS section 2: BT.2020 (100,100,100) vs (105,100,95) cd/m^2 gives 5.5226.
    a = np.array([[[100.0, 100.0, 100.0]]])
    b = np.array([[[105.0, 100.0, 95.0]]])
    got = delta_e_itp(b, a, nits_per_unit=1.0, colorspace="lin_rec2020")
    assert round(got, 4) == 5.5226
    assert got == pytest.approx(5.52262367014, abs=1e-8)


def test_delta_e_itp_identical_is_zero():
    rng = np.random.default_rng(9)
    x = _hdr_image(rng)
    assert delta_e_itp(x, x.copy()) == 0.0


def test_ictcp_matches_colour_science(colour):
    rng = np.random.default_rng(10)
    rgb = 10.0 ** rng.uniform(-2, 3.6, size=(50, 3))
    np.testing.assert_allclose(ictcp(rgb), colour.RGB_to_ICtCp(rgb), rtol=0, atol=1e-10)


def test_delta_e_itp_matches_colour_science_bt2020(colour):
    rng = np.random.default_rng(11)
    ref = 10.0 ** rng.uniform(-2, 3.5, size=(12, 9, 3))
    pred = ref * rng.uniform(0.8, 1.25, size=ref.shape)
    expected = np.mean(
        colour.difference.delta_E_ITP(colour.RGB_to_ICtCp(pred), colour.RGB_to_ICtCp(ref))
    )
    assert delta_e_itp(pred, ref, nits_per_unit=1.0, colorspace="lin_rec2020") == pytest.approx(
        expected, rel=1e-10
    )
    assert colour.delta_E(
        colour.RGB_to_ICtCp(pred[0, 0]), colour.RGB_to_ICtCp(ref[0, 0]), method="ITP"
    ) == pytest.approx(
        delta_e_itp(pred[:1, :1], ref[:1, :1], nits_per_unit=1.0, colorspace="lin_rec2020")
    )


def test_delta_e_itp_from_rec709_with_scale_matches_colour_science(colour):
    rng = np.random.default_rng(12)
    ref = (2.0 ** rng.uniform(-5, 5, size=(10, 10, 3))).astype(np.float32)
    pred = ref * np.float32(1.05)
    nits = 80.0
    to2020 = (
        colour.RGB_to_RGB(
            ref.astype(np.float64) * nits,
            colour.RGB_COLOURSPACES["ITU-R BT.709"],
            colour.RGB_COLOURSPACES["ITU-R BT.2020"],
        ),
        colour.RGB_to_RGB(
            pred.astype(np.float64) * nits,
            colour.RGB_COLOURSPACES["ITU-R BT.709"],
            colour.RGB_COLOURSPACES["ITU-R BT.2020"],
        ),
    )
    expected = np.mean(
        colour.difference.delta_E_ITP(
            colour.RGB_to_ICtCp(to2020[1]), colour.RGB_to_ICtCp(to2020[0])
        )
    )
    got = delta_e_itp(pred, ref, nits_per_unit=nits, colorspace="lin_rec709")
    assert got == pytest.approx(expected, rel=1e-5)


def test_delta_e_itp_requires_rgb():
    with pytest.raises(InvalidArgument) as e:
        delta_e_itp(np.ones((4, 4)), np.ones((4, 4)))
    assert e.value.argument == "pred"


def test_pu21_luminance_other_colorspaces_use_their_y_row():
    from hdr_mcp.color import luminance
    from hdr_mcp.metrics.fidelity import pu21_luminance

    rng = np.random.default_rng(13)
    x = rng.uniform(0.0, 4.0, size=(12, 12, 3))
    np.testing.assert_allclose(pu21_luminance(x, "acescg"), luminance(x, "acescg"), rtol=1e-12)
    np.testing.assert_allclose(pu21_luminance(x), x @ np.asarray(PU21_REFERENCE_Y), rtol=1e-15)
    # The reference weights differ from the exact BT.709 Y row by ~1e-5 only.
    np.testing.assert_allclose(pu21_luminance(x), luminance(x, "lin_rec709"), rtol=1e-4)
    assert pu21_ssim(x, x.copy(), colorspace="acescg") == pytest.approx(1.0)
