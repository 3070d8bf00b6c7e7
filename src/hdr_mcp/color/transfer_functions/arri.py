"""ARRI LogC3 (EI 800) and ARRI LogC4 log encodings.

Scene-linear relative exposure (18 % grey = 0.18) <-> normalised code value (0..1 for the
camera's recorded range; both curves continue past it, nothing is clamped).

References
----------
* ARRI (2012). *ALEXA Log C Curve - Usage in VFX* (LogC3, SUP 3.x, "Linear Scene Exposure
  Factor" form). Constants as OpenColorIO stores them for its builtin
  ``ARRI_ALEXA-LOGC-EI800-AWG_to_ACES2065-1`` (a ``LogCameraTransform``, base 10).
* Cooper, S. & Brendel, H. (2022). *ARRI LogC4 Logarithmic Color Space SPECIFICATION*.
  The same curve is OpenColorIO's ``ARRI_LOGC4_to_ACES2065-1`` (``LogCameraTransform``, base 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hdr_mcp.color._array import apply_kernel, torch_float, torch_module

__all__ = [
    "CONSTANTS_ARRILOGC3",
    "CONSTANTS_ARRILOGC4",
    "ArriLogC3Constants",
    "ArriLogC4Constants",
    "log_decoding_ARRILogC3",
    "log_decoding_ARRILogC3_torch",
    "log_decoding_ARRILogC4",
    "log_decoding_ARRILogC4_torch",
    "log_encoding_ARRILogC3",
    "log_encoding_ARRILogC3_torch",
    "log_encoding_ARRILogC4",
    "log_encoding_ARRILogC4_torch",
]


@dataclass(frozen=True)
class ArriLogC3Constants:
    """ARRI LogC3 (SUP 3.x, EI 800, linear scene exposure factor) constants.

    ``t = c * log10(a*x + b) + d`` for ``x > cut``, else ``t = e*x + f``.

    ``a, b, c, d`` and ``cut = (1/9 - b) / a`` are OpenColorIO's (ARRI 2012 to 10 digits).
    colour-science rounds all of them to 6 decimals, which moves the curve by up to 1.4e-6 above
    x = 100; we keep OCIO's so files match what compositing packages decode.
    ``e`` and ``f`` are derived, as OCIO's ``LogCameraTransform`` does: ``e`` makes the slope
    continuous at ``cut`` and ``f`` makes the value continuous there (ARRI's published
    ``e = 5.367655, f = 0.092809`` are these values rounded).
    """

    a: float
    b: float
    c: float
    d: float
    cut: float
    e: float
    f: float

    @property
    def cut_encoded(self) -> float:
        """Code value at the break, ``e*cut + f`` (about 0.149658): decode's branch point."""
        return self.e * self.cut + self.f


def _logc3_constants() -> ArriLogC3Constants:
    a = 1.0 / 0.18
    b = 0.0522722750
    c = 0.2471896383
    d = 0.3855369987
    cut = (1.0 / 9.0 - b) / a
    # a*cut + b == 1/9, where the log branch's slope is c*a / ((a*cut + b) * ln 10).
    e = c * a / ((a * cut + b) * math.log(10.0))
    f = c * math.log10(a * cut + b) + d - e * cut
    return ArriLogC3Constants(a=a, b=b, c=c, d=d, cut=cut, e=e, f=f)


CONSTANTS_ARRILOGC3: ArriLogC3Constants = _logc3_constants()
"""ARRI LogC3 EI 800 constants (OpenColorIO values; see :class:`ArriLogC3Constants`)."""


@dataclass(frozen=True)
class ArriLogC4Constants:
    """ARRI LogC4 constants (Cooper & Brendel 2022, section 4).

    ``E' = (log2(a*E + 64) - 6) / 14 * b + c`` for ``E >= t``, else ``E' = (E - t) / s``.

    ``a = (2^18 - 16) / 117.45``, ``b = (1023 - 95) / 1023``, ``c = 95 / 1023``,
    ``s = 7 ln2 2^(7 - 14c/b) / (a b)`` (about 0.1135972086) and
    ``t = (2^(14(-c/b) + 6) - 64) / a`` (about -0.0180569961, where ``E' = 0``).
    Code value 1.0 decodes to about 469.8; the curve is continuous with a continuous slope at ``t``.
    """

    a: float
    b: float
    c: float
    s: float
    t: float


