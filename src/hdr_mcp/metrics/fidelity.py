"""Full-reference HDR fidelity metrics: PU21-PSNR, PU21-SSIM and Delta E ITP.

All functions take scene-linear pixels (float arrays, ``(..., 3)`` RGB unless said otherwise) and
a ``nits_per_unit`` scale: scene-linear 1.0 is shown at ``nits_per_unit`` cd/m^2. PU21 and ITP are
defined on *absolute* luminance, so the figures depend on that scale and it must be reported
beside them (X2HDR scales so the 99.5th percentile maps to a fixed luminance; the PU21 MATLAB
example maps the maximum to a 4000 cd/m^2 peak).

References
----------
- PU21: R. K. Mantiuk, M. Azimi, "PU21: A novel perceptually uniform encoding for adapting
  existing quality metrics for HDR", PCS 2021; reference ``pu21_metric.m`` (gfxdisp/pu21).
- SSIM: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
  error visibility to structural similarity", IEEE TIP 13(4), 2004.
- Delta E ITP: Recommendation ITU-R BT.2124-0 (2019), built on ICtCp of ITU-R BT.2100.
"""

from __future__ import annotations

import math

import numpy as np

from hdr_mcp.color.pu21 import pu21_encode
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics._checks import as_image, as_rgb, positive_scale, same_shape

__all__ = [
    "BT2124_LMS_MATRIX",
    "PU21_PEAK",
    "PU21_PSNR_COLORSPACE",
    "PU21_REFERENCE_Y",
    "delta_e_itp",
    "ictcp",
    "psnr_from_mse",
    "pu21_luminance",
    "pu21_luminance_codes",
    "pu21_mse",
    "pu21_psnr",
    "pu21_ssim",
    "ssim",
]

#: Peak signal used for PSNR on PU21 values: PU21(100 cd/m^2) ~= 256, as in ``pu21_metric.m``.
PU21_PEAK = 256.0

#: Luminance weights of linear BT.709 RGB used by the reference ``pu21_metric.m``
#: (``get_luminance``); kept verbatim (they differ from the exact BT.709 Y row by ~1e-5) so
#: PU21-SSIM reproduces published figures.
PU21_REFERENCE_Y = (0.212656, 0.715158, 0.072186)

#: BT.2100 / BT.2124 RGB (BT.2020 primaries) -> LMS matrix, integers over 4096.
BT2124_LMS_MATRIX = (
    np.array([[1688, 2146, 262], [683, 2951, 462], [99, 309, 3688]], np.float64) / 4096
)
_ICTCP_MATRIX = (
    np.array([[2048, 2048, 0], [6610, -13613, 7003], [17933, -17390, -543]], np.float64) / 4096
)
#: PQ is defined for absolute luminance 0..10 000 cd/m^2 (SMPTE ST 2084).
_PQ_MAX_NITS = 10000.0

# Wang et al. 2004: 11x11 circular-symmetric Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03.
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


# --------------------------------------------------------------------------- PSNR


def psnr_from_mse(mse: float, peak: float) -> float:
    """``10 log10(peak^2 / mse)`` in dB; ``float('inf')`` when ``mse == 0`` (identical inputs)."""
    if mse <= 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


#: The RGB space PU21-PSNR is computed in: PU21 encodes each channel, so the figure depends on
#: the primaries; RGB in any other space is converted to linear BT.709 first (the primaries of
#: the reference ``pu21_metric.m`` examples, and of most of this project's data, whose figures
#: stay as they were). Colours outside BT.709 get negative channels there, which PU21's range
#: clamps to 0.005 cd/m^2 (ColorVideoVDP's ``pu_psnr_rgb2020`` is the BT.2020 alternative).
PU21_PSNR_COLORSPACE = "lin_rec709"


def _in_pu21_space(x: np.ndarray, colorspace: str) -> np.ndarray:
    if colorspace == PU21_PSNR_COLORSPACE or x.ndim < 2 or x.shape[-1] not in (3, 4):
        return x
    from hdr_mcp.color import rgb_to_rgb_matrix

    m = np.asarray(rgb_to_rgb_matrix(colorspace, PU21_PSNR_COLORSPACE), np.float64)
    return np.asarray(x[..., :3], np.float64) @ m.T


