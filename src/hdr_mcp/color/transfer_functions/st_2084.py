"""SMPTE ST 2084 perceptual quantizer (PQ), applied to scene-linear data.

PQ is defined on absolute luminance ``Y`` in cd/m^2 (0..10000). Scene-linear values have no
absolute scale, so ``nits_per_unit`` states it: scene-linear 1.0 = ``nits_per_unit`` cd/m^2
(default 100, the convention OpenColorIO's ``CURVE - LINEAR_to_ST-2084`` uses). Always report
the value used beside any PQ-domain number.

References
----------
* SMPTE ST 2084:2014, *High Dynamic Range Electro-Optical Transfer Function of Mastering
  Reference Displays*, equations 4.1 and 5.2.
* ITU-R BT.2100-2 (2018), Table 4 (same constants).
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
    "CONSTANTS_ST2084",
    "ST2084Constants",
    "eotf_ST2084",
    "eotf_ST2084_torch",
    "eotf_inverse_ST2084",
    "eotf_inverse_ST2084_torch",
]


@dataclass(frozen=True)
class ST2084Constants:
    """SMPTE ST 2084 constants (ST 2084:2014 section 4; BT.2100-2 Table 4).

    ``E' = ((c1 + c2 Y^m1) / (1 + c3 Y^m1))^m2`` with ``Y = L / peak``.
    """

    m1: float = 2610.0 / 16384.0
    m2: float = 2523.0 / 4096.0 * 128.0
    c1: float = 3424.0 / 4096.0
    c2: float = 2413.0 / 4096.0 * 32.0
    c3: float = 2392.0 / 4096.0 * 32.0
    peak: float = 10000.0
    """Luminance in cd/m^2 that encodes to 1.0."""

    @property
    def code_asymptote(self) -> float:
        """``(c2/c3)^m2`` (about 1.99206): the code value that infinite luminance approaches."""
        return (self.c2 / self.c3) ** self.m2


CONSTANTS_ST2084: ST2084Constants = ST2084Constants()
"""SMPTE ST 2084 constants (see :class:`ST2084Constants`)."""

DEFAULT_NITS_PER_UNIT = 100.0


def _encode_kernel_for(scale: float, k: ST2084Constants = CONSTANTS_ST2084):
    def kernel(x, o, tmp, mask) -> None:
        # Y^m1 and the final ^m2 as exp(p*log(.)): numpy's SIMD exp/log are ~10x faster than
        # np.power and as accurate here. log(0) = -inf gives exp(-inf) = 0, i.e. PQ(0) = c1^m2.
        np.abs(x, out=o)
        o *= scale
        np.log(o, out=o)
        o *= k.m1
        np.exp(o, out=o)  # o = Y^m1
        np.multiply(o, k.c3, out=tmp)
        tmp += 1.0
        o *= k.c2
        o += k.c1
        o /= tmp
        np.log(o, out=o)
        o *= k.m2
        np.exp(o, out=o)
        negate_where_negative(x, o, mask)

    return kernel


def _decode_kernel_for(scale: float, k: ST2084Constants = CONSTANTS_ST2084):
    def kernel(e, o, tmp, mask) -> None:
        np.abs(e, out=o)
        np.log(o, out=o)
        o *= 1.0 / k.m2
        np.exp(o, out=o)  # o = V = |E'|^(1/m2)
        np.multiply(o, -k.c3, out=tmp)
        tmp += k.c2  # tmp = c2 - c3 V  (<= 0 beyond the asymptote: no finite luminance)
        o -= k.c1
        np.maximum(o, 0.0, out=o)  # ST 2084 eq. 5.2: max(V - c1, 0)
        o /= tmp
        np.log(o, out=o)
        o *= 1.0 / k.m1
        np.exp(o, out=o)
        o *= scale
        np.less_equal(tmp, 0.0, out=mask)
        if mask.any():
            o[mask] = np.inf
        negate_where_negative(e, o, mask)

    return kernel


def eotf_inverse_ST2084(x, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """PQ encoding: scene-linear -> PQ code value (ST 2084 inverse EOTF, eq. 5.2 inverted).

    Parameters
    ----------
    x
        Scene-linear values; ``x * nits_per_unit`` is luminance in cd/m^2. Values above
        10000 cd/m^2 keep following the formula (codes above 1, approaching about 1.992);
        nothing is clamped.
    nits_per_unit
        cd/m^2 that scene-linear 1.0 stands for (default 100: 1.0 -> 0.5080784215).

    Returns
    -------
    PQ code value; 0 -> c1^m2 (about 7.3e-7, as the standard gives, not 0).

    Notes
    -----
    float32 input is evaluated in float64 and rounded once (PQ is ill-conditioned in float32).
    Negative inputs are outside ST 2084. They are mirrored, ``PQ(-x) = -PQ(x)``, as OpenColorIO's
    PQ transforms do, so out-of-gamut negatives survive a round trip (code values in
    ``(-c1^m2, c1^m2)`` are never produced).
    """
    scale = positive_number(nits_per_unit, "nits_per_unit") / CONSTANTS_ST2084.peak
    return apply_kernel(_encode_kernel_for(scale), x, float64=True)


def eotf_ST2084(e, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """PQ decoding: PQ code value -> scene-linear (ST 2084 EOTF, eq. 4.1, divided by nits_per_unit).

    Codes below ``c1^m2`` decode to 0 (the standard's ``max(V - c1, 0)``); negative codes are
    mirrored like the encoder. Codes at or beyond ``(c2/c3)^m2`` (about 1.992) have no finite
    preimage and decode to ``+inf`` (``-inf`` when negative), never to a clamped number.
    Code 1.0 decodes to ``10000 / nits_per_unit``.
    """
    scale = CONSTANTS_ST2084.peak / positive_number(nits_per_unit, "nits_per_unit")
    return apply_kernel(_decode_kernel_for(scale), e, float64=True)


def eotf_inverse_ST2084_torch(x, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """Torch variant of :func:`eotf_inverse_ST2084` (dtype/device kept, finite gradients).

    The true slope is infinite at 0; the gradient there is bounded (see ``torch_pow_bounded``).
    Lower-precision tensors are evaluated in float64 (except on MPS) and cast back, because the
    ``^m2`` power amplifies float32 rounding about 80-fold.
    """
    x, out_dtype = torch_float(x, float64=True)
    scale = positive_number(nits_per_unit, "nits_per_unit") / CONSTANTS_ST2084.peak
    k = CONSTANTS_ST2084

    def pq(magnitude):
        y_m1 = torch_pow_bounded(magnitude * scale, k.m1)
        return ((k.c1 + k.c2 * y_m1) / (1.0 + k.c3 * y_m1)) ** k.m2

    return torch_odd(x, pq).to(out_dtype)


def eotf_ST2084_torch(e, nits_per_unit: float = DEFAULT_NITS_PER_UNIT):
    """Torch variant of :func:`eotf_ST2084`."""
    torch = torch_module()
    e, out_dtype = torch_float(e, float64=True)
    scale = CONSTANTS_ST2084.peak / positive_number(nits_per_unit, "nits_per_unit")
    k = CONSTANTS_ST2084

    def inverse_pq(magnitude):
        v = torch_pow_bounded(magnitude, 1.0 / k.m2)
        numerator = torch.clamp_min(v - k.c1, 0.0)
        denominator = k.c2 - k.c3 * v
        beyond = denominator <= 0  # NaN stays NaN: the comparison is False for NaN
        safe_denominator = torch.where(beyond, torch.ones_like(denominator), denominator)
        y = torch_pow_bounded(numerator / safe_denominator, 1.0 / k.m1) * scale
        return torch.where(beyond, torch.full_like(y, math.inf), y)

    return torch_odd(e, inverse_pq).to(out_dtype)
