"""HDR image and video metrics: fidelity (PU21, Delta E ITP), range, temporal, perceptual.

Every function takes scene-linear float pixels and, where absolute luminance matters, a
``nits_per_unit`` scale (scene-linear 1.0 -> cd/m^2). Nothing here imports torch; ColorVideoVDP
(:func:`hdr_mcp.metrics.perceptual.cvvdp`) imports its optional package when called.

Modules: :mod:`~hdr_mcp.metrics.fidelity`, :mod:`~hdr_mcp.metrics.range`,
:mod:`~hdr_mcp.metrics.temporal`, :mod:`~hdr_mcp.metrics.perceptual`,
:mod:`~hdr_mcp.metrics.evaluate` (files in, reports out, job handler ``run``).
"""

from __future__ import annotations

from hdr_mcp.metrics.fidelity import delta_e_itp, pu21_psnr, pu21_ssim, ssim
from hdr_mcp.metrics.range import clipped_fraction, dynamic_range_stops, peak
from hdr_mcp.metrics.temporal import f2f_psnr, flicker

__all__ = [
    "clipped_fraction",
    "delta_e_itp",
    "dynamic_range_stops",
    "f2f_psnr",
    "flicker",
    "peak",
    "pu21_psnr",
    "pu21_ssim",
    "ssim",
]
