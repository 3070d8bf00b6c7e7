"""Camera-mimicking degradations: the SDR reference a video HDR LoRA learns to expand.

LumiVid's observation: a video model only learns to invent highlight detail when its SDR
reference looks like real SDR footage, not like a clean tone map of the target. Each clip gets,
in this order (every parameter drawn from the caller's ``numpy.random.Generator``, so a seed
gives the same reference every time):

1. a tone-mapping operator drawn from :data:`OPERATORS` (:func:`hdr_mcp.color.sdr_rendering.
   render_sdr`) at a random exposure, then the sRGB encode and 8-bit quantisation;
2. a contrast change around mid-grey;
3. a highlight- or shadow-selective Gaussian blur (lens glow / noise reduction);
4. H.264 compression at a random CRF and back (PyAV, :class:`hdr_mcp.io.video.VideoWriter`);
5. Gaussian noise (sensor), then the [0, 1] clip an SDR file imposes.

``kind="none"`` is step 1 with Reinhard at 0 EV only (a clean reference).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OPERATORS", "Degradation", "degrade", "draw"]

OPERATORS = ("reinhard", "reinhard_extended", "hable", "aces_fitted", "camera", "clip")
CRF_RANGE = (18, 36)
"""x264 CRFs drawn (inclusive): near transparent to visibly blocky."""
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@dataclass(frozen=True)
class Degradation:
    """The parameters drawn for one clip (reported in the sample's augmentation record)."""

    operator: str
    exposure_ev: float
    contrast: float
    blur_region: str
    blur_sigma: float
    crf: int | None
    noise_std: float


def draw(rng: np.random.Generator, kind: str = "camera") -> Degradation:
    """Draw one clip's degradation parameters."""
    if kind == "none":
        return Degradation("reinhard", 0.0, 1.0, "none", 0.0, None, 0.0)
    return Degradation(
        operator=OPERATORS[int(rng.integers(0, len(OPERATORS)))],
        exposure_ev=float(rng.uniform(-1.0, 1.0)),
        contrast=float(rng.uniform(0.8, 1.25)),
        blur_region=("highlights", "shadows", "none")[int(rng.integers(0, 3))],
        blur_sigma=float(rng.uniform(0.5, 2.0)),
        crf=int(rng.integers(CRF_RANGE[0], CRF_RANGE[1] + 1)),
        noise_std=float(rng.uniform(0.0, 0.02)),
    )


def _tone_map(frames: np.ndarray, d: Degradation) -> np.ndarray:
    from hdr_mcp.color import encode
    from hdr_mcp.color.sdr_rendering import render_sdr

    display = render_sdr(frames, d.operator, exposure_ev=d.exposure_ev)
    codes = np.asarray(encode(display.astype(np.float32), "srgb"), dtype=np.float32)
    return np.rint(np.clip(codes, 0.0, 1.0) * 255.0) / 255.0


def _selective_blur(codes: np.ndarray, d: Degradation) -> np.ndarray:
    import cv2

    if d.blur_region == "none":
        return codes
    luma = codes @ _LUMA
    if d.blur_region == "highlights":
        mask = np.clip((luma - 0.7) / 0.25, 0.0, 1.0)
    else:
        mask = np.clip((0.25 - luma) / 0.2, 0.0, 1.0)
    blurred = np.stack([cv2.GaussianBlur(frame, (0, 0), d.blur_sigma) for frame in codes])
    return codes + mask[..., None] * (blurred - codes)


def _compress(codes: np.ndarray, crf: int) -> np.ndarray:
    """Round trip through H.264 at ``crf`` (frames keep their size)."""
    from hdr_mcp.io.video import VideoWriter, iter_frames

    height, width = codes.shape[1:3]
    with tempfile.TemporaryDirectory(prefix="hdr_mcp_degrade_") as scratch:
        path = Path(scratch) / "clip.mp4"
        with VideoWriter(path, fps=24, crf=crf, preset="ultrafast") as writer:
            for frame in codes:
                writer.write(frame)
        decoded = [f[:height, :width] for f in iter_frames(path)]
    return np.stack(decoded).astype(np.float32)


def degrade(frames: np.ndarray, rng: np.random.Generator, kind: str = "camera"
            ) -> tuple[np.ndarray, dict[str, Any]]:
    """Scene-linear frames (F, H, W, 3) -> degraded sRGB code values (F, H, W, 3) in [0, 1],
    float32, and the parameters drawn (a dict)."""
    d = draw(rng, kind)
    codes = _tone_map(frames, d)
    codes = np.clip(0.5 + (codes - 0.5) * d.contrast, 0.0, 1.0)
    codes = _selective_blur(codes, d)
    if d.crf is not None:
        codes = _compress(codes, d.crf)
    if d.noise_std:
        codes = codes + rng.normal(0.0, d.noise_std, size=codes.shape).astype(np.float32)
    return np.clip(codes, 0.0, 1.0).astype(np.float32), asdict(d)
