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
3. HDR display light in cd/m^2: the operator maps SDR white to ``target_peak_nits`` [1000] and puts
   its reference white on ``diffuse_white * nits_per_unit`` cd/m^2 [1.0 * 100]. For
   ``bt2446c`` the Report BT.2446-1 curve is used in units scaled so its 203 cd/m^2 (BT.2408)
   reference white lands there; ``diffuse_white=2.03`` (203 cd/m^2) with
   ``target_peak_nits=1000`` is exactly the Report's operating point.
4. Scene-linear = cd/m^2 / ``nits_per_unit``: reference white lands on ``diffuse_white``,
   SDR white on ``target_peak_nits / nits_per_unit`` [10.0], and metrics or a PQ encode given the
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.params import parse
from hdr_mcp.params.sdr_to_hdr import MAX_PEAK_NITS, SdrToHdrParams
from hdr_mcp.vocabulary import SDR_TO_HDR_METHODS, SDR_TRANSFERS

if TYPE_CHECKING:
    from hdr_mcp.jobs.context import JobContext

__all__ = ["METHODS", "OWNED_FILES", "TRANSFERS", "check_inputs", "convert", "run"]

#: Implemented conversion methods.
METHODS: tuple[str, ...] = SDR_TO_HDR_METHODS
#: SDR transfer functions used to linearise code values.
TRANSFERS: tuple[str, ...] = SDR_TRANSFERS
#: Frame rate of the preview MP4 for image sequences (videos keep their own).
SEQUENCE_FPS = 24.0
#: Longest side of previews, pixels.
PREVIEW_SIZE = 512
EXR_PATTERN = "frame_%05d.exr"
#: Files this method writes in its output folder (``overwrite`` removes exactly these).
OWNED_FILES = ("frame_*.exr", "preview.png", "preview.mp4")
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

    def frames(
        self, start: int, stop: int, skip: Callable[[int], np.ndarray | None] = lambda i: None
    ) -> Iterator[tuple[int, np.ndarray | None, str, np.ndarray | None]]:
        """Yield ``(index, float32 (H, W, 3) code values, source file, done)`` for
        start <= index < stop. ``skip(index)`` returns a finished frame's stored pixels (then the
        source frame is not read: ``codes`` is None) or None."""
        if self.kind == "video":
            from hdr_mcp.io.video import iter_frames

            # A video decodes in order either way; finished frames are decoded and dropped.
            for index, codes in enumerate(iter_frames(self.path, start, stop), start):
                done = skip(index)
                yield index, (codes if done is None else None), self.path, done
            return
        for index in range(start, stop):
            done = skip(index)
            codes = self._read_image(self.files[index]) if done is None else None
            yield index, codes, str(self.files[index]), done

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


def _frame_range(start: int, stop: int | None, count: int) -> tuple[int, int]:
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

    params: SdrToHdrParams
    source: _Source
    output_dir: Path
    start: int
    stop: int
    fps: float
    operator_params: dict[str, float]

    @property
    def reference_white_nits(self) -> float:
        return self.params.diffuse_white * self.params.nits_per_unit

    def parameters(self) -> dict[str, Any]:
        p = self.params
        return {
            "method": p.method,
            "operator": p.operator,
            "operator_params": self.operator_params,
            "transfer": p.transfer,
            "target_peak_nits": p.target_peak_nits,
            "diffuse_white": p.diffuse_white,
            "nits_per_unit": p.nits_per_unit,
            "reference_white_nits": self.reference_white_nits,
            "start": self.start,
            "stop": self.stop,
            "colorspace": p.colorspace,
            "compression": p.compression,
        }


