"""Synthetic HDR images: exact ranges, exact peak, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io.synthetic import gradient, sun_disc


def test_gradient_range_and_log_spacing() -> None:
    image = gradient(221, 16)
    assert image.dtype == np.float32 and image.shape == (16, 221, 3)
    assert image.min() == np.float32(2.0**-10) and image.max() == np.float32(2.0**12)
    # Every row of every channel spans exactly 2^-10 .. 2^12 (22 stops), monotonically.
    np.testing.assert_array_equal(image[:, 0], 2.0**-10)
    np.testing.assert_array_equal(image[:, -1], 2.0**12)
    assert (np.diff(image, axis=1) > 0).all()
    # Top row is neutral with equal log2 steps: 22 stops over 220 intervals = 0.1 stop each.
    top = np.log2(image[0].astype(np.float64))
    np.testing.assert_allclose(top[:, 0], top[:, 1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.diff(top[:, 0]), 0.1, atol=1e-5)
    # Lower rows are chromatic: G below R below B in the middle of the ramp.
    middle = image[-1, 110]
    assert middle[1] < middle[0] < middle[2]
    np.testing.assert_allclose(middle[0], 2.0 ** (-10 + 22 * 0.5), rtol=1e-5)
    np.testing.assert_allclose(middle[1], 2.0 ** (-10 + 22 * 0.5**2), rtol=1e-5)


def test_gradient_custom_range_and_determinism() -> None:
    image = gradient(10, 3, low=0.5, high=8.0)
    assert image.min() == 0.5 and image.max() == 8.0
    np.testing.assert_array_equal(image, gradient(10, 3, low=0.5, high=8.0))
    assert gradient(1, 1).shape == (1, 1, 3)


def test_sun_disc_peak_and_sky() -> None:
    image = sun_disc(256, 128)
    assert image.dtype == np.float32 and image.shape == (128, 256, 3)
    assert image.max() == np.float32(1.0e4)
    assert np.isfinite(image).all() and image.min() > 0
    # The disc centre is the sun colour; the far corner is sky (glow below 5% of peak).
    np.testing.assert_allclose(image[int(0.3 * 128), int(0.7 * 256)], [1.0e4, 9300.0, 8000.0])
    assert image[0, 0].max() < 0.05 * 1e4 + 1.0
    assert image[-1, 0, 0] > image[0, 0, 0]  # horizon brighter than zenith in R
    np.testing.assert_array_equal(image, sun_disc(256, 128))
    assert sun_disc(64, 32, peak=500.0, radius=0.1).max() == np.float32(500.0)


@pytest.mark.parametrize(
    ("function", "kwargs", "argument"),
    [
        (gradient, {"width": 0, "height": 4}, "width"),
        (gradient, {"width": 4, "height": 2.5}, "height"),
        (gradient, {"width": 4, "height": 4, "low": 0.0}, "low"),
        (gradient, {"width": 4, "height": 4, "low": 2.0, "high": 1.0}, "low"),
        (sun_disc, {"width": 4, "height": 4, "peak": -1.0}, "peak"),
        (sun_disc, {"width": 4, "height": 4, "radius": 0.0}, "radius"),
        (sun_disc, {"width": 4, "height": 4, "sky": (1.0, 2.0)}, "sky"),
    ],
)
def test_bad_arguments(function, kwargs: dict, argument: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        function(**kwargs)
    assert info.value.argument == argument
