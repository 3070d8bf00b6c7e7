"""No-reference QA of an HDR result: highlight banding, "fake HDR", clipped plateaus, a verdict.

Inputs are **scene-linear** pixels, ``(H, W, 3)`` RGB in ``colorspace`` (or ``(H, W)``
luminance), with scene 1.0 = diffuse white (the project's convention; ``nits_per_unit``
only changes how peaks are reported). Where an SDR is given (the plate the HDR was made from),
it is **relative SDR display light** (EOTF-decoded, SDR white = 1.0), same height and width.

Definitions
-----------
**Highlight banding under exposure pull-down** (:func:`highlight_banding`). The image is
pulled down by ``ev`` stops and shown as a clipped 8-bit sRGB view of its luminance (the
view a compositor grades highlights in: -2 and -4 EV bring 4x and 16x diffuse white into
range). Highlight pixels are those with scene luminance >= ``highlight_level`` (1.0) that are
visible and unclipped in that view (8-bit code in [16, 254]). The view is cut into square
tiles (1/4 of the shorter side, at least 32 px: bands are wide). A tile is **banded** when its
highlight pixels (at least 64 of them, and at least half the tile) form a *staircase*: at
least three 8-bit levels that each hold >= 2 % of the tile's highlight pixels, whose codes
cover less than half of the span between the lowest and highest such level (gaps: a
posterised gradient skips codes), with that span >= 8 codes (a visible ramp) and no gap
between consecutive levels wider than 24 codes (a staircase of small steps, not two
unrelated flat objects). The score is the share of highlight pixels in banded tiles. A smooth
gradient fills its span (no gaps); a small highlight fails the pixel-count and area floors;
a hard edge has too few levels.

**Fake HDR** (:func:`fake_hdr`). Whether the highlight structure is real or only a gain or
luma key of an SDR. Measured as ``detail`` = the standard deviation, in stops, of the
high-pass of log2 luminance (log2 Y minus its Gaussian blur, sigma 2 px) over the pixels of
interest: with the SDR, the *interior* (eroded by 6 px, so plateau edges do not count) of the
area whose SDR largest channel is >= 0.95 (clipped in the SDR: the SDR holds nothing there,
so any structure must come from elsewhere); without it, the brightest 2 % (at least 0.5 % of
the image) of the pixels above diffuse white. A gain or a smooth expand map leaves that
region flat or smooth (detail < 0.02 stop; < 0.045 stop on the residual below when the SDR
is given); real HDR of a sky, a sun and its halo, a lamp has
structure. With the SDR the high-pass is taken of the *residual* of log2 HDR luminance after
the global fit below, so what the SDR itself holds (a curve steepened over its last codes)
is not counted as new detail. Kinds, with the SDR: ``"gain"`` when the HDR/SDR luminance ratio
is one number
(1st to 99th percentile within 1 %); else ``"expansion"`` or ``"real"`` by the detail where
the SDR clipped; with no clipped area (< 0.1 % of the image) ``"expansion"`` if a global
function of the SDR luminance (mean per 1/256-wide bin) explains >= 99.9 % of the variance of
log2 HDR luminance (``sdr_explained``), else ``"undetermined"``. Without the SDR: ``"gain"``
when a channel holds at most 1024 distinct values (the values of an 8/10-bit source passed
through a gain or any global curve), else ``"expansion"``/``"real"`` by the detail of the
brightest highlights, ``"undetermined"`` if there are none.

**Clipped plateau** (:func:`clipped_plateau`): the share of pixels whose largest channel is
within 0.1 % of the image's largest channel value, and that value.

:func:`verdict` combines these into ``pass | review | fail`` with reasons an agent can act on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics._checks import as_image

__all__ = [
    "BANDING_EVS",
    "DEFINITIONS",
    "check_frame",
    "clipped_plateau",
    "fake_hdr",
    "highlight_banding",
    "pool_verdict",
    "qa_block",
    "verdict",
]

#: Exposure pull-downs checked for banding, in stops.
BANDING_EVS: tuple[float, ...] = (-2.0, -4.0)
_MIN_TILE, _TILES_PER_SIDE = 32, 4
_MIN_TILE_PIXELS, _MIN_LEVELS, _LEVEL_SHARE = 64, 3, 0.02
_MAX_OCCUPANCY, _MIN_SPAN, _MAX_GAP = 0.5, 8, 24
_SDR_CLIP = 0.95
_DETAIL_SIGMA = 2.0
_FLAT_DETAIL_STOPS = 0.02
#: The same with the SDR at hand, on the residual after the global fit (8-bit steps of the
#: SDR expanded by a smooth map leave up to ~0.04 stop there; real skies and suns >= 0.06).
_FLAT_RESIDUAL_STOPS = 0.045
_PLATEAU_TOLERANCE = 1e-3
#: At most this many distinct values in a channel: the values of a <= 10-bit source.
_SDR_LEVELS = 1024


def _luminance(x: np.ndarray, colorspace: str) -> np.ndarray:
    from hdr_mcp.metrics.range import image_luminance

    return np.asarray(image_luminance(x, colorspace), np.float64)


def _image(x: Any, argument: str) -> np.ndarray:
    arr = as_image(x, argument, min_ndim=2)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4)):
        raise InvalidArgument(argument, arr.shape, "expected one image (H, W, 3) or (H, W)")
    return arr


def _where(row: float, col: float) -> str:
    """'top-left' ... 'bottom-right' for a position given as fractions of height and width."""
    vertical = ("top", "middle", "bottom")[min(2, int(row * 3))]
    horizontal = ("left", "centre", "right")[min(2, int(col * 3))]
    if (vertical, horizontal) == ("middle", "centre"):
        return "centre"
    return f"{vertical}-{horizontal}"


def _srgb_codes(display: np.ndarray) -> np.ndarray:
    from hdr_mcp.color.transfer_functions.srgb import eotf_inverse_sRGB

    v = np.asarray(eotf_inverse_sRGB(np.clip(display, 0.0, 1.0).astype(np.float32)))
    return np.rint(v * 255.0).astype(np.int32)


def _tile_is_banded(codes: np.ndarray) -> bool:
    counts = np.bincount(codes, minlength=256)
    levels = np.flatnonzero(counts >= max(3, _LEVEL_SHARE * codes.size))
    if levels.size < _MIN_LEVELS:
        return False
    span = int(levels[-1] - levels[0])
    if span < _MIN_SPAN or int(np.max(np.diff(levels))) > _MAX_GAP:
        return False
    used = int(np.count_nonzero(counts[levels[0] : levels[-1] + 1]))
    return used / (span + 1) < _MAX_OCCUPANCY


def highlight_banding(
    x: Any,
    *,
    ev: float = -4.0,
    highlight_level: float = 1.0,
    colorspace: str = "lin_rec709",
) -> dict[str, Any]:
    """Banding of the highlights when the image is pulled down by ``ev`` stops (module doc).

    Returns
    -------
    ``{"ev", "banded_fraction"`` (share of highlight pixels in banded tiles, 0..1),
    ``"highlight_fraction"`` (share of the image that is highlight in this view),
    ``"banded_tiles", "tiles", "where"`` (position of the largest banded share, e.g.
    ``"top-left"``, or None)``}``.
    """
    if not isinstance(ev, (int, float)) or not math.isfinite(ev) or ev >= 0:
        raise InvalidArgument("ev", ev, "expected a pull-down, a negative number of stops")
    y = _luminance(_image(x, "x"), colorspace)
    codes = _srgb_codes(y * 2.0**ev)
    mask = (y >= highlight_level) & (codes >= 16) & (codes <= 254)
    h, w = y.shape
    tile = max(_MIN_TILE, min(h, w) // _TILES_PER_SIDE)
    banded_pixels = 0
    banded_tiles = tiles = 0
    rows = cols = weight = 0.0
    for top in range(0, h - tile + 1, tile):
        for left in range(0, w - tile + 1, tile):
            m = mask[top : top + tile, left : left + tile]
            n = int(np.count_nonzero(m))
            if n < max(_MIN_TILE_PIXELS, m.size // 2):
                continue
            tiles += 1
            if _tile_is_banded(codes[top : top + tile, left : left + tile][m]):
                banded_tiles += 1
                banded_pixels += n
                rows += n * (top + tile / 2) / h
                cols += n * (left + tile / 2) / w
                weight += n
    highlights = int(np.count_nonzero(mask))
    return {
        "ev": float(ev),
        "banded_fraction": banded_pixels / highlights if highlights else 0.0,
        "highlight_fraction": highlights / mask.size,
        "banded_tiles": banded_tiles,
        "tiles": tiles,
        "where": _where(rows / weight, cols / weight) if weight else None,
    }


def _largest_channel(arr: np.ndarray) -> np.ndarray:
    """``max(R, G, B)`` per pixel (luminance images as they are); ``np.max(axis=-1)`` is much
    slower on (H, W, 3)."""
    if arr.ndim == 2:
        return arr
    if arr.shape[-1] == 1:
        return arr[..., 0]
    top = np.maximum(arr[..., 0], arr[..., 1])
    return np.maximum(top, arr[..., 2], out=top)


def clipped_plateau(x: Any, *, tolerance: float = _PLATEAU_TOLERANCE) -> dict[str, float]:
    """``{"fraction", "level"}``: pixels whose largest channel is within ``tolerance`` (relative)
    of the image's largest channel value, and that value (scene-linear)."""
    top = _largest_channel(_image(x, "x"))
    level = float(np.max(top))
    if level <= 0:
        return {"fraction": 0.0, "level": level}
    return {
        "fraction": float(np.count_nonzero(top >= level * (1.0 - tolerance)) / top.size),
        "level": level,
    }


