"""ITU-R BT.2100 Hybrid Log-Gamma (HLG) OETF and its inverse, BT.2100 scaling.

Scene-linear ``E`` (normalised camera signal, 1.0 = the camera's nominal peak) <-> non-linear
``E'`` with ``E = 1 -> E' = 1`` and ``E = 1/12 -> E' = 0.5``.

This is *not* OpenColorIO's ``CURVE - HLG-OETF`` builtin, which is the same curve applied to
``E/3`` (18 % grey placed at 0.42 instead of 0.2121).

Out-of-range values are extrapolated, never clamped:

* ``E > 1``: the logarithmic segment continues (``E = 4 -> E' = 1.2511``), so HDR highlights
  above the nominal peak survive a round trip.
* ``E < 0``: the curve is mirrored, ``OETF(-E) = -OETF(E)`` (OpenColorIO's HLG transforms do
  the same), so out-of-gamut negatives survive a round trip.

References
----------
* ITU-R BT.2100-2 (2018), Table 5, *Hybrid Log-Gamma (HLG) system reference OETF*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hdr_mcp.color._array import (
    apply_kernel,
    negate_where_negative,
    torch_float,
    torch_module,
    torch_odd,
    torch_pow_bounded,
)

__all__ = [
    "CONSTANTS_BT2100_HLG",
    "BT2100HLGConstants",
    "oetf_BT2100_HLG",
    "oetf_BT2100_HLG_torch",
    "oetf_inverse_BT2100_HLG",
    "oetf_inverse_BT2100_HLG_torch",
]


@dataclass(frozen=True)
class BT2100HLGConstants:
    """BT.2100-2 Table 5: ``E' = sqrt(3E)`` for ``E <= 1/12``, else ``a ln(12E - b) + c``.

    ``a = 0.17883277``, ``b = 1 - 4a``, ``c = 0.5 - a ln(4a)`` in the analytic form BT.2100
    gives (the rounded ``c = 0.55991073`` differs by 5e-10 and would leave a step at 1/12).
    """

    a: float
    b: float
    c: float
    cut: float = 1.0 / 12.0
    cut_encoded: float = 0.5


def _hlg_constants() -> BT2100HLGConstants:
    a = 0.17883277
    return BT2100HLGConstants(a=a, b=1.0 - 4.0 * a, c=0.5 - a * math.log(4.0 * a))


CONSTANTS_BT2100_HLG: BT2100HLGConstants = _hlg_constants()
"""BT.2100 HLG constants (see :class:`BT2100HLGConstants`)."""


def _encode_kernel(x, o, tmp, mask, k: BT2100HLGConstants = CONSTANTS_BT2100_HLG) -> None:
    np.abs(x, out=tmp)
    np.multiply(tmp, 12.0, out=o)
    o -= k.b
    np.log(o, out=o)
    o *= k.a
    o += k.c
    np.less_equal(tmp, k.cut, out=mask)
    if mask.any():
        tmp *= 3.0
        np.sqrt(tmp, out=tmp)
        np.copyto(o, tmp, where=mask)
    negate_where_negative(x, o, mask)


def _decode_kernel(e, o, tmp, mask, k: BT2100HLGConstants = CONSTANTS_BT2100_HLG) -> None:
    np.abs(e, out=tmp)
    np.subtract(tmp, k.c, out=o)
    o *= 1.0 / k.a
    np.exp(o, out=o)
    o += k.b
    o *= 1.0 / 12.0
    np.less_equal(tmp, k.cut_encoded, out=mask)
    if mask.any():
        np.square(tmp, out=tmp)
        tmp *= 1.0 / 3.0
        np.copyto(o, tmp, where=mask)
    negate_where_negative(e, o, mask)


def oetf_BT2100_HLG(x):
    """HLG OETF (BT.2100 scaling): scene-linear ``E`` -> ``E'``.

    Domain: any real; [0, 1] is the standard's, values above 1 and below 0 are extrapolated as
    the module docstring describes. ``oetf_BT2100_HLG(1/12) == 0.5``, ``oetf_BT2100_HLG(1) == 1``
    (to 5e-9: BT.2100 prints ``a`` rounded).
    """
    return apply_kernel(_encode_kernel, x)


def oetf_inverse_BT2100_HLG(e):
    """HLG inverse OETF (BT.2100 scaling): ``E'`` -> scene-linear ``E``; exact inverse, no clamp."""
    return apply_kernel(_decode_kernel, e)


def oetf_BT2100_HLG_torch(x):
    """Torch variant of :func:`oetf_BT2100_HLG` (finite gradient at 0, the infinite-slope point)."""
    torch = torch_module()
    x, out_dtype = torch_float(x)
    k = CONSTANTS_BT2100_HLG

    def hlg(magnitude):
        low = magnitude <= k.cut
        root = torch_pow_bounded(
            3.0 * torch.where(low, magnitude, torch.zeros_like(magnitude)), 0.5
        )
        safe = torch.where(low, torch.full_like(magnitude, k.cut), magnitude)
        return torch.where(low, root, k.a * torch.log(12.0 * safe - k.b) + k.c)

    return torch_odd(x, hlg).to(out_dtype)


def oetf_inverse_BT2100_HLG_torch(e):
    """Torch variant of :func:`oetf_inverse_BT2100_HLG`."""
    torch = torch_module()
    e, out_dtype = torch_float(e)
    k = CONSTANTS_BT2100_HLG

    def inverse_hlg(magnitude):
        low = magnitude <= k.cut_encoded
        safe = torch.where(low, torch.full_like(magnitude, k.cut_encoded), magnitude)
        return torch.where(low, magnitude**2 / 3.0, (torch.exp((safe - k.c) / k.a) + k.b) / 12.0)

    return torch_odd(e, inverse_hlg).to(out_dtype)
