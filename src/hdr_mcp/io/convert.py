"""File-level curve conversion behind ``hdr-mcp encode`` and ``hdr-mcp decode``.

``encode``: scene-linear EXR/.hdr -> transfer-curve code values, written as a 16-bit PNG/TIFF
(code values quantised to 1/65535) or as a float EXR tagged with its encoding (see
:func:`hdr_mcp.io.exr.write_exr` ``encoding``: no linear chromaticities, the encoded space's
interop ID where one exists, ``hdr_mcp/encoding`` attributes). ``decode`` inverts it and reads
an encoded EXR's own encoding. ``exposure`` (stops) scales light before the curve on encode and
is undone after it on decode, so highlights above a curve's range can be brought into it.

Code values outside [0, 1] cannot be stored in an integer file: that is an error counting them
and naming the exposure that would fit the highlights, unless ``out_of_range="clip"``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.files import DecodeParams, EncodeParams

__all__ = ["decode_file", "encode_file"]

INTEGER_SUFFIXES = {".png": "png", ".tif": "tiff", ".tiff": "tiff"}
_CURVE_PARAMS = ("nits_per_unit", "gamma", "max_value")


def _output_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".exr":
        return "exr"
    if suffix in INTEGER_SUFFIXES:
        return INTEGER_SUFFIXES[suffix]
    raise InvalidArgument("dst", str(path), "expected a .exr, .png, .tif or .tiff file name")


def _check_dst(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise InvalidArgument("dst", str(path), "exists; pass overwrite=true (--overwrite) to "
                              "replace it")


def _curve_params(params: EncodeParams | DecodeParams) -> dict[str, float]:
    return {k: getattr(params, k) for k in _CURVE_PARAMS if getattr(params, k) is not None}


def _read(src: str) -> tuple[Any, np.ndarray]:
    """The image and its colour channels (float64, alpha dropped), all finite."""
    from hdr_mcp.io import read_image

    try:
        image = read_image(src)
    except InvalidArgument as e:
        raise InvalidArgument("src", src, e.reason) from e
    pixels = image.pixels
    bad = int(np.count_nonzero(~np.isfinite(pixels)))
    if bad:
        raise InvalidArgument("src", src, f"{bad} pixel values are NaN or infinite")
    color = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels
    return image, color.astype(np.float64)


def _with_alpha(image: Any, out: np.ndarray) -> np.ndarray:
    pixels = image.pixels
    if pixels.shape[-1] == 4:
        return np.concatenate([out, pixels[..., 3:].astype(np.float32)], axis=-1)
    return out


def _fitting_exposure(codes: np.ndarray, linear: np.ndarray, encoding: str, **params: float) -> float:
    """Stops (a multiple of 0.5, <= 0) that bring the brightest value inside code 1.0."""
    from hdr_mcp.color import decode

    top = float(decode(np.float64(1.0), encoding, **params))
    brightest = float(linear.max())
    if not (brightest > top > 0):
        return 0.0
    return -math.ceil(2.0 * math.log2(brightest / top)) / 2.0


def encode_file(params: EncodeParams) -> dict[str, Any]:
    """Encode the scene-linear image ``params.src`` into ``params.dst`` (see the module doc).

    The colour space of ``src`` is kept (no gamut change): a LogC4 encoding of ACEScg pixels is
    ACEScg primaries with the LogC4 curve. Alpha is carried through unchanged.
    """
    from hdr_mcp.color import encode
    from hdr_mcp.io import write_exr, write_sdr

    dst = Path(params.dst)
    kind = _output_kind(dst)
    _check_dst(dst, params.overwrite)
    image, color = _read(params.src)
    if image.info.transfer != "linear":
        raise InvalidArgument("src", params.src, f"holds {image.info.transfer} code values, not "
                              "scene-linear light; encode reads linear EXR or .hdr files")
    curve = _curve_params(params)
    linear = color * 2.0**params.exposure
    codes = encode(linear, params.encoding, **curve)
    colorspace = image.info.colorspace or "lin_rec709"
    clipped = 0
    if kind == "exr":
        write_exr(dst, _with_alpha(image, codes.astype(np.float32)), colorspace=colorspace,
                  dtype="float", encoding=params.encoding,
                  encoding_params={**curve, "exposure": params.exposure},
                  metadata={"hdr_mcp/source": str(params.src)})
    else:
        outside = (codes < 0.0) | (codes > 1.0)
        clipped = int(np.count_nonzero(outside))
        if clipped and params.out_of_range == "error":
            ev = _fitting_exposure(codes, linear, params.encoding, **curve)
            fit = f"pass --exposure {params.exposure + ev:g} to fit the highlights, " if ev else ""
            raise InvalidArgument(
                "src", params.src,
                f"{clipped} code values fall outside [0, 1] with encoding {params.encoding!r} "
                f"(brightest code {float(codes.max()):.4g}), which a 16-bit {kind.upper()} cannot "
                f"hold; {fit}pass --out-of-range clip, or write an .exr",
            )
        write_sdr(dst, _with_alpha(image, np.clip(codes, 0.0, 1.0).astype(np.float32)),
                  bit_depth=16)
    return {
        "input": str(params.src),
        "output": str(dst),
        "encoding": params.encoding,
        "encoding_params": curve,
        "exposure": params.exposure,
        "format": kind,
        "colorspace": colorspace,
        "code_min": float(codes.min()),
        "code_max": float(codes.max()),
        "clipped_count": clipped if params.out_of_range == "clip" else 0,
    }


def decode_file(params: DecodeParams) -> dict[str, Any]:
    """Decode the code values in ``params.src`` into the scene-linear EXR ``params.dst``."""
    from hdr_mcp.color import decode
    from hdr_mcp.io import write_exr

    dst = Path(params.dst)
    if _output_kind(dst) != "exr":
        raise InvalidArgument("dst", str(dst), "scene-linear output must be an .exr file")
    _check_dst(dst, params.overwrite)
    image, codes = _read(params.src)
    info = image.info
    if info.file_format in ("exr", "hdr"):
        if info.transfer == "linear":
            raise InvalidArgument("src", params.src, "is scene-linear already (no hdr_mcp/encoding "
                                  "attribute); decode reads code values: an EXR written by "
                                  "encode, or a 16-bit PNG/TIFF")
        if info.transfer != params.encoding:
            raise InvalidArgument("encoding", params.encoding, f"{params.src} holds "
                                  f"{info.transfer} code values")
    with np.errstate(over="ignore", invalid="ignore"):
        linear = decode(codes, params.encoding, **_curve_params(params)) / 2.0**params.exposure
    if not np.all(np.isfinite(linear)):
        raise InvalidArgument("src", params.src, f"code values overflow when decoded with "
                              f"{params.encoding!r} (brightest code {float(codes.max()):.4g})")
    colorspace = info.colorspace if info.file_format == "exr" and info.colorspace else "lin_rec709"
    write_exr(dst, _with_alpha(image, linear.astype(np.float32)), colorspace=colorspace,
              dtype=params.dtype, metadata={"hdr_mcp/decoded_from": str(params.src),
                                            "hdr_mcp/decoded_encoding": params.encoding})
    return {
        "input": str(params.src),
        "output": str(dst),
        "encoding": params.encoding,
        "exposure": params.exposure,
        "dtype": params.dtype,
        "colorspace": colorspace,
        "max": float(linear.max()),
    }
