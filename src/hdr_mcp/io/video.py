"""Video files through PyAV (whose wheels carry FFmpeg): probe, stream frames, write previews.

Frames come out as **float32 RGB code values in [0, 1]**, shape (H, W, 3), whatever the bit
depth of the file: 8-bit video is decoded to ``rgb24`` and divided by 255, deeper video
(10/12/16-bit) to ``rgb48`` and divided by 65535. Code values are *not* linearised: the caller
applies the transfer function (as :func:`hdr_mcp.io.read_image` leaves SDR images).

YUV -> RGB uses the matrix the stream is tagged with (BT.709, BT.601, BT.2020, ...). An
untagged stream gets BT.709 when it is at least 720 lines tall and BT.601 below, the
convention of FFmpeg-based players (FFmpeg's own scaler would use BT.601 for everything, which
shifts HD colours). An untagged range is taken as limited ("MPEG", 16-235), as H.264 encoders
write by default.

Decoding streams: one frame is held at a time, so memory does not grow with the frame count.
Frames before ``start`` are decoded and dropped (exact, costs decode time; no keyframe seeking).
A file whose header promises more frames than can be decoded (truncated, or a wrong header)
raises :class:`~hdr_mcp.errors.UnsupportedFile` naming the real count when the iteration
reaches its end, rather than silently giving a short result.

Transfer and primaries. The pixels are code values; how to linearise them depends on the
stream's tags, which :func:`probe` reports twice: FFmpeg's names (``color_trc``,
``color_primaries``) and what they mean for SDR linearisation (``transfer``, ``primaries``):

- ``bt709``, ``smpte170m``, ``bt2020_10``, ``bt2020_12``, ``smpte240m``, ``bt1361_ecg``,
  ``iec61966_2_4`` -> ``"bt1886"``: broadcast video is mastered on a BT.1886 display
  (Rec. ITU-R BT.1886, gamma 2.4); its BT.709 OETF tag names the camera curve, not the display.
- ``iec61966_2_1`` -> ``"srgb"`` (IEC 61966-2-1); ``gamma22`` -> ``"gamma22"``.
- ``smpte2084``, ``arib_std_b67``, ``linear`` -> ``"pq"``, ``"hlg"``, ``"linear"`` (not SDR).
- anything else, or untagged -> ``None``: the caller chooses (sRGB is the usual guess for
  computer-made video).

``primaries``: ``bt709`` -> ``"lin_rec709"``, ``bt2020`` -> ``"lin_rec2020"`` (BT.2020 SDR is
not BT.709), ``smpte432`` -> ``"lin_p3d65"``; BT.601 primaries (``smpte170m``, ``bt470bg``,
within about 0.01 xy of BT.709) -> ``"lin_rec709"``; untagged or other -> ``None``.

:class:`VideoWriter` writes H.264 (libx264) ``yuv420p`` with BT.709 tags, limited range, atomically
(a hidden temporary file renamed on success).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from typing_extensions import Self

from hdr_mcp.errors import HdrMcpError, InvalidArgument, UnsupportedFile
from hdr_mcp.io.sequence import check_frame_range

__all__ = ["VIDEO_SUFFIXES", "VideoWriter", "iter_frames", "probe", "read_frames"]

#: File suffixes treated as video (lower case).
VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".mxf",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m2ts",
        ".y4m",
        ".gif",
    }
)

# FFmpeg AVColorSpace values -> (name, swscale colourspace name). swscale has no separate
# BT.470BG / SMPTE 170M matrices: both are BT.601.
_MATRICES = {
    0: ("rgb", None),
    1: ("bt709", "ITU709"),
    4: ("fcc", "FCC"),
    5: ("bt470bg", "ITU601"),
    6: ("smpte170m", "ITU601"),
    7: ("smpte240m", "SMPTE240M"),
    9: ("bt2020nc", "BT2020"),
    10: ("bt2020c", "BT2020"),
}
_RANGES = {0: "unspecified", 1: "limited", 2: "full"}
# FFmpeg color_trc names -> SDR linearisation (module docstring).
_TRANSFERS = {
    "bt709": "bt1886",
    "smpte170m": "bt1886",
    "bt2020_10": "bt1886",
    "bt2020_12": "bt1886",
    "smpte240m": "bt1886",
    "bt1361_ecg": "bt1886",
    "iec61966_2_4": "bt1886",
    "iec61966_2_1": "srgb",
    "gamma22": "gamma22",
    "smpte2084": "pq",
    "arib_std_b67": "hlg",
    "linear": "linear",
}
# FFmpeg color_primaries names -> hdr_mcp colour space names (module docstring).
_PRIMARIES = {
    "bt709": "lin_rec709",
    "smpte170m": "lin_rec709",
    "bt470bg": "lin_rec709",
    "bt2020": "lin_rec2020",
    "smpte432": "lin_p3d65",
}
_WRITER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def _enum_name(enum: Any, value: int) -> str:
    try:
        return enum(value).name.lower()
    except ValueError:
        return str(value)


def _open(path: str | os.PathLike[str], argument: str):
    """Open ``path`` for reading; return (container, video stream). Errors name ``argument``."""
    import av

    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise InvalidArgument(argument, path, "expected a video file path")
    if not Path(path).is_file():
        raise InvalidArgument(argument, str(path), "no such file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise UnsupportedFile(argument, str(path), f"not a readable video ({e})") from e
    if not container.streams.video:
        container.close()
        raise UnsupportedFile(argument, str(path), "has no video stream")
    return container, container.streams.video[0]


def _bit_depth(pix_fmt: str | None) -> int:
    import av

    if not pix_fmt:
        return 8
    try:
        return max(component.bits for component in av.VideoFormat(pix_fmt).components)
    except ValueError:
        return 8


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe the first video stream of ``path`` without decoding pictures.

    Returns
    -------
    JSON-safe dict: ``width``, ``height`` (pixels), ``fps`` (float, average frame rate),
    ``frames`` (count; from the container header, else by counting packets), ``codec``
    (decoder name), ``pix_fmt``, ``bit_depth`` (bits of the deepest component),
    ``duration_s`` (float or None), ``color_primaries``, ``color_trc``, ``colorspace``,
    ``color_range`` (FFmpeg tag names; "unspecified" when untagged), ``transfer`` and
    ``primaries`` (what the tags mean: see the module docstring; None when untagged).

    Raises
    ------
    InvalidArgument
        ``path`` does not exist.
    UnsupportedFile
        ``path`` is not a video FFmpeg can read, or has no video stream.
    """
    import av
    from av.video.reformatter import ColorPrimaries, ColorTrc

    container, stream = _open(path, "path")
    try:
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frames = int(stream.frames or 0)
        if frames == 0:
            try:
                frames = sum(1 for packet in container.demux(stream) if packet.size)
            except av.FFmpegError as e:
                raise UnsupportedFile("path", str(path), f"cannot be read to the end ({e})") from e
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        trc = _enum_name(ColorTrc, int(context.color_trc))
        primaries = _enum_name(ColorPrimaries, int(context.color_primaries))
        return {
            "width": int(context.width),
            "height": int(context.height),
            "fps": float(rate) if rate else None,
            "frames": frames,
            "codec": context.name,
            "pix_fmt": context.pix_fmt,
            "bit_depth": _bit_depth(context.pix_fmt),
            "duration_s": duration,
            "color_primaries": primaries,
            "color_trc": trc,
            "transfer": _TRANSFERS.get(trc),
            "primaries": _PRIMARIES.get(primaries),
            "colorspace": _MATRICES.get(int(context.colorspace), ("unspecified", None))[0],
            "color_range": _RANGES.get(int(context.color_range), str(int(context.color_range))),
        }
    finally:
        container.close()


