"""Colour science for scene-linear HDR: transfer functions, gamuts, OpenColorIO, tone mapping.

Pure functions on numpy arrays or torch tensors (auto-detected; torch is imported only when a
tensor is passed, so ``import hdr_mcp.color`` stays light: no torch, OpenColorIO or Pillow).

* :func:`encode` / :func:`decode` / :func:`encodings`: scene-linear <-> code value with a named
  curve (``linear``, ``srgb``, ``logc3``, ``logc4``, ``pq``, ``hlg``, ``log_gamma``,
  ``acescct``); one module per standard in :mod:`hdr_mcp.color.transfer_functions`.
* :mod:`hdr_mcp.color.gamut`: linear RGB colour spaces, interop IDs and conversion matrices.
* :func:`ocio_convert`: any conversion OpenColorIO's studio config (or another config) knows.
* :mod:`hdr_mcp.color.tonemap`: exposure, Reinhard, 8-bit previews and exposure strips.

dtype rules: numpy float32 in -> float32 out, float64 -> float64 (float16 is computed in float32
and returned as float16), python scalars/lists -> float64; torch tensors keep dtype and device.
Nothing is clamped unless a docstring says so: only ``log_gamma`` encoding (its definition),
PQ decoding of codes below PQ(0) (ST 2084's ``max(V - c1, 0)``), PU21 (its fitted luminance
range, :mod:`hdr_mcp.color.pu21`), the power-law inverse tone map (non-positive luminance -> 0,
:mod:`hdr_mcp.color.inverse_tonemap`) and the 8-bit display functions.
"""

from __future__ import annotations

from hdr_mcp.color.gamut import (
    COLORSPACES,
    ColorSpace,
    colorspace,
    colorspace_from_chromaticities,
    colorspace_from_interop_id,
    colorspaces,
    convert_colorspace,
    luminance,
    rgb_to_rgb_matrix,
)
from hdr_mcp.color.ocio import ocio_convert
from hdr_mcp.color.tonemap import (
    exposure,
    exposure_strip,
    preview,
    reinhard,
    reinhard_extended,
    srgb_display_8bit,
)
from hdr_mcp.color.transfer_functions import ENCODINGS, decode, encode, encoding, encodings

__all__ = [
    "COLORSPACES",
    "ENCODINGS",
    "ColorSpace",
    "colorspace",
    "colorspace_from_chromaticities",
    "colorspace_from_interop_id",
    "colorspaces",
    "convert_colorspace",
    "decode",
    "encode",
    "encoding",
    "encodings",
    "exposure",
    "exposure_strip",
    "luminance",
    "ocio_convert",
    "preview",
    "reinhard",
    "reinhard_extended",
    "rgb_to_rgb_matrix",
    "srgb_display_8bit",
]