def pu21_mse(
    pred: object, ref: object, *, nits_per_unit: float = 100.0, colorspace: str = "lin_rec709"
) -> float:
    """Mean squared difference of PU21-encoded values (every channel of every pixel).

    RGB in ``colorspace`` is converted to :data:`PU21_PSNR_COLORSPACE` (linear BT.709), each
    value multiplied by ``nits_per_unit`` (-> cd/m^2) and PU21 ``banding_glare`` encoded
    (clamped to [0.005, 10000] cd/m^2, see :mod:`hdr_mcp.color.pu21`). Shapes must match.
    Sequences pool this per-frame MSE before converting to PSNR.
    """
    scale = positive_scale(nits_per_unit)
    p = _in_pu21_space(as_image(pred, "pred"), colorspace)
    r = _in_pu21_space(as_image(ref, "ref"), colorspace)
    same_shape(p, r)
    diff = pu21_encode(p * scale) - pu21_encode(r * scale)
    return float(np.mean(diff * diff))


def pu21_psnr(
    pred: object, ref: object, *, nits_per_unit: float = 100.0, colorspace: str = "lin_rec709"
) -> float:
    """PU21-PSNR in dB: PSNR of PU21-encoded RGB with peak 256, as ``pu21_metric(..., 'PSNR')``.

    Computed in linear BT.709 RGB whatever ``colorspace`` the pixels are in
    (:data:`PU21_PSNR_COLORSPACE`), so one image gives one figure in any working space.

    Parameters
    ----------
    pred, ref
        Scene-linear pixels of equal shape (typically ``(H, W, 3)``; any channel count works since
        the encoding is per value). Must be finite.
    nits_per_unit
        cd/m^2 shown for scene-linear 1.0 (default 100: diffuse white at SDR reference white).
    colorspace
        Colour space of RGB ``pred`` and ``ref`` (converted to linear BT.709).

    Returns
    -------
    float
        dB, higher is better; ``math.inf`` for identical inputs (see
        :func:`hdr_mcp.metrics.evaluate.evaluate` for how that is written to JSON).
    """
    return psnr_from_mse(
        pu21_mse(pred, ref, nits_per_unit=nits_per_unit, colorspace=colorspace), PU21_PEAK
    )


# --------------------------------------------------------------------------- SSIM


