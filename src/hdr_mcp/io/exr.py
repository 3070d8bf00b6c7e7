"""OpenEXR reading and writing on the OpenEXR 3.5 Python bindings (``OpenEXR.File``).

Reading
-------
:func:`read_exr_info` parses the header only (``OpenEXR.File(path, header_only=True)`` plus a
small parser of the ``channels`` attribute, whose pixel types the bindings do not expose without
pixels), so a file claiming 100000 x 100000 pixels is refused by :func:`read_exr` before a byte
of pixel memory is allocated. Pixels come back as float32 (H, W, C):

- channels: R, G, B (+ A) when present; else Y (luminance); else the first layer with
  ``<layer>.R/.G/.B``; else a single channel; anything else is refused with the channel list;
- scanline and tiled files (tested single-level; the 3.5 bindings cannot write mip-mapped
  files, so reading them is untested);
- multi-part files: the first part (``info.parts`` and ``info.notes`` say so). The bindings
  decode every part, so the size check covers all of them;
- deep files are refused.

Colour space: ``colorInteropID`` (OpenEXR 3.5, colour interop forum IDs) first, then the
``chromaticities`` attribute; with neither, the OpenEXR specification ("Standard Attributes":
absent chromaticities mean Rec. ITU-R BT.709) gives ``lin_rec709``, recorded in ``info.notes``.

Writing
-------
:func:`write_exr` writes one part, scanline, with ``chromaticities`` + ``colorInteropID`` for
the colour space (so ``OpenEXR.checkColorMetadata`` returns 0), provenance metadata as string
attributes, atomically (temporary file + :func:`os.replace`). :class:`ExrSequenceWriter` streams
numbered frames with the same options and constant memory.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import OpenEXR
from typing_extensions import Self

from hdr_mcp.errors import HdrMcpError, InvalidArgument, UnsupportedFile
from hdr_mcp.io.atomic import atomic_path, check_writable_path
from hdr_mcp.io.diagnostics import library_output
from hdr_mcp.io.image import (
    Image,
    ImageInfo,
    check_image_shape,
    check_max_pixels,
    check_readable_file,
    refuse_oversized,
)

__all__ = [
    "COMPRESSIONS",
    "HALF_MAX",
    "ExrSequenceWriter",
    "read_exr",
    "read_exr_info",
    "write_exr",
]

#: Largest finite IEEE 754 binary16 value (2**15 * (2 - 2**-10)).
HALF_MAX = 65504.0
# binary16 rounds to infinity from 65520 = 2**15 * (2 - 2**-11) upwards (round to nearest even);
# anything below rounds to at most HALF_MAX, an ordinary rounding error and not an overflow.

#: Compression names accepted by :func:`write_exr`, mapped to the bindings' enum. All are in
#: OpenEXR 2.2+ and therefore readable by every current DCC; ZSTD/HTJ2K (3.4+) are left out
#: until the tools that read our files catch up.
COMPRESSIONS: dict[str, OpenEXR.Compression] = {
    "none": OpenEXR.NO_COMPRESSION,
    "rle": OpenEXR.RLE_COMPRESSION,
    "zips": OpenEXR.ZIPS_COMPRESSION,
    "zip": OpenEXR.ZIP_COMPRESSION,
    "piz": OpenEXR.PIZ_COMPRESSION,
    "pxr24": OpenEXR.PXR24_COMPRESSION,
    "b44": OpenEXR.B44_COMPRESSION,
    "b44a": OpenEXR.B44A_COMPRESSION,
    "dwaa": OpenEXR.DWAA_COMPRESSION,
    "dwab": OpenEXR.DWAB_COMPRESSION,
}

# Attributes that write_exr sets itself or that the OpenEXR library owns (spec "Header
# Attributes (All Files)", "Multi-Part and Deep Data" and "Tiled"); metadata may not override them.
_RESERVED_ATTRIBUTES = frozenset(
    {
        "channels",
        "compression",
        "dataWindow",
        "displayWindow",
        "lineOrder",
        "pixelAspectRatio",
        "screenWindowCenter",
        "screenWindowWidth",
        "tiles",
        "type",
        "name",
        "version",
        "chunkCount",
        "maxSamplesPerPixel",
        "chromaticities",
        "colorInteropID",
        "whiteLuminance",
        "adoptedNeutral",
        "acesImageContainerFlag",
    }
)
_MAX_ATTRIBUTE_NAME_BYTES = 255  # OpenEXR long-name limit
_PIXEL_TYPES = {0: ("uint", 32), 1: ("half", 16), 2: ("float", 32)}
_EXR_MAGIC = b"\x76\x2f\x31\x01"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _parse_channel_list(path: Path) -> list[dict[str, Any]]:
    """Read the first part's ``channels`` attribute (type ``chlist``) from the raw header.

    OpenEXR file layout (spec "OpenEXR File Layout"): magic 76 2f 31 01, a 4-byte version
    field, then attributes ``name\\0 type\\0 size:int32 value`` until an empty name. A chlist
    value is a sequence of ``name\\0 pixel_type:int32 pLinear:uint8 reserved[3]
    xSampling:int32 ySampling:int32`` ended by an empty name.
    """

    def corrupt(what: str) -> UnsupportedFile:
        return UnsupportedFile("path", str(path), f"corrupt OpenEXR header: {what}")

    size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(4) != _EXR_MAGIC:
            raise corrupt("bad magic number")
        handle.read(4)
        for _ in range(10000):  # a real header has dozens of attributes
            name = _read_cstring(handle, corrupt)
            if not name:
                break
            type_name = _read_cstring(handle, corrupt)
            raw_size = handle.read(4)
            if len(raw_size) != 4:
                raise corrupt("truncated attribute size")
            (value_size,) = struct.unpack("<i", raw_size)
            if value_size < 0 or handle.tell() + value_size > size:
                raise corrupt(f"attribute {name!r} claims {value_size} bytes")
            if name == "channels" and type_name == "chlist":
                return _parse_chlist(handle.read(value_size), corrupt)
            handle.seek(value_size, os.SEEK_CUR)
    raise corrupt("no channels attribute")


def _read_cstring(handle: Any, corrupt: Any) -> str:
    raw = bytearray()
    while len(raw) <= _MAX_ATTRIBUTE_NAME_BYTES:
        byte = handle.read(1)
        if not byte:
            raise corrupt("truncated header")
        if byte == b"\0":
            return raw.decode("utf-8", "replace")
        raw += byte
    raise corrupt("attribute name longer than 255 bytes")


def _parse_chlist(value: bytes, corrupt: Any) -> list[dict[str, Any]]:
    channels, offset = [], 0
    while offset < len(value) and value[offset] != 0:
        end = value.find(b"\0", offset)
        if end < 0 or end + 17 > len(value):
            raise corrupt("truncated channel list")
        name = value[offset:end].decode("utf-8", "replace")
        pixel_type, p_linear, x_sampling, y_sampling = struct.unpack(
            "<iB3xii", value[end + 1 : end + 17]
        )
        if pixel_type not in _PIXEL_TYPES:
            raise corrupt(f"channel {name!r} has pixel type {pixel_type}")
        channels.append(
            {
                "name": name,
                "type": _PIXEL_TYPES[pixel_type][0],
                "p_linear": bool(p_linear),
                "x_sampling": x_sampling,
                "y_sampling": y_sampling,
            }
        )
        offset = end + 17
    return channels


def _select_channels(names: list[str]) -> tuple[list[str], list[str]]:
    """Choose which channels become the (H, W, C) array; return (selected, notes)."""
    available = set(names)
    notes: list[str] = []
    if {"R", "G", "B"} <= available:
        selected = ["R", "G", "B"] + (["A"] if "A" in available else [])
    elif "Y" in available:
        selected = ["Y"]
        if {"RY", "BY"} <= available:
            notes.append("luminance/chroma (Y, RY, BY) file: only the luminance Y is read")
    else:
        layers = sorted(
            name[:-1]
            for name in names
            if name.endswith(".R") and {name[:-1] + "G", name[:-1] + "B"} <= available
        )
        if layers:
            prefix = layers[0]
            selected = [prefix + "R", prefix + "G", prefix + "B"]
            if prefix + "A" in available:
                selected.append(prefix + "A")
            notes.append(f"no R, G, B channels: read layer {prefix[:-1]!r}")
        elif len(names) == 1:
            selected = list(names)
            if names[0] != "Y":
                notes.append(f"single channel {names[0]!r} read as the only channel")
        else:
            return [], notes
    ignored = [name for name in names if name not in selected]
    if ignored:
        shown = ", ".join(ignored[:12]) + (", ..." if len(ignored) > 12 else "")
        notes.append(f"ignored channels: {shown}")
    return selected, notes


def _compression_name(value: Any) -> str | None:
    name = getattr(value, "name", None)
    if name is None:
        return None
    name = name.lower().removesuffix("_compression")
    return "none" if name == "no" else name


def _json_safe(value: Any) -> Any:
    """Convert a header value from the bindings into JSON-serialisable Python data."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, enum.Enum) or hasattr(type(value), "__members__"):
        return str(getattr(value, "name", value))
    if isinstance(value, OpenEXR.TileDescription):
        return {
            "x_size": value.xSize,
            "y_size": value.ySize,
            "mode": _json_safe(value.mode),
            "rounding_mode": _json_safe(value.roundingMode),
        }
    if isinstance(value, OpenEXR.Rational):
        return [value.n, value.d]
    if isinstance(value, OpenEXR.OpaqueAttribute):
        return f"<{value.typeName or 'unknown'} attribute, {len(value.data)} bytes>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 (a damaged attribute can fail even to print itself)
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= 1000 else text[:997] + "..."


