"""Image files in and out: the format dispatcher, SDR (PNG/TIFF/JPEG) and Radiance ``.hdr``.

OpenEXR itself lives in :mod:`hdr_mcp.io.exr`; this module holds what every format shares: the
:class:`ImageInfo` / :class:`Image` records, content sniffing and path checks.

Format detection
----------------
The *content* decides the format (magic bytes), never the extension alone: frames exported by
other tools are often misnamed, and a byte signature cannot lie. One exception protects meaning
rather than syntax: when the extension promises scene-linear data (``.exr``, ``.hdr``) and the
content is a display-encoded format (PNG, JPEG, TIFF), or the other way round, the file is
refused with :class:`~hdr_mcp.errors.UnsupportedFile` saying what the content is ("is a PNG
file, not OpenEXR"). Reading such a file "successfully" would hand sRGB code values to code that
expects light (or the reverse), a silent error of several stops. Mismatches within one family
(a JPEG named ``.png``, an EXR named ``.hdr``) read by content.

Pixel conventions (see the package contract)
--------------------------------------------
- EXR and Radiance HDR: float32 scene-linear values, unclamped (negatives kept).
- PNG / JPEG / integer TIFF: float32 *code values* in [0, 1] (``uint / (2**bits - 1)``), NOT
  linearised; ``info.transfer == "srgb"`` says how to decode them
  (:func:`hdr_mcp.color.decode` with ``"srgb"``). Float TIFFs are read as linear values.
- Channel order is always R, G, B(, A); grey files give one channel, grey+alpha gives RGBA.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.io.atomic import atomic_path

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Image",
    "ImageInfo",
    "read_image",
    "read_info",
    "sniff_format",
    "write_png",
    "write_sdr",
]

#: Default refusal threshold for :func:`read_image`: 2**28 pixels (16384 x 16384), i.e. 3 GiB
#: as float32 RGB, far above any plate this package produces but below what exhausts a laptop.
DEFAULT_MAX_PIXELS = 2**28

FileFormat = Literal["exr", "hdr", "png", "tiff", "jpeg"]

# Magic numbers: OpenEXR spec "Magic Number" (76 2f 31 01); Radiance "#?" header line
# (Ward, "Real Pixels", Graphics Gems II); PNG spec section 5.2; JPEG SOI + marker prefix
# (ITU-T T.81 B.1.1.3); TIFF 6.0 section 2 (byte order + 42).
_SIGNATURES: tuple[tuple[bytes, FileFormat], ...] = (
    (b"\x76\x2f\x31\x01", "exr"),
    (b"#?RADIANCE", "hdr"),
    (b"#?RGBE", "hdr"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)

# Recognised only to say what an unsupported file is.
_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "a GIF file"),
    (b"GIF89a", "a GIF file"),
    (b"BM", "a BMP file"),
    (b"II+\x00", "a BigTIFF file"),
    (b"MM\x00+", "a BigTIFF file"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 file"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x1a\x45\xdf\xa3", "a Matroska/WebM video"),
)

_DESCRIPTIONS: dict[str, str] = {
    "exr": "an OpenEXR file",
    "hdr": "a Radiance HDR (RGBE) file",
    "png": "a PNG file",
    "jpeg": "a JPEG file",
    "tiff": "a TIFF file",
}
_FORMAT_NAMES: dict[str, str] = {
    "exr": "OpenEXR",
    "hdr": "Radiance HDR",
    "png": "PNG",
    "jpeg": "JPEG",
    "tiff": "TIFF",
}
_EXTENSIONS: dict[str, FileFormat] = {
    ".exr": "exr",
    ".hdr": "hdr",
    ".rgbe": "hdr",
    ".pic": "hdr",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}
_SCENE_LINEAR_FORMATS = frozenset({"exr", "hdr"})
# Channel names of the pixel arrays decoded by OpenCV, by channel count.
_CHANNEL_NAMES: dict[int, tuple[str, ...]] = {
    1: ("Y",),
    3: ("R", "G", "B"),
    4: ("R", "G", "B", "A"),
}


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, without its pixels. JSON-able through :meth:`to_dict`.

    Attributes
    ----------
    path
        The file, as given (resolved to an absolute path).
    file_format
        ``"exr"``, ``"hdr"``, ``"png"``, ``"tiff"`` or ``"jpeg"`` (from the content).
    width, height
        Size of the pixel array :func:`read_image` returns (the EXR *data* window).
    channels
        Names of the channels :func:`read_image` returns, in order (``("R", "G", "B")``,
        ``("R", "G", "B", "A")`` or ``("Y",)``; for EXR the file may hold more, listed in
        ``attributes["channels"]``).
    dtype
        Storage type of those channels: ``"half"``, ``"float"``, ``"uint"`` (EXR 32-bit
        unsigned), ``"uint8"`` or ``"uint16"``.
    bit_depth
        Bits per stored channel sample: 16 (half), 32 (float/uint), 8 or 16 for SDR files.
    colorspace
        A :func:`hdr_mcp.color.colorspaces` name for the RGB primaries, or ``None`` when the
        file's primaries are not one of them.
    interop_id
        The EXR ``colorInteropID`` attribute as written in the file, else ``None``.
    transfer
        ``"linear"`` for scene-linear data (EXR, HDR, float TIFF), ``"srgb"`` for SDR code values.
    compression
        Codec name (``"zip"``, ``"piz"``, ``"dwaa"``, ... for EXR; ``None`` when not applicable).
    tiled
        Whether the EXR is tiled.
    attributes
        All header attributes, converted to JSON-safe values (lists, numbers, strings).
    data_window, display_window
        ``(xmin, ymin, xmax, ymax)``, inclusive, as in the EXR ``box2i`` attribute; SDR files give
        ``(0, 0, width - 1, height - 1)`` for both.
    parts
        Number of parts in a multi-part EXR (only the first is read); 1 otherwise.
    notes
        Human-readable remarks about assumptions made while reading (channels ignored, colour
        space assumed, only part 0 read, ...). Empty when nothing needed saying.
    """

    path: str
    file_format: FileFormat
    width: int
    height: int
    channels: tuple[str, ...]
    dtype: str
    bit_depth: int
    colorspace: str | None
    interop_id: str | None
    transfer: str
    compression: str | None = None
    tiled: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)
    data_window: tuple[int, int, int, int] = (0, 0, 0, 0)
    display_window: tuple[int, int, int, int] = (0, 0, 0, 0)
    parts: int = 1
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a plain ``dict`` that :func:`json.dumps` accepts (tuples become lists)."""
        out = asdict(self)
        out["channels"] = list(self.channels)
        out["data_window"] = list(self.data_window)
        out["display_window"] = list(self.display_window)
        out["notes"] = list(self.notes)
        out["attributes"] = dict(self.attributes)
        return out


@dataclass
class Image:
    """Pixels plus the header they came with.

    ``pixels`` is a C-contiguous float32 array of shape (height, width, C) with C in {1, 3, 4};
    its meaning (scene-linear or code values) is given by ``info.transfer``.
    """

    pixels: np.ndarray
    info: ImageInfo

    def rgb(self) -> np.ndarray:
        """The colour channels as (H, W, 3): grey repeated into R, G, B, alpha dropped (a view
        for RGB(A) files, a new array for grey ones)."""
        if self.pixels.shape[-1] >= 3:
            return self.pixels[..., :3]
        return np.repeat(self.pixels[..., :1], 3, axis=-1)


# --------------------------------------------------------------------------------------------
# Path checks and sniffing
# --------------------------------------------------------------------------------------------


def check_readable_file(path: str | os.PathLike[str], argument: str = "path") -> Path:
    """Return ``path`` as an absolute :class:`Path` after checking it is a readable, non-empty file.

    Raises :class:`InvalidArgument` for a missing path, a directory or an unreadable file, and
    :class:`UnsupportedFile` for an empty file.
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise InvalidArgument(argument, path, "expected a non-empty file path")
    file = Path(path).expanduser()
    if not file.exists():
        raise InvalidArgument(argument, str(path), "no such file")
    if file.is_dir():
        raise InvalidArgument(argument, str(path), "is a directory, expected an image file")
    if not file.is_file():
        raise InvalidArgument(argument, str(path), "is not a regular file")
    if not os.access(file, os.R_OK):
        raise InvalidArgument(argument, str(path), "cannot be read (permission denied)")
    if file.stat().st_size == 0:
        raise UnsupportedFile(argument, str(path), "file is empty (0 bytes)")
    return file.absolute()