def _gaussian_kernel(size: int = _SSIM_WINDOW, sigma: float = _SSIM_SIGMA) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 2-D correlation of ``image`` (H, W) with ``kernel`` over 'valid' positions only.

    Only windows that lie wholly inside the image, as Wang et al.'s reference ``ssim_index.m``
    (``filter2(..., 'valid')``) and scikit-image's cropped result: no padding choice leaks in.
    """
    n = kernel.size
    h, w = image.shape
    rows = sum(kernel[k] * image[k : h - n + 1 + k, :] for k in range(n))
    return sum(kernel[k] * rows[:, k : w - n + 1 + k] for k in range(n))


def ssim(x: object, y: object, *, data_range: float) -> float:
    """Mean SSIM of two single-channel images (Wang et al. 2004).

    11x11 Gaussian window (sigma 1.5, normalised), K1 = 0.01, K2 = 0.03, population (biased)
    variances, mean of the SSIM map over the positions where the window fits in the image
    ('valid'). Equals ``skimage.metrics.structural_similarity(x, y, data_range=...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``. MATLAB's ``ssim`` pads with
    'replicate' and averages over every pixel instead, which differs slightly at the borders.

    Parameters
    ----------
    x, y
        2-D arrays of equal shape, at least 11 x 11.
    data_range
        Dynamic range L of the values (C1 = (K1 L)^2, C2 = (K2 L)^2); 256 for PU21 values.

    Returns
    -------
    float
        In [-1, 1]; 1 for identical images.
    """
    a = as_image(x, "x", min_ndim=2)
    b = as_image(y, "y", min_ndim=2)
    if a.ndim != 2:
        raise InvalidArgument("x", a.shape, "expected a single-channel 2-D image (H, W)")
    same_shape(a, b)
    if min(a.shape) < _SSIM_WINDOW:
        raise InvalidArgument(
            "x", a.shape, f"SSIM needs images of at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels"
        )
    data_range = positive_scale(data_range, "data_range", maximum=math.inf)
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    k = _gaussian_kernel()
    mu_a = _filter_valid(a, k)
    mu_b = _filter_valid(b, k)
    var_a = _filter_valid(a * a, k) - mu_a * mu_a
    var_b = _filter_valid(b * b, k) - mu_b * mu_b
    cov = _filter_valid(a * b, k) - mu_a * mu_b
    num = (2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def pu21_luminance(x: np.ndarray, colorspace: str = "lin_rec709") -> np.ndarray:
    """Relative luminance of scene-linear pixels for PU21 metrics.

    ``(H, W)`` or ``(H, W, 1)`` input is taken as luminance already. For ``lin_rec709`` RGB the
    weights of the reference ``pu21_metric.m`` (:data:`PU21_REFERENCE_Y`) are used; for any other
    colour space the Y row of its RGB->XYZ matrix (:func:`hdr_mcp.color.luminance`).
    """
    if x.ndim == 2:
        return x
    if x.shape[-1] == 1:
        return x[..., 0]
    if x.shape[-1] != 3:
        raise InvalidArgument("x", x.shape, "expected (H, W), (H, W, 1) or RGB (H, W, 3) pixels")
    if colorspace == "lin_rec709":
        return x @ np.asarray(PU21_REFERENCE_Y, np.float64)
    from hdr_mcp.color import luminance

    return np.asarray(luminance(x, colorspace), np.float64)


def pu21_luminance_codes(
    x: np.ndarray, *, nits_per_unit: float, colorspace: str = "lin_rec709"
) -> np.ndarray:
    """PU21 ``banding_glare`` codes of the luminance of scene-linear ``x``: what PU21-SSIM compares.

    :func:`pu21_luminance` of ``x`` times ``nits_per_unit`` (-> cd/m^2), PU21-encoded. ``x`` must
    already be validated (finite); float64 input gives exactly the values :func:`pu21_ssim` uses.
    """
    return pu21_encode(pu21_luminance(x, colorspace) * nits_per_unit)


def pu21_ssim(
    pred: object, ref: object, *, nits_per_unit: float = 100.0, colorspace: str = "lin_rec709"
) -> float:
    """PU21-SSIM: SSIM (Wang 2004) of PU21-encoded luminance with data range 256.

    Luminance Y (:func:`pu21_luminance`) of each image is scaled by ``nits_per_unit`` to cd/m^2,
    PU21 ``banding_glare`` encoded and compared with :func:`ssim` (``data_range=256``), as
    ``pu21_metric(..., 'SSIM')``. Inputs: scene-linear ``(H, W, 3)`` in ``colorspace`` (or
    ``(H, W)`` luminance), at least 11 x 11 pixels. Returns a value in [-1, 1]; 1 when identical.
    """
    scale = positive_scale(nits_per_unit)
    p = as_image(pred, "pred", min_ndim=2)
    r = as_image(ref, "ref", min_ndim=2)
    same_shape(p, r)
    if p.ndim not in (2, 3):
        raise InvalidArgument("pred", p.shape, "expected one image (H, W, 3) or (H, W)")
    return ssim(
        pu21_luminance_codes(p, nits_per_unit=scale, colorspace=colorspace),
        pu21_luminance_codes(r, nits_per_unit=scale, colorspace=colorspace),
        data_range=PU21_PEAK,
    )


# --------------------------------------------------------------------------- Delta E ITP


def ictcp(rgb2020_nits: np.ndarray) -> np.ndarray:
    """ICtCp (BT.2100, PQ) of linear BT.2020 RGB in absolute cd/m^2, shape ``(..., 3)``.

    RGB -> LMS (:data:`BT2124_LMS_MATRIX`) -> clamp to [0, 10000] cd/m^2 (PQ's domain; negative
    LMS arise only for colours outside BT.2020) -> PQ inverse EOTF (SMPTE ST 2084, via
    :func:`hdr_mcp.color.encode` ``"pq"``) -> I, Ct, Cp.
    """
    from hdr_mcp.color import encode

    lms = np.clip(rgb2020_nits @ BT2124_LMS_MATRIX.T, 0.0, _PQ_MAX_NITS)
    lms_pq = np.asarray(encode(lms, "pq", nits_per_unit=1.0), np.float64)
    return lms_pq @ _ICTCP_MATRIX.T


def delta_e_itp(
    pred: object, ref: object, *, nits_per_unit: float = 100.0, colorspace: str = "lin_rec709"
) -> float:
    """Mean Delta E ITP (ITU-R BT.2124) over pixels.

    Both images are converted from ``colorspace`` to linear BT.2020, scaled by ``nits_per_unit``
    to cd/m^2, taken to ICtCp (:func:`ictcp`) and compared per pixel with
    ``dE = 720 * sqrt(dI^2 + (0.5 dCt)^2 + dCp^2)`` (T = 0.5 Ct, P = Cp). A value of 1 is about one
    just-noticeable difference. Returns the mean over pixels (>= 0; 0 when identical).
    """
    scale = positive_scale(nits_per_unit)
    p = as_rgb(pred, "pred")
    r = as_rgb(ref, "ref")
    same_shape(p, r)
    from hdr_mcp.color import rgb_to_rgb_matrix

    m = np.asarray(rgb_to_rgb_matrix(colorspace, "lin_rec2020"), np.float64) * scale
    d = ictcp(p @ m.T) - ictcp(r @ m.T)
    de = 720.0 * np.sqrt(d[..., 0] ** 2 + (0.5 * d[..., 1]) ** 2 + d[..., 2] ** 2)
    return float(np.mean(de))
