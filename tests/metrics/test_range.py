"""Peak, dynamic range and clipped fraction on synthetic images with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics.range import (
    LuminanceStats,
    clipped_fraction,
    dynamic_range_stops,
    image_luminance,
    peak,
)


def _log_ramp(low_stop: float, high_stop: float, shape=(64, 96)) -> np.ndarray:
    n = shape[0] * shape[1]
    return (2.0 ** np.linspace(low_stop, high_stop, n)).reshape(shape)


def test_dynamic_range_exact_stops_min_max():
    y = _log_ramp(-3.0, 7.0)
    assert dynamic_range_stops(y, low_percentile=0.0, high_percentile=100.0) == pytest.approx(
        10.0, abs=1e-12
    )


def test_dynamic_range_default_percentiles_two_level_image():
    # Half the pixels at 2^-4, half at 2^6: the 0.1th and 99.9th percentiles are those values.
    y = np.full((100, 100), 2.0**-4)
    y[50:] = 2.0**6
    assert dynamic_range_stops(y) == 10.0


def test_dynamic_range_ignores_zeros_and_negatives():
    y = _log_ramp(0.0, 12.0)
    with_black = y.copy()
    with_black[:5] = 0.0
    with_black[5, :3] = -1.0
    kwargs = {"low_percentile": 0.0, "high_percentile": 100.0}
    assert dynamic_range_stops(with_black, **kwargs) == pytest.approx(
        math.log2(with_black.max() / with_black[with_black > 0].min()), abs=1e-12
    )
    assert dynamic_range_stops(np.zeros((8, 8))) == 0.0
    assert dynamic_range_stops(np.full((8, 8), 3.0)) == 0.0


def test_dynamic_range_is_scale_invariant():
    y = _log_ramp(-2.0, 9.0)
    assert dynamic_range_stops(y * 1000.0) == pytest.approx(dynamic_range_stops(y), abs=1e-9)


def test_dynamic_range_percentile_validation():
    y = _log_ramp(0.0, 1.0)
    with pytest.raises(InvalidArgument) as e:
        dynamic_range_stops(y, low_percentile=50.0, high_percentile=40.0)
    assert e.value.argument == "low_percentile"
    with pytest.raises(InvalidArgument) as e:
        dynamic_range_stops(y, high_percentile=101.0)
    assert e.value.argument == "high_percentile"


def test_peak_max_and_robust():
    y = np.ones((100, 100))
    y[0, 0] = 500.0  # one hot pixel: max reports it, the 99.9th percentile does not
    result = peak(y, nits_per_unit=100.0)
    assert result["max"] == pytest.approx(50000.0)
    assert result["robust"] == pytest.approx(100.0)
    assert result["percentile"] == 99.9
    assert peak(y, nits_per_unit=1.0, percentile=100.0)["robust"] == pytest.approx(500.0)


def test_peak_rgb_uses_colorspace_luminance():
    x = np.zeros((4, 4, 3), np.float32)
    x[..., 1] = 1.0  # pure green: Y = Y-row green weight of BT.709 (0.7152)
    assert peak(x, nits_per_unit=1.0)["max"] == pytest.approx(0.7152, abs=1e-4)


def test_clipped_fraction_of_clamped_vs_unclamped_image():
    n = 1000
    ramp = np.linspace(0.0, 2.0, n).reshape(20, 50)
    clamped = np.minimum(ramp, 1.0)
    expected = np.count_nonzero(ramp >= 1.0) / n
    assert clipped_fraction(clamped) == pytest.approx(expected)
    assert expected > 0.45
    # Unclamped: only its single brightest pixel sits within 0.1 % of the maximum.
    assert clipped_fraction(ramp) == pytest.approx(1.0 / n)


def test_clipped_fraction_rgb_any_channel_and_fixed_level():
    x = np.full((10, 10, 3), 0.2, np.float32)
    x[:3, :, 0] = 1.0  # 30 % of pixels clipped in red only
    x[0, 0] = (4.0, 4.0, 4.0)  # a brighter pixel: with level=None the plateau is at 4.0
    assert clipped_fraction(x, level=1.0) == pytest.approx(0.30)
    assert clipped_fraction(x) == pytest.approx(0.01)
    assert clipped_fraction(x[..., :3][:, 1:], level=1.0) == pytest.approx(27 / 90)


def test_clipped_fraction_tolerance_and_black():
    x = np.array([[1.0, 0.9995, 0.998, 0.5]])
    assert clipped_fraction(x, tolerance=1e-3) == pytest.approx(0.5)
    assert clipped_fraction(x, tolerance=0.0) == pytest.approx(0.25)
    assert clipped_fraction(np.zeros((3, 3))) == 0.0
    with pytest.raises(InvalidArgument):
        clipped_fraction(x, tolerance=1.0)
    with pytest.raises(InvalidArgument):
        clipped_fraction(x, level=0.0)


def test_nonfinite_rejected():
    y = np.ones((4, 4))
    y[1, 1] = np.nan
    with pytest.raises(InvalidArgument, match="NaN/Inf"):
        peak(y)
    with pytest.raises(InvalidArgument):
        dynamic_range_stops(np.full((2, 2), np.inf))


def test_image_luminance_channel_handling():
    y = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(image_luminance(y), y)
    np.testing.assert_array_equal(image_luminance(y[..., None]), y)
    with pytest.raises(InvalidArgument):
        image_luminance(np.ones((3, 4, 2)))


def test_luminance_stats_exact_matches_functions():
    rng = np.random.default_rng(0)
    frames = [2.0 ** rng.uniform(-8, 10, size=(30, 40)) for _ in range(3)]
    stats = LuminanceStats()
    for f in frames:
        stats.add(f)
    everything = np.stack(frames)
    assert stats.exact
    assert stats.dynamic_range_stops() == pytest.approx(
        dynamic_range_stops(everything.reshape(-1, 40)), abs=1e-12
    )
    assert stats.peak(nits_per_unit=1.0)["robust"] == pytest.approx(np.percentile(everything, 99.9))


def test_luminance_stats_histogram_within_a_bin():
    rng = np.random.default_rng(1)
    values = 2.0 ** rng.uniform(-10, 14, size=200_000)
    values[:1000] = 0.0
    stats = LuminanceStats(exact_limit=0)  # force the histogram path
    for chunk in np.array_split(values, 7):
        stats.add(chunk)
    assert not stats.exact
    positive = values[values > 0]
    for q in (0.1, 50.0, 99.9):
        exact = np.percentile(positive, q)
        got = stats.percentile(q, positive_only=True)
        assert abs(math.log2(got / exact)) < 2.0 / LuminanceStats.BINS_PER_STOP
    assert stats.maximum == values.max()
    assert stats.dynamic_range_stops() == pytest.approx(
        math.log2(np.percentile(positive, 99.9) / np.percentile(positive, 0.1)), abs=0.01
    )
    edges, counts = stats.log2_histogram(bins_per_stop=4)
    assert counts.sum() == positive.size and edges.size == counts.size + 1
