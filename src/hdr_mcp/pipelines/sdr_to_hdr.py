"""SDR -> scene-linear HDR conversion of images, frame sequences and videos.

Job kind ``sdr_to_hdr_video`` (handler :func:`run`); the plain function is :func:`convert`.

Method ``"classical"`` needs no model weights: it linearises the SDR code values, expands them
with an inverse tone-mapping operator (:mod:`hdr_mcp.color.inverse_tonemap`) and writes
half-float OpenEXR frames. Methods ``"ltx2-hdr"`` (LTX-2 HDR IC-LoRA) and ``"wan-vace"``
(Wan VACE + a log-gamma HDR LoRA) run a video diffusion model instead:
:mod:`hdr_mcp.pipelines.video.diffusion`, which :func:`convert` hands them to.

Units, end to end (defaults in brackets):

1. SDR code values in [0, 1] (8-bit and deeper inputs alike; grey and palette images become
   RGB, alpha is dropped).
2. Relative SDR display light ``E`` (SDR white = 1.0) in the SDR's primaries: the sRGB EOTF
   (IEC 61966-2-1) or BT.1886 (Rec. ITU-R BT.1886 Annex 1, zero black level: ``E = V ** 2.4``).
   ``transfer`` and ``primaries`` ["auto"] come from a video's tags (``color_trc``,
   ``color_primaries``: BT.709 broadcast video is BT.1886, BT.2020 SDR is converted from
   lin_rec2020); image files and untagged video are sRGB / BT.709
   (:mod:`hdr_mcp.io.sdr_source`). The result reports ``transfer_used`` and
   ``primaries_used`` with the reason.
3. HDR display light in cd/m^2, reference white on ``diffuse_white * nits_per_unit``
   [1.0 * 100 cd/m^2]:

   * ``auto`` [default]: the shot is measured once (:func:`~hdr_mcp.color.inverse_tonemap.
     analyse_shot` on up to :data:`ANALYSIS_FRAMES` evenly spaced frames of the whole input,
     whatever ``start``/``stop`` select, so the chunks of a shot converted separately match)
     and every frame is expanded with that one analysis
     (:func:`~hdr_mcp.color.inverse_tonemap.expand`): mid-tones linear (``E`` -> ``E`` x
     reference white, so SDR 18 % grey becomes scene 0.18 with the defaults), only what was
     compressed or clipped is expanded, at most to ``target_peak_nits`` and to 1000/203 x
     reference white (Report ITU-R BT.2408's ratio). The analysis is part of the result and of
     each EXR's ``hdr_mcp/parameters``; a job keeps it in its working directory, so a retried
     job expands its remaining frames with the analysis its first attempt made.
   * ``bt2446c``: Report ITU-R BT.2446-1 Method C's inverse curve, in units scaled so its
     203 cd/m^2 (BT.2408) reference white lands on the reference white here, and SDR white on
     ``target_peak_nits``. With ``diffuse_white=2.03`` and ``target_peak_nits=1000`` the
     curve is the Report's, unscaled, but the SDR is **not** read at the Report's operating
     point: the Report shows SDR on a 100 cd/m^2 display, where its forward curve sends
     1000 cd/m^2 to 118.38 cd/m^2 (a super-white an SDR file clips); here SDR 1.0 stands for
     those 118.38 cd/m^2, so that SDR white expands to the peak (every SDR level is read 1.18x
     brighter than on the Report's display; see
     :func:`hdr_mcp.color.inverse_tonemap.operator_parameters`, ``sdr_white_curve_nits``).
   * ``power``: ``Y = target_peak_nits * Y_E ** gamma``, gamma putting SDR 18 % grey on
     BT.2408's grey card (26/203 of reference white).
4. Scene-linear = cd/m^2 / ``nits_per_unit``: reference white lands on ``diffuse_white``, and
   metrics or a PQ encode given the same ``nits_per_unit`` recover the display luminances.
5. Gamut: the SDR's primaries -> ``colorspace`` (:func:`hdr_mcp.color.convert_colorspace`).

Frames stream: decoding, the maths and the EXR writes overlap (a reader thread and a writer
thread, each with a queue of :data:`QUEUE_FRAMES` frames; OpenEXR and numpy release the GIL
while they work), so memory does not grow with the frame count. ``start``/``stop`` index the
input's frames in order (0-based, ``stop`` exclusive; a ``stop`` beyond the input is refused,
naming the frame count), and EXR frame numbers are those source indices. Cancellation
(``ctx.should_stop()``) is checked between frames: the frames already handed to the writer
are finished (each EXR is written atomically, so there is never a partial one), the preview
MP4 is discarded, and :class:`hdr_mcp.jobs.context.JobCancelled` is raised.
"""

