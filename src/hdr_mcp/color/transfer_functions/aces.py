"""ACEScct log encoding (ACES working space for grading, AP1 primaries).

Scene-linear ACEScg values <-> ACEScct code values: ``(log2(x) + 9.72) / 17.52`` above
``x = 2^-7``, a linear toe below it (so negatives and zero are encodable).

S-2016-001 clamps the *decoded* value at 65504 (HALF_MAX, reached at code about 1.4679). We do
not: codes above that keep following ``2^(17.52 y - 9.72)``, as colour-science and
OpenColorIO's ``CURVE - ACEScct-LOG_to_LINEAR`` do, so nothing is clamped silently. Code 1.0
decodes to ``2^7.8`` (about 222.86).

References
----------
* Academy of Motion Picture Arts and Sciences (2016). *S-2016-001: ACEScct - A Quasi-Logarithmic
  Encoding of ACES Data for use within Color Grading Systems*, section 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdr_mcp.color._array import apply_kernel, torch_float, torch_module

__all__ = [
    "CONSTANTS_ACESCCT",
    "ACEScctConstants",
    "log_decoding_ACEScct",
    "log_decoding_ACEScct_torch",
    "log_encoding_ACEScct",
    "log_encoding_ACEScct_torch",
]


@dataclass(frozen=True)
class ACEScctConstants:
    """S-2016-001 section 4.4/4.5 constants (the values the specification prints)."""

    X_BRK: float = 0.0078125
    Y_BRK: float = 0.155251141552511
    A: float = 10.5402377416545
    B: float = 0.0729055341958355
    log_offset: float = 9.72
    log_scale: float = 17.52


CONSTANTS_ACESCCT: ACEScctConstants = ACEScctConstants()
"""ACEScct constants (see :class:`ACEScctConstants`)."""


def _encode_kernel(x, o, tmp, mask, k: ACEScctConstants = CONSTANTS_ACESCCT) -> None:
    np.log2(x, out=o)
    o += k.log_offset
    o *= 1.0 / k.log_scale
    np.less_equal(x, k.X_BRK, out=mask)
    if mask.any():
        np.multiply(x, k.A, out=tmp)
        tmp += k.B
        np.copyto(o, tmp, where=mask)


def _decode_kernel(y, o, tmp, mask, k: ACEScctConstants = CONSTANTS_ACESCCT) -> None:
    np.multiply(y, k.log_scale, out=o)
    o -= k.log_offset
    np.exp2(o, out=o)
    np.less_equal(y, k.Y_BRK, out=mask)
    if mask.any():
        np.subtract(y, k.B, out=tmp)
        tmp *= 1.0 / k.A
        np.copyto(o, tmp, where=mask)


def log_encoding_ACEScct(x):
    """ACEScct encoding: scene-linear (ACEScg) -> ACEScct code value.

    Any real input; ``x <= 2^-7`` (including 0 and negatives) uses the linear toe.
    0.18 -> 0.4135884025.
    """
    return apply_kernel(_encode_kernel, x)


def log_decoding_ACEScct(y):
    """ACEScct decoding: code value -> scene-linear (exact inverse, no 65504 clamp)."""
    return apply_kernel(_decode_kernel, y)


def log_encoding_ACEScct_torch(x):
    """Torch variant of :func:`log_encoding_ACEScct` (dtype/device kept, finite gradients)."""
    torch = torch_module()
    x, out_dtype = torch_float(x)
    k = CONSTANTS_ACESCCT
    log_side = x > k.X_BRK
    safe = torch.where(log_side, x, torch.full_like(x, k.X_BRK))
    y = torch.where(log_side, (torch.log2(safe) + k.log_offset) / k.log_scale, k.A * x + k.B)
    return y.to(out_dtype)


def log_decoding_ACEScct_torch(y):
    """Torch variant of :func:`log_decoding_ACEScct`."""
    torch = torch_module()
    y, out_dtype = torch_float(y)
    k = CONSTANTS_ACESCCT
    log_side = y > k.Y_BRK
    safe = torch.where(log_side, y, torch.full_like(y, k.Y_BRK))
    x = torch.where(log_side, torch.exp2(safe * k.log_scale - k.log_offset), (y - k.B) / k.A)
    return x.to(out_dtype)
