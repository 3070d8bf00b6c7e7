"""Forward HDR -> SDR renderings: the ways real SDR footage is made from scene light.

Used to build realistic SDR test plates from real HDR photographs (the SDR harness,
:mod:`hdr_mcp.metrics.sdr_harness`) and to judge inverse tone mapping on SDR that was *not*
made by the operator's own forward curve. Every function takes scene-linear RGB, shape
``(..., 3)``, BT.709 primaries, already exposed so that 18 % grey sits at 0.18 (the caller picks
the exposure), and returns **display-linear relative SDR light in [0, 1]** (SDR white = 1.0),
BT.709 primaries, ready for an sRGB or BT.1886 encode. All clip to [0, 1] at the end, as an
8-bit file or a display would.

=====================  ==================================================================
``clip``               ``min(x, 1)`` per channel: a camera or render with no highlight
                       roll-off (exposure chosen by the caller).
``reinhard``           Reinhard et al. (2002) eq. 3, ``x / (1 + x)``, per channel.
``reinhard_extended``  Reinhard et al. (2002) eq. 4 on luminance, ``L (1 + L / Lw^2) /
                       (1 + L)``, RGB scaled by the luminance ratio (hue kept), then clipped.
``hable``              Hable's filmic curve ("Uncharted 2"), per channel, exposure bias 2,
                       white point W = 11.2.
``aces_fitted``        Narkowicz's fit of the ACES RRT+ODT (sRGB, 100 cd/m^2), per channel,
                       with its 0.6 pre-exposure.
``bt2446a``            Report ITU-R BT.2446-1 Method A HDR-to-SDR (section 4) for a
                       1000 cd/m^2 HDR master with reference white at 203 cd/m^2.
``bt2446c``            Report ITU-R BT.2446-1 Method C HDR-to-SDR (section 6.1) at the
                       Report's operating point: reference white 203 cd/m^2, SDR white on a
                       100 cd/m^2 display.
``camera``             A camera-like rendering: a linear segment to a soft exponential
                       shoulder (asymptote 1) on each channel, then an S-shaped contrast
                       curve on the sRGB-encoded value (toe and shoulder), like a camera
                       picture profile. Generic, not a vendor's curve.
=====================  ==================================================================

References
----------
* Reinhard, E., Stark, M., Shirley, P., Ferwerda, J. (2002). *Photographic Tone Reproduction
  for Digital Images*. ACM TOG 21(3), equations 3 and 4.
* Hable, J. (2010). *Filmic Tonemapping Operators* (filmicworlds.com, 2010-05-05) and GDC 2010
  "Uncharted 2: HDR Lighting": ``f(x) = ((x(Ax + CB) + DE) / (x(Ax + B) + DF)) - E/F`` with
  A = 0.15, B = 0.50, C = 0.10, D = 0.20, E = 0.02, F = 0.30, W = 11.2, exposure bias 2.
* Narkowicz, K. (2016). *ACES Filmic Tone Mapping Curve* (knarkowicz.wordpress.com,
  2016-01-06): ``x (2.51 x + 0.03) / (x (2.43 x + 0.59) + 0.14)`` on ``0.6 x``.
* Report ITU-R BT.2446-1 (03/2021), *Methods for conversion of high dynamic range content to
  standard dynamic range content and vice-versa*, sections 4 (Method A) and 6 (Method C).
* Report ITU-R BT.2408 (reference white 203 cd/m^2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from hdr_mcp.color._array import check_channels, float_array
from hdr_mcp.errors import InvalidArgument

__all__ = [
    "HABLE_CONSTANTS",
    "RENDERINGS",
    "aces_fitted_narkowicz",
    "camera_s_curve",
    "hable_filmic",
    "hdr_to_sdr_BT2446_A",
    "render_sdr",
]

#: Hable (2010): shoulder strength A, linear strength B, linear angle C, toe strength D,
#: toe numerator E, toe denominator F, linear white point W, exposure bias.
HABLE_CONSTANTS = {"A": 0.15, "B": 0.50, "C": 0.10, "D": 0.20, "E": 0.02, "F": 0.30, "W": 11.2}
HABLE_EXPOSURE_BIAS = 2.0

# BT.709 luminance weights (ITU-R BT.709-6 item 3.2).
_Y709 = np.array([0.2126, 0.7152, 0.0722])
# BT.2020 luma weights (ITU-R BT.2020-2 table 4) and the Cb/Cr scale factors derived from them.
_KR2020, _KB2020 = 0.2627, 0.0593
_KG2020 = 1.0 - _KR2020 - _KB2020


def _rgb(x: Any, argument: str = "rgb") -> np.ndarray:
    arr = float_array(x, argument)
    arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)
    check_channels(arr, argument, 3, exact=True)
    return arr


def _clip01(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0)


def _hable_partial(x: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f = (HABLE_CONSTANTS[k] for k in "ABCDEF")
    return ((x * (a * x + c * b) + d * e) / (x * (a * x + b) + d * f)) - e / f


def hable_filmic(rgb: Any) -> np.ndarray:
    """Hable (2010) filmic curve per channel: ``f(2 x) / f(W)``, clipped to [0, 1].

    Scene-linear in (negatives treated as 0), display-linear out. 0.18 -> 0.1283
    (``f(0.36) / f(11.2)``).
    """
    x = np.maximum(_rgb(rgb), 0.0)
    white = _hable_partial(np.float64(HABLE_CONSTANTS["W"]))
    return _clip01(_hable_partial(x * HABLE_EXPOSURE_BIAS) / white).astype(x.dtype, copy=False)


def aces_fitted_narkowicz(rgb: Any) -> np.ndarray:
    """Narkowicz (2016) ACES fit per channel on ``0.6 x``, clipped to [0, 1].

    ``y = x (2.51 x + 0.03) / (x (2.43 x + 0.59) + 0.14)``; 0.18 -> 0.1401.
    """
    x = np.maximum(_rgb(rgb), 0.0) * 0.6
    return _clip01(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14)).astype(
        x.dtype, copy=False
    )


def _reinhard_extended_luminance(rgb: np.ndarray, white: float | None) -> np.ndarray:
    x = np.maximum(rgb, 0.0)
    y = x @ _Y709.astype(x.dtype)
    lw = float(np.max(y)) if white is None else float(white)
    if not lw > 0:
        return np.zeros_like(x)
    yd = y * (1.0 + y / (lw * lw)) / (1.0 + y)
    ratio = np.divide(yd, y, out=np.zeros_like(y), where=y > 0)
    return _clip01(x * ratio[..., None])


def camera_s_curve(rgb: Any, *, knee: float = 0.5, contrast: float = 0.25) -> np.ndarray:
    """Camera-like rendering: linear-to-shoulder per channel, then an S curve on the sRGB value.

    1. Shoulder (C1 at ``knee``, asymptote 1): ``s = x`` below ``knee``, above it
       ``knee + (1 - knee) (1 - exp(-(x - knee) / (1 - knee)))``.
    2. sRGB encode (IEC 61966-2-1): ``v``.
    3. S curve: ``v - contrast sin(2 pi v) / (2 pi)`` (slope ``1 - contrast`` at black and white,
       ``1 + contrast`` at mid code; monotone for contrast < 1).
    4. sRGB decode back to display light.

    With the defaults 0.18 -> 0.1721 and 2.0 -> 0.9813.
    """
    from hdr_mcp.color.transfer_functions.srgb import eotf_inverse_sRGB, eotf_sRGB

    if not 0.0 < knee < 1.0:
        raise InvalidArgument("knee", knee, "must be in (0, 1)")
    if not 0.0 <= contrast < 1.0:
        raise InvalidArgument("contrast", contrast, "must be in [0, 1)")
    x = np.maximum(_rgb(rgb), 0.0)
    over = np.maximum(x - knee, 0.0) / (1.0 - knee)
    s = np.where(x < knee, x, knee + (1.0 - knee) * (1.0 - np.exp(-over)))
    v = np.asarray(eotf_inverse_sRGB(_clip01(s)))
    v = v - contrast * np.sin(2.0 * math.pi * v) / (2.0 * math.pi)
    return _clip01(np.asarray(eotf_sRGB(v))).astype(x.dtype, copy=False)


def hdr_to_sdr_BT2446_A(
    rgb_nits: Any, *, hdr_peak_nits: float = 1000.0, sdr_peak_nits: float = 100.0
) -> np.ndarray:
    """Report ITU-R BT.2446-1 Method A (section 4): HDR display light -> SDR display light.

    Input: linear HDR display light in cd/m^2, BT.709 primaries (converted to BT.2020 inside,
    Method A works on BT.2020 signals), clipped to ``[0, hdr_peak_nits]``. Steps:

    1. ``R' = (R / L_HDR) ** (1 / 2.4)`` (a gamma-2.4 signal of the normalised display light);
       luma ``Y' = 0.2627 R' + 0.6780 G' + 0.0593 B'`` (BT.2020).
    2. ``rho_HDR = 1 + 32 (L_HDR / 10000) ** (1 / 2.4)``;
       ``Y'_p = ln(1 + (rho_HDR - 1) Y') / ln(rho_HDR)``.
    3. Tone curve: ``Y'_c = 1.077 Y'_p`` for ``Y'_p <= 0.7399``;
       ``-1.1510 Y'_p^2 + 2.7811 Y'_p - 0.6302`` up to 0.9909; ``0.5 Y'_p + 0.5`` above.
    4. ``rho_SDR = 1 + 32 (L_SDR / 10000) ** (1 / 2.4)``;
       ``Y'_SDR = (rho_SDR ** Y'_c - 1) / (rho_SDR - 1)``.
    5. Colour correction: ``f = Y'_SDR / (1.1 Y')``; ``C'b,tmo = f C'b``, ``C'r,tmo = f C'r``;
       ``Y'_tmo = Y'_SDR - max(0.1 C'r,tmo, 0)``; back to R'G'B' with the BT.2020 matrix.
    6. SDR display light ``(R')**2.4`` (BT.1886, zero black), BT.2020 -> BT.709, clipped to
       [0, 1] (out-of-709-gamut colours are clipped, as a BT.709 deliverable would be).

    Returns display-linear relative SDR light in [0, 1], BT.709 primaries.
    """
    from hdr_mcp.color.gamut import rgb_to_rgb_matrix

    rgb = _rgb(rgb_nits, "rgb_nits")
    dtype = rgb.dtype
    to2020 = np.asarray(rgb_to_rgb_matrix("lin_rec709", "lin_rec2020"), np.float64)
    to709 = np.asarray(rgb_to_rgb_matrix("lin_rec2020", "lin_rec709"), np.float64)
    x = np.clip(np.asarray(rgb, np.float64) @ to2020.T / hdr_peak_nits, 0.0, 1.0)
    p = x ** (1.0 / 2.4)
    y = p @ np.array([_KR2020, _KG2020, _KB2020])
    cb = (p[..., 2] - y) / (2.0 * (1.0 - _KB2020))  # 1.8814
    cr = (p[..., 0] - y) / (2.0 * (1.0 - _KR2020))  # 1.4746
    rho_hdr = 1.0 + 32.0 * (hdr_peak_nits / 10000.0) ** (1.0 / 2.4)
    yp = np.log1p((rho_hdr - 1.0) * y) / math.log(rho_hdr)
    yc = np.where(
        yp <= 0.7399,
        1.077 * yp,
        np.where(yp < 0.9909, -1.1510 * yp * yp + 2.7811 * yp - 0.6302, 0.5 * yp + 0.5),
    )
    rho_sdr = 1.0 + 32.0 * (sdr_peak_nits / 10000.0) ** (1.0 / 2.4)
    y_sdr = (rho_sdr**yc - 1.0) / (rho_sdr - 1.0)
    f = np.divide(y_sdr, 1.1 * y, out=np.zeros_like(y), where=y > 0)
    cb_t, cr_t = f * cb, f * cr
    y_t = y_sdr - np.maximum(0.1 * cr_t, 0.0)
    r = y_t + 2.0 * (1.0 - _KR2020) * cr_t
    b = y_t + 2.0 * (1.0 - _KB2020) * cb_t
    g = (y_t - _KR2020 * r - _KB2020 * b) / _KG2020
    signal = np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)
    return _clip01((signal**2.4) @ to709.T).astype(dtype, copy=False)


def _bt2446c_sdr(rgb: np.ndarray, reference_white_nits: float) -> np.ndarray:
    from hdr_mcp.color.inverse_tonemap import hdr_to_sdr_BT2446_C

    nits = np.maximum(rgb, 0.0) * reference_white_nits
    return _clip01(hdr_to_sdr_BT2446_C(nits) / 100.0)


#: Renderings by name: ``f(scene_rgb) -> display-linear SDR``, scene exposed for 0.18 grey.
#: ``bt2446a``/``bt2446c`` put scene 1.0 (diffuse white) on BT.2408's 203 cd/m^2.
RENDERINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clip": lambda x: _clip01(x),
    "reinhard": lambda x: _clip01(np.maximum(x, 0.0) / (1.0 + np.maximum(x, 0.0))),
    "reinhard_extended": lambda x: _reinhard_extended_luminance(x, None),
    "hable": hable_filmic,
    "aces_fitted": aces_fitted_narkowicz,
    "bt2446a": lambda x: hdr_to_sdr_BT2446_A(np.maximum(x, 0.0) * 203.0),
    "bt2446c": lambda x: _bt2446c_sdr(x, 203.0),
    "camera": camera_s_curve,
}


def render_sdr(scene_rgb: Any, rendering: str, *, exposure_ev: float = 0.0) -> np.ndarray:
    """Scene-linear RGB (18 % grey at 0.18) -> display-linear SDR in [0, 1] by ``rendering``.

    ``exposure_ev`` scales the scene by ``2 ** exposure_ev`` first (e.g. ``clip`` at +1 EV
    clips a stop earlier). ``reinhard_extended`` uses the exposed image's largest luminance as
    its white ``Lw`` (nothing clips). See :data:`RENDERINGS` and the module docstring.
    """
    if rendering not in RENDERINGS:
        raise InvalidArgument("rendering", rendering, f"choose one of: {', '.join(RENDERINGS)}")
    x = _rgb(scene_rgb, "scene_rgb") * (2.0**exposure_ev)
    return RENDERINGS[rendering](x)
