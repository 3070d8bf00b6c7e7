"""File-level curve conversion behind ``hdr-mcp encode`` and ``hdr-mcp decode``.

``encode``: scene-linear EXR/.hdr -> transfer-curve code values, written as a 16-bit PNG/TIFF
(code values quantised to 1/65535) or as a float EXR (exact). ``decode`` inverts it. Code
values outside [0, 1] cannot be stored in an integer file: that is an error naming the number of
pixels affected, never a silent clip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hdr_mcp.errors import InvalidArgument

INTEGER_SUFFIXES = {".png": "png", ".tif": "tiff", ".tiff": "tiff"}


def _output_kind(argument: str, path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".exr":
        return "exr"
    if suffix in INTEGER_SUFFIXES:
        return INTEGER_SUFFIXES[suffix]
    raise InvalidArgument(argument, str(path), "expected a .exr, .png, .tif or .tiff file name")


def encode_file(src: Path, dst: Path, curve: str, **params: float) -> dict[str, Any]:
    """Encode the scene-linear image ``src`` with ``curve`` into ``dst``.

    The colour space of ``src`` is kept (no gamut change): a LogC4 encoding of ACEScg pixels is
    ACEScg primaries with the LogC4 curve. Alpha is carried through unchanged.
    """
    from hdr_mcp.color import encode
    from hdr_mcp.io import write_exr, write_sdr

    kind = _output_kind("OUT", Path(dst))
    image, codes = _apply_to_color(src, lambda c: encode(c, curve, **params))
    metadata = {"hdr_mcp/encoding": curve, "hdr_mcp/encoding_params": repr(params), "hdr_mcp/source": str(src)}
    if kind == "exr":
        write_exr(dst, codes, colorspace=image.info.colorspace or "lin_rec709", dtype="float", metadata=metadata)
    else:
        outside = int(np.count_nonzero((codes < 0.0) | (codes > 1.0)))
        if outside:
            raise InvalidArgument(
                "IN",
                str(src),
                f"{outside} code values fall outside [0, 1] with curve {curve!r} and cannot be stored in a "
                f"16-bit {kind.upper()}; write an .exr instead",
            )
        write_sdr(dst, codes, bit_depth=16)
    return {
        "input": str(src),
        "output": str(dst),
        "curve": curve,
        "params": params,
        "format": kind,
        "colorspace": image.info.colorspace,
        "code_min": float(codes[..., :3].min()),
        "code_max": float(codes[..., :3].max()),
    }


def decode_file(src: Path, dst: Path, curve: str, *, dtype: str = "half", **params: float) -> dict[str, Any]:
    """Decode the code values in ``src`` with ``curve`` into a scene-linear EXR ``dst``."""
    from hdr_mcp.color import decode
    from hdr_mcp.io import write_exr

    if _output_kind("OUT", Path(dst)) != "exr":
        raise InvalidArgument("OUT", str(dst), "scene-linear output must be an .exr file")
    image, linear = _apply_to_color(src, lambda c: decode(c, curve, **params))
    colorspace = image.info.colorspace if image.info.file_format == "exr" else None
    write_exr(
        dst,
        linear,
        colorspace=colorspace or "lin_rec709",
        dtype=dtype,
        metadata={"hdr_mcp/decoded_from": str(src), "hdr_mcp/encoding": curve},
    )
    return {
        "input": str(src),
        "output": str(dst),
        "curve": curve,
        "params": params,
        "dtype": dtype,
        "max": float(linear[..., :3].max()),
    }


def _apply_to_color(src: Path, curve: Callable[[np.ndarray], np.ndarray]) -> tuple[Any, np.ndarray]:
    """Read ``src`` and apply ``curve`` (in float64) to its colour channels; alpha passes through."""
    from hdr_mcp.io import read_image

    image = read_image(src)
    pixels = image.pixels
    bad = int(np.count_nonzero(~np.isfinite(pixels)))
    if bad:
        raise InvalidArgument("IN", str(src), f"{bad} pixel values are NaN or infinite")
    color = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels
    out = curve(color.astype(np.float64)).astype(np.float32)
    if pixels.shape[-1] == 4:
        out = np.concatenate([out, pixels[..., 3:]], axis=-1)
    return image, out
