"""Inverse tone mapping: SDR display light -> HDR display light, with the forward curves.

Three operators. ``bt2446c`` and ``power`` are *global* (one fixed curve, no image
statistics) and luminance based (each pixel's RGB is scaled by one factor, so hue and the RGB
ratios of the SDR pixel are kept); ``auto`` measures the shot once (parameters fixed per shot,
so video cannot pump), scales RGB by one factor per pixel too, and adds a spatial expand map
for clipped areas:

``"bt2446c"``
    The SDR-to-HDR conversion of **Conversion Method C** in Report ITU-R BT.2446-1 (03/2021),
    "Methods for conversion of high dynamic range content to standard dynamic range content and
    vice-versa", section 6 (section 5 in the first edition, BT.2446-0 (04/2019)). Section 6.1
    defines the HDR-to-SDR direction; section 6.2 obtains SDR-to-HDR by inverting each step.
    Implemented from these steps:

    * 6.1.2 crosstalk matrix ``C(alpha)`` with ``1-2*alpha`` on the diagonal and ``alpha``
      elsewhere, 0 <= alpha <= 0.33, applied to linear BT.2020 RGB; 6.1.6 applies its inverse;
    * 6.1.3 conversion to CIE Yxy; the tone curve changes Y only, x and y are kept;
    * 6.1.4 tone curve on luminance in cd/m^2 (:func:`tone_mapping_BT2446_C`)::

          Y_SDR = k1 * Y_HDR                              Y_HDR <  Y_HDR,ip
          Y_SDR = k2 * ln(Y_HDR / Y_HDR,ip - k3) + k4     Y_HDR >= Y_HDR,ip

      with k1 = 0.83802, k2 = 15.09968, k3 = 0.74204, k4 = 78.99439 (the Report's values,
      for HDR on a 1000 cd/m^2 display with reference white at 203 cd/m^2, Report BT.2408);
    * 6.2 inverse curve (:func:`tone_mapping_inverse_BT2446_C`)::

          Y_HDR = Y_SDR / k1                                Y_SDR <  k1 * Y_HDR,ip
          Y_HDR = Y_HDR,ip * (exp((Y_SDR - k4) / k2) + k3)  Y_SDR >= k1 * Y_HDR,ip

    **Constants.** Implementations quoting the Report use ``Y_HDR,ip = 58.5 / k1``. The
    published k2 and k4 make the curve continuous in value and slope (C1) at the knee only
    for ``Y_SDR,ip = k1 * Y_HDR,ip = 58.535``: value continuity gives
    ``k4 = Y_SDR,ip - k2 * ln(1 - k3)`` and slope continuity ``k2 = (1 - k3) * Y_SDR,ip``,
    and both equations return 58.535 from the published k2 and k4 (to 1e-4). With 58.5 the
    curve would jump by 0.035 cd/m^2 at the knee. We therefore keep k1, k3 and
    ``Y_SDR,ip = 58.535`` and *derive* k2 and k4 from the two continuity conditions; the
    derived values equal the published ones to 1e-5 (k2) and 6e-5 (k4), and the curve is C1
    and exactly invertible. The tests pin both.

    Consequences of these constants (the tests check them): HDR reference white
    203 cd/m^2 maps to 90.65 cd/m^2, a 96.0 % BT.1886 signal on a 100 cd/m^2 SDR display, and
    1000 cd/m^2 maps to 118.38 cd/m^2 (107.3 %), inside the 109 % super-white range.

    **Chroma.** Because the curve changes only Y with x, y fixed, steps 6.1.2-6.1.6 reduce
    exactly to scaling each pixel's RGB by ``f(Y_ct) / Y_ct``, where ``Y_ct`` is the
    luminance of the crosstalk-mixed BT.2020 RGB (a matrix commutes with a scalar, so
    ``C^-1 (s * C rgb) = s * rgb``). We compute it that way; the tests compare it with the
    literal matrix/Yxy route. The crosstalk still matters: it decides which luminance drives
    the curve, ``Y_ct = (1 - 3 alpha) Y + alpha (R + G + B)`` in BT.2020 RGB, so a saturated
    colour, whose R + G + B exceeds its luminance, is treated as brighter than its Y.
    Default ``alpha = 0.05``, a mild value inside the Report's range. Clipping the SDR
    result to the SDR signal range is left out of the forward function: it is not
    invertible. The *optional* chroma correction above HDR reference white (6.1.8, CIELAB
    chroma reduction with sigma) is not implemented (sigma = 0): inverting it would boost
    the chroma of expanded SDR highlights, amplifying clipping artefacts.

``"power"``
    A global power-law expansion of luminance, ``Y_HDR = peak * Y_rel ** gamma`` (the
    "gamma expansion" family of Akyuz et al. 2007, "Do HDR displays support LDR content?",
    ACM TOG 26(3), and Masia et al. 2009, "Evaluation of reverse tone mapping through varying
    exposure conditions", ACM TOG 28(5), who choose gamma per image; we fix it per shot).
    Default gamma puts SDR 18 % grey on the grey-card level of Report ITU-R BT.2408
    (26 cd/m^2 for a 203 cd/m^2 reference white, i.e. 26/203 of reference white):
    ``gamma = ln(grey_nits / peak) / ln(0.18)``.

``"auto"``
    A *blind* operator for SDR whose making is unknown (camera JPEGs, broadcast masters, renders,
    phone video): :func:`analyse_shot` estimates from the shot itself whether its highlights
    were **clipped** (a plateau at the top code values, as plain exposure clipping or a camera's
    hard shoulder leave) or **compressed** by a soft shoulder (Reinhard, filmic curves,
    BT.2446 Method A), and :func:`expand` then

    * keeps the mid-tones linear: ``nits = E * reference_white_nits`` below the knee (SDR white
      is reference white, the display-light mapping of Report ITU-R BT.2408 section 5);
    * expands only above the knee, with the inverse of a Reinhard-type shoulder,
      ``x = k + (1 - k) v / (1 - c v)``, ``v = (V - k) / (1 - k)``, C1 at the knee and reaching
      ``P`` (in units of reference white) at SDR white, driven by ``V`` = the pixel's largest
      channel (RGB scaled by one factor, hue kept; driving by the largest channel expands a
      saturated highlight as far as a neutral one);
    * gives clipped regions a smooth expansion with an *expand map* in the manner of Banterle
      et al. (2006, 2008): a Gaussian density estimate of the near-white pixels (here the
      blurred soft mask ``m = clip((V - 0.9) / 0.09, 0, 1)``, sigma 3 % of the image diagonal)
      multiplies a gain ``1 + (G - 1) m d``, so the boost grows towards the inside of large
      clipped areas (sun, sky) and stays near 1 for small specular glints and at plateau
      edges (continuous there, since ``m`` is). Like Kovaleski & Oliveira (2014) the boost is
      confined to the bright pixels themselves (the mask ``m`` multiplies the density), so it
      does not bleed into darker neighbours.

    How far: the curve never puts SDR white above ``AUTO_MAX_PEAK_RATIO`` = 1000/203 (4.93)
    times reference white, whatever ``peak_nits`` allows (``peak_nits`` is a ceiling): Report
    ITU-R BT.2408's ratio of a 1000 cd/m^2 display to its 203 cd/m^2 reference white. On the
    SDR harness expanding further loses: at 10x (1000 cd/m^2 over a 100 cd/m^2 reference
    white) the mean gain drops from +2.90 to +2.46 dB and the camera and ACES paths fall below
    the identity.

    The decision is one number per shot, ``softness`` in [0, 1], from the clipped fraction
    ``f`` (share of sampled pixels whose largest channel is >= 0.95, i.e. codes >= ~249/255):
    ``softness = clip((0.08 - f) / 0.06, 0, 1)``. Clipped shots (softness 0) get a high knee
    and a mild curve with the expand map (k = 0.85, P = 1.5, G = 2), compressed ones
    (softness 1) a low knee and the full range (k = 0.3, P = peak/reference white, G = 1);
    in between every parameter is interpolated, so a shot near the threshold is not flipped
    between two regimes. The thresholds and end points were chosen on the SDR harness
    (:mod:`hdr_mcp.metrics.sdr_harness`, eight real HDRIs, ten forward paths), which is also
    what they are judged on; see ``docs/classical_harness.md``. The histogram near white and
    the saturation of bright pixels are measured and reported in :class:`ShotAnalysis` (for
    provenance and QA) but do not steer the curve.

    References: Banterle, F., Ledda, P., Debattista, K., Chalmers, A. (2006). *Inverse tone
    mapping*. GRAPHITE 2006, 349-356; Banterle et al. (2008). *Expanding low dynamic range
    videos for high dynamic range applications*. SCCG 2008; Kovaleski, R. P., Oliveira, M. M.
    (2014). *High-quality reverse tone mapping for a wide range of exposures*. SIBGRAPI 2014;
    Reinhard et al. (2002), eq. 4 (the shoulder whose inverse is used).

Units. The curves take and return absolute luminance in cd/m^2 ("nits"). The RGB
functions take and return linear RGB (default primaries BT.709) in cd/m^2. The dispatcher
:func:`inverse_tonemap` takes *relative* SDR display light (SDR peak white = 1.0) and returns
HDR cd/m^2 with SDR white on ``peak_nits`` and the operator's reference white on
``reference_white_nits`` (``auto``: ``peak_nits`` is a ceiling, reached by SDR white only in
compressed shots and only up to :data:`AUTO_MAX_PEAK_RATIO` x reference white, see
:func:`expand`); :func:`tonemap` is its exact inverse for ``bt2446c``
and ``power`` (``auto`` is spatial and has no inverse).

Arrays: numpy, any shape ``(..., 3)`` for RGB; float32 in gives float32 out, anything else
float64. NaN propagates. The functions are strictly increasing in luminance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hdr_mcp.color._array import check_channels, float_array
from hdr_mcp.color.gamut import colorspace as get_colorspace
from hdr_mcp.color.gamut import luminance, rgb_to_rgb_matrix
from hdr_mcp.errors import InvalidArgument

__all__ = [
    "AUTO_CLIP_LEVEL",
    "AUTO_MAX_PEAK_RATIO",
    "BT2408_GREY_CARD_NITS",
    "BT2408_REFERENCE_WHITE_NITS",
    "CONSTANTS_BT2446_C",
    "OPERATORS",
    "BT2446MethodC",
    "ShotAnalysis",
    "analyse_shot",
    "crosstalk_matrix_BT2446_C",
    "expand",
    "hdr_to_sdr_BT2446_C",
    "hdr_to_sdr_power",
    "inverse_tonemap",
    "operator_parameters",
    "power_gamma_for_grey",
    "sdr_to_hdr_BT2446_C",
    "sdr_to_hdr_power",
    "tone_mapping_BT2446_C",
    "tone_mapping_inverse_BT2446_C",
    "tonemap",
]

#: HDR reference white (diffuse white) in cd/m^2, Report ITU-R BT.2408 (nominal signal levels);
#: the BT.2446 Method C constants are derived for it.
BT2408_REFERENCE_WHITE_NITS = 203.0
#: 18 % grey card in cd/m^2 for that reference white, Report ITU-R BT.2408 (same table).
BT2408_GREY_CARD_NITS = 26.0

#: Operators :func:`inverse_tonemap` accepts.
OPERATORS: tuple[str, ...] = ("auto", "bt2446c", "power")


@dataclass(frozen=True)
class BT2446MethodC:
    """Parameters of the BT.2446-1 Method C tone curve and crosstalk (section 6.1.2, 6.1.4).

    Attributes
    ----------
    k1
        Slope of the linear segment (Report: 0.83802).
    k3
        Shoulder parameter of the log segment, 0 < k3 < 1 (Report: 0.74204).
    y_sdr_ip
        SDR luminance at the knee in cd/m^2; 58.535 reproduces the Report's k2 and k4
        (see the module docstring).
    alpha
        Crosstalk coefficient, 0 <= alpha <= 0.33 (Report range); 0.05 by default.
    """

    k1: float = 0.83802
    k3: float = 0.74204
    y_sdr_ip: float = 58.535
    alpha: float = 0.05

    def __post_init__(self) -> None:
        for name, low, high in (
            ("k1", 0.0, math.inf),
            ("k3", 0.0, 1.0),
            ("y_sdr_ip", 0.0, math.inf),
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and low < value < high):
                raise InvalidArgument(name, value, f"must be a number in ({low}, {high})")
        if not (isinstance(self.alpha, (int, float)) and 0.0 <= self.alpha <= 0.33):
            raise InvalidArgument("alpha", self.alpha, "must be in [0, 0.33] (BT.2446-1 6.1.2)")

    @property
    def y_hdr_ip(self) -> float:
        """HDR luminance at the knee in cd/m^2: ``Y_SDR,ip / k1``."""
        return self.y_sdr_ip / self.k1

    @property
    def k2(self) -> float:
        """Log-segment gain from slope continuity at the knee: ``(1 - k3) * Y_SDR,ip``."""
        return (1.0 - self.k3) * self.y_sdr_ip

    @property
    def k4(self) -> float:
        """Log-segment offset from value continuity at the knee: ``Y_SDR,ip - k2 ln(1 - k3)``."""
        return self.y_sdr_ip - self.k2 * math.log(1.0 - self.k3)


#: The Report's constants (k2 = 15.09969, k4 = 78.99433 derived; published 15.09968, 78.99439).
CONSTANTS_BT2446_C = BT2446MethodC()


def _float_array(x: Any, argument: str) -> np.ndarray:
    """``x`` as a float32 array if it is float32, else float64 (no copy when already so)."""
    array = float_array(x, argument)
    return array if array.dtype == np.float32 else array.astype(np.float64, copy=False)


def tone_mapping_BT2446_C(Y_hdr: Any, constants: BT2446MethodC = CONSTANTS_BT2446_C) -> np.ndarray:
    """BT.2446-1 Method C tone curve (6.1.4): HDR luminance -> SDR luminance, both cd/m^2.

    Linear (``k1 * Y``) below ``Y_HDR,ip``, logarithmic above; strictly increasing, C1 at the
    knee. Domain: all reals (below the knee the linear segment extends to negative values).
    The Report's clip of the result to the SDR range is not applied (it is not invertible).
    """
    y = _float_array(Y_hdr, "Y_hdr")
    c = constants
    knee = c.y_hdr_ip
    # Evaluate the log branch only where it is used: below k3 * knee its argument is <= 0.
    shoulder = np.maximum(y, knee) / knee - c.k3
    with np.errstate(invalid="ignore"):  # NaN inputs stay NaN without a warning
        log_branch = c.k2 * np.log(shoulder) + c.k4
    return np.where(y < knee, c.k1 * y, log_branch).astype(y.dtype, copy=False)


def tone_mapping_inverse_BT2446_C(
    Y_sdr: Any, constants: BT2446MethodC = CONSTANTS_BT2446_C
) -> np.ndarray:
    """Inverse of the Method C tone curve (BT.2446-1 6.2): SDR luminance -> HDR, cd/m^2.

    ``Y / k1`` below ``Y_SDR,ip = k1 * Y_HDR,ip``, ``Y_HDR,ip * (exp((Y - k4) / k2) + k3)``
    above. Strictly increasing; ``tone_mapping_inverse_BT2446_C(tone_mapping_BT2446_C(y)) == y``
    to rounding. Overflows to inf above about 1450 cd/m^2 SDR (float32), far beyond any SDR
    signal.
    """
    y = _float_array(Y_sdr, "Y_sdr")
    c = constants
    knee = c.y_sdr_ip
    with np.errstate(over="ignore", invalid="ignore"):
        exp_branch = c.y_hdr_ip * (np.exp((np.maximum(y, knee) - c.k4) / c.k2) + c.k3)
    return np.where(y < knee, y / c.k1, exp_branch).astype(y.dtype, copy=False)


def crosstalk_matrix_BT2446_C(alpha: float = CONSTANTS_BT2446_C.alpha) -> np.ndarray:
    """The BT.2446-1 6.1.2 crosstalk matrix: ``1 - 2 alpha`` on the diagonal, ``alpha`` elsewhere.

    Rows sum to 1, so neutral colours are unchanged; its inverse (6.1.6) is
    ``((1 - alpha) I - alpha (J - I)) / (1 - 3 alpha)``, computed by :func:`numpy.linalg.inv`.
    """
    return np.full((3, 3), alpha) + np.eye(3) * (1.0 - 3.0 * alpha)


def _crosstalk_luminance_weights(alpha: float, colorspace: str, dtype: np.dtype) -> np.ndarray:
    """Row vector ``w``: ``w @ rgb`` is the luminance of ``C(alpha) @ M(colorspace->2020) @ rgb``.

    Method C applies the crosstalk in BT.2020 primaries (its HDR signals are BT.2100);
    luminance itself does not depend on the primaries, the crosstalk does.
    """
    y_row_2020 = np.asarray(get_colorspace("lin_rec2020").rgb_to_xyz, dtype=np.float64)[1]
    to_2020 = np.asarray(rgb_to_rgb_matrix(colorspace, "lin_rec2020"), dtype=np.float64)
    return (y_row_2020 @ crosstalk_matrix_BT2446_C(alpha) @ to_2020).astype(dtype)


def _gain(
    y_ct: np.ndarray, knee: float, linear_gain: float, curve: Any, constants: BT2446MethodC
) -> np.ndarray:
    """Per-pixel factor ``curve(Y_ct) / Y_ct``: exactly ``linear_gain`` below ``knee``, so black
    and negative luminance need no division; NaN stays NaN."""
    safe = np.maximum(y_ct, y_ct.dtype.type(knee))  # NaN propagates through maximum
    gain = curve(safe, constants)
    gain /= safe
    np.copyto(gain, y_ct.dtype.type(linear_gain), where=y_ct < knee)
    return gain


def _gain_sdr_to_hdr(y_ct: np.ndarray, constants: BT2446MethodC) -> np.ndarray:
    """``f^-1(Y_ct) / Y_ct``, exactly ``1 / k1`` on the linear segment."""
    return _gain(
        y_ct, constants.y_sdr_ip, 1.0 / constants.k1, tone_mapping_inverse_BT2446_C, constants
    )


def _gain_hdr_to_sdr(y_ct: np.ndarray, constants: BT2446MethodC) -> np.ndarray:
    """``f(Y_ct) / Y_ct``, exactly ``k1`` on the linear segment."""
    return _gain(y_ct, constants.y_hdr_ip, constants.k1, tone_mapping_BT2446_C, constants)


def _crosstalk_luminance(rgb: np.ndarray, constants: BT2446MethodC, colorspace: str) -> np.ndarray:
    return rgb @ _crosstalk_luminance_weights(constants.alpha, colorspace, rgb.dtype)


def sdr_to_hdr_BT2446_C(
    rgb_sdr: Any,
    constants: BT2446MethodC = CONSTANTS_BT2446_C,
    *,
    colorspace: str = "lin_rec709",
) -> np.ndarray:
    """BT.2446-1 Method C SDR-to-HDR conversion (6.2) of linear RGB in cd/m^2.

    Parameters
    ----------
    rgb_sdr
        Linear SDR display light in cd/m^2, shape (..., 3), primaries ``colorspace``.
    constants
        Curve and crosstalk parameters.
    colorspace
        Primaries of the input and output (a name from :func:`hdr_mcp.color.colorspaces`).

    Returns
    -------
    Linear HDR display light in cd/m^2, same primaries. Each pixel is ``rgb * f^-1(Y_ct)/Y_ct``
    (see the module docstring); below the knee the factor is exactly ``1 / k1``, so black,
    zero and negative luminance are handled without division.
    """
    rgb = _float_array(rgb_sdr, "rgb_sdr")
    check_channels(rgb, "rgb_sdr", 3, exact=True)
    return (
        rgb
        * _gain_sdr_to_hdr(_crosstalk_luminance(rgb, constants, colorspace), constants)[..., None]
    )


def hdr_to_sdr_BT2446_C(
    rgb_hdr: Any,
    constants: BT2446MethodC = CONSTANTS_BT2446_C,
    *,
    colorspace: str = "lin_rec709",
) -> np.ndarray:
    """BT.2446-1 Method C HDR-to-SDR conversion (6.1.2-6.1.6) of linear RGB in cd/m^2.

    The forward direction of :func:`sdr_to_hdr_BT2446_C`, without the Report's final clip to
    the SDR range, so the pair round-trips exactly.
    """
    rgb = _float_array(rgb_hdr, "rgb_hdr")
    check_channels(rgb, "rgb_hdr", 3, exact=True)
    return (
        rgb
        * _gain_hdr_to_sdr(_crosstalk_luminance(rgb, constants, colorspace), constants)[..., None]
    )


def power_gamma_for_grey(peak_nits: float, reference_white_nits: float) -> float:
    """Exponent that puts SDR 18 % grey on BT.2408's grey card, relative to reference white.

    ``gamma = ln(grey / peak) / ln(0.18)`` with ``grey = reference_white * 26 / 203``
    (Report ITU-R BT.2408: 26 cd/m^2 grey card for 203 cd/m^2 reference white). Greater than
    1 (an expansion) whenever ``peak_nits > 0.71 * reference_white_nits``.
    """
    grey = reference_white_nits * BT2408_GREY_CARD_NITS / BT2408_REFERENCE_WHITE_NITS
    return math.log(grey / peak_nits) / math.log(0.18)


def sdr_to_hdr_power(
    rgb_sdr: Any, *, peak_nits: float, gamma: float, colorspace: str = "lin_rec709"
) -> np.ndarray:
    """Power-law expansion of luminance: relative SDR RGB -> HDR RGB in cd/m^2.

    ``Y_HDR = peak_nits * max(Y, 0) ** gamma`` with ``Y`` the luminance of ``rgb_sdr``
    (SDR white = 1.0); RGB is scaled by ``Y_HDR / Y = peak_nits * Y ** (gamma - 1)``.
    ``gamma >= 1``. Pixels with luminance <= 0 become 0 (for gamma > 1).
    """
    rgb = _float_array(rgb_sdr, "rgb_sdr")
    check_channels(rgb, "rgb_sdr", 3, exact=True)
    y = np.maximum(luminance(rgb, colorspace), 0.0)
    factor = peak_nits * np.power(y, gamma - 1.0)
    return (rgb * factor[..., None]).astype(rgb.dtype, copy=False)


def hdr_to_sdr_power(
    rgb_hdr: Any, *, peak_nits: float, gamma: float, colorspace: str = "lin_rec709"
) -> np.ndarray:
    """Inverse of :func:`sdr_to_hdr_power`: HDR RGB in cd/m^2 -> relative SDR RGB.

    ``Y_SDR = (Y_HDR / peak_nits) ** (1 / gamma)``; pixels with luminance <= 0 become 0.
    """
    rgb = _float_array(rgb_hdr, "rgb_hdr")
    check_channels(rgb, "rgb_hdr", 3, exact=True)
    y = luminance(rgb, colorspace)
    positive = y > 0
    safe = np.where(positive, y, 1.0)
    factor = np.where(positive, np.power(safe / peak_nits, 1.0 / gamma) / safe, 0.0)
    return (rgb * factor[..., None].astype(rgb.dtype, copy=False)).astype(rgb.dtype, copy=False)



# -- blind operator ("auto") -------------------------------------------------------------------

#: Largest ratio of SDR white's expansion to reference white the ``auto`` operator uses:
#: Report ITU-R BT.2408's 1000 cd/m^2 display over its 203 cd/m^2 reference white.
AUTO_MAX_PEAK_RATIO = 1000.0 / BT2408_REFERENCE_WHITE_NITS
#: Display light of the largest channel at or above which a pixel counts as clipped
#: (sRGB code ~0.977, 249/255: a clip plateau survives JPEG ringing of a few codes).
AUTO_CLIP_LEVEL = 0.95
#: Clipped fractions at which ``softness`` is 1 (at or below) and 0 (at or above).
_SOFT_CLIPPED_FRACTION, _HARD_CLIPPED_FRACTION = 0.02, 0.08
#: (knee, curve peak in reference-white units, clip-map gain) of a clipped shot; a compressed
#: shot uses knee 0.3, the full peak and no map gain.
_CLIPPED_KNEE, _CLIPPED_CURVE_PEAK, _CLIPPED_MAP_GAIN = 0.85, 1.5, 2.0
_SOFT_KNEE = 0.3
#: Soft mask of the expand map: ramps from 0 at this largest-channel level to 1 at 0.99.
_MAP_LOW, _MAP_HIGH = 0.9, 0.99
#: Expand-map Gaussian sigma as a fraction of the image diagonal; the map is computed on a
#: copy downscaled by _MAP_DOWNSCALE (it is smooth, so nothing is lost, and it is 16x cheaper).
_MAP_SIGMA, _MAP_DOWNSCALE = 0.03, 4
#: Pixels looked at per frame by analyse_shot (a regular subsample beyond this).
_ANALYSIS_PIXELS = 1 << 18
_NEAR_WHITE_LOW = 0.6


@dataclass(frozen=True)
class ShotAnalysis:
    """What :func:`analyse_shot` measured in a shot and the ``auto`` parameters derived from it.

    Fractions are of the sampled pixels of all analysed frames. JSON-safe via :meth:`to_dict`;
    rebuild with ``ShotAnalysis(**d)``.

    Attributes
    ----------
    clipped_fraction
        Share of pixels whose largest channel is >= :data:`AUTO_CLIP_LEVEL` (display light).
    near_white_fraction
        Share whose largest channel is in [0.6, :data:`AUTO_CLIP_LEVEL`): the shoulder region.
    bright_saturation
        Mean ``1 - min/max`` over RGB of the pixels whose largest channel is >= 0.6 (0 =
        neutral highlights, as per-channel shoulders leave them; reported, not used).
    softness
        0 = highlights clipped, 1 = compressed by a soft shoulder (module docstring).
    knee
        Display light below which :func:`expand` is linear (largest-channel units).
    frames
        Number of frames analysed.
    """

    clipped_fraction: float
    near_white_fraction: float
    bright_saturation: float
    softness: float
    knee: float
    frames: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "clipped_fraction": self.clipped_fraction,
            "near_white_fraction": self.near_white_fraction,
            "bright_saturation": self.bright_saturation,
            "softness": self.softness,
            "knee": self.knee,
            "frames": self.frames,
        }

    def curve_peak(self, peak_ratio: float) -> float:
        """Curve value at SDR white, in reference-white units, for ``peak / reference white``."""
        clipped = min(_CLIPPED_CURVE_PEAK, peak_ratio)
        return clipped + (peak_ratio - clipped) * self.softness

    def map_gain(self, peak_ratio: float) -> float:
        """Expand-map gain inside large clipped areas, so curve peak x gain <= peak ratio."""
        gain = _CLIPPED_MAP_GAIN + (1.0 - _CLIPPED_MAP_GAIN) * self.softness
        return max(1.0, min(gain, peak_ratio / self.curve_peak(peak_ratio)))

    def levels(
        self, peak_nits: float = 1000.0, reference_white_nits: float = BT2408_REFERENCE_WHITE_NITS
    ) -> dict[str, float]:
        """What :func:`expand` does with this shot, in cd/m^2: ``sdr_white_nits`` (where SDR
        white lands outside large clipped areas), ``clipped_area_nits`` (the most the expand
        map gives the inside of a large clipped area), ``knee_nits`` (the display light below
        which the expansion is linear, times reference white)."""
        _check_levels(peak_nits, reference_white_nits)
        ratio = _auto_ratio(peak_nits, reference_white_nits)
        white = self.curve_peak(ratio) * reference_white_nits
        return {
            "knee_nits": self.knee * reference_white_nits,
            "sdr_white_nits": white,
            "clipped_area_nits": white * self.map_gain(ratio),
        }


def _auto_ratio(peak_nits: float, reference_white_nits: float) -> float:
    """The ``auto`` operator's ceiling in units of reference white (module docstring)."""
    return min(peak_nits / reference_white_nits, AUTO_MAX_PEAK_RATIO)