def _content_kind(head: bytes) -> FileFormat | None:
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return None


def _describe_unknown(head: bytes) -> str:
    for signature, description in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return description
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP file"
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace").strip()
        return f"an ISO media file (brand {brand!r}: AVIF/HEIC/MP4/MOV)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"an unknown binary format (first bytes {head[:8].hex(' ')})"
    return "a text file"


def sniff_format(path: str | os.PathLike[str]) -> FileFormat:
    """Return the image format of ``path`` from its first bytes.

    Raises
    ------
    UnsupportedFile
        The content is not EXR, Radiance HDR, PNG, JPEG or TIFF (the message says what it looks
        like), or the extension promises scene-linear data and the content is display-encoded
        (or vice versa); see the module docstring.
    InvalidArgument
        ``path`` is missing, a directory or unreadable.
    """
    return _sniff(path)[1]


def _sniff(path: str | os.PathLike[str]) -> tuple[Path, FileFormat]:
    """:func:`sniff_format`, also returning the checked absolute path."""
    file = check_readable_file(path)
    with open(file, "rb") as handle:
        head = handle.read(64)
    kind = _content_kind(head)
    if kind is None:
        raise UnsupportedFile(
            "path",
            str(path),
            f"is {_describe_unknown(head)}; supported formats are OpenEXR, Radiance HDR, PNG, "
            "TIFF and JPEG",
        )
    expected = _EXTENSIONS.get(file.suffix.lower())
    if expected is not None and (expected in _SCENE_LINEAR_FORMATS) != (
        kind in _SCENE_LINEAR_FORMATS
    ):
        promise = "scene-linear" if expected in _SCENE_LINEAR_FORMATS else "display-encoded"
        raise UnsupportedFile(
            "path",
            str(path),
            f"is {_DESCRIPTIONS[kind]}, not {_FORMAT_NAMES[expected]}: the extension "
            f"{file.suffix!r} promises {promise} data; rename the file to match its content",
        )
    return file, kind