def _to_rgb(frame: Any, rgb_format: str, scale: float) -> np.ndarray:
    """Decoded frame -> float32 (H, W, 3) code values in [0, 1], with the tagged matrix/range."""
    from av.video.reformatter import ColorRange, Colorspace

    options: dict[str, Any] = {}
    if not frame.format.name.startswith(("rgb", "bgr", "gbr", "pal")):
        matrix = _MATRICES.get(int(frame.colorspace), (None, None))[1]
        if matrix is None:  # untagged: the players' convention, see the module docstring
            matrix = "ITU709" if frame.height >= 720 else "ITU601"
        options["src_colorspace"] = Colorspace[matrix]
        if int(frame.color_range) == 0 and not frame.format.name.startswith("yuvj"):
            options["src_color_range"] = ColorRange.MPEG
    pixels = frame.to_ndarray(format=rgb_format, **options)
    out = np.empty(pixels.shape, dtype=np.float32)
    np.multiply(pixels, np.float32(scale), out=out, casting="unsafe")
    return out


def iter_frames(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None
) -> Iterator[np.ndarray]:
    """Yield frames ``start <= i < stop`` of ``path`` as float32 (H, W, 3) code values in [0, 1].

    ``stop=None`` reads to the end; a ``stop`` past the frame count the header declares simply
    ends the iteration there (call :func:`probe` first to check a range). 8-bit sources give
    multiples of 1/255, deeper ones of 1/65535. The file is closed when the iterator is
    exhausted or closed.

    Raises
    ------
    InvalidArgument
        ``path`` missing, ``start``/``stop`` invalid.
    UnsupportedFile
        Not a readable video, or its data is corrupt where decoding reaches it, or decoding
        ends before the frames the header promises (``min(stop, declared count)``): the
        message gives the real count, after the frames that did decode were yielded.
    """
    check_frame_range(start, stop)
    for _, frame in _decode(path, lambda index: index >= start, stop):
        yield frame


