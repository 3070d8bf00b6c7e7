"""Inverse tone mapping: BT.2446-1 Method C and the power expansion against their forward curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdr_mcp.color import inverse_tonemap as itm
from hdr_mcp.errors import InvalidArgument

C = itm.CONSTANTS_BT2446_C
# Published in Report ITU-R BT.2446-1 section 6.1.4.
K1, K2_PUBLISHED, K3, K4_PUBLISHED = 0.83802, 15.09968, 0.74204, 78.99439

NITS = np.concatenate([np.geomspace(2.0**-15, 10000.0, 4001), [0.0, C.y_hdr_ip, 203.0, 1000.0]])


def _literal_curve(y: np.ndarray) -> np.ndarray:
    """The Report's formula with its published k2 and k4 (knee at 58.535 / k1)."""
    ip = 58.535 / K1
    with np.errstate(invalid="ignore"):
        return np.where(y < ip, K1 * y, K2_PUBLISHED * np.log(y / ip - K3) + K4_PUBLISHED)


def _literal_inverse(y: np.ndarray) -> np.ndarray:
    """Report section 6.2 with the published constants: Y/k1, or Y_ip (exp((Y-k4)/k2) + k3)."""
    y = np.asarray(y, np.float64)
    ip = 58.535 / K1
    with np.errstate(over="ignore"):
        return np.where(y < 58.535, y / K1, ip * (np.exp((y - K4_PUBLISHED) / K2_PUBLISHED) + K3))


# -- constants ---------------------------------------------------------------------------------


def test_derived_constants_match_the_published_ones():
    assert C.k1 == K1 and C.k3 == K3
    assert C.k2 == pytest.approx(K2_PUBLISHED, abs=2e-5)
    assert C.k4 == pytest.approx(K4_PUBLISHED, abs=1e-4)
    # Both continuity conditions, solved for the SDR knee level from the published values.
    assert K2_PUBLISHED / (1 - K3) == pytest.approx(58.535, abs=1e-4)
    assert K4_PUBLISHED + K2_PUBLISHED * math.log(1 - K3) == pytest.approx(58.535, abs=1e-4)
    assert C.y_hdr_ip == pytest.approx(69.84916828, abs=1e-7)


def test_curve_equals_the_reports_formula():
    ours = itm.tone_mapping_BT2446_C(NITS)
    np.testing.assert_allclose(ours, _literal_curve(NITS), rtol=0, atol=1e-4)


def test_reference_points():
    # HDR reference white (BT.2408, 203 cd/m^2) -> 90.65 cd/m^2 = 96.0 % BT.1886 signal.
    white = float(itm.tone_mapping_BT2446_C(203.0))
    assert white == pytest.approx(90.6522158, abs=1e-6)
    assert (white / 100.0) ** (1 / 2.4) == pytest.approx(0.95993, abs=1e-5)
    # 1000 cd/m^2 -> 118.38 cd/m^2 = 107.3 %, inside the 109 % super-white range.
    peak = float(itm.tone_mapping_BT2446_C(1000.0))
    assert peak == pytest.approx(118.3772622, abs=1e-6)
    assert 1.0 < (peak / 100.0) ** (1 / 2.4) < 1.09
    # Linear segment below the knee: slope k1.
    assert float(itm.tone_mapping_BT2446_C(50.0)) == pytest.approx(50.0 * K1, rel=1e-15)
    # And back.
    assert float(itm.tone_mapping_inverse_BT2446_C(white)) == pytest.approx(203.0, rel=1e-12)


def test_sdr_grey_placement():
    # SDR 18 % grey, as scene-linear at 100 cd/m^2 per unit (bt2446c with the pipeline's levels).
    grey = np.full(3, 0.18)
    assert itm.inverse_tonemap(
        grey, peak_nits=1000.0, reference_white_nits=100.0
    ) / 100 == pytest.approx([0.1370029] * 3, abs=1e-7)
    # With the Report's curve unscaled (reference white 203): 25.4 cd/m^2, next to BT.2408's 26.
    assert itm.inverse_tonemap(grey, peak_nits=1000.0, reference_white_nits=203.0) == pytest.approx(
        [25.42649] * 3, abs=1e-5
    )


# -- the curve pair ----------------------------------------------------------------------------