def check_inputs(params: SdrToHdrParams) -> _Plan:
    """Validate what the parameter model cannot check alone, before any work: the relation of
    the luminance parameters, the output folder, and the input (headers only: the first and last
    frame of a sequence, the video container). Raises naming the first bad argument."""
    from hdr_mcp.color.inverse_tonemap import operator_parameters
    from hdr_mcp.io.exr import HALF_MAX

    p = params
    white_nits = p.diffuse_white * p.nits_per_unit
    if not white_nits < p.target_peak_nits <= MAX_PEAK_NITS:
        raise InvalidArgument(
            "target_peak_nits",
            p.target_peak_nits,
            f"must be above the reference white diffuse_white * nits_per_unit = "
            f"{white_nits:g} cd/m^2 and at most {MAX_PEAK_NITS:g}",
        )
    if p.target_peak_nits / p.nits_per_unit > HALF_MAX:
        raise InvalidArgument(
            "nits_per_unit",
            p.nits_per_unit,
            f"target_peak_nits / nits_per_unit = {p.target_peak_nits / p.nits_per_unit:g} "
            f"exceeds the half-float maximum {HALF_MAX:g}",
        )
    if p.output_dir is None:
        raise InvalidArgument("output_dir", None, "required: the folder for the EXR frames")
    out = Path(p.output_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise InvalidArgument("output_dir", p.output_dir, "exists and is not a folder")
    source = _open_source(p.input)
    start, stop = _frame_range(p.start, p.stop, source.count)
    return _Plan(
        params=p,
        source=source,
        output_dir=out,
        start=start,
        stop=stop,
        fps=p.fps or source.fps or SEQUENCE_FPS,
        operator_params=operator_parameters(
            p.operator, peak_nits=p.target_peak_nits, reference_white_nits=white_nits
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
    """One frame of SDR code values -> scene-linear float16 in the output colour space."""
    from hdr_mcp.color import convert_colorspace
    from hdr_mcp.color.inverse_tonemap import inverse_tonemap

    p = plan.params
    # 2. linearise: code values -> relative SDR display light
    display = _linearise(codes.astype(np.float32, copy=False), p.transfer)
    # 3. inverse tone map: SDR display light -> HDR display light in cd/m^2
    nits = inverse_tonemap(
        display,
        p.operator,
        peak_nits=p.target_peak_nits,
        reference_white_nits=plan.reference_white_nits,
    )
    # 4. cd/m^2 -> scene-linear units (reference white lands on diffuse_white)
    nits *= np.float32(1.0 / p.nits_per_unit)
    # 5. output colour space
    if p.colorspace != "lin_rec709":
        nits = convert_colorspace(nits, "lin_rec709", p.colorspace)
    # 6. what the EXR stores: half floats (peak and previews are read off these, so a resumed
    #    run, which reads finished frames back, reports exactly what a fresh one does)
    return nits.astype(np.float16)


class _Previews:
    """The preview MP4 (every frame) and PNG (the middle frame), tone-mapped from the stored
    half-float frames viewed in lin_rec709."""

    def __init__(self, plan: _Plan) -> None:
        from hdr_mcp.io.video import VideoWriter

        p = plan.params
        self.colorspace = p.colorspace
        self.png = plan.output_dir / "preview.png" if p.preview else None
        self.png_index = plan.start + (plan.stop - plan.start - 1) // 2
        wants_video = p.preview and plan.source.kind != "image"
        self.video = VideoWriter(plan.output_dir / "preview.mp4", plan.fps) if wants_video else None
        self.png_written = False

    def add(self, index: int, stored: np.ndarray) -> None:
        if self.png is None:
            return
        from hdr_mcp.color import convert_colorspace, preview
        from hdr_mcp.color.tonemap import downscale_area
        from hdr_mcp.io import write_png

        small = downscale_area(stored.astype(np.float32), PREVIEW_SIZE)
        if self.colorspace != "lin_rec709":
            small = convert_colorspace(small, self.colorspace, "lin_rec709")
        thumbnail = preview(small, max_size=PREVIEW_SIZE)
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


def _finished_frame(path: Path) -> np.ndarray | None:
    """The pixels of a frame an earlier attempt finished (EXRs are written atomically, so a file
    that exists and reads is complete), else None."""
    from hdr_mcp.io import read_exr

    if not path.is_file():
        return None
    try:
        return read_exr(path).pixels[..., :3]
    except (InvalidArgument, OSError):
        return None


def convert(
    input: str | os.PathLike[str],
    *,
    output_dir: str | os.PathLike[str],
    ctx: JobContext | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Convert SDR footage to scene-linear half-float EXR frames plus tone-mapped previews.

    Parameters
    ----------
    input
        One SDR image (PNG/JPEG/TIFF, 8 or 16 bit), a folder / printf (``f_%04d.png``) / hash /
        glob pattern of such frames (see :func:`hdr_mcp.io.sequence.list_frames`), or a video
        file (anything FFmpeg decodes; 8-16 bit). BT.709 primaries are assumed; alpha is dropped.
    output_dir
        Folder for ``frame_%05d.exr``, ``preview.mp4`` and ``preview.png``; created if missing.
        One that already holds files is refused unless ``overwrite=True`` (which removes the
        files this method writes, :data:`OWNED_FILES`, first).
    ctx
        Job context for progress, cancellation and resumption (``None``: none of them). A job
        retried after its worker died finds its claim on ``output_dir`` in ``ctx.workdir`` and
        keeps every frame the earlier attempt finished; the result is identical to an
        uninterrupted run.
    **options
        The other fields of :class:`hdr_mcp.params.sdr_to_hdr.SdrToHdrParams` (method, start,
        stop, colorspace, compression, target_peak_nits, diffuse_white, nits_per_unit,
        transfer, operator, preview, fps, overwrite), validated by that model.

    Returns
    -------
    JSON-safe dict: ``frames`` (converted), ``resumed_frames`` (kept from an earlier attempt),
    ``output_dir``, ``exr_paths`` (the first and the last EXR; one path for one frame),
    ``exr_pattern`` (``output_dir/frame_%05d.exr``, numbered by source frame index),
    ``exr_count``, ``preview_png``, ``preview_mp4`` (paths or None), ``colorspace``,
    ``peak_scene`` (largest value written), ``peak_nits`` (``peak_scene * nits_per_unit``),
    ``nits_per_unit``, ``input`` (what was read), ``parameters`` (everything that decided the
    result, also stored in each EXR header).

    Raises
    ------
    InvalidArgument, UnsupportedFile
        Naming the argument, before any file is written (a frame of a sequence whose size
        differs from the first is only found when reached).
    hdr_mcp.jobs.context.JobCancelled
        ``ctx.should_stop()`` became true; finished frames stay.
    """
    from hdr_mcp.outputs import claim_output_dir, created_folder

    # 1. validate everything before any work
    params = parse(SdrToHdrParams, {"input": str(input), "output_dir": str(output_dir), **options})
    plan = check_inputs(params)
    if ctx is not None:  # again where the files are opened: the roots the job came with
        for path in plan.source.files or (Path(plan.source.path),):
            ctx.check_path("input", path)
        ctx.check_path("output_dir", plan.output_dir)
    resuming = claim_output_dir(
        "output_dir", plan.output_dir, overwrite=params.overwrite, owned=OWNED_FILES,
        workdir=ctx.workdir if ctx is not None else None,
    )
    if ctx is not None:
        ctx.log(
            f"sdr_to_hdr: {plan.source.kind} {plan.source.path}, frames {plan.start}.."
            f"{plan.stop - 1}{' (resuming)' if resuming else ''}, {json.dumps(plan.parameters())}"
        )
    with created_folder(plan.output_dir):
        return _convert_frames(plan, ctx, resuming)


def _convert_frames(plan: _Plan, ctx: JobContext | None, resuming: bool) -> dict[str, Any]:
    from hdr_mcp.io import ExrSequenceWriter

    p = plan.params
    parameters = plan.parameters()
    total = plan.stop - plan.start
    # write_exr adds hdr_mcp/version (the tool version) itself.
    metadata = {
        "hdr_mcp/method": p.method,
        "hdr_mcp/operator": p.operator,
        "hdr_mcp/parameters": json.dumps(parameters),
        "hdr_mcp/nits_per_unit": p.nits_per_unit,
        "hdr_mcp/source": plan.source.path,
    }
    exr = ExrSequenceWriter(
        plan.output_dir, EXR_PATTERN, colorspace=p.colorspace, compression=p.compression,
        metadata=metadata,
    )
    previews = _Previews(plan)
    peak = -math.inf
    done = kept = 0
    paths: list[Path] = []

    def finished(index: int) -> np.ndarray | None:
        return _finished_frame(exr.path_for(index)) if resuming else None

    frames = plan.source.frames(plan.start, plan.stop, skip=finished)
    try:
        for index, codes, source_file, stored in frames:
            if ctx is not None and ctx.should_stop():
                raise _cancelled(done, total, plan.output_dir)
            if stored is None:
                # 2.-6. linearise, expand, scale to scene-linear, output colour space
                stored = _frame_to_scene(codes, plan)
                # 7. EXR frame, numbered by its source index
                frame_metadata: dict[str, Any] = {"hdr_mcp/source_frame": index}
                if source_file != plan.source.path:  # a file of a sequence
                    frame_metadata["hdr_mcp/source_file"] = source_file
                exr.write(stored, index=index, metadata=frame_metadata)
            else:
                kept += 1
            paths.append(exr.path_for(index))
            previews.add(index, stored)
            peak = max(peak, float(np.max(stored)))
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
    return {
        "frames": done,
        "resumed_frames": kept,
        "output_dir": str(plan.output_dir),
        # First and last only (a server links these); the rest follow exr_pattern.
        "exr_paths": [str(path) for path in dict.fromkeys((paths[0], paths[-1]))],
        "exr_pattern": str(plan.output_dir / EXR_PATTERN),
        "exr_count": len(paths),
        **written_previews,
        "colorspace": p.colorspace,
        "peak_scene": peak,
        "peak_nits": peak * p.nits_per_unit,
        "nits_per_unit": p.nits_per_unit,
        "input": plan.source.describe(),
        "parameters": parameters,
    }


# -- job handler -------------------------------------------------------------------------------


def run(params: SdrToHdrParams | dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Job handler for ``sdr_to_hdr_video``: validate ``params`` and call :func:`convert`.

    The caller (MCP server, CLI) has chosen ``output_dir``; without one the job writes into its
    working directory.
    """
    values = parse(SdrToHdrParams, params).model_dump()
    values["output_dir"] = values["output_dir"] or ctx.workdir
    return convert(values.pop("input"), ctx=ctx, **values)
