"""PU21: perceptually uniform encoding of absolute luminance for HDR image metrics.

Reference
---------
R. K. Mantiuk and M. Azimi, "PU21: A novel perceptually uniform encoding for adapting existing
quality metrics for HDR", Picture Coding Symposium (PCS), 2021. Reference implementation:
``pu21_encoder.m`` in the authors' MATLAB/Python code (gfxdisp/pu21); the same constants are
shipped in ColorVideoVDP (``pycvvdp.utils.PU``).

PU21 maps *absolute* luminance in cd/m^2 (what a display emits or a scene measures, not relative
scene-linear values) to code values in which a unit step is roughly equally visible anywhere in
the range, so that SDR metrics (PSNR, SSIM) can be applied to HDR pixels. The encoding of
100 cd/m^2 (SDR diffuse white) is about 256, which is why PU21-PSNR uses a peak of 256.

Formula (every variant)::

    V = p7 * (((p1 + p2 * Y**p4) / (1 + p3 * Y**p4)) ** p5 - p6)

with ``Y`` clamped to ``[PU21_L_MIN, PU21_L_MAX] = [0.005, 10000]`` cd/m^2 beforehand, exactly as
the reference implementation does: luminance below 0.005 cd/m^2 (including zero and negative
values) encodes to ``V(0.005) ~= 0`` and luminance above 10 000 cd/m^2 encodes to
``V(10000) ~= 595.39``. NaN propagates to NaN.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from hdr_mcp.color._array import float_array
from hdr_mcp.errors import InvalidArgument

__all__ = [
    "PU21_L_MAX",
    "PU21_L_MIN",
    "PU21_PARAMETERS",
    "PU21Variant",
    "pu21_decode",
    "pu21_encode",
]

PU21Variant = Literal["banding", "banding_glare", "peaks", "peaks_glare"]

#: Luminance range (cd/m^2) the PU21 fits were made for; inputs are clamped to it (PCS 2021).
PU21_L_MIN = 0.005
PU21_L_MAX = 10000.0

#: Fitted parameters p1..p7 of each PU21 variant (Mantiuk & Azimi 2021, Table 1; identical to
#: ``pu21_encoder.m`` and ``pycvvdp.utils.PU``). ``banding_glare`` is the recommended default:
#: fitted to banding (contrast) detection thresholds with glare (intra-ocular scatter) modelled.
PU21_PARAMETERS: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "banding": (
        1.070275272,
        0.4088273932,
        0.153224308,
        0.2520326168,
        1.063512885,
        1.14115047,
        521.4527484,
    ),
    "banding_glare": (
        0.353487901,
        0.3734658629,
        8.277049286e-05,
        0.9062562627,
        0.09150303166,
        0.9099517204,
        596.3148142,
    ),
    "peaks": (
        1.043882782,
        0.6459495343,
        0.3194584211,
        0.374025247,
        1.114783422,
        1.095360363,
        384.9217577,
    ),
    "peaks_glare": (
        816.885024,
        1479.463946,
        0.001253215609,
        0.9329636822,
        0.06746643971,
        1.573435413,
        419.6006374,
    ),
}


def _parameters(variant: str) -> tuple[float, ...]:
    try:
        return PU21_PARAMETERS[variant]
    except KeyError:
        raise InvalidArgument(
            "variant", variant, f"unknown PU21 variant; valid: {', '.join(PU21_PARAMETERS)}"
        ) from None


def _as_float64(x: object, argument: str) -> tuple[np.ndarray, np.dtype]:
    """Return ``x`` as float64 for computing, plus the dtype the result must be given back in."""
    arr = float_array(x, argument)
    # float64 internally: PU differences of ~1e-3 matter for PSNR above 60 dB.
    return arr.astype(np.float64, copy=False), arr.dtype


def pu21_encode(y_nits: object, variant: PU21Variant = "banding_glare") -> np.ndarray:
    """Encode absolute luminance (cd/m^2) into PU21 code values.

    Parameters
    ----------
    y_nits
        Absolute luminance in cd/m^2, any shape (a numpy array, list or scalar). To use it on
        scene-linear pixels, multiply them by the scene-to-display scale first (hdr-mcp's
        ``nits_per_unit``; 1.0 scene-linear -> ``nits_per_unit`` cd/m^2). The encoding is also
        applied per RGB channel by PU21-PSNR, as in the reference code.
    variant
        Parameter set (see :data:`PU21_PARAMETERS`); ``"banding_glare"`` is the reference default.

    Returns
    -------
    numpy.ndarray
        PU21 values, same shape; float32/float16 in -> same dtype out, anything else -> float64.
        Input is clamped to [0.005, 10000] cd/m^2, so the range is [~0, ~595.4] for
        ``banding_glare`` (PU(100) = 256.384, PU(1000) = 420.097). NaN stays NaN.
    """
    p1, p2, p3, p4, p5, p6, p7 = _parameters(variant)
    y, out_dtype = _as_float64(y_nits, "y_nits")
    y_p = np.clip(y, PU21_L_MIN, PU21_L_MAX) ** p4
    v = p7 * (((p1 + p2 * y_p) / (1.0 + p3 * y_p)) ** p5 - p6)
    return v.astype(out_dtype, copy=False)


def pu21_decode(v: object, variant: PU21Variant = "banding_glare") -> np.ndarray:
    """Invert :func:`pu21_encode`: PU21 code values -> absolute luminance in cd/m^2.

    The closed-form inverse of the PU21 formula. ``v`` is clamped to the encoded image of
    [0.005, 10000] cd/m^2 first, so the result always lies in that luminance range (the
    clamping of :func:`pu21_encode` cannot be undone). Same dtype rules as :func:`pu21_encode`.
    """
    p1, p2, p3, p4, p5, p6, p7 = _parameters(variant)
    arr, out_dtype = _as_float64(v, "v")
    v_lo = float(pu21_encode(np.float64(PU21_L_MIN), variant))
    v_hi = float(pu21_encode(np.float64(PU21_L_MAX), variant))
    w = (np.clip(arr, v_lo, v_hi) / p7 + p6) ** (1.0 / p5)
    # (p1 + p2*Yp) / (1 + p3*Yp) = w  ->  Yp = (w - p1) / (p2 - p3*w); clip: rounding at L_MIN.
    y_p = np.maximum((w - p1) / (p2 - p3 * w), 0.0)
    y = np.clip(y_p ** (1.0 / p4), PU21_L_MIN, PU21_L_MAX)
    return y.astype(out_dtype, copy=False)
