"""PU21 as a transfer curve: scene-linear -> perceptually uniform code values in [0, 1].

X2HDR trains a FLUX LoRA on HDR images encoded with PU21 (Mantiuk & Azimi 2021, the
``banding_glare`` fit of :mod:`hdr_mcp.color.pu21`), applied per RGB channel to absolute
luminance. As a curve: ``code = PU(x * nits_per_unit) / PU(10000)``, so code 1.0 is the
10000 cd/m^2 top of PU21's fitted range. The exact normalisation X2HDR uses is unverified here
(its code was not available); LoRA files carry the parameters they were trained with.

Domain: like PU21 itself, encoding clamps light to PU21's fitted range [0.005, 10000] cd/m^2
(the second clamping curve of :mod:`hdr_mcp.color`, with ``log_gamma``): code 0 is 0.005 cd/m^2,
not black. Decoding clamps code values to the image of that range.

Parameters: ``nits_per_unit`` (cd/m^2 of scene-linear 1.0, default 100).
"""

from __future__ import annotations

import numpy as np

from hdr_mcp.color._array import positive_number, torch_module
from hdr_mcp.color.pu21 import (
    PU21_L_MAX,
    PU21_L_MIN,
    PU21_PARAMETERS,
    pu21_decode,
    pu21_encode,
)

__all__ = [
    "DEFAULT_NITS_PER_UNIT",
    "log_decoding_PU21",
    "log_decoding_PU21_torch",
    "log_encoding_PU21",
    "log_encoding_PU21_torch",
]

DEFAULT_NITS_PER_UNIT = 100.0
_P = PU21_PARAMETERS["banding_glare"]
#: PU21 value at the top of its fitted range: the code-1.0 normaliser.
PU21_TOP = float(pu21_encode(np.float64(PU21_L_MAX)))


def log_encoding_PU21(x, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """Scene-linear -> PU21 code value in [PU(0.005)/PU(10000), 1] (numpy)."""
    scale = positive_number(nits_per_unit, "nits_per_unit")
    arr = np.asarray(x)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float16) else np.float64
    codes = pu21_encode(arr.astype(np.float64) * scale) / PU21_TOP
    return codes.astype(dtype)


def log_decoding_PU21(y, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """PU21 code value -> scene-linear (numpy); inverse of :func:`log_encoding_PU21`."""
    scale = positive_number(nits_per_unit, "nits_per_unit")
    arr = np.asarray(y)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float16) else np.float64
    return (pu21_decode(arr.astype(np.float64) * PU21_TOP) / scale).astype(dtype)


def log_encoding_PU21_torch(x, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """Torch variant of :func:`log_encoding_PU21` (dtype and device kept, differentiable)."""
    torch = torch_module()
    p1, p2, p3, p4, p5, p6, p7 = _P
    scale = positive_number(nits_per_unit, "nits_per_unit")
    y_p = torch.clamp(x * scale, PU21_L_MIN, PU21_L_MAX) ** p4
    return p7 * (((p1 + p2 * y_p) / (1.0 + p3 * y_p)) ** p5 - p6) / PU21_TOP


def log_decoding_PU21_torch(y, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """Torch variant of :func:`log_decoding_PU21`."""
    torch = torch_module()
    p1, p2, p3, p4, p5, p6, p7 = _P
    scale = positive_number(nits_per_unit, "nits_per_unit")
    v_lo = float(pu21_encode(np.float64(PU21_L_MIN)))
    w = (torch.clamp(y * PU21_TOP, v_lo, PU21_TOP) / p7 + p6) ** (1.0 / p5)
    y_p = torch.clamp((w - p1) / (p2 - p3 * w), min=0.0)
    return torch.clamp(y_p ** (1.0 / p4), PU21_L_MIN, PU21_L_MAX) / scale