from __future__ import annotations

import json
import math
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.params import parse
from hdr_mcp.params.sdr_to_hdr import MAX_PEAK_NITS, SdrToHdrParams
from hdr_mcp.vocabulary import AUTO, DIFFUSION_METHODS, SDR_TO_HDR_METHODS, SDR_TRANSFERS

if TYPE_CHECKING:
    from hdr_mcp.color.inverse_tonemap import ShotAnalysis
    from hdr_mcp.io.sdr_source import SdrSource
    from hdr_mcp.jobs.context import JobContext

__all__ = [
    "ANALYSIS_FRAMES",
    "METHODS",
    "OWNED_FILES",
    "QUEUE_FRAMES",
    "TRANSFERS",
    "check_inputs",
    "convert",
    "frame_to_scene",
    "run",
]

#: Implemented conversion methods.
METHODS: tuple[str, ...] = SDR_TO_HDR_METHODS
#: SDR transfer functions used to linearise code values (``transfer`` also takes ``"auto"``).
TRANSFERS: tuple[str, ...] = SDR_TRANSFERS
#: Frame rate of the preview MP4 for image sequences (videos keep their own).
SEQUENCE_FPS = 24.0
#: Longest side of previews, pixels.
PREVIEW_SIZE = 512
EXR_PATTERN = "frame_%05d.exr"
#: Files this method writes in its output folder (``overwrite`` removes exactly these).
OWNED_FILES = ("frame_*.exr", "preview.png", "preview.mp4")
#: Frames the ``auto`` operator's shot analysis looks at (evenly spaced over the range).
ANALYSIS_FRAMES = 16
#: Where a job keeps its shot analysis (in ``ctx.workdir``), so a retry uses the same one.
ANALYSIS_FILE = "shot_analysis.json"
#: Frames queued between the reader, the maths and the writer (0: all on one thread, in turn).
QUEUE_FRAMES = 2


# -- parameters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Everything :func:`convert` needs, validated."""

    params: SdrToHdrParams
    source: SdrSource
    output_dir: Path
    start: int
    stop: int
    fps: float
    transfer: str
    transfer_reason: str
    primaries: str
    primaries_reason: str
    operator_params: dict[str, float]

    @property
    def reference_white_nits(self) -> float:
        return self.params.diffuse_white * self.params.nits_per_unit

    def parameters(self, analysis: ShotAnalysis | None = None) -> dict[str, Any]:
        """Everything that decided the result (the job result's ``parameters`` and each EXR's
        ``hdr_mcp/parameters``)."""
        p = self.params
        out: dict[str, Any] = {
            "method": p.method,
            "operator": p.operator,
            "operator_params": self.operator_params,
            "transfer": p.transfer,
            "transfer_used": self.transfer,
            "primaries": p.primaries,
            "primaries_used": self.primaries,
            "target_peak_nits": p.target_peak_nits,
            "diffuse_white": p.diffuse_white,
            "nits_per_unit": p.nits_per_unit,
            "reference_white_nits": self.reference_white_nits,
            "start": self.start,
            "stop": self.stop,
            "colorspace": p.colorspace,
            "compression": p.compression,
        }
        if analysis is not None:
            out["shot_analysis"] = _analysis_record(analysis, self)
        return out

    def analysis_key(self) -> dict[str, Any]:
        """What a stored shot analysis must match to be reused."""
        return {
            "input": self.source.path,
            "frames": self.source.count,
            "transfer_used": self.transfer,
            "primaries_used": self.primaries,
        }


