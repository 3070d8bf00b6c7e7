"""The evaluation report picture: QA verdict, exposure strip, log-luminance histograms, error map.

Drawn with Pillow and numpy only (no matplotlib in the runtime dependencies). The picture is a
quick look for a person or an agent; every number in it is also in the JSON report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["ERROR_MAP_MAX_PU", "VERDICT_COLOURS", "colorize", "render_report"]

#: Upper end of the error-map colour scale in PU21 units (about 8 % of the encoded range of
#: 0..100 cd/m^2); larger differences saturate. A fixed scale keeps reports comparable.
ERROR_MAP_MAX_PU = 20.0

# Anchors sampled from matplotlib's "inferno" (perceptually uniform, readable in greyscale).
_INFERNO = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    np.float64,
)

_BACKGROUND = (24, 24, 24)
_TEXT = (230, 230, 230)
_MUTED = (150, 150, 150)
_PRED_COLOUR = (255, 160, 60)
_REF_COLOUR = (90, 170, 255)
_PAD = 12
#: Banner colours of the QA verdicts (green, amber, red), readable with white text.
VERDICT_COLOURS = {"pass": (46, 125, 50), "review": (191, 120, 0), "fail": (183, 28, 28)}


def colorize(values: np.ndarray, vmax: float) -> np.ndarray:
    """Map ``values / vmax`` (clipped to [0, 1]) through an inferno-like ramp -> uint8 (..., 3)."""
    t = np.clip(np.nan_to_num(values / vmax), 0.0, 1.0)
    pos = t * (len(_INFERNO) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(_INFERNO) - 1)
    frac = (pos - lo)[..., None]
    rgb = _INFERNO[lo] * (1.0 - frac) + _INFERNO[hi] * frac
    return np.round(rgb).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def _downscale(values: np.ndarray, max_size: int) -> np.ndarray:
    h, w = values.shape
    scale = min(1.0, max_size / max(h, w))
    if scale >= 1.0:
        return values.astype(np.float32)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # BOX filter: the mean over each output pixel's footprint, so small errors are not dropped.
    return np.asarray(
        Image.fromarray(np.ascontiguousarray(values, dtype=np.float32)).resize(size, Image.BOX)
    )


def _histogram_panel(
    histograms: Sequence[tuple[str, tuple[np.ndarray, np.ndarray], tuple[int, int, int]]],
    nits_per_unit: float,
    size: tuple[int, int],
) -> Image.Image:
    width, height = size
    panel = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(panel)
    font = _font(12)
    left, right, top, bottom = 44, width - 28, 22, height - 30
    draw.text(
        (left, 4),
        "log luminance histogram (fraction of pixels per 1/4 stop)",
        fill=_TEXT,
        font=font,
    )
    used = [(n, h, c) for n, h, c in histograms if h[1].size]
    if not used:
        draw.text((left, height // 2), "no positive luminance", fill=_MUTED, font=font)
        return panel
    shift = math.log10(nits_per_unit)
    # x axis: log10 cd/m^2 = log2(Y) * log10(2) + log10(nits_per_unit)
    xs_all = np.concatenate([h[0] for _, h, _ in used]) * math.log10(2.0) + shift
    x0, x1 = math.floor(xs_all.min()), math.ceil(xs_all.max())
    if x1 <= x0:
        x1 = x0 + 1
    y_max = max(float(h[1].max()) / max(int(h[1].sum()), 1) for _, h, _ in used)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (right - left)

    def py(frac: float) -> float:
        return bottom - frac / y_max * (bottom - top)

    draw.rectangle([left, top, right, bottom], outline=_MUTED)
    step = max(1, math.ceil((x1 - x0) / 10))
    for decade in range(x0, x1 + 1, step):
        xp = px(decade)
        draw.line([xp, bottom, xp, bottom + 4], fill=_MUTED)
        draw.text((xp - 10, bottom + 6), f"1e{decade}", fill=_MUTED, font=font)
    draw.text((right - 30, bottom + 16), "cd/m^2", fill=_MUTED, font=font)
    # The first histogram (the prediction) is drawn last, so it stays visible where they overlap.
    for k, (name, (edges, counts), colour) in reversed(list(enumerate(used))):
        centres = (edges[:-1] + edges[1:]) / 2.0 * math.log10(2.0) + shift
        fracs = counts / max(int(counts.sum()), 1)
        points = [(px(float(c)), py(float(f))) for c, f in zip(centres, fracs, strict=True)]
        if len(points) == 1:
            points.append((points[0][0] + 1, points[0][1]))
        draw.line(points, fill=colour, width=2 if k == 0 else 3)
        draw.text((left + 8, top + 4 + 14 * k), name, fill=colour, font=font)
    return panel


def _error_panel(error: np.ndarray | None, max_size: int) -> Image.Image:
    font = _font(12)
    if error is None:
        panel = Image.new("RGB", (max_size, 60), _BACKGROUND)
        ImageDraw.Draw(panel).text((4, 20), "no reference: no error map", fill=_MUTED, font=font)
        return panel
    small = _downscale(error, max_size)
    img = Image.fromarray(colorize(small, ERROR_MAP_MAX_PU))
    bar_w = max(img.width, 160)
    panel = Image.new("RGB", (bar_w, img.height + 64), _BACKGROUND)
    draw = ImageDraw.Draw(panel)
    draw.text((0, 0), "error |PU21(Y_pred) - PU21(Y_ref)|", fill=_TEXT, font=font)
    panel.paste(img, (0, 18))
    ramp = colorize(np.tile(np.linspace(0.0, ERROR_MAP_MAX_PU, bar_w), (10, 1)), ERROR_MAP_MAX_PU)
    panel.paste(Image.fromarray(ramp), (0, img.height + 24))
    draw.text((0, img.height + 36), "0", fill=_MUTED, font=font)
    draw.text((bar_w - 60, img.height + 36), f">= {ERROR_MAP_MAX_PU:g} PU", fill=_MUTED, font=font)
    return panel


def _verdict_banner(verdict: str, reasons: Sequence[str], width: int) -> Image.Image:
    """A full-width band in the verdict's colour: "QA: REVIEW" and one line per reason."""
    big, font = _font(20), _font(13)
    height = 36 + 18 * len(reasons) + 8
    banner = Image.new("RGB", (width, height), VERDICT_COLOURS.get(verdict, _MUTED))
    draw = ImageDraw.Draw(banner)
    draw.text((_PAD, 8), f"QA: {verdict.upper()}", fill=(255, 255, 255), font=big)
    for i, reason in enumerate(reasons):
        draw.text((_PAD, 36 + 18 * i), f"- {reason}", fill=(255, 255, 255), font=font)
    return banner