#: Environment variable that raises (or lowers) the pixel-count limit of every reader, for the
#: CLI, the MCP server and its workers alike.
MAX_PIXELS_ENV = "HDR_MCP_MAX_PIXELS"


def check_max_pixels(max_pixels: int | None) -> int:
    """Validate the ``max_pixels`` argument (a positive ``int``); None: ``$HDR_MCP_MAX_PIXELS``,
    else :data:`DEFAULT_MAX_PIXELS`."""
    if max_pixels is None:
        configured = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not configured:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(configured)
        except ValueError:
            raise InvalidArgument(MAX_PIXELS_ENV, configured, "expected a positive integer") from None
        if max_pixels <= 0:
            raise InvalidArgument(MAX_PIXELS_ENV, configured, "expected a positive integer")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise InvalidArgument("max_pixels", max_pixels, "expected a positive integer")
    if max_pixels <= 0:
        raise InvalidArgument("max_pixels", max_pixels, "expected a positive integer")
    return int(max_pixels)


def refuse_oversized(path: Path, width: int, height: int, max_pixels: int, what: str = "") -> None:
    """Raise :class:`UnsupportedFile` when ``width * height`` exceeds ``max_pixels``."""
    if width * height > max_pixels:
        raise UnsupportedFile(
            "path",
            str(path),
            f"{what}{width}x{height} = {width * height} pixels exceeds the limit of {max_pixels}; "
            f"if this size is intended, set {MAX_PIXELS_ENV}={width * height} in the environment "
            "of hdr-mcp (the CLI, or the MCP server's env block)",
        )