def check_inputs(params: SdrToHdrParams) -> _Plan:
    """Validate what the parameter model cannot check alone, before any work: the relation of
    the luminance parameters, the output folder, and the input (headers only: the first and last
    frame of a sequence, the video container). Raises naming the first bad argument."""
    from hdr_mcp.color.inverse_tonemap import operator_parameters
    from hdr_mcp.io.exr import HALF_MAX
    from hdr_mcp.io.sdr_source import open_sdr
    from hdr_mcp.io.sequence import frame_range

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
    source = open_sdr(p.input, "input", sequence_fps=SEQUENCE_FPS)
    start, stop = frame_range(p.start, p.stop, source.count)
    transfer, transfer_reason = source.transfer(p.transfer)
    primaries, primaries_reason = source.primaries(p.primaries)
    return _Plan(
        params=p,
        source=source,
        output_dir=out,
        start=start,
        stop=stop,
        fps=p.fps or source.fps or SEQUENCE_FPS,
        transfer=transfer,
        transfer_reason=transfer_reason,
        primaries=primaries,
        primaries_reason=primaries_reason,
        operator_params=operator_parameters(
            p.operator, peak_nits=p.target_peak_nits, reference_white_nits=white_nits
        ),
    )


# -- the shot analysis (operator "auto") -------------------------------------------------------


def _analysis_record(analysis: ShotAnalysis, plan: _Plan) -> dict[str, Any]:
    """The analysis as reported: its measurements and what they mean in cd/m^2."""
    p = plan.params
    return {
        **analysis.to_dict(),
        **analysis.levels(p.target_peak_nits, plan.reference_white_nits),
    }


def _sample_indices(start: int, stop: int, count: int = ANALYSIS_FRAMES) -> list[int]:
    """Up to ``count`` evenly spaced frame indices in [start, stop), first and last included."""
    n = stop - start
    if n <= count:
        return list(range(start, stop))
    return sorted({start + round(k * (n - 1) / (count - 1)) for k in range(count)})


def _analyse(plan: _Plan) -> ShotAnalysis:
    """Measure the whole input (not only the converted range: chunks of a shot must match).
    A video is decoded up to its last frame for this, converting only the sampled frames."""
    from hdr_mcp.color.inverse_tonemap import analyse_shot
    from hdr_mcp.io.sdr_source import display_light

    samples = plan.source.sample(_sample_indices(0, plan.source.count))
    try:
        return analyse_shot(display_light(codes, plan.transfer) for _, codes in samples)
    finally:
        samples.close()


def _shot_analysis(plan: _Plan, workdir: Path | None) -> tuple[ShotAnalysis | None, bool]:
    """``(analysis, stored)``: the shot's analysis for ``auto`` (None for the other operators),
    the one an earlier attempt of this job stored in its working directory (``stored`` True),
    else a new one."""
    if plan.params.operator != AUTO:
        return None, False
    from hdr_mcp.color.inverse_tonemap import ShotAnalysis

    stored = Path(workdir) / ANALYSIS_FILE if workdir is not None else None
    if stored is not None and stored.is_file():
        try:
            record = json.loads(stored.read_text(encoding="utf-8"))
            if record.get("key") == plan.analysis_key():
                return ShotAnalysis(**record["analysis"]), True
        except (OSError, ValueError, TypeError, KeyError):
            pass  # unreadable: measure again (only a first attempt can get here in practice)
    return _analyse(plan), False


def _store_analysis(plan: _Plan, analysis: ShotAnalysis, workdir: Path) -> None:
    from hdr_mcp.io.atomic import atomic_path

    with atomic_path(Path(workdir) / ANALYSIS_FILE) as tmp:
        tmp.write_text(
            json.dumps({"key": plan.analysis_key(), "analysis": analysis.to_dict()}),
            encoding="utf-8",
        )


# -- conversion --------------------------------------------------------------------------------


def frame_to_scene(
    codes: np.ndarray, plan: _Plan, analysis: ShotAnalysis | None = None
) -> np.ndarray:
    """One frame of SDR code values -> scene-linear float16 in the output colour space
    (steps 2-5 of the module docstring). ``analysis`` is required for ``auto``."""
    from hdr_mcp.color import convert_colorspace
    from hdr_mcp.color.inverse_tonemap import expand, inverse_tonemap
    from hdr_mcp.io.sdr_source import display_light

    p = plan.params
    # 2. linearise: code values -> relative SDR display light in the SDR's primaries
    display = display_light(codes, plan.transfer)
    # 3. inverse tone map: SDR display light -> HDR display light in cd/m^2
    if p.operator == AUTO:
        if analysis is None:
            raise InvalidArgument("analysis", None, "operator 'auto' needs the shot analysis")
        nits = expand(
            display, analysis, peak_nits=p.target_peak_nits,
            reference_white_nits=plan.reference_white_nits,
        )
    else:
        nits = inverse_tonemap(
            display, p.operator, peak_nits=p.target_peak_nits,
            reference_white_nits=plan.reference_white_nits, colorspace=plan.primaries,
        )
    # 4. cd/m^2 -> scene-linear units (reference white lands on diffuse_white)
    nits *= np.float32(1.0 / p.nits_per_unit)
    # 5. output colour space
    if p.colorspace != plan.primaries:
        nits = convert_colorspace(nits, plan.primaries, p.colorspace)
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


