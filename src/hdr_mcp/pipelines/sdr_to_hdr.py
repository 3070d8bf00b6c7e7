"""SDR -> scene-linear HDR conversion of images, frame sequences and videos.

Job kind ``sdr_to_hdr_video`` (handler :func:`run`); the plain function is :func:`convert`.

Method ``"classical"`` needs no model weights: it linearises the SDR code values, expands them
with a published inverse tone-mapping operator (:mod:`hdr_mcp.color.inverse_tonemap`) and
writes half-float OpenEXR frames. Later methods (LTX-2 HDR IC-LoRA, Wan-VACE, LumaFlux) will
join :data:`METHODS` when they are implemented.

Units, end to end (defaults in brackets):

1. SDR code values in [0, 1] (8-bit and deeper inputs alike).
2. Relative SDR display light ``E``, BT.709 primaries: the sRGB EOTF (IEC 61966-2-1, the
   piecewise curve, :func:`hdr_mcp.color.decode` ``"srgb"``) or BT.1886 (Rec. ITU-R BT.1886
   Annex 1 with zero black level: ``E = V ** 2.4``) [``transfer="srgb"``]. SDR white = 1.0.
3. HDR display light in cd/m^2: the operator maps SDR white to ``target_peak`` [1000] and puts
   its reference white on ``diffuse_white * nits_per_unit`` cd/m^2 [1.0 * 100]. For
   ``bt2446c`` the Report BT.2446-1 curve is used in units scaled so its 203 cd/m^2 (BT.2408)
   reference white lands there; ``diffuse_white=2.03`` (203 cd/m^2) with
   ``target_peak=1000`` is exactly the Report's operating point.
4. Scene-linear = cd/m^2 / ``nits_per_unit``: reference white lands on ``diffuse_white``,
   SDR white on ``target_peak / nits_per_unit`` [10.0], and metrics or a PQ encode given the
   same ``nits_per_unit`` recover the display luminances. With the defaults SDR 18 % grey
   becomes 0.137 (BT.2408 puts the grey card at 26/203 = 0.128 of reference white; mid-tones
   of SDR sit lower than in a naive linearisation because SDR white is a compressed
   highlight, not diffuse white).
5. Gamut: lin_rec709 -> ``colorspace`` with :func:`hdr_mcp.color.convert_colorspace`.

Parameters are fixed per shot (no per-frame statistics), so a video cannot pump. Frames stream
one at a time: memory does not grow with the frame count. ``start``/``stop`` index the input's
frames in order (0-based, ``stop`` exclusive), and EXR frame numbers are those source
indices. Cancellation (``ctx.should_stop()``) is checked between frames: the frames already
written stay (each EXR is written atomically, so there is never a partial one), the preview MP4
is discarded, and :class:`hdr_mcp.jobs.context.JobCancelled` is raised.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hdr_mcp.errors import InvalidArgument, UnsupportedFile

if TYPE_CHECKING:
    from hdr_mcp.jobs.context import JobContext

__all__ = ["METHODS", "TRANSFERS", "SdrToHdrParams", "check_inputs", "convert", "run"]

#: Implemented conversion methods.
METHODS: tuple[str, ...] = ("classical",)
#: SDR transfer functions used to linearise code values.
TRANSFERS: tuple[str, ...] = ("srgb", "bt1886")
#: Largest display luminance BT.2100 PQ can signal, cd/m^2.
MAX_PEAK_NITS = 10000.0
#: Frame rate of the preview MP4 for image sequences (videos keep their own).
SEQUENCE_FPS = 24.0
#: Longest side of previews, pixels.
PREVIEW_SIZE = 512
EXR_PATTERN = "frame_%05d.exr"
_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
# Transfer characteristics of video that is already HDR or linear (FFmpeg names).
_HDR_TRC = {"smpte2084": "PQ", "arib_std_b67": "HLG", "linear": "linear"}


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """A validated input: what it is, how many frames, their size."""

    kind: Literal["image", "sequence", "video"]
    path: str
    count: int
    width: int
    height: int
    fps: float | None
    files: tuple[Path, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "frames": self.count,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
        }

    def frames(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray, str]]:
        """Yield ``(index, float32 (H, W, 3) code values, source file)``, start <= index < stop."""
        if self.kind == "video":
            from hdr_mcp.io.video import iter_frames

            for index, codes in enumerate(iter_frames(self.path, start, stop), start):
                yield index, codes, self.path
            return
        for index in range(start, stop):
            yield index, self._read_image(self.files[index]), str(self.files[index])

    def _read_image(self, path: Path) -> np.ndarray:
        from hdr_mcp.io import read_image

        try:
            image = read_image(path)
        except InvalidArgument as e:
            raise type(e)("input", str(path), e.reason) from e
        pixels = image.pixels
        if pixels.shape[:2] != (self.height, self.width):
            raise InvalidArgument(
                "input",
                str(path),
                f"frame is {pixels.shape[1]}x{pixels.shape[0]}, the first frame is "
                f"{self.width}x{self.height}; all frames must have one size",
            )
        if pixels.shape[-1] >= 3:
            return pixels[..., :3]  # alpha is not converted (it is not light)
        return np.repeat(pixels[..., :1], 3, axis=-1)


def _image_info(path: Path, shown: str):
    from hdr_mcp.io import read_info

    try:
        info = read_info(path)
    except InvalidArgument as e:
        raise type(e)("input", shown, e.reason) from e
    if info.transfer == "linear":
        raise InvalidArgument(
            "input",
            shown,
            f"{info.file_format.upper()} holds scene-linear HDR already; "
            "sdr_to_hdr expands display-encoded SDR (PNG, JPEG, TIFF, video)",
        )
    return info


def _video_source(path: Path, shown: str) -> _Source:
    from hdr_mcp.io.video import probe

    try:
        meta = probe(path)
    except InvalidArgument as e:
        raise type(e)("input", shown, e.reason) from e
    if meta["color_trc"] in _HDR_TRC:
        raise InvalidArgument(
            "input",
            shown,
            f"video is tagged {_HDR_TRC[meta['color_trc']]} ({meta['color_trc']}): it is not SDR",
        )
    if meta["frames"] == 0:
        raise UnsupportedFile("input", shown, "video has no frames")
    return _Source("video", str(path), meta["frames"], meta["width"], meta["height"], meta["fps"])


def _image_source(files: list[Path], shown: str, kind: Literal["image", "sequence"]) -> _Source:
    # Headers of the first and last frame only: reading every header of a long sequence up
    # front costs a read per frame; any other frame of a different size fails when reached.
    first = _image_info(files[0], shown)
    last = _image_info(files[-1], shown)
    if (last.width, last.height) != (first.width, first.height):
        raise InvalidArgument(
            "input",
            shown,
            f"frames differ in size: {files[0].name} is "
            f"{first.width}x{first.height}, {files[-1].name} is {last.width}x{last.height}",
        )
    fps = None if kind == "image" else SEQUENCE_FPS
    return _Source(kind, shown, len(files), first.width, first.height, fps, tuple(files))


def _open_source(input: Any) -> _Source:
    """Detect what ``input`` is (extension first, then content) and validate it."""
    from hdr_mcp.io.sequence import list_frames
    from hdr_mcp.io.video import VIDEO_SUFFIXES

    if not isinstance(input, (str, os.PathLike)) or str(input) == "":
        raise InvalidArgument("input", input, "expected an image, video, folder or frame pattern")
    shown = str(input)
    path = Path(input).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            return _video_source(path, shown)
        try:
            return _image_source([path], shown, "image")
        except UnsupportedFile as not_image:
            if suffix in _IMAGE_SUFFIXES:
                raise
            try:  # unknown extension and not an image: whatever FFmpeg can decode
                return _video_source(path, shown)
            except UnsupportedFile as e:
                raise UnsupportedFile(
                    "input",
                    shown,
                    f"neither an image ({not_image.reason}) nor a video ({e.reason})",
                ) from e
    try:
        files = list_frames(path)
    except InvalidArgument as e:
        raise InvalidArgument("input", shown, e.reason) from e
    return _image_source(files, shown, "sequence")


# -- parameters --------------------------------------------------------------------------------


def _positive(argument: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise InvalidArgument(argument, value, "must be a positive finite number")
    return float(value)


def _choice(argument: str, value: Any, choices: tuple[str, ...] | Any) -> str:
    if value not in choices:
        raise InvalidArgument(argument, value, f"choose one of: {', '.join(choices)}")
    return value


def _frame_range(start: Any, stop: Any, count: int) -> tuple[int, int]:
    from hdr_mcp.io.sequence import check_frame_range

    check_frame_range(start, stop)
    if start >= count:
        raise InvalidArgument(
            "start", start, f"the input has {count} frame(s) (indices 0..{count - 1})"
        )
    if stop is None:
        return start, count
    if stop > count:
        raise InvalidArgument(
            "stop", stop, f"the input has {count} frame(s); stop must be <= {count}"
        )
    return start, stop


@dataclass(frozen=True)
class _Plan:
    """Everything :func:`convert` needs, validated."""

    source: _Source
    output_dir: Path
    start: int
    stop: int
    colorspace: str
    compression: str
    operator: str
    transfer: str
    target_peak: float
    diffuse_white: float
    nits_per_unit: float
    preview: bool
    fps: float
    operator_params: dict[str, float]

    @property
    def reference_white_nits(self) -> float:
        return self.diffuse_white * self.nits_per_unit

    def parameters(self) -> dict[str, Any]:
        return {
            "method": "classical",
            "operator": self.operator,
            "operator_params": self.operator_params,
            "transfer": self.transfer,
            "target_peak": self.target_peak,
            "diffuse_white": self.diffuse_white,
            "nits_per_unit": self.nits_per_unit,
            "reference_white_nits": self.reference_white_nits,
            "start": self.start,
            "stop": self.stop,
            "colorspace": self.colorspace,
            "compression": self.compression,
        }


def check_inputs(
    input: Any,
    *,
    method: str,
    output_dir: Any,
    start: Any,
    stop: Any,
    colorspace: str,
    compression: str,
    target_peak: Any,
    diffuse_white: Any,
    nits_per_unit: Any,
    transfer: str,
    operator: str,
    preview: Any,
    fps: Any,
) -> _Plan:
    """Validate every argument of :func:`convert` before any work; raise naming the first bad one.

    Reads only headers (image headers of the first and last frame, the video container).
    """
    from hdr_mcp.color import colorspaces
    from hdr_mcp.color.inverse_tonemap import OPERATORS, operator_parameters
    from hdr_mcp.io import COMPRESSIONS
    from hdr_mcp.io.exr import HALF_MAX

    _choice("method", method, METHODS)
    _choice("operator", operator, OPERATORS)
    _choice("transfer", transfer, TRANSFERS)
    _choice("colorspace", colorspace, colorspaces())
    _choice("compression", compression, tuple(COMPRESSIONS))
    diffuse_white = _positive("diffuse_white", diffuse_white)
    nits_per_unit = _positive("nits_per_unit", nits_per_unit)
    target_peak = _positive("target_peak", target_peak)
    white_nits = diffuse_white * nits_per_unit
    if not white_nits < target_peak <= MAX_PEAK_NITS:
        raise InvalidArgument(
            "target_peak",
            target_peak,
            f"must be above the reference white "
            f"diffuse_white * nits_per_unit = {white_nits:g} cd/m^2 and at most {MAX_PEAK_NITS:g}",
        )
    if target_peak / nits_per_unit > HALF_MAX:
        raise InvalidArgument(
            "nits_per_unit",
            nits_per_unit,
            f"target_peak / nits_per_unit = "
            f"{target_peak / nits_per_unit:g} exceeds the half-float maximum {HALF_MAX:g}",
        )
    if not isinstance(preview, bool):
        raise InvalidArgument("preview", preview, "must be true or false")
    if fps is not None:
        fps = _positive("fps", fps)
    if not isinstance(output_dir, (str, os.PathLike)) or str(output_dir) == "":
        raise InvalidArgument("output_dir", output_dir, "expected a folder path")
    out = Path(output_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise InvalidArgument("output_dir", str(output_dir), "exists and is not a folder")
    source = _open_source(input)
    start, stop = _frame_range(start, stop, source.count)
    return _Plan(
        source=source,
        output_dir=out,
        start=start,
        stop=stop,
        colorspace=colorspace,
        compression=compression,
        operator=operator,
        transfer=transfer,
        target_peak=target_peak,
        diffuse_white=diffuse_white,
        nits_per_unit=nits_per_unit,
        preview=preview,
        fps=fps or source.fps or SEQUENCE_FPS,
        operator_params=operator_parameters(
            operator, peak_nits=target_peak, reference_white_nits=white_nits
        ),
    )


# -- conversion --------------------------------------------------------------------------------


def _linearise(codes: np.ndarray, transfer: str) -> np.ndarray:
    """SDR code values -> relative display light (SDR white = 1.0), BT.709 primaries."""
    if transfer == "srgb":
        from hdr_mcp.color import decode

        return decode(codes, "srgb")
    # BT.1886 Annex 1 with black level 0 (L_B = 0): L = V ** 2.4 relative to white.
    return np.power(np.maximum(codes, 0.0), np.float32(2.4))


def _frame_to_scene(codes: np.ndarray, plan: _Plan) -> np.ndarray:
    """One frame of SDR code values -> scene-linear lin_rec709 float32."""
    from hdr_mcp.color.inverse_tonemap import inverse_tonemap

    # 2. linearise: code values -> relative SDR display light
    display = _linearise(codes.astype(np.float32, copy=False), plan.transfer)
    # 3. inverse tone map: SDR display light -> HDR display light in cd/m^2
    nits = inverse_tonemap(
        display,
        plan.operator,
        peak_nits=plan.target_peak,
        reference_white_nits=plan.reference_white_nits,
    )
    # 4. cd/m^2 -> scene-linear units (reference white lands on diffuse_white)
    nits *= np.float32(1.0 / plan.nits_per_unit)
    return nits


class _Previews:
    """The preview MP4 (every frame) and PNG (one frame), both tone-mapped lin_rec709."""

    def __init__(self, plan: _Plan) -> None:
        from hdr_mcp.io.video import VideoWriter

        self.png = plan.output_dir / "preview.png" if plan.preview else None
        self.png_index = plan.start + (plan.stop - plan.start - 1) // 2  # the middle frame
        wants_video = plan.preview and plan.source.kind != "image"
        self.video = VideoWriter(plan.output_dir / "preview.mp4", plan.fps) if wants_video else None
        self.png_written = False

    def add(self, index: int, scene_rec709: np.ndarray) -> None:
        if self.png is None:
            return
        from hdr_mcp.color import preview
        from hdr_mcp.io import write_png

        thumbnail = preview(scene_rec709, max_size=PREVIEW_SIZE)
        if self.video is not None:
            self.video.write(thumbnail)
        if index == self.png_index:
            write_png(self.png, thumbnail)
            self.png_written = True

    def finish(self) -> dict[str, str | None]:
        mp4 = str(self.video.close()) if self.video is not None else None
        return {"preview_png": str(self.png) if self.png_written else None, "preview_mp4": mp4}

    def abort(self) -> None:
        if self.video is not None:
            self.video.abort()


def _cancelled(done: int, total: int, output_dir: Path):
    from hdr_mcp.jobs.context import JobCancelled

    return JobCancelled(
        f"cancelled after {done} of {total} frames; the {done} finished EXR frames "
        f"stay in {output_dir}, the preview MP4 was discarded"
    )


def convert(
    input: str | os.PathLike[str],
    *,
    method: str = "classical",
    output_dir: str | os.PathLike[str],
    start: int = 0,
    stop: int | None = None,
    colorspace: str = "lin_rec709",
    compression: str = "zip",
    target_peak: float = 1000.0,
    diffuse_white: float = 1.0,
    nits_per_unit: float = 100.0,
    transfer: str = "srgb",
    operator: str = "bt2446c",
    preview: bool = True,
    fps: float | None = None,
    ctx: JobContext | None = None,
) -> dict[str, Any]:
    """Convert SDR footage to scene-linear half-float EXR frames plus tone-mapped previews.

    Parameters
    ----------
    input
        One SDR image (PNG/JPEG/TIFF, 8 or 16 bit), a folder / printf (``f_%04d.png``) / hash /
        glob pattern of such frames (see :func:`hdr_mcp.io.sequence.list_frames`), or a video
        file (anything FFmpeg decodes; 8-16 bit). BT.709 primaries are assumed; alpha is dropped.
    method
        ``"classical"`` (inverse tone mapping, no weights).
    output_dir
        Folder for ``frame_%05d.exr``, ``preview.mp4`` and ``preview.png``; created if missing.
        Existing files of those names are replaced.
    start, stop
        Frame range, 0-based, ``stop`` exclusive (``None``: to the end).
    colorspace
        Scene-linear colour space of the EXRs (:func:`hdr_mcp.color.colorspaces`).
    compression
        EXR compression (:data:`hdr_mcp.io.COMPRESSIONS`).
    target_peak
        HDR luminance of SDR white in cd/m^2, above ``diffuse_white * nits_per_unit`` and at most
        10000.
    diffuse_white
        Scene-linear value of the operator's reference (diffuse) white.
    nits_per_unit
        cd/m^2 per scene-linear unit (1.0 = 100 cd/m^2 by default, like the metrics and PQ).
    transfer
        SDR EOTF: ``"srgb"`` (IEC 61966-2-1) or ``"bt1886"`` (gamma 2.4).
    operator
        ``"bt2446c"`` (Report ITU-R BT.2446-1 Method C) or ``"power"``
        (:mod:`hdr_mcp.color.inverse_tonemap`).
    preview
        Write ``preview.png`` (middle frame) and, for sequences and videos, ``preview.mp4``.
    fps
        Preview frame rate; default: the video's, 24 for sequences.
    ctx
        Job context for progress and cancellation (``None``: neither).

    Returns
    -------
    JSON-safe dict: ``frames`` (written), ``output_dir``, ``exr_paths`` (the first and the last
    EXR written; one path for one frame), ``exr_pattern`` (``output_dir/frame_%05d.exr``,
    numbered by source frame index), ``exr_count``, ``preview_png``, ``preview_mp4`` (paths or
    None), ``colorspace``, ``peak`` (largest value written), ``nits_per_unit``, ``input`` (what
    was read),
    ``parameters`` (everything that decided the result, also stored in each EXR header).

    Raises
    ------
    InvalidArgument, UnsupportedFile
        Naming the argument, before any file is written (a frame of a sequence whose size
        differs from the first is only found when reached).
    hdr_mcp.jobs.context.JobCancelled
        ``ctx.should_stop()`` became true; finished frames stay.
    """
    from hdr_mcp.color import convert_colorspace
    from hdr_mcp.io import ExrSequenceWriter

    # 1. validate everything before any work
    plan = check_inputs(
        input,
        method=method,
        output_dir=output_dir,
        start=start,
        stop=stop,
        colorspace=colorspace,
        compression=compression,
        target_peak=target_peak,
        diffuse_white=diffuse_white,
        nits_per_unit=nits_per_unit,
        transfer=transfer,
        operator=operator,
        preview=preview,
        fps=fps,
    )
    parameters = plan.parameters()
    total = plan.stop - plan.start
    if ctx is not None:
        ctx.log(
            f"sdr_to_hdr: {plan.source.kind} {plan.source.path}, "
            f"frames {plan.start}..{plan.stop - 1}, {json.dumps(parameters)}"
        )
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    # write_exr adds hdr_mcp/version (the tool version) itself.
    metadata = {
        "hdr_mcp/method": "classical",
        "hdr_mcp/operator": plan.operator,
        "hdr_mcp/parameters": json.dumps(parameters),
        "hdr_mcp/nits_per_unit": plan.nits_per_unit,
        "hdr_mcp/source": plan.source.path,
    }
    exr = ExrSequenceWriter(
        plan.output_dir,
        EXR_PATTERN,
        colorspace=plan.colorspace,
        compression=plan.compression,
        metadata=metadata,
    )
    previews = _Previews(plan)
    peak = -math.inf
    done = 0
    frames = plan.source.frames(plan.start, plan.stop)
    try:
        for index, codes, source_file in frames:
            if ctx is not None and ctx.should_stop():
                raise _cancelled(done, total, plan.output_dir)
            # 2.-4. linearise, expand, scale to scene-linear (lin_rec709)
            scene = _frame_to_scene(codes, plan)
            # 7. previews are tone-mapped from lin_rec709, before any gamut change
            previews.add(index, scene)
            # 5. output colour space
            if plan.colorspace != "lin_rec709":
                scene = convert_colorspace(scene, "lin_rec709", plan.colorspace)
            # 6. EXR frame, numbered by its source index
            frame_metadata: dict[str, Any] = {"hdr_mcp/source_frame": index}
            if source_file != plan.source.path:  # a file of a sequence
                frame_metadata["hdr_mcp/source_file"] = source_file
            exr.write(scene, index=index, metadata=frame_metadata)
            peak = max(peak, float(np.max(scene)))
            done += 1
            if ctx is not None:
                ctx.progress(done, total, f"frame {index}")
        if done == 0:
            raise UnsupportedFile(
                "input", plan.source.path, f"no frame could be decoded from index {plan.start}"
            )
        written_previews = previews.finish()
    except BaseException:
        previews.abort()
        raise
    finally:
        frames.close()  # releases the video file now, not at garbage collection
        exr.close()
    paths = exr.paths
    return {
        "frames": done,
        "output_dir": str(plan.output_dir),
        # First and last only (a server links these); the rest follow exr_pattern.
        "exr_paths": [str(p) for p in dict.fromkeys((paths[0], paths[-1]))],
        "exr_pattern": str(plan.output_dir / EXR_PATTERN),
        "exr_count": len(paths),
        **written_previews,
        "colorspace": plan.colorspace,
        "peak": peak,
        "nits_per_unit": plan.nits_per_unit,
        "input": plan.source.describe(),
        "parameters": parameters,
    }


# -- job handler -------------------------------------------------------------------------------


class SdrToHdrParams(BaseModel):
    """Parameters of the ``sdr_to_hdr_video`` job (see :func:`convert` for the units)."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="SDR image, folder/pattern of frames, or video file.")
    method: Literal["classical"] = Field(
        "classical", description="Conversion method; 'classical' needs no weights."
    )
    output_dir: str | None = Field(
        None, description="Output folder; default: the job's working directory."
    )
    start: int = Field(0, ge=0, description="First frame index (0-based).")
    stop: int | None = Field(
        None, ge=1, description="Stop before this frame index; None: to the end."
    )
    colorspace: str = Field(
        "lin_rec709", description="Scene-linear colour space of the EXR frames."
    )
    compression: str = Field("zip", description="EXR compression.")
    target_peak: float = Field(
        1000.0, gt=0, le=MAX_PEAK_NITS, description="HDR luminance of SDR white, cd/m^2."
    )
    diffuse_white: float = Field(
        1.0, gt=0, description="Scene-linear value of reference (diffuse) white."
    )
    nits_per_unit: float = Field(100.0, gt=0, description="cd/m^2 per scene-linear unit.")
    transfer: Literal["srgb", "bt1886"] = Field(
        "srgb", description="SDR EOTF used to linearise code values."
    )
    operator: Literal["bt2446c", "power"] = Field(
        "bt2446c", description="Inverse tone-mapping operator."
    )
    preview: bool = Field(True, description="Write preview.png and preview.mp4.")
    fps: float | None = Field(
        None, gt=0, description="Preview MP4 frame rate; default: the source's, 24 for frames."
    )


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Job handler for ``sdr_to_hdr_video``: validate ``params`` and call :func:`convert`."""
    try:
        parsed = SdrToHdrParams.model_validate(params)
    except ValidationError as e:
        raise InvalidArgument.from_validation_error(e) from e
    values = parsed.model_dump()
    values["output_dir"] = values["output_dir"] or ctx.workdir
    return convert(values.pop("input"), ctx=ctx, **values)
