"""Tone mapping and 8-bit previews of scene-linear HDR images.

Everything here is for *looking at* HDR data (MCP tool previews, contact sheets, reports); none
of it is used to store or train on pixels.

Operators act per channel (not on luminance): a bright saturated light desaturates towards
white the way film and most viewer LUTs do, and no channel can leave [0, 1), so the sRGB
encoding afterwards never needs a gamut clip.

* :func:`reinhard`: Reinhard et al. (2002) eq. 3, ``x / (1 + x)``; 1.0 -> 0.5.
* :func:`reinhard_extended`: eq. 4, ``x (1 + x / white^2) / (1 + x)``; ``white`` -> 1.0.

Both are extended to negatives as odd functions (``x / (1 + |x|)``), which keeps them smooth
and bounded; previews set negatives to 0 before tone mapping anyway.

References
----------
* Reinhard, E., Stark, M., Shirley, P., Ferwerda, J. (2002). *Photographic Tone Reproduction
  for Digital Images*. ACM Transactions on Graphics 21(3), equations 3 and 4.
* IEC 61966-2-1:1999 (sRGB encoding of the display-linear result).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from hdr_mcp.color._array import float_array, is_torch_tensor, tensor_to_numpy
from hdr_mcp.color.transfer_functions.srgb import eotf_inverse_sRGB
from hdr_mcp.errors import InvalidArgument

__all__ = [
    "OPERATORS",
    "STRIP_GAP_PX",
    "STRIP_GAP_VALUE",
    "downscale_area",
    "exposure",
    "exposure_strip",
    "preview",
    "reinhard",
    "reinhard_extended",
    "srgb_display_8bit",
]

Operator = Literal["reinhard", "reinhard_extended", "clip"]
OPERATORS: tuple[str, ...] = ("reinhard", "reinhard_extended", "clip")

STRIP_GAP_PX = 4
"""Width in pixels of the separators between the tiles of :func:`exposure_strip`."""
STRIP_GAP_VALUE = 48
"""8-bit grey of the separators (dark grey, so black tiles stay distinguishable)."""


def _finite_number(value, argument: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(argument, value, "expected a finite number") from e
    if not math.isfinite(number):
        raise InvalidArgument(argument, value, "expected a finite number")
    return number


def _as_float(x):
    return x if is_torch_tensor(x) else float_array(x)


def exposure(x, ev: float):
    """Scale scene-linear ``x`` by ``2**ev`` (``ev`` stops); numpy or torch, dtype kept."""
    return _as_float(x) * (2.0 ** _finite_number(ev, "ev"))


def reinhard(x):
    """Reinhard et al. (2002) eq. 3 per channel: ``x / (1 + |x|)`` (0 -> 0, 1 -> 0.5, inf -> 1)."""
    x = _as_float(x)
    return x / (1.0 + abs(x))


def reinhard_extended(x, white: float):
    """Reinhard et al. (2002) eq. 4 per channel: ``x (1 + |x|/white^2) / (1 + |x|)``.

    ``white`` (> 0, scene-linear) is the smallest value mapped to 1.0; values above it exceed
    1 and are clipped by the display encoding.
    """
    w = _finite_number(white, "white")
    if w <= 0:
        raise InvalidArgument("white", white, "expected a number > 0")
    x = _as_float(x)
    magnitude = abs(x)
    return x * (1.0 + magnitude / (w * w)) / (1.0 + magnitude)


def srgb_display_8bit(x_display_linear) -> np.ndarray:
    """Display-linear values in [0, 1] -> sRGB-encoded ``uint8`` (IEC 61966-2-1, rounded).

    Values are clipped to [0, 1] (a display cannot show more) and NaN becomes 0. Shape is kept.
    """
    x = float_array(tensor_to_numpy(x_display_linear))
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0)
    x = np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)
    code = eotf_inverse_sRGB(x)
    return np.floor(np.asarray(code) * 255.0 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Previews
# --------------------------------------------------------------------------------------------


def _as_rgb_image(x) -> np.ndarray:
    """(H, W, 3) float32 copy with NaN/Inf -> 0; grey expanded, alpha dropped."""
    arr = float_array(tensor_to_numpy(x))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InvalidArgument(
            "x", f"array of shape {arr.shape}", "expected (H, W), (H, W, 1|2|3|4) pixels"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidArgument("x", f"array of shape {arr.shape}", "image is empty")
    rgb = arr[:, :, :1].repeat(3, axis=2) if arr.shape[2] in (1, 2) else arr[:, :, :3]
    rgb = np.array(rgb, dtype=np.float32, copy=True)
    np.nan_to_num(rgb, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return rgb


def _area_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Start index and weights of each output sample's footprint (exact box/area integral)."""
    scale = n_in / n_out
    taps = math.ceil(scale) + 1
    lo = np.arange(n_out) * scale
    hi = lo + scale
    start = np.floor(lo).astype(np.int64)
    idx = start[:, None] + np.arange(taps)[None, :]
    overlap = np.minimum(hi[:, None], idx + 1.0) - np.maximum(lo[:, None], idx.astype(np.float64))
    weights = np.clip(overlap, 0.0, None) / scale
    weights[idx >= n_in] = 0.0
    return np.minimum(idx, n_in - 1), weights.astype(np.float32)