def _high_pass_stops(log_y: np.ndarray) -> np.ndarray:
    import cv2

    blurred = cv2.GaussianBlur(log_y.astype(np.float32), (0, 0), _DETAIL_SIGMA)
    return log_y - blurred


def _distinct_levels(x: np.ndarray) -> int:
    """Distinct positive values of the green channel (of luminance for 2-D input).

    Only whether there are more than :data:`_SDR_LEVELS` matters, so a regular sample of
    2^16 pixels is counted first; when it already holds more, that count is returned (sorting
    every pixel of a 1080p frame costs about 0.1 s)."""
    g = x if x.ndim == 2 else x[..., 1 if x.shape[-1] >= 3 else 0]
    values = g[g > 0]
    if values.size == 0:
        return 0
    step = max(1, values.size >> 16)
    sampled = int(np.unique(values[::step]).size)
    if sampled > _SDR_LEVELS or step == 1:
        return sampled
    return int(np.unique(values).size)


def _interior(region: np.ndarray) -> np.ndarray:
    """``region`` eroded by the high-pass support, so plateau edges do not count as detail."""
    import cv2

    radius = math.ceil(2 * _DETAIL_SIGMA) + 1
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.erode(region.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE) > 0


def fake_hdr(
    hdr: Any,
    sdr: Any | None = None,
    *,
    colorspace: str = "lin_rec709",
    sdr_colorspace: str = "lin_rec709",
) -> dict[str, Any]:
    """Is the highlight structure of ``hdr`` real, or a gain / luma key of ``sdr``? (module doc)

    Returns
    -------
    ``{"kind": "real" | "expansion" | "gain" | "undetermined", "detail_stops",
    "region_fraction"`` (share of the image examined), ``"distinct_levels"``,
    ``"plateau_fraction"``, with ``sdr`` also ``"sdr_explained"`` and ``"gain_spread"``
    (relative spread, 1st to 99th percentile, of the HDR/SDR luminance ratio: 0 for a pure
    gain), ``"with_sdr"}``.
    """
    x = _image(hdr, "hdr")
    y = np.maximum(_luminance(x, colorspace), 1e-6)
    log_y = np.log2(y)
    detail = np.abs(_high_pass_stops(log_y))
    levels = _distinct_levels(x)
    result: dict[str, Any] = {"with_sdr": sdr is not None, "distinct_levels": levels}
    if sdr is not None:
        s = _image(sdr, "sdr")
        if s.shape[:2] != x.shape[:2]:
            raise InvalidArgument(
                "sdr", s.shape, f"must have the HDR's height and width {x.shape[:2]}"
            )
        s_top = _largest_channel(s)
        region = _interior(s_top >= _SDR_CLIP)
        y_sdr = np.maximum(_luminance(s, sdr_colorspace), 0.0)
        bins = np.clip((y_sdr * 256).astype(np.int64), 0, 256)
        sums = np.bincount(bins.ravel(), log_y.ravel(), minlength=257)
        counts = np.bincount(bins.ravel(), minlength=257)
        fitted = (sums / np.maximum(counts, 1))[bins]
        total = float(np.var(log_y))
        explained = 1.0 - float(np.mean((log_y - fitted) ** 2)) / total if total > 0 else 1.0
        lit = y_sdr > 1e-3
        ratios = np.log2(y[lit] / y_sdr[lit]) if np.any(lit) else np.zeros(1)
        spread = float(2.0 ** (np.percentile(ratios, 99) - np.percentile(ratios, 1)) - 1.0)
        result.update(sdr_explained=explained, gain_spread=spread)
        # Structure the SDR explains (a steep curve over its last codes) is not new detail.
        detail = np.abs(_high_pass_stops(log_y - fitted))
    else:
        above = y > 1.0
        region = np.zeros_like(above)
        n_above = int(np.count_nonzero(above))
        if n_above:
            keep = min(n_above, max(int(0.02 * n_above), int(0.005 * y.size), 1))
            threshold = np.partition(y[above], n_above - keep)[n_above - keep]
            region = above & (y >= threshold)
    fraction = float(np.count_nonzero(region) / region.size)
    result["region_fraction"] = fraction
    result["detail_stops"] = float(np.sqrt(np.mean(detail[region] ** 2))) if fraction else 0.0
    result["plateau_fraction"] = clipped_plateau(x)["fraction"]
    if sdr is not None:
        if result["gain_spread"] < 0.01:
            kind = "gain"
        elif fraction >= 1e-3:
            kind = "real" if result["detail_stops"] >= _FLAT_RESIDUAL_STOPS else "expansion"
        else:
            kind = "expansion" if result["sdr_explained"] >= 0.999 else "undetermined"
    elif 0 < levels <= _SDR_LEVELS:
        kind = "gain"
    elif fraction >= 1e-3:
        kind = "real" if result["detail_stops"] >= _FLAT_DETAIL_STOPS else "expansion"
    else:
        kind = "undetermined"
    result["kind"] = kind
    return result