def test_knee_is_continuous_in_value_and_slope():
    ip, h = C.y_hdr_ip, 1e-6
    below, at, above = itm.tone_mapping_BT2446_C(np.array([ip - h, ip, ip + h]))
    assert at == pytest.approx(C.y_sdr_ip, rel=1e-14)
    assert (at - below) / h == pytest.approx(K1, rel=1e-6)
    assert (above - at) / h == pytest.approx(K1, rel=1e-6)
    inv_below, inv_at, inv_above = itm.tone_mapping_inverse_BT2446_C(
        np.array([C.y_sdr_ip - h, C.y_sdr_ip, C.y_sdr_ip + h])
    )
    assert inv_at == pytest.approx(ip, rel=1e-14)
    assert (inv_at - inv_below) / h == pytest.approx(1 / K1, rel=1e-6)
    assert (inv_above - inv_at) / h == pytest.approx(1 / K1, rel=1e-6)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_inverse_of_forward_is_identity(dtype, rtol):
    y = np.concatenate([NITS, -NITS[:50]]).astype(dtype)
    sdr = itm.tone_mapping_BT2446_C(y)
    back = itm.tone_mapping_inverse_BT2446_C(sdr)
    assert sdr.dtype == dtype and back.dtype == dtype
    np.testing.assert_allclose(back, y, rtol=rtol, atol=0)


def test_forward_of_inverse_is_identity():
    sdr = np.linspace(-5.0, 150.0, 20001)
    np.testing.assert_allclose(
        itm.tone_mapping_BT2446_C(itm.tone_mapping_inverse_BT2446_C(sdr)),
        sdr,
        rtol=1e-12,
        atol=1e-12,
    )


def test_curves_are_strictly_increasing():
    y = np.linspace(-10.0, 10000.0, 200001)
    assert np.all(np.diff(itm.tone_mapping_BT2446_C(y)) > 0)
    s = np.linspace(-10.0, 140.0, 200001)
    assert np.all(np.diff(itm.tone_mapping_inverse_BT2446_C(s)) > 0)


def test_nan_propagates_and_shapes_are_kept():
    y = np.full((2, 3, 4), np.nan)
    assert np.isnan(itm.tone_mapping_BT2446_C(y)).all()
    assert np.isnan(itm.tone_mapping_inverse_BT2446_C(y)).all()
    assert itm.tone_mapping_BT2446_C([1.0, 2.0]).dtype == np.float64


# -- RGB conversion with crosstalk -------------------------------------------------------------


def test_crosstalk_matrix_and_its_inverse():
    alpha = 0.1
    m = itm.crosstalk_matrix_BT2446_C(alpha)
    np.testing.assert_allclose(m, [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], atol=1e-15)
    expected_inverse = (np.eye(3) * (1 - alpha) - (np.ones((3, 3)) - np.eye(3)) * alpha) / (
        1 - 3 * alpha
    )
    np.testing.assert_allclose(np.linalg.inv(m), expected_inverse, atol=1e-14)


def _literal_sdr_to_hdr(rgb709: np.ndarray, alpha: float) -> np.ndarray:
    """Section 6.2 step by step with colour-science: 709 -> 2020, crosstalk, Yxy, curve, back."""
    colour = pytest.importorskip("colour")
    bt709 = colour.RGB_COLOURSPACES["ITU-R BT.709"]
    bt2020 = colour.RGB_COLOURSPACES["ITU-R BT.2020"]
    rgb2020 = rgb709 @ colour.matrix_RGB_to_RGB(bt709, bt2020).T
    crosstalk = itm.crosstalk_matrix_BT2446_C(alpha)
    mixed = rgb2020 @ crosstalk.T
    xyY = colour.XYZ_to_xyY(mixed @ bt2020.matrix_RGB_to_XYZ.T)
    xyY[..., 2] = _literal_inverse(xyY[..., 2])
    hdr2020 = colour.xyY_to_XYZ(xyY) @ bt2020.matrix_XYZ_to_RGB.T
    unmixed = hdr2020 @ np.linalg.inv(crosstalk).T
    return unmixed @ colour.matrix_RGB_to_RGB(bt2020, bt709).T


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.33])
def test_rgb_conversion_equals_the_literal_yxy_route(alpha):
    rng = np.random.default_rng(7)
    rgb = rng.uniform(0.01, 1.0, size=(500, 3)) * 118.0  # SDR display light, cd/m^2
    constants = itm.BT2446MethodC(alpha=alpha)
    ours = itm.sdr_to_hdr_BT2446_C(rgb, constants)
    # Published k2, k4 vs ours derived from continuity: 1e-5 in the constants, ~1e-6 relative.
    np.testing.assert_allclose(ours, _literal_sdr_to_hdr(rgb, alpha), rtol=5e-6)