def _resample_axis(img: np.ndarray, axis: int, n_out: int) -> np.ndarray:
    n_in = img.shape[axis]
    if n_out == n_in:
        return img
    idx, weights = _area_weights(n_in, n_out)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((n_out, *moved.shape[1:]), dtype=np.float32)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(idx.shape[1]):
        out += moved[idx[:, tap]] * weights[:, tap][extra]
    return np.moveaxis(out, 0, axis)


def downscale_area(img: np.ndarray, max_size: int) -> np.ndarray:
    """Area-average ``img`` (H, W, C) so its longest side is at most ``max_size``.

    Each output pixel is the exact mean of the input area it covers (fractional pixels weighted
    by their covered fraction), computed in linear light. Images already small enough are
    returned unchanged.
    """
    if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < 1:
        raise InvalidArgument("max_size", max_size, "expected an integer >= 1")
    h, w = img.shape[:2]
    longest = max(h, w)
    if longest <= max_size:
        return img
    scale = max_size / longest
    new_h = min(max_size, max(1, round(h * scale)))
    new_w = min(max_size, max(1, round(w * scale)))
    return _resample_axis(_resample_axis(img, 0, new_h), 1, new_w)


def _tonemap(img: np.ndarray, operator: str) -> np.ndarray:
    if operator == "reinhard":
        return reinhard(img)
    if operator == "reinhard_extended":
        # White = brightest channel value in view, so the image's peak just reaches 1.0.
        peak = float(img.max()) if img.size else 0.0
        return reinhard_extended(img, peak) if peak > 0 else img
    return img  # "clip": the display encoding clips


def _check_operator(operator: str) -> None:
    if operator not in OPERATORS:
        raise InvalidArgument("operator", operator, f"valid: {', '.join(OPERATORS)}")


def _display(img: np.ndarray, ev: float, operator: str) -> np.ndarray:
    exposed = exposure(img, ev)
    np.maximum(exposed, 0.0, out=exposed)  # negatives (out of gamut) show as black, display only
    return srgb_display_8bit(_tonemap(exposed, operator))


def preview(
    x, *, ev: float = 0.0, operator: Operator = "reinhard", max_size: int = 512
) -> np.ndarray:
    """8-bit sRGB preview of a scene-linear HDR image.

    Steps: NaN/Inf -> 0, grey expanded to RGB and alpha dropped; area-average downscale in
    linear light so the longest side is at most ``max_size``; ``exposure(ev)``; negatives -> 0;
    ``operator`` (``"reinhard"``, ``"reinhard_extended"`` with white = the view's peak, or
    ``"clip"``); sRGB encode; round to ``uint8``.

    Parameters
    ----------
    x
        (H, W), (H, W, 1), (H, W, 2) (grey + alpha), (H, W, 3) or (H, W, 4) scene-linear pixels,
        numpy or torch (channels last).

    Returns
    -------
    ``uint8`` array (h, w, 3) with ``max(h, w) <= max_size``.
    """
    _check_operator(operator)
    ev = _finite_number(ev, "ev")
    small = downscale_area(_as_rgb_image(x), max_size)
    return _display(small, ev, operator)


def exposure_strip(
    x,
    evs: Sequence[float] = (-4, -2, 0, 2, 4),
    *,
    max_size: int = 256,
    operator: Operator = "clip",
) -> np.ndarray:
    """Contact sheet of ``x`` at several exposures, side by side.

    The image is prepared once as in :func:`preview` (downscaled so its longest side is at most
    ``max_size``), then shown at each ``ev`` in ``evs`` with ``operator`` (default ``"clip"``:
    plain exposure and clipping, so -4 EV reveals highlight detail and banding and +4 EV the
    shadows). Tiles are separated by :data:`STRIP_GAP_PX` columns of grey
    :data:`STRIP_GAP_VALUE`.

    Returns
    -------
    ``uint8`` array ``(h, w * len(evs) + STRIP_GAP_PX * (len(evs) - 1), 3)``.
    """
    _check_operator(operator)
    try:
        stops = [] if isinstance(evs, (str, bytes)) else [_finite_number(ev, "evs") for ev in evs]
    except TypeError as e:
        raise InvalidArgument("evs", evs, "expected a sequence of exposures in stops") from e
    if not stops:
        raise InvalidArgument("evs", evs, "expected a non-empty sequence of exposures in stops")
    small = downscale_area(_as_rgb_image(x), max_size)
    h, w = small.shape[:2]
    sheet = np.full(
        (h, w * len(stops) + STRIP_GAP_PX * (len(stops) - 1), 3), STRIP_GAP_VALUE, np.uint8
    )
    for i, ev in enumerate(stops):
        left = i * (w + STRIP_GAP_PX)
        sheet[:, left : left + w] = _display(small, ev, operator)
    return sheet