_VERDICTS = ("pass", "review", "fail")
_NOT_HDR_PEAK = 1.05

Reasons = list[tuple[int, str]]


def check_frame(
    hdr: Any,
    sdr: Any | None = None,
    *,
    colorspace: str = "lin_rec709",
    sdr_colorspace: str = "lin_rec709",
) -> tuple[Reasons, dict[str, Any]]:
    """The per-frame rules of :func:`verdict` (all but the peak rule): ``(reasons, metrics)``,
    each reason a ``(severity, text)`` pair, 1 = review, 2 = fail."""
    x = _image(hdr, "hdr")
    frame_peak = float(np.max(_largest_channel(x)))
    reasons: Reasons = []
    plateau = clipped_plateau(x)
    # Only a flat top above diffuse white is a clamp (a flat dark frame is a fade, not a clamp;
    # an image that never exceeds diffuse white fails on its peak instead).
    if plateau["level"] > 1.0 and plateau["fraction"] >= 0.002:
        severity = 2 if plateau["fraction"] >= 0.02 else 1
        reasons.append(
            (
                severity,
                f"{plateau['fraction'] * 100:.2g}% clipped plateau at {plateau['level']:.4g}",
            )
        )
    banding = {}
    for ev in BANDING_EVS:
        b = highlight_banding(x, ev=ev, colorspace=colorspace)
        banding[f"{ev:+g}"] = b
        if b["banded_fraction"] >= 0.02:
            severity = 2 if b["banded_fraction"] >= 0.2 else 1
            reasons.append(
                (
                    severity,
                    (f"banding at {ev:+g} EV in the {b['where']} "
                    f"({b['banded_fraction'] * 100:.0f}% of highlights)"),
                )
            )
    fake = fake_hdr(x, sdr, colorspace=colorspace, sdr_colorspace=sdr_colorspace)
    if fake["kind"] == "gain" and frame_peak > _NOT_HDR_PEAK:
        if sdr is not None:
            reasons.append((2, "HDR is the SDR times a gain (no highlight structure of its own)"))
        else:
            reasons.append(
                (
                    2,
                    (f"only {fake['distinct_levels']} distinct values: a gain or global curve "
                    "of an 8/10-bit SDR, not HDR"),
                )
            )
    elif fake["kind"] == "expansion":
        where = "where the SDR clipped" if sdr is not None else "in the brightest highlights"
        reasons.append(
            (1, f"highlights are a smooth expansion of the SDR: no detail {where}")
        )
    metrics = {"frame_peak_scene": frame_peak, "plateau": plateau, "banding": banding,
               "fake_hdr": fake}
    return reasons, metrics