_END = object()


class _Prefetch:
    """Runs a frame generator on a thread, ``depth`` frames ahead (decode overlaps the maths).

    The generator is created, iterated and closed on that thread; its exceptions are re-raised
    where the frames are consumed. :meth:`close` stops it early and waits for it.
    """

    def __init__(self, make: Any, depth: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(make,), name="sdr-reader",
                                        daemon=True)
        self._thread.start()

    def _run(self, make: Any) -> None:
        try:
            frames = make()
            try:
                for item in frames:
                    if self._stop.is_set():
                        break
                    self._queue.put(("frame", item))
            finally:
                frames.close()
            self._queue.put(("end", None))
        except BaseException as e:  # noqa: BLE001 (handed to the consumer, which raises it)
            self._queue.put(("error", e))

    def __iter__(self) -> Iterator[Any]:
        while True:
            kind, item = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)  # unblock a put waiting for room
            except queue.Empty:
                pass
        self._thread.join()


class _Writer:
    """Writes EXR frames on one background thread, at most ``depth`` frames queued (memory
    stays flat), or in the calling thread when ``depth`` is 0. :meth:`finish` waits for every
    queued frame (each written atomically) and re-raises the first write error."""

    def __init__(self, exr: Any, depth: int) -> None:
        self._exr = exr
        self._error: BaseException | None = None
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        if depth > 0:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, name="exr-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is None:  # after a failure, drain without writing
                try:
                    self._exr.write(item[0], index=item[1], metadata=item[2])
                except BaseException as e:  # noqa: BLE001 (re-raised by submit/finish)
                    self._error = e

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, pixels: np.ndarray, index: int, metadata: dict[str, Any]) -> None:
        if self._queue is None:
            self._exr.write(pixels, index=index, metadata=metadata)
            return
        self._raise_if_failed()
        self._queue.put((pixels, index, metadata))  # blocks while the queue is full

    def _join(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()

    def finish(self) -> None:
        self._join()
        self._raise_if_failed()

    def abandon(self) -> None:
        """Wait for the queued writes after another error; their own errors are dropped (the
        first error is the one to report)."""
        self._join()
        self._error = None


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
        One SDR image (PNG/JPEG/integer TIFF, 8 or 16 bit, RGB, grey or palette), a folder /
        printf (``f_%04d.png``) / hash / glob pattern of such frames (see
        :func:`hdr_mcp.io.sequence.list_frames`), or a video file (anything FFmpeg decodes;
        8-16 bit). Alpha is dropped. Scene-linear inputs (EXR, Radiance, float TIFF) and
        PQ/HLG/linear video are refused, naming ``input``.
    output_dir
        Folder for ``frame_%05d.exr``, ``preview.mp4`` and ``preview.png``; created if missing.
        One that already holds files is refused unless ``overwrite=True`` (which removes the
        files this method writes, :data:`OWNED_FILES`, first).
    ctx
        Job context for progress, cancellation and resumption (``None``: none of them). A job
        retried after its worker died finds its claim on ``output_dir`` and its shot analysis
        in ``ctx.workdir``, keeps every frame the earlier attempt finished and converts the
        rest with the same analysis; the result is identical to an uninterrupted run.
    **options
        The other fields of :class:`hdr_mcp.params.sdr_to_hdr.SdrToHdrParams` (method, start,
        stop, colorspace, compression, target_peak_nits, diffuse_white, nits_per_unit,
        transfer, primaries, operator, preview, fps, overwrite), validated by that model.

    Returns
    -------
    JSON-safe dict: ``frames`` (converted), ``resumed_frames`` (kept from an earlier attempt),
    ``output_dir``, ``exr_paths`` (the first and the last EXR; one path for one frame),
    ``exr_pattern`` (``output_dir/frame_%05d.exr``, numbered by source frame index),
    ``exr_count``, ``preview_png``, ``preview_mp4`` (paths or None), ``colorspace``,
    ``peak_scene`` (largest value written), ``peak_nits`` (``peak_scene * nits_per_unit``),
    ``nits_per_unit``, ``transfer_used`` / ``transfer_reason`` and ``primaries_used`` /
    ``primaries_reason`` (what linearised the SDR and why), ``shot_analysis`` (operator
    ``auto``: what was measured and where SDR white and clipped areas land, cd/m^2; None
    otherwise), ``input`` (what was read), ``parameters`` (everything that decided the result,
    also stored in each EXR header as ``hdr_mcp/parameters``).

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
    if params.method in DIFFUSION_METHODS:
        from hdr_mcp.pipelines.video.diffusion import convert_with_diffusion

        return convert_with_diffusion(params, ctx)
    plan = check_inputs(params)
    if ctx is not None:  # again where the files are opened: the roots the job came with
        for path in plan.source.files or (Path(plan.source.path),):
            ctx.check_path("input", path)
        ctx.check_path("output_dir", plan.output_dir)
    workdir = ctx.workdir if ctx is not None else None
    # 2. measure the shot once (auto), before any file is touched: the EXR headers carry it,
    #    and a frame that cannot be read fails here
    analysis, stored = _shot_analysis(plan, workdir)
    resuming = claim_output_dir(
        "output_dir", plan.output_dir, overwrite=params.overwrite, owned=OWNED_FILES,
        workdir=workdir,
    )
    if analysis is not None and workdir is not None and not stored:
        _store_analysis(plan, analysis, workdir)  # a retry of this job expands with it
    if ctx is not None:
        ctx.log(
            f"sdr_to_hdr: {plan.source.kind} {plan.source.path}, frames {plan.start}.."
            f"{plan.stop - 1}{' (resuming)' if resuming else ''}, "
            f"{json.dumps(plan.parameters(analysis))}"
        )
    with created_folder(plan.output_dir):
        return _convert_frames(plan, analysis, ctx, resuming)


def _convert_frames(
    plan: _Plan, analysis: ShotAnalysis | None, ctx: JobContext | None, resuming: bool
) -> dict[str, Any]:
    from hdr_mcp.io import ExrSequenceWriter

    p = plan.params
    parameters = plan.parameters(analysis)
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

    def source_frames() -> Iterator[Any]:
        return plan.source.frames(plan.start, plan.stop, skip=finished)

    frames: Any = _Prefetch(source_frames, QUEUE_FRAMES) if QUEUE_FRAMES else source_frames()
    writer = _Writer(exr, QUEUE_FRAMES)
    try:
        for index, codes, source_file, stored in frames:
            if ctx is not None and ctx.should_stop():
                writer.finish()  # the frames handed over are written whole
                raise _cancelled(done, total, plan.output_dir)
            if stored is None:
                # 3.-6. linearise, expand, scale to scene-linear, output colour space
                stored = frame_to_scene(codes, plan, analysis)
                # 7. EXR frame, numbered by its source index (written on the writer thread)
                frame_metadata: dict[str, Any] = {"hdr_mcp/source_frame": index}
                if source_file != plan.source.path:  # a file of a sequence
                    frame_metadata["hdr_mcp/source_file"] = source_file
                writer.submit(stored, index, frame_metadata)
            else:
                kept += 1
            paths.append(exr.path_for(index))
            previews.add(index, stored)
            peak = max(peak, float(np.max(stored)))
            done += 1
            if ctx is not None:
                ctx.progress(done, total, f"frame {index}")
        writer.finish()
        if done == 0:
            raise UnsupportedFile(
                "input", plan.source.path, f"no frame could be decoded from index {plan.start}"
            )
        written_previews = previews.finish()
    except BaseException:
        previews.abort()
        writer.abandon()  # never leave a write running behind an error
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
        "transfer_used": plan.transfer,
        "transfer_reason": plan.transfer_reason,
        "primaries_used": plan.primaries,
        "primaries_reason": plan.primaries_reason,
        "shot_analysis": parameters.get("shot_analysis"),
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