# --------------------------------------------------------------------------------------------
# Header parsing for PNG / JPEG / TIFF / Radiance (no pixel decoding)
# --------------------------------------------------------------------------------------------


def _corrupt(path: Path, what: str) -> UnsupportedFile:
    return UnsupportedFile("path", str(path), what)


def _png_header(path: Path, data: bytes) -> tuple[int, int, int, int]:
    """Return (width, height, channels as decoded, bits as decoded) from the PNG IHDR chunk.

    PNG spec 11.2.2: colour type 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. OpenCV expands
    palettes to RGB (RGBA with a tRNS chunk), grey+alpha to RGBA and 1/2/4-bit samples to 8 bits.
    """
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _corrupt(path, "corrupt PNG: the IHDR chunk is missing or truncated")
    width, height, bits, colour_type = struct.unpack(">IIBB", data[16:26])
    if width == 0 or height == 0:
        raise _corrupt(path, f"corrupt PNG: image size {width}x{height}")
    channels = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}.get(colour_type)
    if channels is None:
        raise _corrupt(path, f"corrupt PNG: colour type {colour_type}")
    if colour_type in (0, 2, 3) and _png_has_trns(data):
        channels = 4 if colour_type != 0 else 1
    return width, height, channels, 16 if bits == 16 else 8


def _png_has_trns(data: bytes) -> bool:
    offset = 8
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunk = data[offset + 4 : offset + 8]
        if chunk == b"tRNS":
            return True
        if chunk == b"IDAT":
            return False
        offset += 12 + length
    return False


# JPEG start-of-frame markers (ITU-T T.81 table B.1): C0-CF except DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_header(path: Path, data: bytes) -> tuple[int, int, int, int]:
    """Return (width, height, channels, bits) and check the stream is complete.

    Segments are walked by their lengths (so an EXIF thumbnail inside APP1 is skipped); the
    frame header gives the size; a stream whose EOI marker (FFD9) never follows the first
    start-of-scan is truncated (libjpeg would "succeed" with a grey bottom half).
    """
    offset, size = 2, None
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            raise _corrupt(path, f"corrupt JPEG: expected a marker at byte {offset}")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte (T.81 B.1.1.2)
            offset += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers carry no length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _JPEG_SOF and offset + 10 <= len(data):
            bits, height, width, components = struct.unpack(">BHHB", data[offset + 4 : offset + 10])
            size = (width, height, 1 if components == 1 else 3, max(8, bits))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            if size is None:
                raise _corrupt(path, "corrupt JPEG: no frame header before the scan data")
            if data.find(b"\xff\xd9", offset) < 0:
                raise _corrupt(path, "truncated JPEG: the end-of-image marker is missing")
            if size[0] == 0 or size[1] == 0:
                raise _corrupt(path, f"corrupt JPEG: image size {size[0]}x{size[1]}")
            return size
        offset += 2 + length
    raise _corrupt(path, "truncated or corrupt JPEG: no scan data found")


# TIFF 6.0 tags and field types (sections 2 and 8).
_TIFF_TYPE_SIZES = {1: 1, 3: 2, 4: 4, 16: 8}
_TIFF_TYPE_CODES = {1: "B", 3: "H", 4: "I", 16: "Q"}