def _frame_statistics(frame: Any, index: int) -> tuple[int, int, int, float, int]:
    rgb = float_array(frame, "frames")
    if rgb.ndim < 2 or rgb.shape[-1] != 3:
        raise InvalidArgument(
            "frames", f"frame {index} of shape {rgb.shape}", "expected RGB display light (..., 3)"
        )
    flat = rgb.reshape(-1, 3)
    step = max(1, flat.shape[0] // _ANALYSIS_PIXELS)
    sample = np.asarray(flat[::step], np.float32)
    if not np.all(np.isfinite(sample)):
        raise InvalidArgument("frames", f"frame {index}", "contains NaN or infinity")
    top = sample.max(axis=-1)
    low = sample.min(axis=-1)
    clipped = int(np.count_nonzero(top >= AUTO_CLIP_LEVEL))
    bright = top >= _NEAR_WHITE_LOW
    near = int(np.count_nonzero(bright)) - clipped
    saturation = float(np.sum(1.0 - low[bright] / top[bright])) if np.any(bright) else 0.0
    return sample.shape[0], clipped, near, saturation, int(np.count_nonzero(bright))


def analyse_shot(frames: Iterable[Any]) -> ShotAnalysis:
    """Measure how a shot's highlights were made, once per shot (so video cannot pump).

    Parameters
    ----------
    frames
        Frames of relative SDR display light (an EOTF-decoded code value, SDR white = 1.0),
        each ``(..., 3)``, any primaries. Pass a sample (e.g. 16 evenly spaced frames) for a
        long shot; each frame is looked at through a regular subsample of at most 2^18 pixels.

    Returns
    -------
    :class:`ShotAnalysis`: the measurements and ``softness``/``knee`` (module docstring).

    Raises
    ------
    InvalidArgument
        ``frames`` is empty, a frame is not RGB, or holds NaN/inf.
    """
    total = clipped = near = bright = count = 0
    saturation = 0.0
    for index, frame in enumerate(frames):
        n, c, nw, sat, b = _frame_statistics(frame, index)
        total, clipped, near, saturation, bright = (
            total + n, clipped + c, near + nw, saturation + sat, bright + b
        )
        count += 1
    if count == 0 or total == 0:
        raise InvalidArgument("frames", "empty", "need at least one frame with pixels")
    fraction = clipped / total
    softness = (_HARD_CLIPPED_FRACTION - fraction) / (
        _HARD_CLIPPED_FRACTION - _SOFT_CLIPPED_FRACTION
    )
    softness = min(max(softness, 0.0), 1.0)
    return ShotAnalysis(
        clipped_fraction=fraction,
        near_white_fraction=near / total,
        bright_saturation=saturation / bright if bright else 0.0,
        softness=softness,
        knee=_CLIPPED_KNEE + (_SOFT_KNEE - _CLIPPED_KNEE) * softness,
        frames=count,
    )


def _largest_channel(rgb: np.ndarray) -> np.ndarray:
    """``max(R, G, B)`` per pixel (``rgb.max(axis=-1)`` is ~20x slower on (H, W, 3) float32)."""
    top = np.maximum(rgb[..., 0], rgb[..., 1])
    np.maximum(top, rgb[..., 2], out=top)
    return top


def _expand_map(top: np.ndarray) -> np.ndarray:
    """Soft clip mask times its blurred density, ``m * d`` in [0, 1], same shape as ``top``."""
    import cv2

    ramp = np.subtract(top, np.float32(_MAP_LOW), dtype=np.float32)
    ramp *= np.float32(1.0 / (_MAP_HIGH - _MAP_LOW))
    mask = np.clip(ramp, 0.0, 1.0, out=ramp)
    h, w = mask.shape
    small_w, small_h = max(1, w // _MAP_DOWNSCALE), max(1, h // _MAP_DOWNSCALE)
    small = cv2.resize(mask, (small_w, small_h), interpolation=cv2.INTER_AREA)
    sigma = max(0.5, _MAP_SIGMA * math.hypot(small_h, small_w))
    density = cv2.GaussianBlur(small, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    density = cv2.resize(density, (w, h), interpolation=cv2.INTER_LINEAR)
    mask *= density
    return mask


def expand(
    display_light: Any,
    analysis: ShotAnalysis,
    *,
    peak_nits: float = 1000.0,
    reference_white_nits: float = BT2408_REFERENCE_WHITE_NITS,
) -> np.ndarray:
    """The ``auto`` operator: relative SDR display light -> HDR display light in cd/m^2.

    Parameters
    ----------
    display_light
        One frame of relative SDR display light (SDR white = 1.0), ``(H, W, 3)`` (the expand
        map needs the picture); other shapes ``(..., 3)`` get the curve without the map.
        float32 in gives float32 out.
    analysis
        The shot's :class:`ShotAnalysis` (the same for every frame of the shot).
    peak_nits
        Ceiling of the result in cd/m^2 (above ``reference_white_nits``): SDR white reaches
        ``min(peak_nits, AUTO_MAX_PEAK_RATIO * reference_white_nits)`` in a fully compressed
        shot; in a clipped one the curve stops at 1.5 x reference white and the expand map
        takes the inside of large clipped areas up to 3 x reference white
        (:meth:`ShotAnalysis.levels`).
    reference_white_nits
        Where SDR mid-tones are anchored: ``E -> E * reference_white_nits`` below the knee.

    Returns
    -------
    HDR RGB in cd/m^2, same shape; ``nits = rgb * reference_white_nits * g`` with one factor
    ``g >= 1`` per pixel (1 below the knee), so hue is kept. Negative and black pixels stay
    linear. Monotone in the SDR level for a fixed map, continuous everywhere.
    """
    if not isinstance(analysis, ShotAnalysis):
        raise InvalidArgument("analysis", analysis, "expected a ShotAnalysis (analyse_shot)")
    _check_levels(peak_nits, reference_white_nits)
    rgb = _float_array(display_light, "display_light")
    check_channels(rgb, "display_light", 3, exact=True)
    dt = rgb.dtype.type
    ratio = _auto_ratio(peak_nits, reference_white_nits)
    knee = analysis.knee
    top_value = analysis.curve_peak(ratio)
    top = _largest_channel(rgb)
    # Inverse Reinhard shoulder above the knee: x = k + (1-k) v / (1 - c v), x(1) = top_value;
    # gain = x / top there, 1 below the knee. Computed in place: a 1080p frame is 2 M pixels.
    c = dt(1.0 - (1.0 - knee) / (top_value - knee))
    v = np.subtract(top, dt(knee))
    v *= dt(1.0 / (1.0 - knee))
    np.clip(v, 0.0, 1.0, out=v)
    denominator = v * -c
    denominator += dt(1.0)
    v *= dt(1.0 - knee)
    v /= denominator
    v += dt(knee)  # the shoulder value x (= knee below the knee)
    np.maximum(top, dt(knee), out=denominator)
    v /= denominator  # x / max(top, knee): exactly 1 at and below the knee
    gain = v
    map_gain = analysis.map_gain(ratio)
    if rgb.ndim == 3 and map_gain > 1.0:
        boost = _expand_map(np.asarray(top, dtype=np.float32))
        boost *= np.float32(map_gain - 1.0)
        boost += np.float32(1.0)
        gain *= boost.astype(rgb.dtype, copy=False)
    gain *= dt(reference_white_nits)
    out = np.empty_like(rgb)
    np.multiply(rgb, gain[..., None], out=out)
    return out


# -- dispatcher --------------------------------------------------------------------------------


def _check_levels(peak_nits: float, reference_white_nits: float) -> None:
    if not (isinstance(reference_white_nits, (int, float)) and 0 < reference_white_nits < math.inf):
        raise InvalidArgument(
            "reference_white_nits", reference_white_nits, "must be a positive number"
        )
    if not (isinstance(peak_nits, (int, float)) and reference_white_nits < peak_nits < math.inf):
        raise InvalidArgument(
            "peak_nits",
            peak_nits,
            f"must be a finite number above reference_white_nits={reference_white_nits}",
        )


def _bt2446c_setup(params: dict[str, Any], peak_nits: float, reference_white_nits: float):
    """Constants, curve units per cd/m^2, and SDR white in curve units for a peak/white pair.

    The Report's curve is anchored at a 203 cd/m^2 reference white. To put reference white at
    ``reference_white_nits`` instead, luminance is expressed in "curve units"
    ``Y * 203 / reference_white_nits``; SDR white is the forward curve's image of the peak,
    so SDR 1.0 lands exactly on ``peak_nits``.

    This is **not** the Report's SDR operating point, even at reference_white_nits = 203 and
    peak_nits = 1000 (where the curve itself is the Report's): the Report's SDR signal is
    shown on a 100 cd/m^2 display, so SDR 1.0 is 100 cd/m^2 there and the Report's forward
    curve sends 1000 cd/m^2 to 118.38 cd/m^2, a 107 % super-white that an SDR deliverable
    clips. Here SDR 1.0 is read as 118.38 cd/m^2 instead (every SDR level 1.18x brighter
    than on the Report's display), which is what makes SDR white expand to the peak. With
    the Report's literal reading SDR white would expand to only 332.6 cd/m^2 and 18 % grey
    to 21.48 cd/m^2 (here: 1000 and 25.43 cd/m^2; both pinned in the tests).
    """
    unknown = set(params) - {"k1", "k3", "y_sdr_ip", "alpha"}
    if unknown:
        name = min(unknown)
        raise InvalidArgument(
            name, params[name], "not a parameter of 'bt2446c' (k1, k3, y_sdr_ip, alpha)"
        )
    constants = BT2446MethodC(**params)
    units = BT2408_REFERENCE_WHITE_NITS / reference_white_nits
    sdr_white = float(tone_mapping_BT2446_C(np.float64(peak_nits * units), constants))
    return constants, units, sdr_white


def _power_gamma(params: dict[str, Any], peak_nits: float, reference_white_nits: float) -> float:
    unknown = set(params) - {"gamma"}
    if unknown:
        name = min(unknown)
        raise InvalidArgument(name, params[name], "not a parameter of 'power' (gamma)")
    gamma = params.get("gamma")
    if gamma is None:
        return power_gamma_for_grey(peak_nits, reference_white_nits)
    if not (isinstance(gamma, (int, float)) and 1.0 <= gamma < math.inf):
        raise InvalidArgument("gamma", gamma, "must be a number >= 1 (an expansion)")
    return float(gamma)


def _no_auto_params(params: dict[str, Any]) -> None:
    if params:
        name = min(params)
        raise InvalidArgument(
            name, params[name], "'auto' takes no parameters (it measures the shot: analyse_shot)"
        )


def _check_operator(operator: str) -> None:
    if operator not in OPERATORS:
        raise InvalidArgument("operator", operator, f"choose one of: {', '.join(OPERATORS)}")


def operator_parameters(
    operator: str = "bt2446c",
    *,
    peak_nits: float = 1000.0,
    reference_white_nits: float = BT2408_REFERENCE_WHITE_NITS,
    **params: Any,
) -> dict[str, float]:
    """The effective parameters :func:`inverse_tonemap` would use, as a JSON-safe dict.

    For provenance (EXR headers, job results) and to validate arguments before any pixel work.
    ``bt2446c``: k1, k2, k3, k4, y_sdr_ip, alpha, ``curve_units_per_nit`` (203 /
    reference_white_nits) and ``sdr_white_curve_nits`` (the SDR luminance, in curve units,
    that SDR white stands for). ``power``: gamma. ``auto``: its fixed constants (the per-shot
    values are in the :class:`ShotAnalysis`, :meth:`ShotAnalysis.to_dict`).
    """
    _check_operator(operator)
    _check_levels(peak_nits, reference_white_nits)
    if operator == "auto":
        _no_auto_params(params)
        return {
            "clip_level": AUTO_CLIP_LEVEL,
            "soft_clipped_fraction": _SOFT_CLIPPED_FRACTION,
            "hard_clipped_fraction": _HARD_CLIPPED_FRACTION,
            "clipped_knee": _CLIPPED_KNEE,
            "soft_knee": _SOFT_KNEE,
            "clipped_curve_peak": _CLIPPED_CURVE_PEAK,
            "clipped_map_gain": _CLIPPED_MAP_GAIN,
            "map_sigma_of_diagonal": _MAP_SIGMA,
            "max_peak_ratio": AUTO_MAX_PEAK_RATIO,
        }
    if operator == "power":
        return {"gamma": _power_gamma(params, peak_nits, reference_white_nits)}
    c, units, sdr_white = _bt2446c_setup(params, peak_nits, reference_white_nits)
    return {
        "k1": c.k1,
        "k2": c.k2,
        "k3": c.k3,
        "k4": c.k4,
        "y_sdr_ip": c.y_sdr_ip,
        "alpha": c.alpha,
        "curve_units_per_nit": units,
        "sdr_white_curve_nits": sdr_white,
    }


def inverse_tonemap(
    rgb: Any,
    operator: str = "bt2446c",
    *,
    peak_nits: float = 1000.0,
    reference_white_nits: float = BT2408_REFERENCE_WHITE_NITS,
    colorspace: str = "lin_rec709",
    **params: Any,
) -> np.ndarray:
    """Expand relative SDR display light to HDR display light in cd/m^2.

    Parameters
    ----------
    rgb
        Linear SDR display light relative to SDR peak white (an EOTF-decoded code value:
        code 1.0 -> 1.0), shape (..., 3), primaries ``colorspace``.
    operator
        ``"bt2446c"`` (BT.2446-1 Method C), ``"power"`` or ``"auto"`` (this one image is the
        shot: :func:`analyse_shot` then :func:`expand`; for video call those two yourself so
        the analysis is shared by the frames); see the module docstring.
    peak_nits
        HDR luminance of SDR white (1, 1, 1), cd/m^2; must exceed ``reference_white_nits``.
    reference_white_nits
        HDR luminance where the operator's reference white lands (BT.2408: 203 cd/m^2). For
        ``bt2446c`` the curve is scaled so its 203 cd/m^2 anchor lands here; for ``power`` it
        sets the grey-card anchor (26/203 of it).
    params
        Operator parameters: ``bt2446c``: k1, k3, y_sdr_ip, alpha; ``power``: gamma.

    Returns
    -------
    HDR RGB in cd/m^2, same shape and primaries; (1, 1, 1) maps to ``peak_nits`` exactly.
    """
    _check_operator(operator)
    _check_levels(peak_nits, reference_white_nits)
    if operator == "auto":
        _no_auto_params(params)
        rgb = _float_array(rgb, "rgb_sdr")
        check_channels(rgb, "rgb_sdr", 3, exact=True)
        return expand(
            rgb,
            analyse_shot([rgb]),
            peak_nits=peak_nits,
            reference_white_nits=reference_white_nits,
        )
    if operator == "bt2446c":
        constants, units, sdr_white = _bt2446c_setup(params, peak_nits, reference_white_nits)
        # sdr_to_hdr_BT2446_C(rgb * sdr_white) / units, with the two scalings folded into the
        # per-pixel gain (one pass over the RGB instead of three).
        rgb = _float_array(rgb, "rgb_sdr")
        check_channels(rgb, "rgb_sdr", 3, exact=True)
        y_sdr = _crosstalk_luminance(rgb, constants, colorspace) * rgb.dtype.type(sdr_white)
        gain = _gain_sdr_to_hdr(y_sdr, constants) * rgb.dtype.type(sdr_white / units)
        return rgb * gain[..., None]
    gamma = _power_gamma(params, peak_nits, reference_white_nits)
    return sdr_to_hdr_power(rgb, peak_nits=peak_nits, gamma=gamma, colorspace=colorspace)


def tonemap(
    rgb_nits: Any,
    operator: str = "bt2446c",
    *,
    peak_nits: float = 1000.0,
    reference_white_nits: float = BT2408_REFERENCE_WHITE_NITS,
    colorspace: str = "lin_rec709",
    **params: Any,
) -> np.ndarray:
    """Exact inverse of :func:`inverse_tonemap`: HDR cd/m^2 -> relative SDR display light.

    Same parameters; ``tonemap(inverse_tonemap(x, ...), ...) == x`` to rounding. Values above
    ``peak_nits`` give SDR values above 1.0 (nothing is clipped). ``auto`` has no inverse (its
    expand map is spatial and its parameters come from the shot): refused.
    """
    _check_operator(operator)
    if operator == "auto":
        raise InvalidArgument(
            "operator", operator, "'auto' has no inverse; use 'bt2446c' or 'power'"
        )
    _check_levels(peak_nits, reference_white_nits)
    if operator == "bt2446c":
        constants, units, sdr_white = _bt2446c_setup(params, peak_nits, reference_white_nits)
        rgb = _float_array(rgb_nits, "rgb_hdr")
        check_channels(rgb, "rgb_hdr", 3, exact=True)
        y_hdr = _crosstalk_luminance(rgb, constants, colorspace) * rgb.dtype.type(units)
        gain = _gain_hdr_to_sdr(y_hdr, constants) * rgb.dtype.type(units / sdr_white)
        return rgb * gain[..., None]
    gamma = _power_gamma(params, peak_nits, reference_white_nits)
    return hdr_to_sdr_power(rgb_nits, peak_nits=peak_nits, gamma=gamma, colorspace=colorspace)
