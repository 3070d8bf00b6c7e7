"""Deterministic synthetic HDR test images (scene-linear float32, no randomness).

These exist so tests, benchmarks and demos have HDR content with *known* statistics: a ramp
whose range is exactly ``[low, high]`` in every channel, and a sky whose peak is exactly the sun
value. Both are pure functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hdr_mcp.errors import InvalidArgument

__all__ = ["gradient", "sun_disc"]


def _check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidArgument(name, value, "expected a positive integer")


def gradient(width: int, height: int, low: float = 2.0**-10, high: float = 2.0**12) -> np.ndarray:
    """Log-spaced ramp from ``low`` to ``high`` (left to right), varying per channel down the image.

    Every row runs from exactly ``low`` (left column) to exactly ``high`` (right column) in every
    channel, so each row spans ``log2(high / low)`` stops (22 by default, 2^-10 .. 2^12). The top
    row is neutral (R = G = B, equal steps in log2); going down, G and B bend away from R in log
    space (exponents ``t**(1 + s)`` and ``t**(1 / (1 + s))`` of the normalised position ``t``,
    ``s`` from 0 at the top to 1 at the bottom), so lower rows carry saturated colours at every
    exposure while staying monotonic and smooth.

    Parameters
    ----------
    width, height
        Size in pixels (positive). A width of 1 gives ``low`` everywhere.
    low, high
        Positive scene-linear values, ``low < high``.

    Returns
    -------
    numpy.ndarray
        float32, shape (height, width, 3).
    """
    _check_size(width, height)
    if not (np.isfinite(low) and np.isfinite(high) and 0.0 < low < high):
        raise InvalidArgument("low", (low, high), "expected finite 0 < low < high")
    t = np.linspace(0.0, 1.0, width, dtype=np.float64)[None, :]
    s = np.linspace(0.0, 1.0, height, dtype=np.float64)[:, None] if height > 1 else np.zeros((1, 1))
    span = np.log(high / low)
    red = np.broadcast_to(t, (height, width))
    green = t ** (1.0 + s)
    blue = t ** (1.0 / (1.0 + s))
    image = np.exp(np.stack([red, green, blue], axis=-1) * span) * low
    # Pin the end points exactly (exp/log round trips are off by an ulp or so).
    image[:, 0, :] = low
    if width > 1:
        image[:, -1, :] = high
    return image.astype(np.float32)


def sun_disc(
    width: int,
    height: int,
    peak: float = 1.0e4,
    radius: float = 0.04,
    sky: Sequence[float] = (0.25, 0.45, 1.0),
    *,
    center: tuple[float, float] = (0.7, 0.3),
    horizon: Sequence[float] = (1.0, 0.95, 0.9),
) -> np.ndarray:
    """A clear sky with a sun: smooth gradient, a glow, and an anti-aliased disc of value ``peak``.

    The sky goes linearly from ``sky`` (zenith, top row) to ``horizon`` (bottom row); a glow
    adds ``0.05 * peak * exp(-d / radius_px)`` around the sun (``d`` in pixels from the disc's
    edge, so it never exceeds 5% of the peak); the disc has colour ``peak * (1, 0.93, 0.8)``
    (warm white) so the image maximum is exactly ``peak`` in R whenever the disc fully covers a
    pixel (radius of 1.5 px or more). Edge pixels are blended by their coverage (a 1-pixel linear
    ramp), so the disc has no aliasing.

    Parameters
    ----------
    width, height
        Size in pixels (positive).
    peak
        Sun value, scene-linear (1e4 by default: ~13 stops over a 0.18 grey card).
    radius
        Disc radius as a fraction of ``height`` (> 0).
    sky, horizon
        Scene-linear RGB of the sky at the top and bottom rows.
    center
        Disc centre as fractions of (width, height).

    Returns
    -------
    numpy.ndarray
        float32, shape (height, width, 3), all values finite and > 0.
    """
    _check_size(width, height)
    if not (np.isfinite(peak) and peak > 0):
        raise InvalidArgument("peak", peak, "expected a positive finite value")
    if not (np.isfinite(radius) and radius > 0):
        raise InvalidArgument("radius", radius, "expected a positive fraction of the height")
    zenith = np.asarray(sky, dtype=np.float64)
    bottom = np.asarray(horizon, dtype=np.float64)
    if zenith.shape != (3,) or bottom.shape != (3,) or (zenith < 0).any() or (bottom < 0).any():
        raise InvalidArgument(
            "sky", (tuple(sky), tuple(horizon)), "expected two non-negative RGB triples"
        )

    rows = (np.arange(height, dtype=np.float64) + 0.5) / height
    image = np.empty((height, width, 3), dtype=np.float64)
    image[...] = (zenith * (1.0 - rows[:, None]) + bottom * rows[:, None])[:, None, :]

    radius_px = radius * height
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    distance = np.hypot(x - center[0] * width, y - center[1] * height)
    outside = np.maximum(distance - radius_px, 0.0)
    image += (0.05 * peak * np.exp(-outside / radius_px))[..., None] * np.array([1.0, 0.9, 0.75])
    coverage = np.clip(radius_px + 0.5 - distance, 0.0, 1.0)[..., None]
    sun = peak * np.array([1.0, 0.93, 0.8])
    image = coverage * sun + (1.0 - coverage) * image
    return image.astype(np.float32)