def _peak_reasons(peak: float) -> Reasons:
    if peak <= _NOT_HDR_PEAK:
        return [(2, f"peak {peak:.3g}: not HDR (nothing above diffuse white)")]
    return []


def _result(reasons: Reasons, metrics: dict[str, Any], peak: float, nits_per_unit: float):
    level = max((s for s, _ in reasons), default=0)
    return {
        "verdict": _VERDICTS[level],
        "reasons": [text for _, text in reasons] or ["no problem found"],
        "metrics": {
            "peak_scene": peak,
            "peak_nits": peak * nits_per_unit,
            **{k: v for k, v in metrics.items() if k != "frame_peak_scene"},
        },
    }


def verdict(
    hdr: Any,
    sdr: Any | None = None,
    *,
    nits_per_unit: float = 100.0,
    colorspace: str = "lin_rec709",
    sdr_colorspace: str = "lin_rec709",
) -> dict[str, Any]:
    """``{"verdict": "pass" | "review" | "fail", "reasons": [...], "metrics": {...}}``.

    Rules (each adds a reason; the verdict is the worst):

    * fail: largest channel <= 1.05 (scene-linear): "peak 1.0: not HDR";
    * fail: a clipped plateau above diffuse white (its level > 1.0) holds >= 2 % of the
      pixels; review: >= 0.2 % ("3% clipped plateau at 10.0");
    * fail: >= 20 % of the highlight pixels banded at -2 or -4 EV; review: >= 2 %
      ("banding at -4 EV in the top-left (35% of highlights)");
    * fail: fake-HDR kind ``gain`` ("HDR is the SDR times a gain"); review: ``expansion``
      ("highlights are a smooth expansion of the SDR: no detail where it clipped");
    * pass otherwise ("no problem found").

    ``metrics`` holds every figure the rules used (``peak_scene``, ``peak_nits`` with
    ``nits_per_unit``, ``plateau``, ``banding`` per EV, ``fake_hdr``). For a sequence see
    :func:`pool_verdict`.
    """
    reasons, metrics = check_frame(
        hdr, sdr, colorspace=colorspace, sdr_colorspace=sdr_colorspace
    )
    peak = metrics["frame_peak_scene"]
    return _result(_peak_reasons(peak) + reasons, metrics, peak, nits_per_unit)


