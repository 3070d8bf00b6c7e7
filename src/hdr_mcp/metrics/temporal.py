"""Temporal stability of HDR frame sequences: flicker and frame-to-frame PSNR.

Both follow what LumiVid (Korem et al. 2026, "HDR Video Generation via Latent Alignment with
Logarithmic Encoding") reports for generated HDR video:

- **flicker** = ``std_t(mean luminance of frame t) / mean_t(mean luminance of frame t)``: a
  coefficient of variation of the frame-average luminance (population std, ddof = 0). 0 for a
  steady exposure; a modulation ``1 + a sin(...)`` over whole periods gives ``a/sqrt(2)``.
- **frame-to-frame PSNR** = mean over consecutive pairs ``(t-1, t)`` of the PSNR between them. It
  mixes real motion with instability, so compare it with the reference's own value.

Both stream over any iterable of frames holding one previous frame, so memory does not grow with
the number of frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import numpy as np

from hdr_mcp.color.pu21 import pu21_encode
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics._checks import as_image, positive_scale
from hdr_mcp.metrics.fidelity import PU21_PEAK, _in_pu21_space, psnr_from_mse
from hdr_mcp.metrics.range import image_luminance

__all__ = ["F2FSpace", "TemporalStats", "f2f_psnr", "flicker"]

F2FSpace = Literal["pu21", "linear"]
_SPACES = ("pu21", "linear")


class TemporalStats:
    """Accumulates flicker and frame-to-frame PSNR one frame at a time.

    Parameters
    ----------
    space
        ``"pu21"`` (default): PSNR of PU21-encoded RGB (scene-linear x ``nits_per_unit`` -> cd/m^2,
        peak 256), the same scale as :func:`hdr_mcp.metrics.fidelity.pu21_psnr`, so dB values are
        comparable across exposures. ``"linear"``: PSNR of the scene-linear values with the peak
        taken as the largest absolute value in the pair (scale invariant; dominated by highlights).
    nits_per_unit
        cd/m^2 for scene-linear 1.0 (only used by ``"pu21"``).
    colorspace
        Colour space of RGB frames: the luminance used by flicker is the Y row of its RGB->XYZ
        matrix, and ``"pu21"`` PSNR is taken in linear BT.709 RGB
        (:data:`hdr_mcp.metrics.fidelity.PU21_PSNR_COLORSPACE`). :meth:`add` can name it per
        frame instead (when it is known only once the first frame is read).

    Pairs of identical consecutive frames (PSNR = +inf, e.g. duplicated frames) are left out of
    the mean and counted in :attr:`identical_pairs`; :attr:`f2f_psnr` is ``math.inf`` only when
    every pair is identical.
    """

    def __init__(
        self,
        *,
        space: F2FSpace = "pu21",
        nits_per_unit: float = 100.0,
        colorspace: str = "lin_rec709",
    ) -> None:
        if space not in _SPACES:
            raise InvalidArgument("space", space, f"valid: {', '.join(_SPACES)}")
        self.space = space
        self.nits_per_unit = positive_scale(nits_per_unit)
        self.colorspace = colorspace
        self.frames = 0
        self.identical_pairs = 0
        self._mean_sum = 0.0  # Welford on frame-mean luminance
        self._mean_m2 = 0.0
        self._mean_mean = 0.0
        self._psnr_sum = 0.0
        self._psnr_n = 0
        self._previous: np.ndarray | None = None

    def add(
        self, frame: object, *, argument: str = "frames", colorspace: str | None = None
    ) -> None:
        """Add the next frame: scene-linear ``(H, W, C)`` or ``(H, W)``, finite, same shape.

        ``colorspace`` overrides the constructor's for this frame (and the ones after it).
        """
        if colorspace is not None:
            self.colorspace = colorspace
        x = as_image(frame, argument, min_ndim=2)
        if self._previous is not None and x.shape != self._previous.shape:
            raise InvalidArgument(
                argument,
                x.shape,
                f"frame {self.frames} has a different shape from frame 0 {self._previous.shape}",
            )
        mean_y = float(np.mean(image_luminance(x, self.colorspace, argument=argument)))
        self.frames += 1
        delta = mean_y - self._mean_mean
        self._mean_mean += delta / self.frames
        self._mean_m2 += delta * (mean_y - self._mean_mean)

        if self.space == "pu21":
            rgb = x if x.ndim == 2 else _in_pu21_space(x[..., :3], self.colorspace)
            current = pu21_encode(rgb * self.nits_per_unit)
        else:
            current = x
        if self._previous is not None:
            diff = current - self._previous
            mse = float(np.mean(diff * diff))
            if self.space == "pu21":
                peak = PU21_PEAK
            else:
                peak = max(float(np.max(np.abs(current))), float(np.max(np.abs(self._previous))))
            if mse == 0.0:
                self.identical_pairs += 1
            else:
                self._psnr_sum += psnr_from_mse(mse, peak)
                self._psnr_n += 1
        self._previous = current

    @property
    def flicker(self) -> float:
        """Coefficient of variation of frame-mean luminance; 0.0 if that mean is <= 0."""
        if self.frames == 0 or self._mean_mean <= 0.0:
            return 0.0
        return math.sqrt(max(self._mean_m2, 0.0) / self.frames) / self._mean_mean

    @property
    def f2f_psnr(self) -> float | None:
        """Mean PSNR (dB) over non-identical consecutive pairs; inf if all are identical;
        None with fewer than 2 frames."""
        if self.frames < 2:
            return None
        if self._psnr_n == 0:
            return math.inf
        return self._psnr_sum / self._psnr_n


def flicker(frames: Iterable[object], *, colorspace: str = "lin_rec709") -> float:
    """Flicker of a sequence (see module docstring); streams over ``frames`` (arrays).

    Needs at least one frame; a single frame gives 0.0.
    """
    stats = TemporalStats(space="linear", colorspace=colorspace)
    for frame in frames:
        stats.add(frame)
    if stats.frames == 0:
        raise InvalidArgument("frames", "empty", "need at least one frame")
    return stats.flicker


def f2f_psnr(
    frames: Iterable[object],
    *,
    space: F2FSpace = "pu21",
    nits_per_unit: float = 100.0,
    colorspace: str = "lin_rec709",
) -> float:
    """Mean frame-to-frame PSNR in dB (:class:`TemporalStats` explains ``space``, identical pairs).

    Streams over ``frames``; needs at least two frames.
    """
    stats = TemporalStats(space=space, nits_per_unit=nits_per_unit, colorspace=colorspace)
    for frame in frames:
        stats.add(frame)
    value = stats.f2f_psnr
    if value is None:
        raise InvalidArgument("frames", f"{stats.frames} frame(s)", "need at least two frames")
    return value
