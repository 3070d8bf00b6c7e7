"""Scene-linear RGB colour spaces: primaries, white points, interop IDs and conversion matrices.

Every space here is *linear* (no transfer function). RGB -> XYZ matrices are normalised primary
matrices computed from the chromaticities (SMPTE RP 177-1993, section 3.3), so they are exact
for the published primaries rather than copies of rounded tables.

Chromatic adaptation between different white points (only ACES's ~D60 vs D65 occurs here) is a
von Kries transform in a cone space: CAT02 when either side is an ARRI space (ARRI publishes its
AWG -> ACES matrices with CAT02, as OpenColorIO's ARRI builtins do) and Bradford otherwise (the
ACES and most VFX pipelines' choice). This reproduces colour-science's
``matrix_RGB_to_RGB(..., chromatic_adaptation_transform=...)`` with the same choice.

Interop IDs follow the ASWF Color Interop Forum recommendation (``lin_rec709_scene``,
``lin_ap1_scene``, ...). The ARRI gamuts have no ID in that list; we use the namespaced IDs the
OpenColorIO studio config 5.0 assigns them (``ocio:lin_awg3_scene``, ``ocio:lin_awg4_scene``).

References
----------
* SMPTE RP 177-1993, *Derivation of Basic Television Color Equations*.
* ITU-R BT.709-6 (Rec.709 primaries, D65); ITU-R BT.2020-2 (Rec.2020 primaries).
* SMPTE ST 2065-1:2012 (ACES2065-1, AP0); Academy S-2014-004 (ACEScg, AP1).
* ARRI (2012) ALEXA Log C Curve - Usage in VFX (ARRI Wide Gamut 3);
  Cooper & Brendel (2022) ARRI LogC4 specification (ARRI Wide Gamut 4).
* SMPTE EG 432-1:2010 (P3 primaries), with the D65 white point.
* Lam (1985) / Luo & Hunt (1998) Bradford CAT; CIE 159:2004 CAT02.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from hdr_mcp.color._array import check_channels, float_array, is_torch_tensor
from hdr_mcp.errors import InvalidArgument

__all__ = [
    "CAT_MATRICES",
    "COLORSPACES",
    "ColorSpace",
    "chromatic_adaptation_matrix",
    "colorspace",
    "colorspace_from_chromaticities",
    "colorspace_from_interop_id",
    "colorspaces",
    "convert_colorspace",
    "decode_interop_id",
    "encoded_interop_id",
    "luminance",
    "normalised_primary_matrix",
    "rgb_to_rgb_matrix",
]

ChromaticAdaptation = Literal["Bradford", "CAT02"]

CAT_MATRICES: Mapping[str, np.ndarray] = MappingProxyType(
    {
        # Bradford (Lam 1985; as used by ICC and the ACES reference code).
        "Bradford": np.array(
            [
                [0.8951, 0.2664, -0.1614],
                [-0.7502, 1.7135, 0.0367],
                [0.0389, -0.0685, 1.0296],
            ]
        ),
        # CAT02 (CIE 159:2004, CIECAM02).
        "CAT02": np.array(
            [
                [0.7328, 0.4296, -0.1624],
                [-0.7036, 1.6975, 0.0061],
                [0.0030, 0.0136, 0.9834],
            ]
        ),
    }
)
"""XYZ -> cone-space matrices of the chromatic adaptation transforms."""

for _m in CAT_MATRICES.values():
    _m.setflags(write=False)


def _xy_to_XYZ(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def normalised_primary_matrix(chromaticities: Sequence[float]) -> np.ndarray:
    """RGB -> XYZ matrix (SMPTE RP 177 section 3.3) from ``rx,ry,gx,gy,bx,by,wx,wy``.

    Columns are the primaries' XYZ scaled so RGB (1, 1, 1) maps to the white point with Y = 1.
    """
    rx, ry, gx, gy, bx, by, wx, wy = (float(v) for v in chromaticities)
    primaries = np.stack([_xy_to_XYZ(rx, ry), _xy_to_XYZ(gx, gy), _xy_to_XYZ(bx, by)], axis=1)
    scale = np.linalg.solve(primaries, _xy_to_XYZ(wx, wy))
    return primaries * scale


def chromatic_adaptation_matrix(
    white_src: Sequence[float], white_dst: Sequence[float], method: ChromaticAdaptation
) -> np.ndarray:
    """Von Kries XYZ -> XYZ matrix adapting white ``(x, y)`` ``white_src`` to ``white_dst``."""
    if method not in CAT_MATRICES:
        raise InvalidArgument("method", method, f"valid: {', '.join(CAT_MATRICES)}")
    cat = CAT_MATRICES[method]
    lms_src = cat @ _xy_to_XYZ(*white_src)
    lms_dst = cat @ _xy_to_XYZ(*white_dst)
    return np.linalg.inv(cat) @ np.diag(lms_dst / lms_src) @ cat


@dataclass(frozen=True)
class ColorSpace:
    """A linear RGB colour space.

    Attributes
    ----------
    name
        Our name (``lin_rec709``, ``acescg``, ...).
    chromaticities
        ``(rx, ry, gx, gy, bx, by, wx, wy)``, CIE 1931 xy, the order of OpenEXR's
        ``chromaticities`` attribute.
    interop_id
        Colour interop ID for the EXR ``colorInteropID`` attribute (ASWF scheme).
    description
        One line for humans.
    chromatic_adaptation
        The CAT this space's vendor uses when converting to another white point.
    rgb_to_xyz, xyz_to_rgb
        3x3 float64 matrices (read-only); XYZ with Y = 1 for RGB white.
    """

    name: str
    chromaticities: tuple[float, float, float, float, float, float, float, float]
    interop_id: str
    description: str
    chromatic_adaptation: ChromaticAdaptation = "Bradford"
    rgb_to_xyz: np.ndarray = field(init=False, repr=False, compare=False)
    xyz_to_rgb: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        npm = normalised_primary_matrix(self.chromaticities)
        inverse = np.linalg.inv(npm)
        npm.setflags(write=False)
        inverse.setflags(write=False)
        object.__setattr__(self, "rgb_to_xyz", npm)
        object.__setattr__(self, "xyz_to_rgb", inverse)

    @property
    def white(self) -> tuple[float, float]:
        """White point chromaticity ``(wx, wy)``."""
        return self.chromaticities[6], self.chromaticities[7]


_D65 = (0.3127, 0.3290)
_ACES_WHITE = (0.32168, 0.33767)

COLORSPACES: Mapping[str, ColorSpace] = MappingProxyType(
    {
        cs.name: cs
        for cs in (
            ColorSpace(
                "lin_rec709",
                (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, *_D65),
                "lin_rec709_scene",
                "Linear Rec.709 / sRGB primaries, D65",
            ),
            ColorSpace(
                "lin_rec2020",
                (0.708, 0.292, 0.170, 0.797, 0.131, 0.046, *_D65),
                "lin_rec2020_scene",
                "Linear Rec.2020 primaries, D65",
            ),
            ColorSpace(
                "acescg",
                (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, *_ACES_WHITE),
                "lin_ap1_scene",
                "ACEScg: linear AP1 primaries, ACES white (~D60)",
            ),
            ColorSpace(
                "aces2065_1",
                (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.0770, *_ACES_WHITE),
                "lin_ap0_scene",
                "ACES2065-1: linear AP0 primaries, ACES white (~D60)",
            ),
            ColorSpace(
                "lin_awg3",
                (0.6840, 0.3130, 0.2210, 0.8480, 0.0861, -0.1020, *_D65),
                "ocio:lin_awg3_scene",
                "Linear ARRI Wide Gamut 3 (ALEXA, LogC3 cameras), D65",
                "CAT02",
            ),
            ColorSpace(
                "lin_awg4",
                (0.7347, 0.2653, 0.1424, 0.8576, 0.0991, -0.0308, *_D65),
                "ocio:lin_awg4_scene",
                "Linear ARRI Wide Gamut 4 (ALEXA 35, LogC4), D65",
                "CAT02",
            ),
            ColorSpace(
                "lin_p3d65",
                (0.680, 0.320, 0.265, 0.690, 0.150, 0.060, *_D65),
                "lin_p3d65_scene",
                "Linear P3 primaries, D65 (Display P3 gamut)",
            ),
        )
    }
)
"""Supported colour spaces by name (read-only)."""


def colorspaces() -> tuple[str, ...]:
    """Names of the supported colour spaces."""
    return tuple(COLORSPACES)


def _find_colorspace(name: str, argument: str) -> ColorSpace:
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in COLORSPACES:
        raise InvalidArgument(
            argument, name, f"unknown colour space; valid: {', '.join(COLORSPACES)}"
        )
    return COLORSPACES[key]


def colorspace(name: str) -> ColorSpace:
    """The :class:`ColorSpace` called ``name`` (case-insensitive).

    Raises
    ------
    InvalidArgument
        Unknown name; the message lists the valid ones.
    """
    return _find_colorspace(name, "colorspace")


def colorspace_from_chromaticities(chroma8: Sequence[float], tol: float = 1e-3) -> str | None:
    """Name of the space whose 8 chromaticities all lie within ``tol`` of ``chroma8``, else None.

    ``chroma8`` is ``(rx, ry, gx, gy, bx, by, wx, wy)`` (e.g. an EXR ``chromaticities``
    attribute). When several match, the closest (smallest largest difference) wins.
    """
    try:
        values = np.asarray(chroma8, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise InvalidArgument("chroma8", chroma8, "expected 8 numbers") from e
    if values.size != 8:
        raise InvalidArgument("chroma8", chroma8, "expected 8 numbers rx,ry,gx,gy,bx,by,wx,wy")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise InvalidArgument("tol", tol, "expected a finite number >= 0")
    best, best_error = None, math.inf
    for cs in COLORSPACES.values():
        error = float(np.max(np.abs(values - np.asarray(cs.chromaticities))))
        if error <= tol and error < best_error:
            best, best_error = cs.name, error
    return best


def colorspace_from_interop_id(interop_id: str) -> str | None:
    """Name of the space with this colour interop ID, else None.

    The ``ocio:`` namespace prefix is optional (``lin_awg4_scene`` finds ``lin_awg4``).
    """
    if not isinstance(interop_id, str):
        return None
    wanted = interop_id.strip()
    bare = wanted.removeprefix("ocio:")
    for cs in COLORSPACES.values():
        if cs.interop_id in (wanted, f"ocio:{bare}"):
            return cs.name
    return None


#: Colour interop IDs of curve-encoded data, (encoding, primaries) -> ID, as OpenColorIO's
#: studio config names them (``ocio://studio-config-latest``, OCIO 2.6). Other combinations
#: have no ID: such files are tagged by their ``hdr_mcp/encoding`` attribute alone.
ENCODED_INTEROP_IDS: dict[tuple[str, str], str] = {
    ("logc4", "lin_awg4"): "ocio:arrilogc4_awg4_scene",
    ("logc3", "lin_awg3"): "ocio:arrilogc3_awg3_scene",
    ("acescct", "acescg"): "ocio:acescct_ap1_scene",
    ("srgb", "lin_rec709"): "srgb_rec709_scene",
    ("srgb", "acescg"): "srgb_ap1_scene",
    ("srgb", "lin_p3d65"): "srgb_p3d65_scene",
}


def encoded_interop_id(encoding: str, colorspace: str) -> str | None:
    """The interop ID of ``colorspace`` primaries carrying ``encoding`` code values (the plain
    space's ID for ``linear``), or None when none is defined."""
    if encoding == "linear":
        return COLORSPACES[colorspace].interop_id or None
    return ENCODED_INTEROP_IDS.get((encoding, colorspace))


def decode_interop_id(interop_id: str) -> tuple[str, str] | None:
    """``(colorspace, encoding)`` of a colour interop ID (``ocio:`` prefix optional), else None."""
    name = colorspace_from_interop_id(interop_id)
    if name is not None:
        return name, "linear"
    bare = interop_id.strip().removeprefix("ocio:") if isinstance(interop_id, str) else None
    for (encoding, colorspace), known in ENCODED_INTEROP_IDS.items():
        if bare == known.removeprefix("ocio:"):
            return colorspace, encoding
    return None


def rgb_to_rgb_matrix(src: str, dst: str) -> np.ndarray:
    """3x3 float64 matrix taking linear RGB in ``src`` to linear RGB in ``dst``.

    ``xyz_to_rgb(dst) @ CAT @ rgb_to_xyz(src)``; the CAT (von Kries, see the module docstring)
    is applied only when the white points differ. Apply as ``rgb_dst = M @ rgb_src``
    (``x @ M.T`` for pixels in the last axis).
    """
    source, target = _find_colorspace(src, "src"), _find_colorspace(dst, "dst")
    matrix = source.rgb_to_xyz
    if source.white != target.white:
        method: ChromaticAdaptation = (
            "CAT02"
            if "CAT02" in (source.chromatic_adaptation, target.chromatic_adaptation)
            else "Bradford"
        )
        matrix = chromatic_adaptation_matrix(source.white, target.white, method) @ matrix
    return target.xyz_to_rgb @ matrix


def _apply_matrix(x, matrix: np.ndarray):
    """``x[..., :3] @ matrix.T`` for numpy or torch, keeping dtype (and device)."""
    if is_torch_tensor(x):
        import torch

        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        m = torch.tensor(matrix.T.tolist(), dtype=x.dtype, device=x.device)
        return x @ m
    arr = float_array(x)
    return arr @ matrix.T.astype(arr.dtype)


def convert_colorspace(x, src: str, dst: str):
    """Convert linear RGB pixels ``x`` (shape ``(..., 3)``) from ``src`` to ``dst``.

    numpy in -> numpy out (float32 stays float32), torch in -> torch out (dtype, device and
    autograd kept). Negative results (out-of-gamut colours) are kept, not clipped.
    """
    matrix = rgb_to_rgb_matrix(src, dst)
    arr = x if is_torch_tensor(x) else float_array(x)
    check_channels(arr, "x", 3, exact=True)
    return _apply_matrix(arr, matrix)


def luminance(x, colorspace: str = "lin_rec709"):
    """Relative luminance Y of linear RGB: ``x[..., :3]`` dotted with the Y row of RGB -> XYZ.

    Returns shape ``x.shape[:-1]``; extra channels (alpha) are ignored. For ``lin_rec709`` the
    weights are 0.2126390, 0.7151687, 0.0721923 (BT.709's 0.2126, 0.7152, 0.0722 unrounded;
    RGB white has Y = 1).
    """
    weights = _find_colorspace(colorspace, "colorspace").rgb_to_xyz[1]
    arr = x if is_torch_tensor(x) else float_array(x)
    check_channels(arr, "x", 3, exact=False)
    return _apply_matrix(arr[..., :3], weights[None, :])[..., 0]
