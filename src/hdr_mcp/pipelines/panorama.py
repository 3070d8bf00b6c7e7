"""Seamless equirectangular (lat-long) panoramas from text-to-image pipelines.

A lat-long HDRI wraps around: its left edge continues its right edge. Two things break that
in a plain text-to-image run, and each has a fix here:

1. **Denoising.** The transformer sees the seam as the picture's border. Rolling the latents
   half a turn after every other denoising step puts what lies on the seam in the middle of the
   picture half of the time, so both sides of it are denoised together (the rolled-window idea
   of panorama diffusion methods such as SyncDiffusion / "360 rolling"). Qwen-Image, FLUX.1 and
   FLUX.2 all denoise 2x2-packed tokens ``(B, h*w, C)`` on an ``h x w`` grid (8x VAE): a roll
   is a roll of that grid's columns. :func:`roll_packed` does it; the pipeline's step callback
   calls it.
2. **Decoding.** A VAE decoder pads its convolutions with zeros at the picture's borders, so the
   two edges are decoded as borders, not as neighbours. :func:`seamless_decode` decodes the
   latents and a copy rolled half a turn, rolls that copy's pixels back, and cross-fades: the
   middle of the picture comes from the first decode, the edges (which are the middle of the
   rolled one) from the second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["roll_packed", "seam_step", "seamless_decode", "unroll_latents"]


def roll_packed(latents: Any, grid: tuple[int, int], shift: int) -> Any:
    """Roll packed tokens ``(B, h*w, C)`` by ``shift`` columns of their ``h x w`` grid."""
    import torch

    batch, tokens, channels = latents.shape
    h, w = grid
    if tokens != h * w:
        raise ValueError(f"latents hold {tokens} tokens, not {h}x{w}")
    rolled = torch.roll(latents.reshape(batch, h, w, channels), shifts=shift, dims=2)
    return rolled.reshape(batch, tokens, channels)


def _roll_output(latents: Any, packing: str, grid: tuple[int, int], shift: int) -> Any:
    """Roll a pipeline's ``output_type="latent"`` result by ``shift`` token columns."""
    import torch

    if packing == "flux2":  # unpatchified (B, C, H/8, W/8): a token is 2 latent pixels wide
        return torch.roll(latents, shifts=2 * shift, dims=-1)
    return roll_packed(latents, grid, shift)


def unroll_latents(latents: Any, family: Any, grid: tuple[int, int], shift: int) -> Any:
    """Undo the rolls applied while denoising (``shift`` token columns in all)."""
    return _roll_output(latents, family.latent.packing, grid, -shift) if shift else latents


def seamless_decode(latents: Any, decode: Callable[[Any], np.ndarray], family: Any,
                    grid: tuple[int, int]) -> np.ndarray:
    """Decode a lat-long picture whose left and right edges meet (see the module doc).

    ``decode(latents) -> (H, W, 3)`` float32. The cross-fade weight of the plain decode is 0 at
    the edges, rises linearly over a quarter of the width, and is 1 in the middle half.
    """
    half = grid[1] // 2
    plain = decode(latents)
    rolled = decode(_roll_output(latents, family.latent.packing, grid, half))
    width = plain.shape[1]
    rolled = np.roll(rolled, -width // 2, axis=1)  # back to the plain decode's position
    x = np.arange(width, dtype=np.float32) + 0.5
    distance = np.minimum(x, width - x)  # to the nearest edge
    weight = np.clip(distance / (width / 4.0), 0.0, 1.0)[None, :, None]
    return weight * plain + (1.0 - weight) * rolled


def seam_step(image: np.ndarray) -> tuple[float, np.ndarray]:
    """``(mean |last column - first column|, mean |column i+1 - column i| for each i)``: the
    step across the wrap of a lat-long picture and the steps everywhere else."""
    image = np.asarray(image, np.float64)
    inner = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))
    wrap = float(np.abs(image[:, 0] - image[:, -1]).mean())
    return wrap, inner
