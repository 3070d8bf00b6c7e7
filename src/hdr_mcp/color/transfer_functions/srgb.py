"""IEC 61966-2-1 sRGB transfer function, extended to all reals.

Linear ``L`` <-> non-linear ``V``: ``V = 12.92 L`` for ``L <= 0.0031308``, else
``V = 1.055 L^(1/2.4) - 0.055``.

Extension (not part of IEC 61966-2-1, which covers [0, 1]): values above 1 follow the power
segment (``L = 2 -> V = 1.3532``) and negatives are mirrored, ``V(-L) = -V(L)`` (the
"extended sRGB" convention of scRGB and Apple's extended sRGB), so HDR and out-of-gamut values
survive a round trip. colour-science instead continues the linear toe below 0; the two agree
for ``L >= -0.0031308``.

The decoding break is ``12.92 * 0.0031308`` (about 0.0404500) rather than the printed 0.04045 so
the two functions are exact inverses (colour-science does the same).

References
----------
* IEC 61966-2-1:1999, *Multimedia systems and equipment - Colour measurement and management -
  Part 2-1: Default RGB colour space - sRGB*, section 5.2 (equations 5, 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdr_mcp.color._array import (
    apply_kernel,
    negate_where_negative,
    torch_float,
    torch_module,
    torch_odd,
)

__all__ = [
    "CONSTANTS_SRGB",
    "SRGBConstants",
    "eotf_inverse_sRGB",
    "eotf_inverse_sRGB_torch",
    "eotf_sRGB",
    "eotf_sRGB_torch",
]


@dataclass(frozen=True)
class SRGBConstants:
    """IEC 61966-2-1 section 5.2 constants."""

    cut: float = 0.0031308
    slope: float = 12.92
    gamma: float = 2.4
    scale: float = 1.055
    offset: float = 0.055

    @property
    def cut_encoded(self) -> float:
        """Code value at the break, ``12.92 * 0.0031308``."""
        return self.slope * self.cut


CONSTANTS_SRGB: SRGBConstants = SRGBConstants()
"""sRGB constants (see :class:`SRGBConstants`)."""


def _encode_kernel(x, o, tmp, mask, k: SRGBConstants = CONSTANTS_SRGB) -> None:
    np.abs(x, out=tmp)
    np.log(tmp, out=o)
    o *= 1.0 / k.gamma
    np.exp(o, out=o)
    o *= k.scale
    o -= k.offset
    np.less_equal(tmp, k.cut, out=mask)
    if mask.any():
        tmp *= k.slope
        np.copyto(o, tmp, where=mask)
    negate_where_negative(x, o, mask)


def _decode_kernel(v, o, tmp, mask, k: SRGBConstants = CONSTANTS_SRGB) -> None:
    np.abs(v, out=tmp)
    np.add(tmp, k.offset, out=o)
    o *= 1.0 / k.scale
    np.log(o, out=o)
    o *= k.gamma
    np.exp(o, out=o)
    np.less_equal(tmp, k.cut_encoded, out=mask)
    if mask.any():
        tmp *= 1.0 / k.slope
        np.copyto(o, tmp, where=mask)
    negate_where_negative(v, o, mask)


def eotf_inverse_sRGB(x):
    """sRGB encoding (inverse EOTF): linear -> non-linear; 0.18 -> 0.4613561295.

    Any real input (sign-preserving extension, see the module docstring).
    """
    return apply_kernel(_encode_kernel, x)


def eotf_sRGB(v):
    """sRGB decoding (EOTF): non-linear -> linear; exact inverse of :func:`eotf_inverse_sRGB`."""
    return apply_kernel(_decode_kernel, v)


def eotf_inverse_sRGB_torch(x):
    """Torch variant of :func:`eotf_inverse_sRGB` (dtype/device kept, finite gradients)."""
    torch = torch_module()
    x, out_dtype = torch_float(x)
    k = CONSTANTS_SRGB

    def encode(magnitude):
        power_side = magnitude > k.cut
        safe = torch.where(power_side, magnitude, torch.full_like(magnitude, k.cut))
        return torch.where(
            power_side, k.scale * safe ** (1.0 / k.gamma) - k.offset, k.slope * magnitude
        )

    return torch_odd(x, encode).to(out_dtype)


def eotf_sRGB_torch(v):
    """Torch variant of :func:`eotf_sRGB`."""
    torch = torch_module()
    v, out_dtype = torch_float(v)
    k = CONSTANTS_SRGB

    def decode(magnitude):
        power_side = magnitude > k.cut_encoded
        safe = torch.where(power_side, magnitude, torch.full_like(magnitude, k.cut_encoded))
        return torch.where(
            power_side, ((safe + k.offset) / k.scale) ** k.gamma, magnitude / k.slope
        )

    return torch_odd(v, decode).to(out_dtype)