def pool_verdict(
    checked: list[tuple[int, tuple[Reasons, dict[str, Any]]]],
    *,
    peak_scene: float,
    nits_per_unit: float = 100.0,
) -> dict[str, Any]:
    """The verdict of a sequence from :func:`check_frame` results of some of its frames.

    The peak rule reads ``peak_scene``, the largest channel of the whole sequence (a dark frame
    of an HDR shot is not "not HDR"); the other rules come from the **worst checked frame**
    (most severe reason; the earliest such frame), whose reasons are prefixed with
    ``"frame N: "`` when more than one frame was checked. Adds ``frame`` (the worst frame's
    index), ``frames_checked`` and ``frame_verdicts`` (``{index: verdict}``) to the result.
    """
    if not checked:
        raise InvalidArgument("checked", checked, "need at least one checked frame")

    def level(item: tuple[int, tuple[Reasons, dict[str, Any]]]) -> int:
        return max((s for s, _ in item[1][0]), default=0)

    worst = max(checked, key=lambda item: (level(item), -item[0]))
    index, (reasons, metrics) = worst
    if len(checked) > 1:
        reasons = [(s, f"frame {index}: {text}") for s, text in reasons]
    result = _result(_peak_reasons(peak_scene) + reasons, metrics, peak_scene, nits_per_unit)
    result["frame"] = index
    result["frames_checked"] = [i for i, _ in checked]
    result["frame_verdicts"] = {str(item[0]): _VERDICTS[level(item)] for item in checked}
    return result


