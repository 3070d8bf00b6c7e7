"""No-reference range metrics of scene-linear HDR images: peak, dynamic range, clipping.

These say whether a prediction *is* HDR at all: a model that learned to clamp at 1.0, or that
compresses a sky into two stops, shows it here before any reference is needed.

Luminance is the Y row of the image colour space's RGB->XYZ matrix
(:func:`hdr_mcp.color.luminance`); ``(H, W)`` and ``(H, W, 1)`` images are luminance already and
a 4th (alpha) channel is ignored.
"""

from __future__ import annotations

import math

import numpy as np

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics._checks import as_image, percentile_value, positive_scale

__all__ = [
    "DEFAULT_HIGH_PERCENTILE",
    "DEFAULT_LOW_PERCENTILE",
    "LuminanceStats",
    "clipped_fraction",
    "dynamic_range_stops",
    "image_luminance",
    "peak",
]

#: Percentiles of positive luminance that bound the dynamic range and the robust peak: 0.1 % of
#: pixels at either end (hot pixels, a specular glint, a black border) do not decide the figure.
DEFAULT_LOW_PERCENTILE = 0.1
DEFAULT_HIGH_PERCENTILE = 99.9
DEFAULT_CLIP_TOLERANCE = 1e-3


def image_luminance(
    x: object, colorspace: str = "lin_rec709", *, argument: str = "x"
) -> np.ndarray:
    """Scene-linear luminance (float64, shape ``x.shape[:-1]``, or ``x.shape`` for 2-D input)."""
    arr = as_image(x, argument, min_ndim=2)
    if arr.ndim == 2:
        return arr
    channels = arr.shape[-1]
    if channels == 1:
        return arr[..., 0]
    if channels in (3, 4):
        from hdr_mcp.color import luminance

        return np.asarray(luminance(arr[..., :3], colorspace), np.float64)
    raise InvalidArgument(argument, arr.shape, "expected 1, 3 or 4 channels on the last axis")


def _check_percentiles(low: float, high: float) -> tuple[float, float]:
    lo = percentile_value(low, "low_percentile")
    hi = percentile_value(high, "high_percentile")
    if lo >= hi:
        raise InvalidArgument("low_percentile", low, f"must be below high_percentile={high}")
    return lo, hi


def peak(
    x: object,
    *,
    nits_per_unit: float = 100.0,
    percentile: float = DEFAULT_HIGH_PERCENTILE,
    colorspace: str = "lin_rec709",
) -> dict[str, float]:
    """Peak luminance: the maximum and a robust peak (a high percentile), in cd/m^2.

    Returns ``{"max": max(Y) * nits_per_unit, "robust": P(Y, percentile) * nits_per_unit,
    "percentile": percentile}``. The percentile is taken over all pixels (numpy's linear
    interpolation); ``robust`` ignores a handful of hot pixels that ``max`` reports.
    """
    scale = positive_scale(nits_per_unit)
    q = percentile_value(percentile, "percentile")
    y = image_luminance(x, colorspace)
    return {
        "max": float(np.max(y)) * scale,
        "robust": float(np.percentile(y, q)) * scale,
        "percentile": q,
    }


def _stops(lo: float, hi: float) -> float:
    if not (lo > 0.0 and hi > 0.0):
        return 0.0
    return max(0.0, math.log2(hi / lo))


def dynamic_range_stops(
    x: object,
    *,
    low_percentile: float = DEFAULT_LOW_PERCENTILE,
    high_percentile: float = DEFAULT_HIGH_PERCENTILE,
    colorspace: str = "lin_rec709",
) -> float:
    """Dynamic range in stops: ``log2(P_high / P_low)`` of the *positive* luminance values.

    Pixels with luminance <= 0 (true black, borders, out-of-gamut negatives) are ignored: a
    logarithmic ratio is undefined for them and counting them would make any image with one
    black pixel infinitely wide. Percentiles use numpy's linear interpolation. With
    ``low_percentile=0, high_percentile=100`` this is ``log2(max / min_positive)``. Returns 0.0 when
    no pixel is positive. Scale invariant, so no ``nits_per_unit``.
    """
    lo, hi = _check_percentiles(low_percentile, high_percentile)
    y = image_luminance(x, colorspace)
    positive = y[y > 0.0]
    if positive.size == 0:
        return 0.0
    p_lo, p_hi = np.percentile(positive, [lo, hi])
    return _stops(float(p_lo), float(p_hi))


def clipped_fraction(
    x: object, *, level: float | None = None, tolerance: float = DEFAULT_CLIP_TOLERANCE
) -> float:
    """Fraction of pixels sitting on a clipping plateau at the top of the range.

    A pixel is clipped when its largest colour channel is ``>= level * (1 - tolerance)``
    (``tolerance`` is relative, so it works for data clamped at 1.0, at 65504 or anywhere else).

    ``level=None`` (default) takes the image's own largest channel value as the clip level: a
    prediction clamped at 1.0 (or at any ceiling) piles many pixels onto that value, while an
    unclipped image has only the few pixels within ``tolerance`` of its single brightest one
    (about ``1 / n_pixels``). Pass ``level=1.0`` to count values at or above SDR white instead.
    Returns a fraction in [0, 1]; 0.0 when the clip level is <= 0 (an all-black image).
    """
    arr = as_image(x, "x", min_ndim=2)
    try:
        tol = float(tolerance)
    except (TypeError, ValueError) as e:
        raise InvalidArgument("tolerance", tolerance, "expected a number in [0, 1)") from e
    if not 0.0 <= tol < 1.0:
        raise InvalidArgument("tolerance", tolerance, "expected a relative tolerance in [0, 1)")
    channel_max = arr if arr.ndim == 2 else np.max(arr[..., :3], axis=-1)
    if level is None:
        top = float(np.max(channel_max))
    else:
        top = positive_scale(level, "level", maximum=math.inf)
    if top <= 0.0:
        return 0.0
    return float(np.count_nonzero(channel_max >= top * (1.0 - tol)) / channel_max.size)


