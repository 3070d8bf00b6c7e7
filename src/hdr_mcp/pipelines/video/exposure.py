"""Exposure masks of SDR frames and the ``[Overexposed: ...]`` / ``[Underexposed: ...]``
captions built from them (DiffHDR's conditioning, wan-vace method).

Masks are soft, in [0, 1], from the frames' BT.709 luma of the SDR code values
(``Y' = 0.2126 R' + 0.7152 G' + 0.0722 B'``, Rec. ITU-R BT.709-6 item 3.2):

* over-exposed: ``smoothstep(OVER_LOW, OVER_HIGH, Y')``, 0 below code 0.90, 1 from 0.98 (what an
  SDR camera clipped or nearly clipped);
* under-exposed: ``1 - smoothstep(UNDER_LOW, UNDER_HIGH, Y')``, 1 up to code 0.02, 0 from 0.08.

They are stabilised over time with a centred box average over ``2 * TEMPORAL_RADIUS + 1``
frames (edges use the frames there are), so a highlight that flickers in the SDR does not make
the mask, the attention routing and the invented detail flicker with it.

A caption names where a mask lies (the thirds of the frame its mass centre falls in) and how
much of the frame it covers, e.g. ``[Overexposed: clipped highlights at the top centre, 12% of
the frame]``; regions under :data:`MIN_FRACTION` of the frame get none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hdr_mcp.errors import InvalidArgument

__all__ = [
    "MaskStats",
    "PromptParts",
    "exposure_masks",
    "mask_stats",
    "prompt_with_captions",
    "split_prompt",
]

OVER_LOW, OVER_HIGH = 0.90, 0.98
UNDER_LOW, UNDER_HIGH = 0.02, 0.08
TEMPORAL_RADIUS = 2
#: Smallest mean mask coverage that counts as a region (and gets a caption).
MIN_FRACTION = 0.001
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
_PART = re.compile(r"\[(Overexposed|Underexposed):\s*([^\]]*)\]", re.IGNORECASE)


def _smoothstep(low: float, high: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _temporal_box(masks: np.ndarray, radius: int) -> np.ndarray:
    """Centred moving average along axis 0 (edges average the frames that exist)."""
    if radius <= 0 or masks.shape[0] == 1:
        return masks
    padded = np.concatenate([np.zeros_like(masks[:1]), masks]).cumsum(axis=0, dtype=np.float64)
    n = masks.shape[0]
    lo = np.clip(np.arange(n) - radius, 0, n)
    hi = np.clip(np.arange(n) + radius + 1, 0, n)
    sums = padded[hi] - padded[lo]
    return (sums / (hi - lo).reshape((-1,) + (1,) * (masks.ndim - 1))).astype(np.float32)


def exposure_masks(frames: np.ndarray, *, temporal_radius: int = TEMPORAL_RADIUS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(over, under)`` soft masks (T, H, W) float32 in [0, 1] of SDR code values
    ``frames`` (T, H, W, 3) in [0, 1] (see the module docstring)."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidArgument("frames", frames.shape, "expected (T, H, W, 3) code values")
    luma = frames @ _LUMA
    over = _smoothstep(OVER_LOW, OVER_HIGH, luma)
    under = 1.0 - _smoothstep(UNDER_LOW, UNDER_HIGH, luma)
    return (_temporal_box(over.astype(np.float32), temporal_radius),
            _temporal_box(under.astype(np.float32), temporal_radius))


@dataclass(frozen=True)
class MaskStats:
    """How much of the frame a mask covers (mean, 0..1) and where its mass centre lies
    (``row``, ``column``: 0 top/left .. 1 bottom/right)."""

    fraction: float
    row: float
    column: float

    @property
    def present(self) -> bool:
        return self.fraction >= MIN_FRACTION

    def where(self) -> str:
        rows, columns = ("top", "middle", "bottom"), ("left", "centre", "right")
        row, column = rows[min(int(self.row * 3), 2)], columns[min(int(self.column * 3), 2)]
        return "centre" if (row, column) == ("middle", "centre") else f"{row} {column}"

    def to_dict(self) -> dict[str, float | str]:
        return {"fraction": round(self.fraction, 4), "where": self.where()}


def mask_stats(masks: np.ndarray) -> MaskStats:
    """Coverage and mass centre of masks (T, H, W) or (H, W)."""
    masks = np.asarray(masks, dtype=np.float64)
    mean = masks.reshape(-1, *masks.shape[-2:]).mean(axis=0)
    total = float(mean.sum())
    if total <= 0:
        return MaskStats(0.0, 0.5, 0.5)
    height, width = mean.shape
    rows = (np.arange(height) + 0.5) / height
    columns = (np.arange(width) + 0.5) / width
    return MaskStats(total / mean.size, float(mean.sum(axis=1) @ rows) / total,
                     float(mean.sum(axis=0) @ columns) / total)


@dataclass(frozen=True)
class PromptParts:
    """A prompt split into its scene description and its exposure parts (text without the
    brackets; None when absent)."""

    base: str
    over: str | None
    under: str | None

    def segments(self) -> list[tuple[str, str]]:
        """``(kind, text)`` in prompt order: ``base``, then ``over`` and ``under`` as given."""
        out = [("base", self.base)]
        if self.over is not None:
            out.append(("over", f"[Overexposed: {self.over}]"))
        if self.under is not None:
            out.append(("under", f"[Underexposed: {self.under}]"))
        return out

    def text(self) -> str:
        return " ".join(text for _, text in self.segments() if text)


def split_prompt(prompt: str | None) -> PromptParts:
    """Split ``prompt`` into its description and ``[Overexposed: ...]`` /
    ``[Underexposed: ...]`` parts (case-insensitive; one of each at most)."""
    prompt = prompt or ""
    found: dict[str, str] = {}
    for match in _PART.finditer(prompt):
        kind = "over" if match.group(1).lower() == "overexposed" else "under"
        if kind in found:
            raise InvalidArgument("prompt", prompt, f"has two [{match.group(1)}: ...] parts")
        found[kind] = match.group(2).strip()
    base = " ".join(_PART.sub(" ", prompt).split())
    return PromptParts(base, found.get("over"), found.get("under"))


def _caption(kind: str, stats: MaskStats) -> str:
    what = "clipped highlights" if kind == "over" else "crushed shadows"
    return f"{what} at the {stats.where()}, {stats.fraction:.0%} of the frame".replace(
        "at the centre", "in the centre")


def prompt_with_captions(prompt: str | None, over: MaskStats, under: MaskStats
                         ) -> tuple[PromptParts, dict[str, str]]:
    """The prompt to use and where each exposure part came from (``given``, ``masks``,
    ``none``). A part the user wrote for a mask that is empty is refused (``prompt``)."""
    parts = split_prompt(prompt)
    sources: dict[str, str] = {}
    texts: dict[str, str | None] = {"over": parts.over, "under": parts.under}
    for kind, stats in (("over", over), ("under", under)):
        label = "Overexposed" if kind == "over" else "Underexposed"
        if texts[kind] is not None and not stats.present:
            raise InvalidArgument("prompt", prompt, f"has an [{label}: ...] part but no "
                                  f"{label.lower()} region was found in the clip (under "
                                  f"{MIN_FRACTION:.1%} of the frame); remove the part")
        if texts[kind] is not None:
            sources[kind] = "given"
        elif stats.present:
            texts[kind], sources[kind] = _caption(kind, stats), "masks"
        else:
            sources[kind] = "none"
    return PromptParts(parts.base, texts["over"], texts["under"]), sources