def _logc4_constants() -> ArriLogC4Constants:
    a = (2.0**18 - 16.0) / 117.45
    b = (1023.0 - 95.0) / 1023.0
    c = 95.0 / 1023.0
    s = (7.0 * math.log(2.0) * 2.0 ** (7.0 - 14.0 * c / b)) / (a * b)
    t = (2.0 ** (14.0 * (-c / b) + 6.0) - 64.0) / a
    return ArriLogC4Constants(a=a, b=b, c=c, s=s, t=t)


CONSTANTS_ARRILOGC4: ArriLogC4Constants = _logc4_constants()
"""ARRI LogC4 constants (see :class:`ArriLogC4Constants`)."""


# --------------------------------------------------------------------------------------------
# LogC3
# --------------------------------------------------------------------------------------------


def _logc3_encode_kernel(x, o, tmp, mask, k: ArriLogC3Constants = CONSTANTS_ARRILOGC3) -> None:
    np.multiply(x, k.a, out=o)
    o += k.b
    np.log10(o, out=o)
    o *= k.c
    o += k.d
    np.less_equal(x, k.cut, out=mask)
    if mask.any():
        np.multiply(x, k.e, out=tmp)
        tmp += k.f
        np.copyto(o, tmp, where=mask)


def _logc3_decode_kernel(t, o, tmp, mask, k: ArriLogC3Constants = CONSTANTS_ARRILOGC3) -> None:
    # (10^((t - d)/c) - b) / a  ==  exp(t ln10/c - d ln10/c - ln a) - b/a : one exp, no divide.
    ln10 = math.log(10.0)
    np.multiply(t, ln10 / k.c, out=o)
    o += -k.d * ln10 / k.c - math.log(k.a)
    np.exp(o, out=o)
    o -= k.b / k.a
    np.less_equal(t, k.cut_encoded, out=mask)
    if mask.any():
        np.subtract(t, k.f, out=tmp)
        tmp *= 1.0 / k.e
        np.copyto(o, tmp, where=mask)


def log_encoding_ARRILogC3(x):
    """ARRI LogC3 (EI 800) encoding: scene-linear -> LogC3 code value.

    Parameters
    ----------
    x
        Scene-linear relative exposure, any real value (18 % grey = 0.18). Values at or below
        ``cut`` (about 0.0106), including negatives, follow the linear toe; there is no clamp.

    Returns
    -------
    LogC3 code value, normalised (0.18 -> 0.3910068426, 1.0 -> 0.5706312827). Same shape;
    dtype per the package rules (float32 stays float32).
    """
    return apply_kernel(_logc3_encode_kernel, x)


def log_decoding_ARRILogC3(t):
    """ARRI LogC3 (EI 800) decoding: code value -> scene-linear (exact inverse, no clamp).

    Code 1.0 decodes to about 55.08, code 0.0 to about -0.01729.
    """
    return apply_kernel(_logc3_decode_kernel, t)


def log_encoding_ARRILogC3_torch(x):
    """Torch variant of :func:`log_encoding_ARRILogC3` (dtype/device kept, finite gradients)."""
    torch = torch_module()
    x, out_dtype = torch_float(x)
    k = CONSTANTS_ARRILOGC3
    log_side = x > k.cut
    safe = torch.where(log_side, x, torch.full_like(x, k.cut))
    y = torch.where(log_side, k.c * torch.log10(k.a * safe + k.b) + k.d, k.e * x + k.f)
    return y.to(out_dtype)


def log_decoding_ARRILogC3_torch(t):
    """Torch variant of :func:`log_decoding_ARRILogC3`."""
    torch = torch_module()
    t, out_dtype = torch_float(t)
    k = CONSTANTS_ARRILOGC3
    log_side = t > k.cut_encoded
    safe = torch.where(log_side, t, torch.full_like(t, k.cut_encoded))
    x = torch.where(log_side, (10.0 ** ((safe - k.d) / k.c) - k.b) / k.a, (t - k.f) / k.e)
    return x.to(out_dtype)