def test_rgb_round_trip_and_neutrals():
    rng = np.random.default_rng(3)
    rgb = rng.uniform(0.0, 1.2, size=(64, 32, 3)) * 100.0
    hdr = itm.sdr_to_hdr_BT2446_C(rgb)
    np.testing.assert_allclose(itm.hdr_to_sdr_BT2446_C(hdr), rgb, rtol=1e-12, atol=1e-12)
    grey = np.linspace(0.0, 120.0, 50)[:, None].repeat(3, axis=1)
    expected = _literal_inverse(grey[:, 0])
    np.testing.assert_allclose(
        itm.sdr_to_hdr_BT2446_C(grey), expected[:, None].repeat(3, 1), rtol=5e-6
    )
    # Black and negative luminance use the linear segment (no division by zero).
    np.testing.assert_allclose(
        itm.sdr_to_hdr_BT2446_C([[0.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]),
        [[0.0, 0.0, 0.0], [-1 / K1, 0.0, 0.0]],
        atol=1e-15,
    )


def test_rgb_conversion_keeps_chromaticity():
    colour = pytest.importorskip("colour")
    rgb = np.array([[80.0, 30.0, 10.0], [10.0, 90.0, 100.0]])
    hdr = itm.sdr_to_hdr_BT2446_C(rgb)
    bt709 = colour.RGB_COLOURSPACES["ITU-R BT.709"]
    xy_in = colour.XYZ_to_xy(rgb @ bt709.matrix_RGB_to_XYZ.T)
    xy_out = colour.XYZ_to_xy(hdr @ bt709.matrix_RGB_to_XYZ.T)
    np.testing.assert_allclose(xy_out, xy_in, atol=1e-12)
    assert np.all(hdr.sum(-1) > rgb.sum(-1))


def test_float32_stays_float32():
    rgb = np.random.default_rng(0).uniform(0, 1, (8, 8, 3)).astype(np.float32)
    for out in (
        itm.sdr_to_hdr_BT2446_C(rgb * 100),
        itm.inverse_tonemap(rgb),
        itm.inverse_tonemap(rgb, "power"),
    ):
        assert out.dtype == np.float32
    np.testing.assert_allclose(itm.tonemap(itm.inverse_tonemap(rgb)), rgb, rtol=2e-5, atol=1e-6)


# -- dispatcher --------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["bt2446c", "power"])  # "auto" has no inverse
@pytest.mark.parametrize(
    "peak, white", [(1000.0, 203.0), (1000.0, 100.0), (4000.0, 203.0), (300.0, 250.0)]
)
def test_dispatcher_round_trip_white_and_monotone(operator, peak, white):
    rng = np.random.default_rng(11)
    rgb = rng.uniform(0.0, 1.0, size=(2000, 3))
    hdr = itm.inverse_tonemap(rgb, operator, peak_nits=peak, reference_white_nits=white)
    back = itm.tonemap(hdr, operator, peak_nits=peak, reference_white_nits=white)
    np.testing.assert_allclose(back, rgb, rtol=1e-10, atol=1e-12)
    assert itm.inverse_tonemap(
        np.ones(3), operator, peak_nits=peak, reference_white_nits=white
    ) == pytest.approx([peak] * 3, rel=1e-12)
    ramp = np.linspace(0.0, 1.0, 4097)[:, None].repeat(3, axis=1)
    y = itm.inverse_tonemap(ramp, operator, peak_nits=peak, reference_white_nits=white)[:, 1]
    assert np.all(np.diff(y) > 0)


@pytest.mark.parametrize("white", [203.0, 100.0])
def test_bt2446c_reference_white_lands_on_reference_white_nits(white):
    # SDR level of the Report's reference white, relative to SDR white at the curve's peak.
    curve_peak = 1000.0 * 203.0 / white
    level = float(_literal_curve(np.float64(203.0)) / _literal_curve(np.float64(curve_peak)))
    hdr = itm.inverse_tonemap(np.full(3, level), peak_nits=1000.0, reference_white_nits=white)
    np.testing.assert_allclose(hdr, white, rtol=1e-5)


def test_bt2446c_anchors_sdr_white_on_the_peak_not_on_the_reports_100_nit_display():
    """What the dispatcher does at reference white 203 and peak 1000, from the Report's formula.

    It reads relative SDR light ``E`` as ``E * 118.38`` cd/m^2 (118.38 = the Report's curve at
    1000 cd/m^2), so that SDR white lands on the peak. The Report's own SDR display is
    100 cd/m^2 (``E * 100``): there SDR white would expand to only 332.6 cd/m^2 and 18 % grey
    to 21.48 cd/m^2, where the dispatcher gives 1000 and 25.43.
    """
    sdr_white = float(_literal_curve(np.float64(1000.0)))
    assert sdr_white == pytest.approx(118.3772, abs=1e-3)
    e = np.array([0.18, 58.535 / sdr_white, 90.6522158 / sdr_white, 100.0 / sdr_white, 1.0])
    hdr = itm.inverse_tonemap(e[:, None].repeat(3, 1), peak_nits=1000.0, reference_white_nits=203.0)
    np.testing.assert_allclose(hdr[:, 0], _literal_inverse(e * sdr_white), rtol=5e-6)
    assert hdr[0, 0] == pytest.approx(25.4265, abs=1e-3)
    assert hdr[2, 0] == pytest.approx(203.0, rel=1e-5)  # BT.2408 reference white
    assert hdr[4, 0] == pytest.approx(1000.0, rel=1e-9)
    # The Report's literal reading of the same SDR (100 cd/m^2 white) is different:
    assert float(_literal_inverse(100.0)) == pytest.approx(332.58, abs=0.01)
    assert float(_literal_inverse(18.0)) == pytest.approx(21.479, abs=1e-3)


def test_operator_parameters_for_provenance():
    report = itm.operator_parameters(peak_nits=1000.0, reference_white_nits=203.0)
    assert report["k2"] == pytest.approx(K2_PUBLISHED, abs=2e-5)
    assert report["k4"] == pytest.approx(K4_PUBLISHED, abs=1e-4)
    assert report["curve_units_per_nit"] == 1.0
    assert report["sdr_white_curve_nits"] == pytest.approx(118.3772622, abs=1e-6)
    assert itm.operator_parameters("power", peak_nits=1000.0, reference_white_nits=203.0) == {
        "gamma": pytest.approx(math.log(0.026) / math.log(0.18))
    }
    with pytest.raises(InvalidArgument, match="k9"):
        itm.operator_parameters(k9=1.0)


def test_power_places_grey_on_the_bt2408_grey_card():
    gamma = itm.power_gamma_for_grey(1000.0, 203.0)
    assert gamma == pytest.approx(math.log(0.026) / math.log(0.18), rel=1e-12)
    grey = itm.inverse_tonemap(
        np.full(3, 0.18), "power", peak_nits=1000.0, reference_white_nits=203.0
    )
    np.testing.assert_allclose(grey, 26.0, rtol=1e-12)
    fixed = itm.inverse_tonemap(np.full(3, 0.5), "power", peak_nits=1000.0, gamma=1.0)
    np.testing.assert_allclose(fixed, 500.0, rtol=1e-12)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: itm.inverse_tonemap(np.ones(3), "reinhard"), "operator"),
        (
            lambda: itm.inverse_tonemap(np.ones(3), peak_nits=100.0, reference_white_nits=203.0),
            "peak_nits",
        ),
        (
            lambda: itm.inverse_tonemap(np.ones(3), reference_white_nits=-1.0),
            "reference_white_nits",
        ),
        (lambda: itm.inverse_tonemap(np.ones(3), alpha=0.4), "alpha"),
        (lambda: itm.inverse_tonemap(np.ones(3), gamma=2.0), "gamma"),
        (lambda: itm.inverse_tonemap(np.ones(3), "power", gamma=0.5), "gamma"),
        (lambda: itm.inverse_tonemap(np.ones(4)), "rgb_sdr"),
        (lambda: itm.BT2446MethodC(k3=1.5), "k3"),
    ],
)
def test_bad_arguments_are_named(call, argument):
    with pytest.raises(InvalidArgument) as info:
        call()
    assert info.value.argument == argument