def _box(value: Any) -> tuple[int, int, int, int]:
    low, high = value
    return int(low[0]), int(low[1]), int(high[0]), int(high[1])


@dataclass(frozen=True)
class _Header:
    info: ImageInfo
    selected: list[str]
    part_sizes: list[tuple[int, int]]


def _unsupported_exr(path: Path, error: Exception, printed: str = "") -> Exception:
    detail = printed.strip().removeprefix("Warning: ") or str(error)
    if "MemoryError" in detail:  # the bindings turn an allocation failure into a vague error
        return MemoryError(f"{path}: {detail}")
    return UnsupportedFile("path", str(path), f"corrupt or truncated OpenEXR file ({detail})")


def _read_header(path: Path) -> _Header:
    try:
        with library_output() as printed, OpenEXR.File(str(path), header_only=True) as file:
            # Copy inside the block: the bindings empty the header dicts when it closes.
            headers = [dict(part.header) for part in file.parts]
    except HdrMcpError:
        raise
    except Exception as e:
        raise _unsupported_exr(path, e, printed.getvalue()) from e
    if not headers:
        raise UnsupportedFile("path", str(path), "OpenEXR file has no parts")
    try:
        return _interpret_header(path, headers)
    except HdrMcpError:
        raise
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, UnicodeError) as e:
        # A damaged header can give an attribute of the wrong type (an OpaqueAttribute where a
        # box2i belongs, undecodable strings); that is a corrupt file, not a bug to surface.
        raise UnsupportedFile(
            "path", str(path), f"corrupt OpenEXR header: unexpected attribute value ({e})"
        ) from e


