"""SDR footage as input: one image, a frame sequence or a video, and what its tags say.

:func:`open_sdr` detects what a path is (extension first, then content), validates it from
headers only (the first and last frame of a sequence, the video container) and returns an
:class:`SdrSource` that streams **code values** (float32 (H, W, 3) in [0, 1], 8-bit and deeper
inputs alike; grey is repeated into R, G, B, palettes are expanded, alpha is dropped: it is
coverage, not light).

Turning code values into light needs the EOTF and the primaries. :meth:`SdrSource.transfer`
and :meth:`SdrSource.primaries` choose them and say why:

* ``"auto"`` on a video uses its tags (:func:`hdr_mcp.io.video.probe`): ``color_trc`` BT.709,
  BT.1886-family and BT.601 -> ``bt1886`` (broadcast video is mastered on a BT.1886 display,
  Rec. ITU-R BT.1886), ``iec61966_2_1`` -> ``srgb``, ``gamma22`` -> ``srgb`` (the nearest
  supported curve); ``color_primaries`` BT.709/BT.601 -> ``lin_rec709``, BT.2020 ->
  ``lin_rec2020``, P3-D65 (``smpte432``) -> ``lin_p3d65``. An untagged video, and every image
  file (no transfer or primaries tag is read from PNG/JPEG/TIFF), gets ``srgb`` and
  ``lin_rec709``.
* An explicit choice overrides the tags (the reason says so).

Already-HDR inputs are refused, naming the argument: scene-linear files (OpenEXR, Radiance
``.hdr``, floating-point TIFF) and video tagged PQ, HLG or linear. Nothing is passed through:
an HDR file given to an SDR->HDR conversion is almost always a mistake, and expanding it again
would be wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.vocabulary import AUTO, SDR_PRIMARIES, SDR_TRANSFERS

__all__ = [
    "SdrSource",
    "display_light",
    "open_sdr",
]

_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
# Transfer characteristics of video that is already HDR or linear (FFmpeg names).
_HDR_TRC = {"smpte2084": "PQ", "arib_std_b67": "HLG", "linear": "linear"}
# probe()'s meaning of a transfer tag -> the EOTF used here.
_TAG_TRANSFERS = {"bt1886": "bt1886", "srgb": "srgb", "gamma22": "srgb"}

Skip = Callable[[int], "np.ndarray | None"]


def display_light(codes: np.ndarray, transfer: str) -> np.ndarray:
    """SDR code values -> relative display light (SDR white = 1.0), float32.

    ``"srgb"``: the IEC 61966-2-1 piecewise EOTF (:func:`hdr_mcp.color.decode`); ``"bt1886"``:
    Rec. ITU-R BT.1886 Annex 1 with zero black level, ``L = V ** 2.4``.
    """
    codes = np.asarray(codes, dtype=np.float32)
    if transfer == "srgb":
        from hdr_mcp.color import decode

        return decode(codes, "srgb")
    if transfer == "bt1886":
        return np.power(np.maximum(codes, 0.0), np.float32(2.4))
    raise InvalidArgument("transfer", transfer, f"choose one of: {', '.join(SDR_TRANSFERS)}")


@dataclass(frozen=True)
class SdrSource:
    """A validated SDR input (:func:`open_sdr`): what it is, its frames, size and tags.

    ``tags``: for a video, :func:`hdr_mcp.io.video.probe`'s ``color_trc``, ``color_primaries``,
    ``transfer`` and ``primaries``; empty for images.
    """

    kind: Literal["image", "sequence", "video"]
    path: str
    count: int
    width: int
    height: int
    fps: float | None
    files: tuple[Path, ...] = ()
    argument: str = "input"
    tags: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "frames": self.count,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
        }

    # -- what the code values mean -----------------------------------------------------------

    def transfer(self, requested: str = AUTO) -> tuple[str, str]:
        """``(transfer, reason)``: the EOTF for ``requested`` (``"auto"``: from the tags)."""
        if requested != AUTO:
            if requested not in SDR_TRANSFERS:
                raise InvalidArgument(
                    "transfer", requested, f"choose one of: auto, {', '.join(SDR_TRANSFERS)}"
                )
            return requested, "given"
        if self.kind != "video":
            return "srgb", "image files carry no transfer tag that is read: sRGB assumed"
        tag = self.tags.get("color_trc", "unspecified")
        meaning = _TAG_TRANSFERS.get(self.tags.get("transfer") or "")
        if meaning is None:
            return "srgb", f"video transfer tag {tag!r} is not an SDR EOTF: sRGB assumed"
        return meaning, f"video tagged color_trc={tag}"

    def primaries(self, requested: str = AUTO) -> tuple[str, str]:
        """``(primaries, reason)`` for ``requested`` (``"auto"``: from the tags)."""
        if requested != AUTO:
            if requested not in SDR_PRIMARIES:
                raise InvalidArgument(
                    "primaries", requested, f"choose one of: auto, {', '.join(SDR_PRIMARIES)}"
                )
            return requested, "given"
        if self.kind != "video":
            return "lin_rec709", "image files carry no primaries tag that is read: BT.709 assumed"
        tag = self.tags.get("color_primaries", "unspecified")
        meaning = self.tags.get("primaries")
        if meaning not in SDR_PRIMARIES:
            return "lin_rec709", f"video primaries tag {tag!r} not recognised: BT.709 assumed"
        return meaning, f"video tagged color_primaries={tag}"

    # -- frames ------------------------------------------------------------------------------

    def frames(
        self, start: int, stop: int, skip: Skip = lambda i: None
    ) -> Iterator[tuple[int, np.ndarray | None, str, np.ndarray | None]]:
        """Yield ``(index, codes, source file, done)`` for start <= index < stop.

        ``skip(index)`` returns a finished frame's stored pixels (then the source frame is not
        read: ``codes`` is None) or None. A video decodes in order either way.
        """
        if self.kind == "video":
            from hdr_mcp.io.video import iter_frames

            for index, codes in enumerate(self._video(iter_frames, start, stop), start):
                done = skip(index)
                yield index, (codes if done is None else None), self.path, done
            return
        for index in range(start, stop):
            done = skip(index)
            codes = self.read(index) if done is None else None
            yield index, codes, str(self.files[index]), done

    def sample(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, codes)`` for the given frame indices, in increasing order."""
        wanted = sorted({int(i) for i in indices})
        for index in wanted:
            if not 0 <= index < self.count:
                raise InvalidArgument(
                    self.argument, self.path, f"has no frame {index} (it has {self.count})"
                )
        if self.kind == "video":
            from hdr_mcp.io.video import read_frames

            yield from self._video(read_frames, wanted)
            return
        for index in wanted:
            yield index, self.read(index)

    def read(self, index: int) -> np.ndarray:
        """Code values of frame ``index`` of an image or sequence."""
        from hdr_mcp.io import read_image

        path = self.files[index]
        try:
            image = read_image(path)
        except InvalidArgument as e:  # UnsupportedFile too, keeping its type
            raise type(e)(self.argument, str(path), e.reason) from e
        if image.info.transfer == "linear":
            raise _already_hdr(self.argument, str(path), image.info.file_format)
        pixels = image.pixels
        if pixels.shape[:2] != (self.height, self.width):
            raise InvalidArgument(
                self.argument,
                str(path),
                f"frame is {pixels.shape[1]}x{pixels.shape[0]}, the first frame is "
                f"{self.width}x{self.height}; all frames must have one size",
            )
        if pixels.shape[-1] >= 3:
            return pixels[..., :3]
        return np.repeat(pixels[..., :1], 3, axis=-1)

    def _video(self, reader: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
        """Run a :mod:`hdr_mcp.io.video` reader, its errors naming this source's argument."""
        iterator = reader(self.path, *args)
        try:
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                except InvalidArgument as e:  # UnsupportedFile too, keeping its type
                    raise type(e)(self.argument, self.path, e.reason) from e
                yield item
        finally:
            iterator.close()


def _already_hdr(argument: str, shown: str, file_format: str) -> InvalidArgument:
    return InvalidArgument(
        argument,
        shown,
        f"{file_format.upper()} holds scene-linear HDR already (refused, not passed through); "
        "SDR->HDR expands display-encoded SDR (PNG, JPEG, integer TIFF, SDR video)",
    )


def _image_info(path: Path, shown: str, argument: str):
    from hdr_mcp.io import read_info

    try:
        info = read_info(path)
    except InvalidArgument as e:  # UnsupportedFile too, keeping its type
        raise type(e)(argument, shown, e.reason) from e
    if info.transfer == "linear":
        raise _already_hdr(argument, shown, info.file_format)
    return info


def _video_source(path: Path, shown: str, argument: str) -> SdrSource:
    from hdr_mcp.io.video import probe

    try:
        meta = probe(path)
    except InvalidArgument as e:  # UnsupportedFile too, keeping its type
        raise type(e)(argument, shown, e.reason) from e
    if meta["color_trc"] in _HDR_TRC:
        raise InvalidArgument(
            argument,
            shown,
            f"video is tagged {_HDR_TRC[meta['color_trc']]} ({meta['color_trc']}): it is not "
            "SDR (refused, not passed through)",
        )
    if meta["frames"] == 0:
        raise UnsupportedFile(argument, shown, "video has no frames")
    tags = {k: meta[k] for k in ("color_trc", "color_primaries", "transfer", "primaries")}
    return SdrSource(
        "video", str(path), meta["frames"], meta["width"], meta["height"], meta["fps"],
        argument=argument, tags=tags,
    )


def _image_source(
    files: list[Path], shown: str, kind: Literal["image", "sequence"], argument: str,
    fps: float | None,
) -> SdrSource:
    # Headers of the first and last frame only: reading every header of a long sequence up
    # front costs a read per frame; any other frame of a different size fails when reached.
    first = _image_info(files[0], shown, argument)
    last = _image_info(files[-1], shown, argument)
    if (last.width, last.height) != (first.width, first.height):
        raise InvalidArgument(
            argument,
            shown,
            f"frames differ in size: {files[0].name} is "
            f"{first.width}x{first.height}, {files[-1].name} is {last.width}x{last.height}",
        )
    return SdrSource(
        kind, shown, len(files), first.width, first.height, None if kind == "image" else fps,
        tuple(files), argument=argument,
    )


def open_sdr(
    value: Any, argument: str = "input", *, sequence_fps: float | None = None
) -> SdrSource:
    """Detect what ``value`` is (an image, a folder or pattern of frames, a video) and validate
    it from its headers; errors name ``argument``. ``sequence_fps`` is the frame rate given to
    image sequences (which have none)."""
    from hdr_mcp.io.sequence import list_frames
    from hdr_mcp.io.video import VIDEO_SUFFIXES

    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        raise InvalidArgument(argument, value, "expected an image, video, folder or frame pattern")
    shown = str(value)
    path = Path(value).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            return _video_source(path, shown, argument)
        try:
            return _image_source([path], shown, "image", argument, sequence_fps)
        except UnsupportedFile as not_image:
            if suffix in _IMAGE_SUFFIXES:
                raise
            try:  # unknown extension and not an image: whatever FFmpeg can decode
                return _video_source(path, shown, argument)
            except UnsupportedFile as e:
                raise UnsupportedFile(
                    argument,
                    shown,
                    f"neither an image ({not_image.reason}) nor a video ({e.reason})",
                ) from e
    try:
        files = list_frames(path)
    except InvalidArgument as e:
        raise InvalidArgument(argument, shown, e.reason) from e
    return _image_source(files, shown, "sequence", argument, sequence_fps)