class LuminanceStats:
    """Streaming peak / percentile / dynamic-range statistics over many frames.

    Memory is bounded: luminance values are kept exactly while at most ``exact_limit`` values
    have been seen (default 2^23, a 4K frame's worth, so short clips and single images give
    exactly :func:`peak` and :func:`dynamic_range_stops`); past that, percentiles come from a
    log2 histogram with ``BINS_PER_STOP`` bins per stop over [2^-64, 2^64] (error below 1/256
    stop). The maximum is always exact. The histogram also feeds the evaluation report's plot.
    """

    LOG2_MIN = -64.0
    LOG2_MAX = 64.0
    BINS_PER_STOP = 256

    def __init__(self, *, exact_limit: int = 1 << 23) -> None:
        self._bins = int((self.LOG2_MAX - self.LOG2_MIN) * self.BINS_PER_STOP)
        self.positive_counts = np.zeros(self._bins, np.int64)
        self.nonpositive = 0
        self.count = 0
        self.maximum = -math.inf
        self._exact_limit = exact_limit
        self._exact: list[np.ndarray] | None = []

    def add(self, y: np.ndarray) -> None:
        """Add the luminance values of one frame (any shape, finite)."""
        flat = np.asarray(y, np.float64).ravel()
        if flat.size == 0:
            return
        self.count += flat.size
        self.maximum = max(self.maximum, float(flat.max()))
        pos = flat[flat > 0.0]
        self.nonpositive += flat.size - pos.size
        if pos.size:
            idx = np.floor((np.log2(pos) - self.LOG2_MIN) * self.BINS_PER_STOP).astype(np.int64)
            np.clip(idx, 0, self._bins - 1, out=idx)
            self.positive_counts += np.bincount(idx, minlength=self._bins)
        if self._exact is not None:
            if self.count <= self._exact_limit:
                self._exact.append(flat.copy())
            else:
                self._exact = None

    @property
    def exact(self) -> bool:
        """True while percentiles are computed from the exact values."""
        return self._exact is not None

    def _hist_percentile(self, q: float, *, positive_only: bool) -> float:
        counts = self.positive_counts
        n = int(counts.sum()) + (0 if positive_only else self.nonpositive)
        if n == 0:
            return 0.0
        rank = q / 100.0 * (n - 1)  # numpy 'linear' rank, 0-based
        if not positive_only:
            if rank < self.nonpositive:
                return 0.0  # non-positive values are only counted, treat them as 0
            rank -= self.nonpositive
        cum = np.cumsum(counts)
        b = int(np.searchsorted(cum, rank, side="right"))
        b = min(b, self._bins - 1)
        before = float(cum[b - 1]) if b > 0 else 0.0
        frac = (rank - before + 0.5) / max(float(counts[b]), 1.0)
        log2_y = self.LOG2_MIN + (b + min(max(frac, 0.0), 1.0)) / self.BINS_PER_STOP
        return float(min(2.0**log2_y, self.maximum))

    def percentile(self, q: float, *, positive_only: bool = False) -> float:
        """The q-th percentile (0..100) of all values, or of the positive ones only."""
        if self._exact is not None:
            values = np.concatenate(self._exact) if self._exact else np.zeros(0)
            if positive_only:
                values = values[values > 0.0]
            return float(np.percentile(values, q)) if values.size else 0.0
        return self._hist_percentile(q, positive_only=positive_only)

    def peak(
        self, *, nits_per_unit: float = 100.0, percentile: float = DEFAULT_HIGH_PERCENTILE
    ) -> dict:
        """As :func:`peak` over every value added."""
        return {
            "max": (self.maximum if self.count else 0.0) * nits_per_unit,
            "robust": self.percentile(percentile) * nits_per_unit,
            "percentile": percentile,
        }

    def dynamic_range_stops(
        self,
        *,
        low_percentile: float = DEFAULT_LOW_PERCENTILE,
        high_percentile: float = DEFAULT_HIGH_PERCENTILE,
    ) -> float:
        """As :func:`dynamic_range_stops` over every value added."""
        lo, hi = _check_percentiles(low_percentile, high_percentile)
        return _stops(
            self.percentile(lo, positive_only=True), self.percentile(hi, positive_only=True)
        )

    def log2_histogram(self, bins_per_stop: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """Coarser histogram of log2 luminance: ``(bin_edges_log2, counts)``, positive values only,
        trimmed to the occupied range (empty arrays when nothing positive was added)."""
        factor = self.BINS_PER_STOP // bins_per_stop
        coarse = self.positive_counts.reshape(-1, factor).sum(axis=1)
        nz = np.flatnonzero(coarse)
        if nz.size == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        lo, hi = int(nz[0]), int(nz[-1]) + 1
        edges = self.LOG2_MIN + np.arange(lo, hi + 1) / bins_per_stop
        return edges, coarse[lo:hi]