def render_report(
    *,
    title: str,
    lines: Sequence[str],
    strips: Sequence[tuple[str, np.ndarray]],
    histograms: Sequence[tuple[str, tuple[np.ndarray, np.ndarray], tuple[int, int, int]]],
    nits_per_unit: float,
    error: np.ndarray | None,
    verdict: tuple[str, Sequence[str]] | None = None,
) -> np.ndarray:
    """Compose the report picture; returns uint8 ``(H, W, 3)``.

    ``strips`` are ``(caption, exposure contact sheet uint8)`` pairs, ``histograms`` ``(name, (edges_log2, counts),
    colour)`` triples, ``error`` a per-pixel PU21 luminance difference (or None without reference),
    ``verdict`` the QA ``(verdict, reasons)``, drawn first as a band in the verdict's colour
    (:data:`VERDICT_COLOURS`).
    """
    title_font, font = _font(16), _font(13)
    hist = _histogram_panel(histograms, nits_per_unit, (560, 260))
    err = _error_panel(error, 256)
    strip_imgs = [(caption, Image.fromarray(strip)) for caption, strip in strips]
    width = max(
        hist.width + err.width + 3 * _PAD,
        *(img.width + 2 * _PAD for _, img in strip_imgs),
        720,
    )
    banner = _verdict_banner(verdict[0], verdict[1], width) if verdict is not None else None
    top = banner.height if banner is not None else 0
    text_h = 28 + 18 * len(lines)
    strip_h = sum(img.height + 22 for _, img in strip_imgs)
    height = top + _PAD + text_h + strip_h + _PAD + max(hist.height, err.height) + _PAD
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    if banner is not None:
        canvas.paste(banner, (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((_PAD, top + _PAD), title, fill=_TEXT, font=title_font)
    for i, line in enumerate(lines):
        draw.text((_PAD, top + _PAD + 28 + 18 * i), line, fill=_TEXT, font=font)
    y = top + _PAD + text_h
    for caption, img in strip_imgs:
        draw.text((_PAD, y), caption, fill=_MUTED, font=font)
        canvas.paste(img, (_PAD, y + 20))
        y += img.height + 22
    y += _PAD
    canvas.paste(hist, (_PAD, y))
    canvas.paste(err, (2 * _PAD + hist.width, y))
    return np.asarray(canvas, dtype=np.uint8)
