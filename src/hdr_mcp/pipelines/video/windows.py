"""Overlapping temporal windows over a shot, and their blend in latent space.

A video diffusion model sees at most a few seconds at once, so a long shot is cut into windows
of ``window`` frames that share ``overlap`` frames with their neighbours. Both are counts the
model's video VAE takes: ``step * k + 1`` frames, ``step`` being its temporal compression
(LTX-2: 8, Wan: 4). With the stride ``window - overlap`` a multiple of ``step``, every latent
frame of a window lands exactly on a latent frame of the shot's latent timeline:

* shot latent 0 is frame 0; shot latent ``g >= 1`` holds frames ``step*(g-1)+1 .. step*g``;
* window ``i`` starts at frame ``s_i = i * stride``; its latent ``j >= 1`` is shot latent
  ``s_i/step + j``; its latent 0 holds frame ``s_i`` alone (the VAE's causal first frame), which
  the previous window already covers as a full latent, so it gets weight 0 after window 0.

Where two windows meet (``m = (overlap - 1) / step`` shot latents), their latents are blended
with linear ramps whose weights sum to one (:func:`latent_weights`), so a shot whose windows
agree is unchanged by the cut and a seam fades over ``overlap`` frames instead of jumping. Ramps
of one window never meet (``overlap <= (window + 1) / 2``), so at most two windows touch a latent.

A shot whose length the windows do not fit is padded at the end with its last frame (and the
output trimmed back): a user never has to count frames. Nothing here imports torch at module
level; :class:`LatentBlender` works on torch tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hdr_mcp.errors import InvalidArgument

__all__ = ["LatentBlender", "WindowPlan", "latent_weights", "plan_windows", "valid_counts"]


@dataclass(frozen=True)
class WindowPlan:
    """Windows over a shot of ``frames`` frames (all counts in frames unless named latent)."""

    frames: int
    window: int
    overlap: int
    step: int

    @property
    def stride(self) -> int:
        return self.window - self.overlap

    @property
    def count(self) -> int:
        """Number of windows."""
        if self.frames <= self.window:
            return 1
        return math.ceil((self.frames - self.window) / self.stride) + 1

    @property
    def padded(self) -> int:
        """Frames the windows cover (>= ``frames``; the tail is the last frame repeated)."""
        return self.window + (self.count - 1) * self.stride

    @property
    def window_latents(self) -> int:
        return (self.window - 1) // self.step + 1

    @property
    def shot_latents(self) -> int:
        return (self.padded - 1) // self.step + 1

    @property
    def blend_latents(self) -> int:
        """Shot latents two neighbouring windows share (``m``)."""
        return (self.overlap - 1) // self.step

    def start(self, index: int) -> int:
        """First frame of window ``index``."""
        return index * self.stride

    def latent_start(self, index: int) -> int:
        """Shot latent of window ``index``'s latent 0."""
        return self.start(index) // self.step

    def final_latents(self, index: int) -> int:
        """Shot latents final once windows ``0..index`` are blended in."""
        if index == self.count - 1:
            return self.shot_latents
        return self.latent_start(index) + self.window_latents - self.blend_latents

    def to_dict(self) -> dict[str, int]:
        return {"frames": self.frames, "window": self.window, "overlap": self.overlap,
                "windows": self.count, "padded_frames": self.padded}


def latent_weights(plan: WindowPlan, index: int) -> np.ndarray:
    """Blend weight of each latent frame of window ``index`` (float32, ``window_latents``)."""
    n, m = plan.window_latents, plan.blend_latents
    weights = np.ones(n, dtype=np.float32)
    if index > 0:
        weights[0] = 0.0
        weights[1:m + 1] = np.arange(1, m + 1, dtype=np.float32) / (m + 1)
    if index < plan.count - 1:
        weights[n - m:] = np.arange(m, 0, -1, dtype=np.float32) / (m + 1)
    return weights