#: One line per entry of the ``qa`` block (:func:`qa_block`) of ``evaluate`` and ``inspect_hdr``.
DEFINITIONS: dict[str, str] = {
    "verdict": (
        "pass | review | fail: the worst of the QA rules (peak <= 1.05: fail; clipped plateau"
        " above 1.0 >= 0.2%: review, >= 2%: fail; banding >= 2% of highlights: review, >= 20%: fail;"
        " fake HDR 'gain': fail, 'expansion': review)"
    ),
    "reasons": "one line per rule that fired, saying what and where; 'no problem found' if none",
    "banding_minus2ev_fraction": (
        "share of highlight pixels (scene >= 1.0) in 1/4-side tiles that show a staircase of"
        " 8-bit levels with gaps when the image is pulled down 2 stops and viewed as sRGB"
    ),
    "banding_minus4ev_fraction": "the same, pulled down 4 stops",
    "plateau_fraction": (
        "share of pixels whose largest channel is within 0.1% of the image's largest value: a"
        " flat top means clamped highlights"
    ),
    "plateau_level_scene": "that largest channel value, scene-linear",
    "fake_hdr": (
        "real | expansion | gain | undetermined: whether the highlights have structure of their"
        " own, are a smooth expansion of an SDR, or the SDR times a gain (with the SDR: detail"
        " where it clipped; without: detail and value count of the brightest highlights)"
    ),
    "fake_hdr_detail_stops": (
        "RMS of the high-pass (sigma 2 px) of log2 luminance over the region fake_hdr examines,"
        " in stops (below ~0.02-0.045: flat, as a gain or smooth expansion leaves it)"
    ),
    "peak_scene": "largest channel value, scene-linear (the not-HDR rule reads it)",
}


def qa_block(verdict_result: dict[str, Any]) -> dict[str, Any]:
    """The JSON ``qa`` block of a :func:`verdict` result: verdict, reasons and the figures
    under the names of :data:`DEFINITIONS` (flat, one number or word each)."""
    m = verdict_result["metrics"]
    fake = m["fake_hdr"]
    block: dict[str, Any] = {
        "verdict": verdict_result["verdict"],
        "reasons": list(verdict_result["reasons"]),
        "metrics": {
            "banding_minus2ev_fraction": m["banding"]["-2"]["banded_fraction"],
            "banding_minus4ev_fraction": m["banding"]["-4"]["banded_fraction"],
            "plateau_fraction": m["plateau"]["fraction"],
            "plateau_level_scene": m["plateau"]["level"],
            "fake_hdr": fake["kind"],
            "fake_hdr_detail_stops": fake["detail_stops"],
            "peak_scene": m["peak_scene"],
        },
        "with_sdr": bool(fake["with_sdr"]),
    }
    for key in ("frame", "frames_checked", "frame_verdicts"):
        if key in verdict_result:
            block[key] = verdict_result[key]
    return block