def _interpret_header(path: Path, headers: list[dict[str, Any]]) -> _Header:
    header = headers[0]
    storage = header.get("type")
    if storage in (OpenEXR.deepscanline, OpenEXR.deeptile):
        raise UnsupportedFile("path", str(path), "deep OpenEXR files are not supported")
    try:
        data_window = _box(header["dataWindow"])
        display_window = _box(header.get("displayWindow", header["dataWindow"]))
        part_sizes = [
            (box[2] - box[0] + 1, box[3] - box[1] + 1)
            for box in (_box(h["dataWindow"]) for h in headers)
        ]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise UnsupportedFile("path", str(path), "OpenEXR header has no valid dataWindow") from e
    if any(width <= 0 or height <= 0 for width, height in part_sizes):
        raise UnsupportedFile("path", str(path), f"OpenEXR dataWindow {data_window} is empty")

    channel_list = _parse_channel_list(path)
    names = [channel["name"] for channel in channel_list]
    selected, notes = _select_channels(names)
    if not selected:
        raise UnsupportedFile(
            "path",
            str(path),
            f"no R/G/B, Y or single channel to read; channels are {', '.join(names) or 'none'}",
        )
    by_name = {channel["name"]: channel for channel in channel_list}
    if any(
        by_name[name]["x_sampling"] != 1 or by_name[name]["y_sampling"] != 1 for name in selected
    ):
        raise UnsupportedFile("path", str(path), "subsampled channels are not supported")
    types = {by_name[name]["type"] for name in selected}
    dtype = "float" if "float" in types else ("uint" if "uint" in types else "half")
    if len(types) > 1:
        notes.append(f"mixed channel types {sorted(types)}: reported as {dtype!r}")
    if len(headers) > 1:
        notes.append(f"multi-part file with {len(headers)} parts: only part 0 is read")

    colorspace, transfer, colour_notes = _identify_colorspace(header)
    notes.extend(colour_notes)
    attributes = {key: _json_safe(value) for key, value in sorted(header.items())}
    attributes["channels"] = channel_list
    interop_id = header.get("colorInteropID")
    info = ImageInfo(
        path=str(path),
        file_format="exr",
        width=part_sizes[0][0],
        height=part_sizes[0][1],
        channels=tuple(selected),
        dtype=dtype,
        bit_depth=16 if dtype == "half" else 32,
        colorspace=colorspace,
        interop_id=interop_id if isinstance(interop_id, str) and interop_id else None,
        transfer=transfer,
        compression=_compression_name(header.get("compression")),
        tiled=storage == OpenEXR.tiledimage,
        attributes=attributes,
        data_window=data_window,
        display_window=display_window,
        parts=len(headers),
        notes=tuple(notes),
    )
    return _Header(info=info, selected=selected, part_sizes=part_sizes)


