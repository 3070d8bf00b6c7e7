"""OpenColorIO bridge: convert pixels between any two colour spaces of an OCIO config.

The default config is OpenColorIO's built-in studio config (``ocio://studio-config-latest``),
which ships inside the ``opencolorio`` wheel, so nothing is downloaded. Colour spaces may be
named with our names (``lin_rec709``, ``acescg``, ``lin_awg4``, ... and the encodings
``logc3``, ``logc4``, ``acescct`` in their native gamuts), or with any name, alias or role the
config knows (``"ACEScg"``, ``"ARRI LogC4"``, ``"lin_ap1_scene"``, ``"scene_linear"``).

PyOpenColorIO is imported on first use, not when :mod:`hdr_mcp.color` is imported.

OCIO converts through its reference space (ACES2065-1, ACES white). Between an ARRI gamut and
another D65 space (Rec.709, Rec.2020, P3-D65) the config adapts D65 -> ACES white with CAT02 on
the ARRI side and back with Bradford on the other, which is not the identity: results differ
from :func:`hdr_mcp.color.gamut.rgb_to_rgb_matrix` (a direct D65 -> D65 conversion, no
adaptation) by up to about 0.5 %. Every other pair agrees to float32 precision.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import numpy as np

from hdr_mcp.color._array import check_channels, float_array, tensor_to_numpy
from hdr_mcp.color.gamut import COLORSPACES
from hdr_mcp.errors import InvalidArgument

__all__ = ["DEFAULT_CONFIG", "OCIO_NAMES", "ocio_colorspace_name", "ocio_convert"]

DEFAULT_CONFIG = "ocio://studio-config-latest"

OCIO_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "lin_rec709": "Linear Rec.709 (sRGB)",
        "lin_rec2020": "Linear Rec.2020",
        "acescg": "ACEScg",
        "aces2065_1": "ACES2065-1",
        "lin_awg3": "Linear ARRI Wide Gamut 3",
        "lin_awg4": "Linear ARRI Wide Gamut 4",
        "lin_p3d65": "Linear P3-D65",
        # Encoded spaces, each in the gamut its curve belongs to.
        "logc3": "ARRI LogC3 (EI800)",
        "logc4": "ARRI LogC4",
        "acescct": "ACEScct",
    }
)
"""Our names -> colour space names of the OpenColorIO studio config (5.0, OCIO 2.6)."""

Optimization = Literal["lossless", "default"]


@functools.lru_cache(maxsize=8)
def _load_config(config: str):
    import PyOpenColorIO as ocio

    try:
        return ocio.Config.CreateFromFile(config)
    except Exception as e:  # OCIO raises its own Exception type for every failure
        raise InvalidArgument(
            "config", config, f"cannot load OpenColorIO config ({e}); try {DEFAULT_CONFIG!r}"
        ) from e


def ocio_colorspace_name(name: str, config: str = DEFAULT_CONFIG) -> str:
    """The config's colour space name for ``name`` (ours, or any name/alias/role it knows)."""
    cfg = _load_config(_config_key(config))
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument("colorspace", name, "expected a colour space name")
    candidates = [name]
    key = name.strip().lower()
    if key in OCIO_NAMES:
        candidates.append(OCIO_NAMES[key])
    if key in COLORSPACES:
        candidates.append(COLORSPACES[key].interop_id)  # the studio config aliases interop IDs
    for candidate in candidates:
        cs = cfg.getColorSpace(candidate)
        if cs is not None:
            return cs.getName()
    some = [*OCIO_NAMES, *list(cfg.getColorSpaceNames())[:12]]
    raise InvalidArgument(
        "colorspace",
        name,
        f"not in OpenColorIO config {config!r}; valid include: {', '.join(some)}, ...",
    )


def _config_key(config) -> str:
    if isinstance(config, os.PathLike):
        config = os.fspath(config)
    if not isinstance(config, str) or not config:
        raise InvalidArgument("config", config, "expected an ocio:// URI or a path to a .ocio file")
    return config


@functools.lru_cache(maxsize=64)
def _processor(config: str, src: str, dst: str, optimization: str):
    import PyOpenColorIO as ocio

    cfg = _load_config(config)
    processor = cfg.getProcessor(src, dst)
    if optimization == "lossless":
        return processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
    return processor.getDefaultCPUProcessor()


def ocio_convert(
    x,
    src: str,
    dst: str,
    config: str = DEFAULT_CONFIG,
    *,
    optimization: Optimization = "lossless",
) -> np.ndarray:
    """Convert RGB pixels ``x`` (shape ``(..., 3)``) from ``src`` to ``dst`` with OpenColorIO.

    Parameters
    ----------
    x
        Array-like (a CPU torch tensor is accepted too) with 3 channels in the last axis.
        Processed in float32 (OCIO's CPU path); the input is not modified.
    src, dst
        Colour spaces: our names (:data:`OCIO_NAMES`) or names/aliases/roles of ``config``.
    config
        ``ocio://...`` built-in config URI or a path to a ``.ocio`` file.
    optimization
        ``"lossless"`` (default): exact log/exp/pow, float32-accurate. ``"default"``:
        OpenColorIO's default CPU optimisation, which approximates log/exp/pow (errors up to
        about 1e-4 relative) and is the setting applications use for viewing.

    Returns
    -------
    numpy float32 array of ``x``'s shape.
    """
    if optimization not in ("lossless", "default"):
        raise InvalidArgument("optimization", optimization, "expected 'lossless' or 'default'")
    key = _config_key(config)
    source = ocio_colorspace_name(src, key)
    target = ocio_colorspace_name(dst, key)
    arr = float_array(tensor_to_numpy(x))
    check_channels(arr, "x", 3, exact=True)
    pixels = np.array(arr, dtype=np.float32, order="C", copy=True)
    if pixels.size:
        _processor(key, source, target, optimization).applyRGB(pixels.reshape(-1, 3))
    return pixels