def _tiff_header(path: Path) -> tuple[int, int, int, int, int]:
    """Return (width, height, samples per pixel, bits per sample, sample format) from IFD 0.

    Reads by seeking: writers (libtiff via OpenCV among them) often put the directory after the
    pixel data, at the end of the file.
    """
    with open(path, "rb") as handle:

        def read_at(offset: int, size: int) -> bytes:
            handle.seek(offset)
            data = handle.read(size)
            if len(data) != size:
                raise struct.error("short read")
            return data

        try:
            order = "<" if read_at(0, 2) == b"II" else ">"
            (ifd,) = struct.unpack(order + "I", read_at(4, 4))
            (count,) = struct.unpack(order + "H", read_at(ifd, 2))
            entries = read_at(ifd + 2, 12 * count)
            tags: dict[int, tuple[int, ...]] = {}
            for index in range(count):
                entry = entries[12 * index : 12 * index + 12]
                tag, kind, n = struct.unpack(order + "HHI", entry[:8])
                if kind not in _TIFF_TYPE_SIZES or tag not in (256, 257, 258, 277, 339):
                    continue
                if not 1 <= n <= 64:  # one value, or one per sample; a huge count is damage
                    raise _corrupt(path, f"corrupt TIFF: tag {tag} has {n} values")
                nbytes = _TIFF_TYPE_SIZES[kind] * n
                if nbytes <= 4:
                    raw = entry[8 : 8 + nbytes]
                else:
                    raw = read_at(struct.unpack(order + "I", entry[8:12])[0], nbytes)
                tags[tag] = struct.unpack(order + _TIFF_TYPE_CODES[kind] * n, raw)
        except (struct.error, OSError, ValueError) as e:
            raise _corrupt(
                path, "truncated or corrupt TIFF: the first image directory is unreadable"
            ) from e
    if 256 not in tags or 257 not in tags:
        raise _corrupt(path, "corrupt TIFF: ImageWidth/ImageLength tags are missing")
    samples = tags.get(277, (1,))[0]
    bits = tags.get(258, (1,))[0]
    sample_format = tags.get(339, (1,))[0]
    return tags[256][0], tags[257][0], samples, bits, sample_format


def _radiance_header(path: Path, data: bytes) -> tuple[int, int, dict[str, str], int]:
    """Parse a Radiance picture header (Ward, Graphics Gems II "Real Pixels"; Radiance ``getinfo``).

    Returns (width, height, variables, offset of the pixel data). Only the standard orientation
    ``-Y height +X width`` (top-to-bottom rows, left-to-right) is accepted, which is what every
    common writer produces and what OpenCV decodes.
    """
    end = data.find(b"\n\n", 0, 65536)
    if end < 0:
        raise _corrupt(path, "corrupt Radiance HDR: no end of header within 64 KiB")
    variables: dict[str, str] = {}
    for line in data[:end].decode("latin-1").splitlines()[1:]:
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            variables[key.strip()] = value.strip()
    newline = data.find(b"\n", end + 2, end + 2 + 256)
    if newline < 0:
        raise _corrupt(path, "truncated Radiance HDR: the resolution line is missing")
    resolution = data[end + 2 : newline].decode("latin-1").split()
    if len(resolution) != 4 or resolution[0] != "-Y" or resolution[2] != "+X":
        raise UnsupportedFile(
            "path",
            str(path),
            f"Radiance HDR orientation {' '.join(resolution)!r} is not supported "
            "(only '-Y <height> +X <width>')",
        )
    try:
        height, width = int(resolution[1]), int(resolution[3])
    except ValueError as e:
        raise _corrupt(path, f"corrupt Radiance HDR resolution line {resolution!r}") from e
    if width <= 0 or height <= 0:
        raise _corrupt(path, f"corrupt Radiance HDR: image size {width}x{height}")
    fmt = variables.get("FORMAT", "32-bit_rle_rgbe")
    if fmt != "32-bit_rle_rgbe":
        raise UnsupportedFile(
            "path", str(path), f"Radiance FORMAT={fmt!r} is not supported (only 32-bit_rle_rgbe)"
        )
    return width, height, variables, newline + 1


def _read_head(path: Path, size: int = 1 << 20) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _radiance_colorspace(variables: Mapping[str, str]) -> tuple[str | None, list[str]]:
    from hdr_mcp.color import colorspace_from_chromaticities

    primaries = variables.get("PRIMARIES")
    if primaries is None:
        return "lin_rec709", [
            "no PRIMARIES in the Radiance header: Rec.709 primaries assumed (common practice)"
        ]
    try:
        values = tuple(float(v) for v in primaries.split())
    except ValueError:
        values = ()
    if len(values) != 8:
        return None, [f"unparsable Radiance PRIMARIES={primaries!r}"]
    name = colorspace_from_chromaticities(values)
    notes = [] if name else [f"Radiance PRIMARIES={primaries!r} match no known colour space"]
    return name, notes


