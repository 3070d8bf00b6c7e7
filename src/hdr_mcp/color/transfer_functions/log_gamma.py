"""Log-gamma encoding used by DiffHDR to feed scene-linear HDR to an SDR-trained VAE.

``y = (ln(g*x + 1) / ln(g*M + 1)) ** (1/g)`` maps scene-linear ``x`` in ``[0, M]`` onto
``[0, 1]`` with a gamma-shaped toe and a logarithmic shoulder.

Parameters (keyword ``params`` of :func:`hdr_mcp.color.encode`):

* ``gamma`` (``g``, default 2.2).
* ``max_value`` (``M``, default 65536, as in DiffHDR's public code; the seed design document
  uses 1000). Choose ``M`` at or above the data's peak: everything above it is lost.

Domain handling (this is the one curve in :mod:`hdr_mcp.color` that clamps, because its
definition does):

* Encoding clamps ``x`` to ``[0, M]`` as the reference implementation does: values above ``M``
  encode to 1.0 and negatives to 0.0 (the logarithm and fractional power are undefined for
  ``x < 0``). Convert out-of-gamut data to a wider gamut first if negatives matter.
* Decoding is the exact inverse on ``[0, 1]`` and *extrapolates* outside it instead of
  clamping: codes above 1 decode above ``M``, negative codes decode to the mirrored value
  ``-decode(-y)``, so a model that overshoots is visible rather than silently cut.

References
----------
* DiffHDR log-gamma mapping (public reference code: ``gamma = 2.2``, ``M = 65536``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hdr_mcp.color._array import (
    apply_kernel,
    negate_where_negative,
    positive_number,
    torch_float,
    torch_module,
    torch_odd,
    torch_pow_bounded,
)

__all__ = [
    "CONSTANTS_LOG_GAMMA",
    "LogGammaConstants",
    "log_decoding_LogGamma",
    "log_decoding_LogGamma_torch",
    "log_encoding_LogGamma",
    "log_encoding_LogGamma_torch",
]


@dataclass(frozen=True)
class LogGammaConstants:
    """Default DiffHDR log-gamma parameters: ``gamma = 2.2``, ``max_value = 65536``."""

    gamma: float = 2.2
    max_value: float = 65536.0


CONSTANTS_LOG_GAMMA: LogGammaConstants = LogGammaConstants()
"""Default log-gamma parameters (see :class:`LogGammaConstants`)."""


def _check(gamma, max_value) -> tuple[float, float]:
    return positive_number(gamma, "gamma"), positive_number(max_value, "max_value")


def _encode_kernel_for(g: float, m: float):
    log_norm = math.log1p(g * m)

    def kernel(x, o, tmp, mask) -> None:
        np.clip(x, 0.0, m, out=o)
        o *= g
        np.log1p(o, out=o)
        o *= 1.0 / log_norm
        np.log(o, out=o)  # v ** (1/g) as exp(log(v)/g); log(0) = -inf -> 0
        o *= 1.0 / g
        np.exp(o, out=o)

    return kernel


def _decode_kernel_for(g: float, m: float):
    log_norm = math.log1p(g * m)

    def kernel(y, o, tmp, mask) -> None:
        np.abs(y, out=o)
        np.log(o, out=o)
        o *= g
        np.exp(o, out=o)
        o *= log_norm
        np.expm1(o, out=o)
        o *= 1.0 / g
        negate_where_negative(y, o, mask)

    return kernel


def log_encoding_LogGamma(
    x, gamma: float = CONSTANTS_LOG_GAMMA.gamma, max_value: float = CONSTANTS_LOG_GAMMA.max_value
):
    """Log-gamma encoding: scene-linear -> code value in ``[0, 1]``.

    ``x`` is clamped to ``[0, max_value]`` first (see the module docstring).
    ``x = max_value -> 1.0``, ``x = 0 -> 0.0``.
    """
    g, m = _check(gamma, max_value)
    return apply_kernel(_encode_kernel_for(g, m), x)


def log_decoding_LogGamma(
    y, gamma: float = CONSTANTS_LOG_GAMMA.gamma, max_value: float = CONSTANTS_LOG_GAMMA.max_value
):
    """Log-gamma decoding: code value -> scene-linear, ``(exp(y^g ln(g M + 1)) - 1) / g``.

    Exact inverse on ``[0, 1]``; extrapolates (no clamp) outside it, mirrored below 0.
    """
    g, m = _check(gamma, max_value)
    return apply_kernel(_decode_kernel_for(g, m), y)


def log_encoding_LogGamma_torch(
    x, gamma: float = CONSTANTS_LOG_GAMMA.gamma, max_value: float = CONSTANTS_LOG_GAMMA.max_value
):
    """Torch variant of :func:`log_encoding_LogGamma` (gradient 0 where clamped, finite at 0)."""
    torch = torch_module()
    g, m = _check(gamma, max_value)
    x, out_dtype = torch_float(x)
    v = torch.log1p(g * torch.clamp(x, 0.0, m)) / math.log1p(g * m)
    return torch_pow_bounded(v, 1.0 / g).to(out_dtype)


def log_decoding_LogGamma_torch(
    y, gamma: float = CONSTANTS_LOG_GAMMA.gamma, max_value: float = CONSTANTS_LOG_GAMMA.max_value
):
    """Torch variant of :func:`log_decoding_LogGamma`."""
    torch = torch_module()
    g, m = _check(gamma, max_value)
    y, out_dtype = torch_float(y)
    log_norm = math.log1p(g * m)

    def inverse(magnitude):
        return torch.expm1(torch_pow_bounded(magnitude, g) * log_norm) / g

    return torch_odd(y, inverse).to(out_dtype)