def valid_counts(step: int, low: int, high: int) -> list[int]:
    """Frame counts ``step * k + 1`` in ``[low, high]``."""
    first = max(0, math.ceil((low - 1) / step))
    return [step * k + 1 for k in range(first, (high - 1) // step + 1)]


def _nearest(value: int, valid: list[int]) -> str:
    below = [v for v in valid if v <= value]
    above = [v for v in valid if v >= value]
    near = sorted({*(below[-1:]), *(above[:1])})
    return " or ".join(str(v) for v in near) if near else "none"


def _check_count(argument: str, value: int, valid: list[int], what: str) -> None:
    if value not in valid:
        shown = f"{valid[0]}..{valid[-1]}" if valid else "none"
        raise InvalidArgument(argument, value, f"{what} (valid: {shown} in steps of "
                              f"{valid[1] - valid[0] if len(valid) > 1 else 1}); nearest valid: "
                              f"{_nearest(value, valid)}")


def plan_windows(frames: int, *, step: int, min_frames: int, max_frames: int,
                 window: int | None, overlap: int | None, default_window: int,
                 default_overlap: int) -> WindowPlan:
    """Choose and check the windows of a ``frames``-frame shot.

    ``window`` must be ``step*k + 1`` in ``[min_frames, max_frames]`` and not longer than the
    shot padded to the next valid count; ``overlap`` must be ``step*m + 1`` with
    ``1 <= m <= k/2``. Defaults: ``default_window`` capped by the model and the shot, and the
    largest valid overlap up to ``default_overlap``. Bad values are refused naming the nearest
    valid ones.
    """
    counts = valid_counts(step, min_frames, max_frames)
    if not counts:
        raise InvalidArgument("window", window, f"the model takes no {step}k+1 frame count in "
                              f"[{min_frames}, {max_frames}]")
    shot = next((c for c in counts if c >= frames), counts[-1])
    if window is None:
        window = max([c for c in counts if c <= min(default_window, shot)] or counts[:1])
    else:
        _check_count("window", window, counts, f"the model takes {step}k+1 frames between "
                     f"{min_frames} and {max_frames}")
        if window > shot:
            raise InvalidArgument("window", window, f"is longer than the clip ({frames} frames, "
                                  f"padded to {shot}); use window <= {shot} or omit it")
    k = (window - 1) // step
    overlaps = [step * m + 1 for m in range(1, k // 2 + 1)]
    if overlap is None:
        chosen = [o for o in overlaps if o <= default_overlap] or overlaps[:1]
        overlap = chosen[-1] if chosen else 1
    elif frames > window:
        _check_count("overlap", overlap, overlaps, f"window={window} takes an overlap of "
                     f"{step}m+1 frames, at most half the window")
    if frames > window and not overlaps:
        raise InvalidArgument("window", window, f"is too short to overlap: a {frames}-frame clip "
                              f"needs windows of at least {2 * step + 1} frames")
    return WindowPlan(frames=frames, window=window, overlap=overlap, step=step)


class LatentBlender:
    """Blends windows' latents (B, C, F', H', W') into the shot's latent timeline, handing back
    each shot latent as soon as no later window touches it (memory: one window plus the
    overlap, whatever the shot's length)."""

    def __init__(self, plan: WindowPlan) -> None:
        self.plan = plan
        self._pending: Any = None  # weighted sum of the shot latents from `_first` on
        self._first = 0
        self._added = 0

    def add(self, index: int, latents: Any) -> Any:
        """Blend window ``index`` (in order) in; return the newly final shot latents."""
        import torch

        if index != self._added:
            raise InvalidArgument("index", index, f"windows are blended in order; expected "
                                  f"{self._added}")
        plan = self.plan
        weights = torch.as_tensor(latent_weights(plan, index), dtype=latents.dtype,
                                  device=latents.device).view(1, 1, -1, 1, 1)
        # latent 0 of a later window (weight 0) lies on a shot latent already handed back
        weighted = (latents * weights)[:, :, self._first - plan.latent_start(index):]
        if self._pending is None:
            self._pending = weighted
        else:
            overlap = self._pending.shape[2]
            blended = self._pending + weighted[:, :, :overlap]
            self._pending = torch.cat([blended, weighted[:, :, overlap:]], dim=2)
        self._added += 1
        ready = plan.final_latents(index) - self._first
        out, self._pending = self._pending[:, :, :ready], self._pending[:, :, ready:]
        self._first += ready
        return out
