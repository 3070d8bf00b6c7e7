"""The blind 'auto' inverse tone-mapping operator and the forward SDR renderings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdr_mcp.color import inverse_tonemap as itm
from hdr_mcp.color import sdr_rendering as sr
from hdr_mcp.errors import InvalidArgument


def ramp(n=4097, height=8):
    e = np.linspace(0.0, 1.0, n, dtype=np.float32)
    return np.broadcast_to(e[None, :, None], (height, n, 3)).copy()


def analysis(softness):
    knee = 0.85 + (0.3 - 0.85) * softness
    return itm.ShotAnalysis(0.0, 0.0, 0.0, softness, knee, 1)


@pytest.mark.parametrize("softness", [0.0, 0.5, 1.0])
def test_ramp_is_linear_below_the_knee_monotone_and_continuous(softness):
    a = analysis(softness)
    e = ramp()
    nits = itm.expand(e, a, peak_nits=1000.0, reference_white_nits=203.0)[0, :, 1]
    x = e[0, :, 1]
    below = x < a.knee
    np.testing.assert_allclose(nits[below], x[below] * 203.0, rtol=1e-6)
    assert np.all(np.diff(nits) > 0)
    # Continuous: no step larger than the slope allows (curve slope <= (P - k) / (1 - c)^2...).
    steps = np.diff(nits) / np.diff(x)
    assert steps.max() < 203.0 * 200
    assert np.max(np.abs(np.diff(steps[:-1]))) < 203.0 * 50  # C1-ish: no jump in the slope
    # Knee: slope 203 cd/m^2 per unit on both sides.
    i = int(np.searchsorted(x, a.knee))
    assert steps[i + 1] == pytest.approx(203.0, rel=2e-2)


def test_curve_reaches_the_documented_peaks():
    e = np.ones((1, 1, 3), np.float32)
    # Compressed shot (softness 1): SDR white on peak_nits, no map.
    soft = itm.expand(e, analysis(1.0), peak_nits=1000.0, reference_white_nits=203.0)
    assert soft[0, 0, 0] == pytest.approx(1000.0, rel=1e-5)
    # Clipped shot: the curve stops at 1.5 x reference white (a 1x1 image: map density ~1,
    # so the map multiplies by up to 2).
    clipped = itm.expand(e.reshape(1, 3), analysis(0.0), peak_nits=1000.0)
    assert clipped[0, 0] == pytest.approx(1.5 * 203.0, rel=1e-5)


def test_expand_map_boosts_the_inside_of_large_clipped_areas_only():
    e = np.full((128, 256, 3), 0.3, np.float32)
    e[20:100, 20:120] = 1.0  # a large clipped sky
    e[60, 200] = 1.0  # a specular glint
    out = itm.expand(e, analysis(0.0), peak_nits=1000.0, reference_white_nits=203.0)
    centre, edge, glint = out[60, 70, 1], out[20, 70, 1], out[60, 200, 1]
    assert 2.5 * 203 < centre <= 3.0 * 203 + 1e-3  # curve 1.5 x map up to 2
    assert 1.5 * 203 < edge < centre
    assert glint == pytest.approx(1.5 * 203, rel=0.05)  # a glint is barely boosted
    np.testing.assert_allclose(out[0, 0], 0.3 * 203, rtol=1e-6)  # mid-tones untouched


def test_analysis_tells_clipped_from_compressed():
    rng = np.random.default_rng(0)
    scene = np.exp(rng.normal(np.log(0.18), 1.5, (64, 64, 1))).repeat(3, -1)
    clipped = itm.analyse_shot([np.clip(scene, 0, 1)])
    compressed = itm.analyse_shot([scene / (1 + scene)])
    assert clipped.softness == 0.0 and clipped.knee == pytest.approx(0.85)
    assert compressed.softness == 1.0 and compressed.knee == pytest.approx(0.3)
    # The clipped fraction is the share of pixels at or above display 0.95: P(scene >= 0.95).
    expected = 0.5 * math.erfc((math.log(0.95) - math.log(0.18)) / (1.5 * math.sqrt(2)))
    assert clipped.clipped_fraction == pytest.approx(expected, abs=0.02)
    assert itm.ShotAnalysis(**clipped.to_dict()) == clipped


def test_parameters_are_fixed_per_shot():
    frames = [np.full((16, 16, 3), v, np.float32) for v in (0.1, 1.0, 0.5, 0.1)]
    shot = itm.analyse_shot(frames)
    assert shot.frames == 4
    out = [itm.expand(f, shot) for f in frames]
    np.testing.assert_array_equal(out[0], out[3])  # same SDR frame, same HDR frame


def test_auto_through_the_dispatcher_and_its_errors():
    e = ramp(257)
    assert itm.inverse_tonemap(e, "auto").shape == e.shape
    assert "clip_level" in itm.operator_parameters("auto")
    for call, argument in [
        (lambda: itm.tonemap(e, "auto"), "operator"),
        (lambda: itm.inverse_tonemap(e, "auto", gamma=2.0), "gamma"),
        (lambda: itm.analyse_shot([]), "frames"),
        (lambda: itm.analyse_shot([np.full((4, 4, 3), np.nan)]), "frames"),
        (lambda: itm.expand(e, {"softness": 1}), "analysis"),
        (lambda: itm.expand(e, analysis(1.0), peak_nits=100.0), "peak_nits"),
    ]:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert info.value.argument == argument


def test_black_and_white_frames_are_handled():
    black = np.zeros((8, 8, 3), np.float32)
    white = np.ones((8, 8, 3), np.float32)
    assert np.all(itm.inverse_tonemap(black, "auto") == 0.0)
    out = itm.inverse_tonemap(white, "auto")  # all clipped: curve 1.5 x map 2 everywhere
    assert np.all(np.isfinite(out)) and out.max() <= 1000.0


# -- forward renderings: closed forms from the cited sources --------------------------------


def test_renderings_against_closed_forms():
    x = np.array([[0.0, 0.18, 1.0, 4.0, 30.0]]).T.repeat(3, 1)

    def hable(v):
        a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
        return ((v * (a * v + c * b) + d * e) / (v * (a * v + b) + d * f)) - e / f

    np.testing.assert_allclose(
        sr.hable_filmic(x)[:, 0], np.clip(hable(2 * x[:, 0]) / hable(11.2), 0, 1), rtol=1e-12
    )
    v = 0.6 * x[:, 0]
    aces = np.clip(v * (2.51 * v + 0.03) / (v * (2.43 * v + 0.59) + 0.14), 0, 1)
    np.testing.assert_allclose(sr.aces_fitted_narkowicz(x)[:, 0], aces, rtol=1e-12)
    np.testing.assert_allclose(sr.render_sdr(x, "reinhard")[:, 0], x[:, 0] / (1 + x[:, 0]))
    np.testing.assert_allclose(sr.render_sdr(x, "clip", exposure_ev=1)[:, 0], [0, .36, 1, 1, 1])


def test_bt2446a_reference_points():
    # Report BT.2446-1 section 4 by hand for a neutral 203 cd/m^2 (HDR reference white) at
    # L_HDR = 1000: Y' = 0.203^(1/2.4); rho_HDR = 1 + 32 * 0.1^(1/2.4); Y'_p, the middle
    # segment of the tone curve, rho_SDR = 1 + 32 * 0.01^(1/2.4), then (.)^2.4.
    yp = 0.203 ** (1 / 2.4)
    rho_h = 1 + 32 * 0.1 ** (1 / 2.4)
    p = math.log(1 + (rho_h - 1) * yp) / math.log(rho_h)
    c = -1.1510 * p * p + 2.7811 * p - 0.6302
    rho_s = 1 + 32 * 0.01 ** (1 / 2.4)
    y_sdr = (rho_s**c - 1) / (rho_s - 1)
    expected = (y_sdr - 0) ** 2.4  # neutral: Cb = Cr = 0, so Y'_tmo = Y'_SDR
    got = sr.hdr_to_sdr_BT2446_A(np.array([203.0, 203.0, 203.0]))
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert expected == pytest.approx(0.40603, abs=1e-4)
    # Strictly increasing on a neutral ramp, 1000 cd/m^2 -> SDR white.
    ramp_nits = np.linspace(0.0, 1000.0, 2001)[:, None].repeat(3, 1)
    y = sr.hdr_to_sdr_BT2446_A(ramp_nits)[:, 1]
    assert np.all(np.diff(y[1:]) > 0) and y[-1] == pytest.approx(1.0, abs=1e-9)


def test_sdr_white_is_expanded_at_most_to_bt2408s_ratio():
    # Report ITU-R BT.2408: a 1000 cd/m^2 display puts reference white at 203 cd/m^2. 'auto'
    # expands SDR white at most that far above reference white; target peaks are ceilings.
    e = np.ones((1, 1, 3), np.float32)
    wide = itm.expand(e, analysis(1.0), peak_nits=1000.0, reference_white_nits=100.0)
    assert wide[0, 0, 0] == pytest.approx(100.0 * 1000.0 / 203.0, rel=1e-5)
    low = itm.expand(e, analysis(1.0), peak_nits=300.0, reference_white_nits=100.0)
    assert low[0, 0, 0] == pytest.approx(300.0, rel=1e-5)
    levels = analysis(1.0).levels(1000.0, 100.0)
    assert levels["sdr_white_nits"] == pytest.approx(100.0 * 1000.0 / 203.0)
    assert levels["knee_nits"] == pytest.approx(30.0)
    clipped = analysis(0.0).levels(1000.0, 100.0)
    assert (clipped["sdr_white_nits"], clipped["clipped_area_nits"]) == pytest.approx((150, 300))


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((8, 8, 3), np.float32),  # black
        np.ones((8, 8, 3), np.float32),  # white
        np.full((8, 8, 3), (0.7, 0.2, 0.05), np.float32),  # one colour, bright and saturated
        np.full((1, 1, 3), 0.5, np.float32),  # one pixel
        np.zeros((2, 3), np.float32)[..., None].repeat(3, -1),  # tiny
    ],
    ids=["black", "white", "single_colour", "one_pixel", "tiny"],
)
def test_degenerate_frames_give_finite_analyses(frame):
    shot = itm.analyse_shot([frame])
    values = [*shot.to_dict().values(), *shot.levels(1000.0, 100.0).values()]
    assert all(math.isfinite(v) for v in values)
    assert 0.0 <= shot.softness <= 1.0 and 0.3 - 1e-9 <= shot.knee <= 0.85 + 1e-9
    out = itm.expand(frame, shot, peak_nits=1000.0, reference_white_nits=100.0)
    assert np.all(np.isfinite(out)) and np.all(out >= 0)