def read_frames(path: str | os.PathLike[str], indices: Iterable[int]) -> Iterator[
    tuple[int, np.ndarray]
]:
    """Yield ``(index, frame)`` for the given frame indices (sorted, duplicates dropped), frames
    as :func:`iter_frames` gives them.

    Video decodes in order, so every frame up to the last index is decoded; only the chosen
    ones are converted to RGB (the conversion costs more than the decode), which makes a
    sample of a shot (e.g. 16 frames to measure it) far cheaper than reading it all.

    Raises
    ------
    InvalidArgument
        ``path`` missing, an index negative or not an integer.
    UnsupportedFile
        As :func:`iter_frames`, when decoding fails or ends before the last index.
    """
    wanted = sorted(set(indices))
    for index in wanted:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise InvalidArgument("indices", index, "expected non-negative frame indices")
    if not wanted:
        return
    chosen = frozenset(int(i) for i in wanted)
    yield from _decode(path, chosen.__contains__, int(wanted[-1]) + 1)


def _decode(
    path: str | os.PathLike[str], keep: Callable[[int], bool], stop: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode ``path`` in order up to ``stop``; yield ``(index, RGB code values)`` for the frames
    ``keep(index)`` accepts. Errors as :func:`iter_frames`."""
    import av

    container, stream = _open(path, "path")
    try:
        stream.thread_type = "AUTO"
        deep = _bit_depth(stream.codec_context.pix_fmt) > 8
        rgb_format, scale = ("rgb48le", 1.0 / 65535.0) if deep else ("rgb24", 1.0 / 255.0)
        declared = int(stream.frames or 0)
        index = 0
        try:
            for frame in container.decode(stream):
                if keep(index):
                    yield index, _to_rgb(frame, rgb_format, scale)
                index += 1
                if stop is not None and index >= stop:
                    return  # before decoding a frame nobody asked for
        except av.FFmpegError as e:
            raise UnsupportedFile(
                "path", str(path), f"decoding failed at frame {index} ({e})"
            ) from e
        promised = declared if stop is None else min(stop, declared)
        if index < promised:
            raise UnsupportedFile(
                "path",
                str(path),
                f"only {index} frame(s) decode but the header declares {declared}: the file "
                f"is truncated or its header is wrong (frames {index}..{promised - 1} missing)",
            )
    finally:
        container.close()


def _frame_rate(fps: Any) -> Fraction:
    if (
        isinstance(fps, bool)
        or not isinstance(fps, (int, float, Fraction))
        or not (0 < fps < math.inf)
    ):
        raise InvalidArgument("fps", fps, "must be a positive finite number")
    # limit_denominator(1001) recovers the NTSC rates exactly (23.976... -> 24000/1001).
    return fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Write RGB frames to an H.264 ``yuv420p`` video (MP4/MOV/MKV), atomically.

    Frames are uint8 (H, W, 3) code values, or floats in [0, 1] (clipped and rounded to
    8 bits: this writer makes previews). Every frame must have the size of the first.
    ``yuv420p`` needs even dimensions: an odd width or height is padded by repeating the last
    column/row. The file appears under its name only when :meth:`close` succeeds; on
    :meth:`abort` or an exception in a ``with`` block the temporary file is removed.

    Parameters
    ----------
    path
        Destination, ``.mp4``, ``.m4v``, ``.mov`` or ``.mkv``; its folder must exist.
    fps
        Frame rate (float or :class:`fractions.Fraction`).
    crf
        x264 constant rate factor, 0-51 (lower is better; 18 is visually near lossless).
    preset
        x264 speed preset ("ultrafast" ... "veryslow").

    Examples
    --------
    >>> with VideoWriter("preview.mp4", fps=24) as writer:   # doctest: +SKIP
    ...     for rgb in frames:
    ...         writer.write(rgb)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction,
        *,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        from hdr_mcp.io.atomic import atomic_path

        suffix = Path(path).suffix.lower() if isinstance(path, (str, os.PathLike)) else ""
        if suffix not in _WRITER_FORMATS:
            raise InvalidArgument(
                "path", str(path), f"expected one of {', '.join(sorted(_WRITER_FORMATS))}"
            )
        if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
            raise InvalidArgument("crf", crf, "must be an integer in [0, 51]")
        self.path = Path(path)
        self._rate = _frame_rate(fps)
        self._crf = crf
        self._preset = preset
        self._format = _WRITER_FORMATS[suffix]
        self._atomic = atomic_path(path)
        self._temporary = self._atomic.__enter__()  # validates the folder now, before any frame
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None
        self._finished = False
        #: Number of frames written so far.
        self.frames = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _open(self, height: int, width: int) -> None:
        import av

        self._container = av.open(str(self._temporary), "w", format=self._format)
        stream = self._container.add_stream("libx264", rate=self._rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self._crf), "preset": self._preset}
        context = stream.codec_context
        # Tag what the pixels are (FFmpeg enum values), so players decode them as written.
        context.color_primaries = 1  # BT.709
        context.color_trc = 1  # BT.709
        context.colorspace = 1  # BT.709 YCbCr matrix
        context.color_range = 1  # limited ("MPEG", 16-235)
        self._stream = stream
        self._size = (height, width)

    def write(self, frame: Any) -> None:
        """Encode one RGB frame (uint8, or float in [0, 1]; shape (H, W, 3))."""
        import av
        from av.video.reformatter import ColorRange, Colorspace

        if self._finished:
            raise HdrMcpError(f"VideoWriter for {self.path} is closed; open a new one")
        array = np.asarray(frame)
        if array.ndim != 3 or array.shape[-1] != 3:
            raise InvalidArgument(
                "frame", f"array of shape {array.shape}", "expected shape (H, W, 3)"
            )
        if array.dtype != np.uint8:
            if not np.issubdtype(array.dtype, np.floating):
                raise InvalidArgument(
                    "frame", f"array of dtype {array.dtype}", "expected uint8 or float"
                )
            array = np.rint(np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0).astype(np.uint8)
        if self._container is None:
            self._open(*array.shape[:2])
        if array.shape[:2] != self._size:
            raise InvalidArgument(
                "frame",
                f"array of shape {array.shape}",
                f"every frame must be {self._size[0]}x{self._size[1]} (H x W)",
            )
        pad = ((0, array.shape[0] % 2), (0, array.shape[1] % 2), (0, 0))
        if any(p[1] for p in pad):
            array = np.pad(array, pad, mode="edge")
        video_frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(array), format="rgb24"
        ).reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it into place; returns the path."""
        if self._finished:
            return self.path
        if self.frames == 0:
            self.abort()
            raise InvalidArgument("frames", 0, f"no frame was written to {self.path}")
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except BaseException:
            self.abort()
            raise
        self._finished = True
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Stop without producing the file (the temporary file is deleted). Idempotent."""
        if self._finished:
            return
        self._finished = True
        if self._container is not None:
            with contextlib.suppress(Exception):  # the file is being thrown away anyway
                self._container.close()
        with contextlib.suppress(_Aborted):
            self._atomic.__exit__(_Aborted, _Aborted(), None)


class _Aborted(Exception):
    """Thrown into :func:`hdr_mcp.io.atomic.atomic_path` to make it delete the temporary file."""