def _chromaticities(value: Any) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == 8 and all(math.isfinite(v) for v in numbers) else None


def _identify_colorspace(header: Mapping[str, Any]) -> tuple[str | None, str, list[str]]:
    """``(colorspace, transfer, notes)``: the primaries and whether the pixels are light
    (``"linear"``) or curve code values (``hdr_mcp/encoding``, or an encoded interop ID)."""
    from hdr_mcp.color import colorspaces, encodings
    from hdr_mcp.color.gamut import decode_interop_id

    encoding = header.get("hdr_mcp/encoding")
    if isinstance(encoding, str) and encoding in encodings() and encoding != "linear":
        primaries = header.get("hdr_mcp/primaries")
        if primaries in colorspaces():
            return primaries, encoding, []
        decoded = decode_interop_id(header.get("colorInteropID") or "")
        return (decoded[0] if decoded else None), encoding, ["primaries of encoded data unknown"]
    decoded = decode_interop_id(header.get("colorInteropID") or "")
    if decoded is not None and decoded[1] != "linear":
        return decoded[0], decoded[1], []
    colorspace, notes = _identify_linear_colorspace(header)
    return colorspace, "linear", notes


def _identify_linear_colorspace(header: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    from hdr_mcp.color import colorspace_from_chromaticities, colorspace_from_interop_id

    notes: list[str] = []
    interop_id = header.get("colorInteropID")
    if interop_id is not None and not isinstance(interop_id, str):
        notes.append("unreadable colorInteropID attribute ignored")
        interop_id = None
    chromaticities = None
    if "chromaticities" in header:
        chromaticities = _chromaticities(header["chromaticities"])
        if chromaticities is None:
            notes.append("unreadable chromaticities attribute ignored")
    from_chromaticities = (
        colorspace_from_chromaticities(chromaticities) if chromaticities is not None else None
    )
    if interop_id:
        name = colorspace_from_interop_id(interop_id)
        if name is None:
            notes.append(f"colorInteropID {interop_id!r} is not a known colour space")
            return from_chromaticities, notes
        if chromaticities is not None and from_chromaticities != name:
            notes.append(
                f"chromaticities disagree with colorInteropID {interop_id!r}; the ID was used"
            )
        return name, notes
    if chromaticities is not None:
        if from_chromaticities is None:
            notes.append("chromaticities match no known colour space")
        return from_chromaticities, notes
    notes.append("no chromaticities or colorInteropID: Rec.709 primaries assumed (OpenEXR default)")
    return "lin_rec709", notes


@functools.cache
def use_all_cores() -> int:
    """Give OpenEXR's global thread pool one thread per available core; returns the count.

    The Python bindings start with a pool of 0 threads, so (de)compression runs on the calling
    thread only: a 1080p ZIP write takes about twice as long on two cores. A pool someone else
    already configured (non-zero) is left alone. Called by every read and write here.
    """
    if OpenEXR.global_thread_count() == 0:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        OpenEXR.set_global_thread_count(max(1, cores))
    return OpenEXR.global_thread_count()


def _open_header(path: str | os.PathLike[str]) -> tuple[Path, _Header]:
    """Check that ``path`` is a readable file with the OpenEXR magic number; parse its header."""
    file = check_readable_file(path)
    with open(file, "rb") as handle:
        if handle.read(4) != _EXR_MAGIC:
            raise UnsupportedFile("path", str(path), "is not an OpenEXR file (bad magic number)")
    return file, _read_header(file)


def read_exr_info(path: str | os.PathLike[str]) -> ImageInfo:
    """Return the :class:`ImageInfo` of an OpenEXR file from its header alone.

    Raises :class:`InvalidArgument` (missing/directory/unreadable path) or
    :class:`UnsupportedFile` (empty, not OpenEXR, corrupt header, deep data, no readable
    channels).
    """
    return _open_header(path)[1].info


def read_exr(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> Image:
    """Read an OpenEXR file into float32 (H, W, C) scene-linear pixels; see the module docstring.

    ``max_pixels`` bounds ``width * height`` summed over the file's parts (the bindings decode
    every part); larger files are refused from the header, before pixels are allocated.
    """
    max_pixels = check_max_pixels(max_pixels)
    file, header = _open_header(path)
    use_all_cores()
    total = sum(width * height for width, height in header.part_sizes)
    width, height = header.info.width, header.info.height
    if len(header.part_sizes) > 1 and total > max_pixels:
        refuse_oversized(file, total, 1, max_pixels, what=f"{len(header.part_sizes)} parts, ")
    refuse_oversized(file, width, height, max_pixels)

    try:
        with library_output() as printed, OpenEXR.File(str(file), separate_channels=True) as exr:
            channels = exr.parts[0].channels if exr.parts else {}
            pixels = np.empty((height, width, len(header.selected)), dtype=np.float32)
            for index, name in enumerate(header.selected):
                # Assignment converts half/uint to float32 in one pass, without a temporary.
                pixels[:, :, index] = channels[name].pixels
    except HdrMcpError:
        raise
    except Exception as e:
        raise _unsupported_exr(file, e, printed.getvalue()) from e
    return Image(pixels=pixels, info=header.info)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

ExrDtype = Literal["half", "float"]
NonFinitePolicy = Literal["error", "zero"]
OverflowPolicy = Literal["error", "clamp"]


@dataclass(frozen=True)
class _WriteOptions:
    colorspace: str
    chromaticities: tuple[float, ...] | None
    interop_id: str | None
    compression: str
    dtype: ExrDtype
    nonfinite: NonFinitePolicy
    overflow: OverflowPolicy
    metadata: dict[str, str]


def _check_choice(argument: str, value: Any, choices: Any) -> None:
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(argument, value, f"expected one of {', '.join(sorted(choices))}")


def _validate_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """Turn user metadata into ``{attribute name: string}`` (non-strings as JSON)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgument("metadata", metadata, "expected a mapping of attribute name to value")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or "\0" in key:
            raise InvalidArgument("metadata", key, "attribute names must be non-empty strings")
        if len(key.encode("utf-8")) > _MAX_ATTRIBUTE_NAME_BYTES:
            raise InvalidArgument("metadata", key, "attribute names are limited to 255 bytes")
        if key in _RESERVED_ATTRIBUTES:
            raise InvalidArgument(
                "metadata", key, "is a reserved OpenEXR attribute set by write_exr itself"
            )
        if isinstance(value, str):
            text = value
        elif isinstance(value, os.PathLike):
            text = os.fspath(value)
        elif value is None or isinstance(value, (bool, int, float, list, tuple, dict)):
            try:
                text = json.dumps(value, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError) as e:
                raise InvalidArgument(
                    "metadata", {key: value}, "values must be JSON-serialisable and finite"
                ) from e
        else:
            raise InvalidArgument(
                "metadata",
                {key: value},
                "values must be str, numbers, booleans, None, lists or dicts",
            )
        if "\0" in text:
            raise InvalidArgument("metadata", {key: value}, "values may not contain NUL characters")
        out[key] = text
    return out


def _write_options(
    colorspace: str,
    compression: str,
    dtype: str,
    nonfinite: str,
    overflow: str,
    metadata: Mapping[str, Any] | None,
    encoding: str = "linear",
    encoding_params: Mapping[str, Any] | None = None,
) -> _WriteOptions:
    from hdr_mcp import __version__
    from hdr_mcp.color import colorspace as get_colorspace
    from hdr_mcp.color import colorspaces, encodings
    from hdr_mcp.color.gamut import encoded_interop_id

    _check_choice("colorspace", colorspace, colorspaces())
    _check_choice("encoding", encoding, encodings())
    _check_choice("compression", compression, COMPRESSIONS)
    _check_choice("dtype", dtype, ("half", "float"))
    _check_choice("nonfinite", nonfinite, ("error", "zero"))
    _check_choice("overflow", overflow, ("error", "clamp"))
    space = get_colorspace(colorspace)
    strings = {"hdr_mcp/version": __version__, **_validate_metadata(metadata)}
    linear = encoding == "linear"
    if not linear:
        # Code values, not light: no chromaticities (OpenEXR defines them for linear RGB), the
        # encoded space's interop ID where one exists, and the encoding spelled out.
        strings.update(_validate_metadata({
            "hdr_mcp/encoding": encoding,
            "hdr_mcp/encoding_params": dict(encoding_params or {}),
            "hdr_mcp/primaries": colorspace,
        }))
    return _WriteOptions(
        colorspace=colorspace,
        chromaticities=tuple(float(v) for v in space.chromaticities) if linear else None,
        interop_id=encoded_interop_id(encoding, colorspace),
        compression=compression,
        dtype=dtype,  # type: ignore[arg-type]
        nonfinite=nonfinite,  # type: ignore[arg-type]
        overflow=overflow,  # type: ignore[arg-type]
        metadata=strings,
    )


def _header(options: _WriteOptions, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    header: dict[str, Any] = {
        "compression": COMPRESSIONS[options.compression],
        "type": OpenEXR.scanlineimage,
    }
    if options.chromaticities is not None:
        header["chromaticities"] = options.chromaticities
    if options.interop_id:
        header["colorInteropID"] = options.interop_id
    header.update(options.metadata)
    if extra:
        header.update(extra)
    return header


def _as_ndarray(pixels: Any) -> np.ndarray:
    # A torch tensor (CPU or not, with or without grad) without importing torch here.
    if hasattr(pixels, "detach") and hasattr(pixels, "cpu"):
        pixels = pixels.detach().cpu().numpy()
    try:
        return np.asarray(pixels)
    except (TypeError, ValueError) as e:
        raise InvalidArgument("pixels", type(pixels).__name__, "expected a numeric array") from e


def _prepare_pixels(pixels: Any, options: _WriteOptions) -> dict[str, np.ndarray]:
    """Validate, convert and lay out ``pixels`` as the bindings' channel dict.

    Cost on already-valid, C-contiguous input of the target dtype: one ``isfinite`` pass and no
    copy. Non-finite values are looked for on the *converted* array, which also catches
    overflow (float32 values >= 65520 become inf in half), so valid input pays one pass only.
    """
    array = _as_ndarray(pixels)
    if array.dtype.kind != "f":
        raise InvalidArgument(
            "pixels",
            f"array of dtype {array.dtype}",
            "expected floating-point scene-linear values (float16, float32 or float64)",
        )
    array = check_image_shape(array, "pixels")

    target = np.dtype(np.float16 if options.dtype == "half" else np.float32)
    if array.dtype == target:
        converted = np.ascontiguousarray(array)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            converted = np.ascontiguousarray(array, dtype=target)
    if not _all_finite(converted):
        converted = _apply_finite_policies(array, converted, options)

    if converted.ndim == 2:
        return {"Y": converted}
    return {"RGB" if converted.shape[2] == 3 else "RGBA": converted}


# IEEE 754: a value is NaN or infinite exactly when all its exponent bits are set, i.e. when its
# bits without the sign are >= those of +inf (binary16 0x7C00, binary32 0x7F800000).
_FINITE_LIMITS = {
    np.dtype(np.float16): (np.uint16, 0x7FFF, 0x7C00),
    np.dtype(np.float32): (np.uint32, 0x7FFFFFFF, 0x7F800000),
}
_CHUNK = 1 << 20


def _all_finite(array: np.ndarray) -> bool:
    """True when a C-contiguous float16/float32 array holds no NaN or Inf.

    Integer max over the bit patterns, in cache-sized chunks: about 5x faster than
    ``np.isfinite(half).all()`` (which converts every half to float), so validating a 4K frame
    costs a few milliseconds next to a write of several hundred.
    """
    unsigned, magnitude_mask, infinity = _FINITE_LIMITS[array.dtype]
    bits = array.reshape(-1).view(unsigned)
    scratch = np.empty(min(_CHUNK, bits.size), dtype=unsigned)
    for start in range(0, bits.size, _CHUNK):
        chunk = bits[start : start + _CHUNK]
        masked = np.bitwise_and(chunk, magnitude_mask, out=scratch[: chunk.size])
        if int(masked.max()) >= infinity:
            return False
    return True


def _apply_finite_policies(
    source: np.ndarray, converted: np.ndarray, options: _WriteOptions
) -> np.ndarray:
    source_finite = np.isfinite(source)
    nonfinite = ~source_finite
    overflow = source_finite & ~np.isfinite(converted)
    n_nonfinite = int(np.count_nonzero(nonfinite))
    n_overflow = int(np.count_nonzero(overflow))
    limit = HALF_MAX if options.dtype == "half" else float(np.finfo(np.float32).max)
    if n_nonfinite and options.nonfinite == "error":
        n_nan = int(np.count_nonzero(np.isnan(source)))
        raise InvalidArgument(
            "pixels",
            f"<{n_nonfinite} non-finite values ({n_nan} NaN, {n_nonfinite - n_nan} Inf) "
            f"of {source.size}>",
            "EXR pixels must be finite; fix the source or pass nonfinite='zero' to write them as 0",
        )
    if n_overflow and options.overflow == "error":
        peak = float(np.max(np.abs(source[overflow])))
        raise InvalidArgument(
            "pixels",
            f"<{n_overflow} values beyond +-{limit:g} (largest |x| = {peak:g}) of {source.size}>",
            f"too large for dtype={options.dtype!r}; pass overflow='clamp' to clamp them to "
            f"+-{limit:g}" + (" or dtype='float'" if options.dtype == "half" else ""),
        )
    if converted is source or np.shares_memory(converted, source):
        converted = converted.copy()  # never modify the caller's array
    converted[nonfinite] = 0
    converted[overflow] = np.copysign(limit, source[overflow]).astype(converted.dtype)
    return converted


def write_exr(
    path: str | os.PathLike[str],
    pixels: Any,
    *,
    colorspace: str = "lin_rec709",
    compression: str = "zip",
    dtype: ExrDtype = "half",
    metadata: Mapping[str, Any] | None = None,
    nonfinite: NonFinitePolicy = "error",
    overflow: OverflowPolicy = "error",
    encoding: str = "linear",
    encoding_params: Mapping[str, Any] | None = None,
    envmap: Literal["latlong"] | None = None,
) -> Path:
    """Write scene-linear pixels (or curve code values) to a single-part scanline OpenEXR file,
    atomically.

    Parameters
    ----------
    path
        Destination file; its directory must exist. Written to a hidden temporary file in the
        same directory and renamed over ``path`` only when complete (no partial file on error).
    pixels
        Float array (float16/32/64 or a torch tensor): (H, W) or (H, W, 1) -> channel ``Y``;
        (H, W, 3) -> ``R, G, B``; (H, W, 4) -> ``R, G, B, A``. Scene-linear, any sign and
        magnitude (negatives are legal and kept). Non-contiguous views are copied (the
        bindings would write garbage otherwise).
    colorspace
        A :func:`hdr_mcp.color.colorspaces` name; its ``chromaticities`` and ``colorInteropID``
        are written so ``OpenEXR.checkColorMetadata(header) == 0``.
    compression
        One of :data:`COMPRESSIONS`: ``none``, ``rle``, ``zips``, ``zip`` (default, lossless),
        ``piz``, ``pxr24`` (lossy for float), ``b44``, ``b44a``, ``dwaa``, ``dwab`` (lossy).
    dtype
        ``"half"`` (IEEE binary16, max 65504; the VFX default) or ``"float"`` (binary32).
    metadata
        ``{attribute name: value}`` written as string attributes (non-strings as JSON), e.g.
        ``{"hdr_mcp/prompt": "...", "hdr_mcp/seed": 7}``. ``hdr_mcp/version`` is always added.
        Names of standard attributes (``channels``, ``chromaticities``, ...) are refused.
    nonfinite
        ``"error"``: refuse NaN/Inf (the message counts them); ``"zero"``: write them as 0.
    overflow
        ``"error"``: refuse finite values that become infinite in ``dtype`` (|x| >= 65520 for
        half; 65504 < |x| < 65520 round to 65504 like any other rounding); ``"clamp"``: clamp
        them to the largest finite value, keeping the sign.
    encoding, encoding_params
        ``"linear"`` (default): scene-linear light. Any other :func:`hdr_mcp.color.encodings`
        name marks the pixels as that curve's code values (``colorspace`` then names their
        primaries): no ``chromaticities`` (defined for linear RGB only), the encoded space's
        ``colorInteropID`` where OpenColorIO defines one (``ocio:arrilogc4_awg4_scene``), and
        ``hdr_mcp/encoding``, ``hdr_mcp/encoding_params``, ``hdr_mcp/primaries`` attributes,
        which :func:`read_exr_info` reads back as ``transfer`` and ``colorspace``.

    envmap
        ``"latlong"``: the standard ``envmap`` attribute marking an equirectangular environment
        map (what renderers and Nuke read to use the file for lighting).

    Returns
    -------
    Path
        ``path``.
    """
    options = _write_options(
        colorspace, compression, dtype, nonfinite, overflow, metadata, encoding, encoding_params
    )
    if envmap not in (None, "latlong"):
        raise InvalidArgument("envmap", envmap, "expected 'latlong' or None")
    target = check_writable_path(path)
    channels = _prepare_pixels(pixels, options)
    header = _header(options)
    if envmap == "latlong":
        header["envmap"] = OpenEXR.ENVMAP_LATLONG
    _write_file(target, header, channels)
    return target


def _write_file(target: Path, header: dict[str, Any], channels: dict[str, np.ndarray]) -> None:
    use_all_cores()
    with atomic_path(target) as temporary:
        OpenEXR.File(header, channels).write(str(temporary))


class ExrSequenceWriter:
    """Write numbered EXR frames into a directory, one file at a time, in constant memory.

    Each frame is written by :func:`write_exr` (atomic, colour-tagged, validated) and nothing
    but its path is kept, so memory does not grow with the number of frames.

    Parameters
    ----------
    directory
        Output folder; created (with parents) if missing.
    pattern
        ``%``-style file name with exactly one integer field, default ``"frame_%05d.exr"``.
        Must end in ``.exr`` and contain no path separator.
    start
        Index of the first frame when :meth:`write` is called without ``index``.
    colorspace, compression, dtype, metadata, nonfinite, overflow
        As for :func:`write_exr`, validated here once; ``metadata`` applies to every frame and
        per-frame metadata given to :meth:`write` is added on top.

    Examples
    --------
    >>> with ExrSequenceWriter("out/shot010") as frames:          # doctest: +SKIP
    ...     for rgb in generate():
    ...         frames.write(rgb)
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        pattern: str = "frame_%05d.exr",
        *,
        start: int = 0,
        colorspace: str = "lin_rec709",
        compression: str = "zip",
        dtype: ExrDtype = "half",
        metadata: Mapping[str, Any] | None = None,
        nonfinite: NonFinitePolicy = "error",
        overflow: OverflowPolicy = "error",
    ) -> None:
        self._options = _write_options(
            colorspace, compression, dtype, nonfinite, overflow, metadata
        )
        self._pattern = _check_pattern(pattern)
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise InvalidArgument("start", start, "expected a non-negative integer")
        if not isinstance(directory, (str, os.PathLike)) or str(directory) == "":
            raise InvalidArgument("directory", directory, "expected a directory path")
        self.directory = Path(directory).expanduser()
        if self.directory.exists() and not self.directory.is_dir():
            raise InvalidArgument("directory", str(directory), "exists and is not a directory")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._next = int(start)
        self._closed = False
        self.paths: list[Path] = []

    def path_for(self, index: int) -> Path:
        """Return the file path frame ``index`` is (or would be) written to."""
        return self.directory / (self._pattern % index)

    def write(
        self, pixels: Any, index: int | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Path:
        """Write one frame and return its path.

        ``index`` defaults to one past the previous frame (``start`` for the first one). Writing
        an index twice replaces that frame (atomically).
        """
        if self._closed:
            raise HdrMcpError("ExrSequenceWriter is closed; open a new one to write more frames")
        if index is None:
            index = self._next
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise InvalidArgument("index", index, "expected a non-negative integer")
        target = self.path_for(int(index))
        channels = _prepare_pixels(pixels, self._options)
        _write_file(target, _header(self._options, _validate_metadata(metadata)), channels)
        self._next = int(index) + 1
        self.paths.append(target)
        return target

    def close(self) -> None:
        """Stop accepting frames (already written frames stay)."""
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or "/" in pattern or os.sep in pattern:
        raise InvalidArgument("pattern", pattern, "expected a file name (no directories)")
    if not pattern.lower().endswith(".exr"):
        raise InvalidArgument("pattern", pattern, "must end in .exr")
    try:
        first, second = pattern % 0, pattern % 1
    except (TypeError, ValueError) as e:
        raise InvalidArgument(
            "pattern", pattern, "expected exactly one integer field such as %05d"
        ) from e
    if first == second:
        raise InvalidArgument("pattern", pattern, "expected exactly one integer field such as %05d")
    return pattern