def _sdr_info(path: Path, kind: FileFormat) -> ImageInfo:
    # JPEG: the whole stream, to check it is complete; TIFF seeks on its own.
    data = b"" if kind == "tiff" else (path.read_bytes() if kind == "jpeg" else _read_head(path))
    notes: list[str] = []
    attributes: dict[str, Any] = {}
    transfer, colorspace = "srgb", "lin_rec709"
    compression: str | None = None
    if kind == "png":
        width, height, channels, bits = _png_header(path, data)
        dtype = "uint16" if bits == 16 else "uint8"
        compression = "deflate"
    elif kind == "jpeg":
        width, height, channels, bits = _jpeg_header(path, data)
        if bits != 8:
            raise UnsupportedFile(
                "path", str(path), f"{bits}-bit JPEG is not supported (only 8-bit)"
            )
        dtype, compression = "uint8", "jpeg"
    elif kind == "tiff":
        width, height, samples, bits, sample_format = _tiff_header(path)
        channels = {1: 1, 2: 4, 3: 3}.get(samples, 4)
        if sample_format == 3 and bits in (16, 32, 64):
            dtype, transfer = "float", "linear"
            notes.append("floating-point TIFF: values read as scene-linear")
        elif sample_format in (1, 2) and bits in (1, 2, 4, 8, 16):
            dtype = "uint16" if bits == 16 else "uint8"
            bits = 16 if bits == 16 else 8
        else:
            raise UnsupportedFile(
                "path",
                str(path),
                f"TIFF with {bits}-bit samples (SampleFormat {sample_format}) is not supported; "
                "expected 8/16-bit integers or 16/32-bit floats",
            )
    elif kind == "hdr":
        width, height, variables, _ = _radiance_header(path, data)
        channels, bits, dtype, transfer = 3, 32, "float", "linear"
        attributes = dict(variables)
        colorspace, notes = _radiance_colorspace(variables)
        notes.append("RGBE stores 8-bit mantissas with a shared exponent (about 1% precision)")
        if "EXPOSURE" in variables:
            notes.append(f"EXPOSURE={variables['EXPOSURE']} recorded, not applied to the pixels")
        compression = "rle"
    else:  # pragma: no cover - sniff_format returns only the kinds above
        raise UnsupportedFile("path", str(path), f"unexpected format {kind!r}")
    if kind != "hdr" and transfer == "srgb":
        notes.append("display-encoded file: sRGB transfer and Rec.709 primaries assumed")
    window = (0, 0, width - 1, height - 1)
    return ImageInfo(
        path=str(path),
        file_format=kind,
        width=width,
        height=height,
        channels=_CHANNEL_NAMES[channels],
        dtype=dtype,
        bit_depth=bits,
        colorspace=colorspace,
        interop_id=None,
        transfer=transfer,
        compression=compression,
        tiled=False,
        attributes=attributes,
        data_window=window,
        display_window=window,
        parts=1,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Public readers
# --------------------------------------------------------------------------------------------


def read_info(path: str | os.PathLike[str]) -> ImageInfo:
    """Return the header of an image file without decoding its pixels.

    Works for OpenEXR, Radiance HDR, PNG, TIFF and JPEG (format from content, see the module
    docstring). Only the header is parsed, so this is safe on files that claim absurd sizes.

    Raises
    ------
    InvalidArgument
        ``path`` is missing, a directory or unreadable.
    UnsupportedFile
        Empty, corrupt, truncated header, or not a supported format.
    """
    file, kind = _sniff(path)
    if kind == "exr":
        # Imported here because exr.py imports this module for ImageInfo/Image.
        from hdr_mcp.io.exr import read_exr_info

        return read_exr_info(file)
    return _sdr_info(file, kind)


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> Image:
    """Read an image file into float32 pixels (H, W, C) plus its :class:`ImageInfo`.

    Parameters
    ----------
    path
        OpenEXR, Radiance ``.hdr``, PNG (8/16-bit), TIFF (8/16-bit integer or float) or JPEG.
    max_pixels
        Refuse files whose header claims more than this many pixels (``width * height``),
        checked from the header before any pixel memory is allocated. Default:
        ``$HDR_MCP_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS` (2**28).

    Returns
    -------
    Image
        ``pixels``: scene-linear float32 for EXR/HDR/float TIFF (unclamped); code values in
        [0, 1] for integer formats (``info.transfer == "srgb"``), not linearised.

    Raises
    ------
    InvalidArgument
        ``path`` missing / a directory / unreadable; ``max_pixels`` not a positive integer.
    UnsupportedFile
        Empty, truncated or corrupt file, an unsupported format, a too-large image, or an
        extension that contradicts the content (see the module docstring).
    """
    max_pixels = check_max_pixels(max_pixels)
    file, kind = _sniff(path)
    if kind == "exr":
        from hdr_mcp.io.exr import read_exr

        return read_exr(file, max_pixels=max_pixels)
    info = _sdr_info(file, kind)
    refuse_oversized(file, info.width, info.height, max_pixels)
    return _decode_with_opencv(file, info)


def _decode_with_opencv(path: Path, info: ImageInfo) -> Image:
    import cv2

    from hdr_mcp.io.diagnostics import library_output

    data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    with library_output(swallow=lambda line: line.startswith(b"libpng warning")) as printed:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        said = f": {printed.getvalue()}" if printed.getvalue() else ""
        raise UnsupportedFile(
            "path", str(path), f"corrupt or truncated {_FORMAT_NAMES[info.file_format]} file{said}"
        )
    if printed.lines():
        info = replace(info, notes=(*info.notes, *printed.lines()))
    if decoded.ndim == 2:
        decoded = decoded[:, :, None]
    if decoded.shape[:2] != (info.height, info.width):
        raise UnsupportedFile(
            "path",
            str(path),
            f"decoded size {decoded.shape[1]}x{decoded.shape[0]} differs from the header's "
            f"{info.width}x{info.height}",
        )
    channels = decoded.shape[2]
    if channels == 3:
        decoded = decoded[:, :, ::-1]  # OpenCV returns BGR
    elif channels == 4:
        decoded = decoded[:, :, [2, 1, 0, 3]]  # BGRA
    elif channels != 1:
        raise UnsupportedFile("path", str(path), f"{channels}-channel images are not supported")
    pixels = np.empty(decoded.shape, dtype=np.float32)
    if decoded.dtype == np.uint8:
        np.multiply(decoded, np.float32(1.0 / 255.0), out=pixels)
        dtype, bits = "uint8", 8
    elif decoded.dtype == np.uint16:
        np.multiply(decoded, np.float32(1.0 / 65535.0), out=pixels)
        dtype, bits = "uint16", 16
    elif decoded.dtype.kind == "f":
        pixels[...] = decoded
        dtype, bits = "float", 32
    else:
        raise UnsupportedFile(
            "path", str(path), f"pixel type {decoded.dtype} is not supported (8/16-bit or float)"
        )
    names = _CHANNEL_NAMES[channels]
    return Image(pixels=pixels, info=replace(info, channels=names, dtype=dtype, bit_depth=bits))


# --------------------------------------------------------------------------------------------
# SDR writers
# --------------------------------------------------------------------------------------------

_SDR_WRITE_FORMATS = {".png": ".png", ".tif": ".tiff", ".tiff": ".tiff"}


def check_image_shape(array: np.ndarray, argument: str) -> np.ndarray:
    """``array`` with (H, W, 1) squeezed to (H, W), after refusing other layouts and empty images.

    The layouts the image writers accept: (H, W) or (H, W, 1) luminance, (H, W, 3) RGB, (H, W, 4)
    RGBA.
    """
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidArgument(
            argument,
            f"array of shape {array.shape}",
            "expected (H, W) or (H, W, 1) luminance, (H, W, 3) RGB or (H, W, 4) RGBA",
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidArgument(argument, f"array of shape {array.shape}", "image is empty")
    return array


def _encode_and_write(path: str | os.PathLike[str], array: np.ndarray, extension: str) -> Path:
    import cv2

    if array.ndim == 3:
        order = [2, 1, 0] if array.shape[2] == 3 else [2, 1, 0, 3]
        array = array[:, :, order]
    array = np.ascontiguousarray(array)
    ok, encoded = cv2.imencode(extension, array)
    if not ok:  # pragma: no cover - OpenCV accepts every array check_image_shape lets through
        raise InvalidArgument("path", str(path), f"OpenCV could not encode {extension}")
    with atomic_path(path) as temporary:
        temporary.write_bytes(encoded.tobytes())
    return Path(path).expanduser()


def write_png(path: str | os.PathLike[str], image: Any) -> Path:
    """Write an 8- or 16-bit PNG atomically (temporary file + rename).

    Parameters
    ----------
    path
        Destination; must end in ``.png``. Its directory must exist.
    image
        ``uint8`` or ``uint16`` array, (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA. Values
        are written as they are (code values; no transfer function is applied).

    Returns
    -------
    Path
        ``path``.
    """
    if Path(path).suffix.lower() != ".png":
        raise InvalidArgument("path", str(path), "write_png writes PNG; the name must end in .png")
    array = check_image_shape(np.asarray(image), "image")
    if array.dtype not in (np.uint8, np.uint16):
        raise InvalidArgument(
            "image",
            f"array of dtype {array.dtype}",
            "expected uint8 or uint16 (use write_sdr for floats)",
        )
    return _encode_and_write(path, array, ".png")


def write_sdr(
    path: str | os.PathLike[str],
    code_values: Any,
    bit_depth: Literal[8, 16] = 16,
    *,
    out_of_range: Literal["error", "clip"] = "error",
) -> Path:
    """Quantise [0, 1] code values and write them as PNG or TIFF (by extension), atomically.

    Parameters
    ----------
    path
        Destination ending in ``.png``, ``.tif`` or ``.tiff``.
    code_values
        Float array, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), already transfer-encoded (e.g.
        with :func:`hdr_mcp.color.encode` ``"srgb"``); stored as ``round(v * (2**bit_depth - 1))``.
    bit_depth
        8 or 16.
    out_of_range
        ``"error"`` (default): refuse values that would not round into the code range (so float
        noise such as 1.0000001 passes, 1.01 does not); ``"clip"``: clip to [0, 1] first.
        NaN/Inf are always refused.
    """
    extension = _SDR_WRITE_FORMATS.get(Path(path).suffix.lower())
    if extension is None:
        raise InvalidArgument(
            "path", str(path), f"write_sdr writes {', '.join(sorted(_SDR_WRITE_FORMATS))} files"
        )
    if bit_depth not in (8, 16) or isinstance(bit_depth, bool):
        raise InvalidArgument("bit_depth", bit_depth, "expected 8 or 16")
    if out_of_range not in ("error", "clip"):
        raise InvalidArgument("out_of_range", out_of_range, "expected 'error' or 'clip'")
    array = check_image_shape(np.asarray(code_values), "code_values")
    if array.dtype.kind != "f":
        raise InvalidArgument(
            "code_values",
            f"array of dtype {array.dtype}",
            "expected floats in [0, 1] (use write_png for integers)",
        )
    finite = np.isfinite(array)
    if not finite.all():
        count = int(array.size - np.count_nonzero(finite))
        raise InvalidArgument(
            "code_values", f"<{count} NaN/Inf of {array.size} values>", "code values must be finite"
        )
    top = float(2**bit_depth - 1)
    if out_of_range == "clip":
        array = np.clip(array, 0.0, 1.0)
    else:
        low, high = float(array.min()), float(array.max())
        half_step = 0.5 / top
        if low < -half_step or high > 1.0 + half_step:
            raise InvalidArgument(
                "code_values",
                f"<range [{low:g}, {high:g}]>",
                "code values must lie in [0, 1]; pass out_of_range='clip' to clip them",
            )
    quantised = np.clip(np.rint(array * top), 0.0, top)
    return _encode_and_write(
        path, quantised.astype(np.uint16 if bit_depth == 16 else np.uint8), extension
    )