# --------------------------------------------------------------------------------------------
# LogC4
# --------------------------------------------------------------------------------------------


def _logc4_encode_kernel(x, o, tmp, mask, k: ArriLogC4Constants = CONSTANTS_ARRILOGC4) -> None:
    # (log2(a x + 64) - 6) / 14 * b + c  ==  c + b/(14 ln2) * log1p(a x / 64): log1p stays
    # accurate where the log branch crosses x = 0 (log2(64 + a x) would lose ~4 float32 ulp).
    np.multiply(x, k.a / 64.0, out=o)
    np.log1p(o, out=o)
    o *= k.b / (14.0 * math.log(2.0))
    o += k.c
    np.less(x, k.t, out=mask)
    if mask.any():
        np.subtract(x, k.t, out=tmp)
        tmp *= 1.0 / k.s
        np.copyto(o, tmp, where=mask)


def _logc4_decode_kernel(e, o, tmp, mask, k: ArriLogC4Constants = CONSTANTS_ARRILOGC4) -> None:
    # (2^(14(E'-c)/b + 6) - 64) / a  ==  64/a * expm1(14 ln2 / b * (E' - c)): no cancellation
    # near x = 0 (E' = c), and about as fast as exp2 in float32 (SIMD expm1).
    np.subtract(e, k.c, out=o)
    o *= 14.0 * math.log(2.0) / k.b
    np.expm1(o, out=o)
    o *= 64.0 / k.a
    np.less(e, 0.0, out=mask)
    if mask.any():
        np.multiply(e, k.s, out=tmp)
        tmp += k.t
        np.copyto(o, tmp, where=mask)


def log_encoding_ARRILogC4(x):
    """ARRI LogC4 encoding: scene-linear -> LogC4 code value.

    Parameters
    ----------
    x
        Scene-linear relative exposure, any real value. Below ``t`` (about -0.018057) the curve
        is the spec's linear segment, so small negatives stay invertible; there is no clamp.

    Returns
    -------
    LogC4 code value, normalised: 0.18 -> 0.2783958365, 1.0 -> 0.4275193648,
    100 -> 0.8553946934, about 469.8 -> 1.0. Same shape; dtype per the package rules.
    """
    return apply_kernel(_logc4_encode_kernel, x)


def log_decoding_ARRILogC4(e):
    """ARRI LogC4 decoding: code value -> scene-linear (exact inverse, no clamp).

    Code 0.0 decodes to ``t`` (about -0.018057), code 1.0 to about 469.8; codes above 1 keep
    following the exponential (1.1 -> about 1100).
    """
    return apply_kernel(_logc4_decode_kernel, e)


def log_encoding_ARRILogC4_torch(x):
    """Torch variant of :func:`log_encoding_ARRILogC4` (dtype/device kept, finite gradients)."""
    torch = torch_module()
    x, out_dtype = torch_float(x)
    k = CONSTANTS_ARRILOGC4
    log_side = x >= k.t
    safe = torch.where(log_side, x, torch.full_like(x, k.t))
    log_branch = k.c + k.b / (14.0 * math.log(2.0)) * torch.log1p(safe * (k.a / 64.0))
    y = torch.where(log_side, log_branch, (x - k.t) / k.s)
    return y.to(out_dtype)


def log_decoding_ARRILogC4_torch(e):
    """Torch variant of :func:`log_decoding_ARRILogC4`."""
    torch = torch_module()
    e, out_dtype = torch_float(e)
    k = CONSTANTS_ARRILOGC4
    log_side = e >= 0.0
    safe = torch.where(log_side, e, torch.zeros_like(e))
    exp_branch = (64.0 / k.a) * torch.expm1((safe - k.c) * (14.0 * math.log(2.0) / k.b))
    x = torch.where(log_side, exp_branch, e * k.s + k.t)
    return x.to(out_dtype)
