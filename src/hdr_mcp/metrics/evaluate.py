"""Evaluate an HDR prediction (image or frame sequence) against a reference, or on its own.

``evaluate`` reads the frames one at a time (memory does not grow with the frame count),
computes every metric of :mod:`hdr_mcp.metrics`, and writes a JSON report and a PNG report.
``run`` is the job handler (kind ``"evaluate"``).

Frame pooling for sequences
---------------------------
- ``pu21_psnr``: PSNR of the PU21 MSE pooled over all frames (as ColorVideoVDP's PU21-PSNR);
  one duplicated-perfect frame does not make the sequence infinite.
- ``pu21_ssim``, ``delta_e_itp``, ``clipped_fraction``: mean over frames (equal-size frames, so
  ``delta_e_itp`` is also the mean over all pixels).
- ``peak``, ``peak_robust``, ``dynamic_range_stops``: over all pixels of all frames
  (:class:`~hdr_mcp.metrics.range.LuminanceStats`: exact up to 8.4 M pixels, then a 1/256-stop
  histogram).

QA verdict
----------
Every result has a ``qa`` block (:mod:`hdr_mcp.metrics.qa`): ``verdict`` (``pass``, ``review``,
``fail``), ``reasons`` an agent can act on, and the figures behind them (banding at -2 and
-4 EV, clipped plateau, fake-HDR kind and detail). Given ``sdr`` (the SDR the prediction was
made from), the fake-HDR check compares against it; without, it judges the HDR alone. For a
sequence QA looks at up to :data:`QA_FRAMES` evenly spaced frames (first and last included)
and reports the **worst** (its reasons prefixed ``frame N:``), except the not-HDR rule, which
reads the peak of the whole sequence (a dark frame of an HDR shot is not "not HDR"). About
0.2-0.4 s per checked 1080p frame.

JSON and infinity
-----------------
PSNR of identical inputs is +infinity. JSON has no infinity (``Infinity`` is a JavaScript
extension strict parsers reject), so the result stores ``null`` for such a metric and names it in
``"non_finite"``: ``{"metrics.pu21_psnr": "+inf"}``. The result and report are written with
``allow_nan=False``, so they always parse with strict JSON parsers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hdr_mcp.errors import HdrMcpError, InvalidArgument, UnsupportedFile
from hdr_mcp.io.sequence import HDR_SUFFIXES, frame_range, list_frames
from hdr_mcp.metrics._checks import positive_scale
from hdr_mcp.metrics.fidelity import (
    PU21_PEAK,
    delta_e_itp,
    psnr_from_mse,
    pu21_luminance_codes,
    pu21_mse,
    ssim,
)
from hdr_mcp.metrics.perceptual import cvvdp, require_pycvvdp
from hdr_mcp.metrics.qa import DEFINITIONS as QA_DEFINITIONS
from hdr_mcp.metrics.qa import pool_verdict, qa_block
from hdr_mcp.metrics.range import (
    DEFAULT_HIGH_PERCENTILE,
    DEFAULT_LOW_PERCENTILE,
    LuminanceStats,
    clipped_fraction,
    image_luminance,
)
from hdr_mcp.metrics.temporal import TemporalStats
from hdr_mcp.params import parse
from hdr_mcp.params.evaluate import MAX_NITS_PER_UNIT, EvaluateParams
from hdr_mcp.vocabulary import EXTRA_METRICS

__all__ = ["DEFINITIONS", "OWNED_FILES", "QA_FRAMES", "evaluate", "run"]

#: Frames of a sequence the QA verdict looks at (evenly spaced, the worst one is reported).
QA_FRAMES = 8

REPORT_JSON = "report.json"
REPORT_PNG = "report.png"
PREVIEW_PNG = "preview.png"
#: Files evaluate writes in its output folder (``overwrite`` removes exactly these).
OWNED_FILES = (REPORT_JSON, REPORT_PNG, PREVIEW_PNG)

#: One line per metric, copied into every result so a reader needs no documentation.
DEFINITIONS: dict[str, str] = {
    "pu21_psnr": (
        "PSNR (dB, peak 256) of PU21 banding_glare-encoded linear BT.709 RGB in cd/m^2 (Mantiuk &"
        " Azimi 2021; other colour spaces converted first); MSE pooled over frames; higher is"
        " better"
    ),
    "pu21_ssim": (
        "SSIM (Wang 2004: 11x11 Gaussian sigma 1.5, K1 .01, K2 .03, valid windows) of PU21-encoded"
        " luminance, data range 256; mean over frames; 1 = identical; null for frames under 11x11"
    ),
    "delta_e_itp": (
        "mean Delta E ITP (ITU-R BT.2124) over pixels, via linear BT.2020 in cd/m^2 and ICtCp (PQ);"
        " ~1 = just noticeable; lower is better"
    ),
    "cvvdp_jod": (
        "ColorVideoVDP (Mantiuk et al. 2024) quality in JOD, each frame as an image on the"
        " standard_hdr_linear display, mean over frames; 10 = identical, higher is better"
    ),
    "peak_nits": "maximum luminance of the prediction in cd/m^2 (scene-linear Y x nits_per_unit)",
    "peak_robust_nits": (
        f"{DEFAULT_HIGH_PERCENTILE}th percentile of the prediction's luminance in cd/m^2"
        " (ignores a few hot pixels)"
    ),
    "dynamic_range_stops": (
        f"log2 of the ratio of the {DEFAULT_HIGH_PERCENTILE}th to the {DEFAULT_LOW_PERCENTILE}th"
        " percentile of positive luminance (pixels <= 0 ignored)"
    ),
    "clipped_fraction": (
        "fraction of pixels whose largest channel is within 0.1% (relative) of the frame's largest"
        " channel value: a plateau there means clamping; mean over frames"
    ),
    "flicker": "std over frames of the frame-mean luminance divided by its mean (0 = steady)",
    "f2f_psnr": (
        "mean PU21-PSNR (dB, peak 256) between consecutive frames, identical pairs left out;"
        " null + non_finite '+inf' when all pairs are identical"
    ),
    "f2f_identical_pairs": (
        "number of consecutive frame pairs that are exactly identical (left out of f2f_psnr)"
    ),
}


@dataclass(frozen=True)
class _Source:
    argument: str
    text: str
    paths: list[Path]
    sequence: bool


@dataclass(frozen=True)
class _Sdr:
    """The SDR a prediction was made from (``sdr``), for the fake-HDR check."""

    source: Any  # hdr_mcp.io.sdr_source.SdrSource
    transfer: str
    primaries: str


def _open_sdr(value: object, frames: int, first_prediction: Path) -> _Sdr:
    """Validate ``sdr`` from headers: an SDR image, sequence or video with the prediction's
    frame count and size."""
    from hdr_mcp.io import read_info
    from hdr_mcp.io.sdr_source import open_sdr

    source = open_sdr(value, "sdr")
    if source.count != frames:
        raise InvalidArgument(
            "sdr", source.path, f"has {source.count} frame(s) but prediction has {frames}"
        )
    info = read_info(first_prediction)
    if (source.width, source.height) != (info.width, info.height):
        raise InvalidArgument(
            "sdr", source.path,
            f"is {source.width}x{source.height} but prediction is {info.width}x{info.height}",
        )
    return _Sdr(source, source.transfer()[0], source.primaries()[0])


def _qa_frames(first: int, end: int) -> list[int]:
    """Up to :data:`QA_FRAMES` evenly spaced indices in [first, end), first and last included."""
    n = end - first
    if n <= QA_FRAMES:
        return list(range(first, end))
    return sorted({first + round(k * (n - 1) / (QA_FRAMES - 1)) for k in range(QA_FRAMES)})


@dataclass(frozen=True)
class _Frame:
    pixels: np.ndarray  # float32 (H, W, 3) scene-linear in `colorspace`
    colorspace: str


def _check_extra_metrics(names: Sequence[str], *, has_reference: bool) -> frozenset[str]:
    """Validate ``extra_metrics`` up front: known names, a reference, the package installed."""
    if isinstance(names, str):
        names = (names,)
    for name in names:
        if name not in EXTRA_METRICS:
            raise InvalidArgument("extra_metrics", name, f"unknown metric; choose from {', '.join(EXTRA_METRICS)}")
    if names and not has_reference:
        raise InvalidArgument("extra_metrics", list(names), "full-reference metrics need a reference")
    if "cvvdp" in names:
        require_pycvvdp()
    return frozenset(names)


def _resolve(value: object, argument: str) -> _Source:
    """A single image file, or a folder (its EXR / .hdr frames) / printf (``%04d``) / hash
    (``####``) / glob pattern."""
    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        raise InvalidArgument(
            argument, value, "expected a path to an image, a folder or a frame pattern"
        )
    text = os.fspath(value)
    path = Path(text).expanduser()
    if path.is_file():
        return _Source(argument, text, [path], sequence=False)
    try:
        frames = list(list_frames(text, HDR_SUFFIXES))
    except InvalidArgument as e:
        raise InvalidArgument(argument, text, e.reason) from e
    except (HdrMcpError, OSError) as e:
        raise InvalidArgument(argument, text, str(e)) from e
    if not frames:
        raise InvalidArgument(argument, text, "no frames found")
    return _Source(argument, text, [Path(p) for p in frames], sequence=True)


def _read_frame(path: Path, argument: str) -> _Frame:
    """Read one frame as scene-linear RGB float32 (alpha dropped, grey expanded to RGB)."""
    from hdr_mcp.io import read_image

    try:
        image = read_image(path)
    except UnsupportedFile as e:
        raise UnsupportedFile(argument, str(path), e.reason) from e
    except InvalidArgument as e:
        raise InvalidArgument(argument, str(path), e.reason) from e
    except OSError as e:
        raise InvalidArgument(argument, str(path), f"cannot be read: {e}") from e
    if image.info.transfer != "linear":
        # Display-referred code values (an SDR plate, most often passed by mistake) have no
        # absolute scale; guessing a decode would give PU21/ITP figures that mean nothing.
        raise InvalidArgument(
            argument,
            str(path),
            f"is {image.info.file_format} with '{image.info.transfer}' transfer (display code"
            " values); evaluation needs scene-linear HDR (OpenEXR or Radiance .hdr)",
        )
    pixels = image.rgb()
    bad = pixels.size - int(np.count_nonzero(np.isfinite(pixels)))
    if bad:
        raise InvalidArgument(
            argument, str(path), f"contains {bad} NaN/Inf value(s); metrics need finite pixels"
        )
    return _Frame(np.ascontiguousarray(pixels), image.info.colorspace or "lin_rec709")


def _json_safe(value: Any, path: str, non_finite: dict[str, str]) -> Any:
    """Replace non-finite floats by None, recorded in ``non_finite`` under their dotted path."""
    if isinstance(value, dict):
        return {
            k: _json_safe(v, f"{path}.{k}" if path else str(k), non_finite)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, f"{path}[{i}]", non_finite) for i, v in enumerate(value)]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v):
            return v
        non_finite[path] = "nan" if math.isnan(v) else ("+inf" if v > 0 else "-inf")
        return None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _check_output_dir(out_dir: Path) -> None:
    """Fail before the (long) frame loop if the report folder could not be made or written.

    The folder itself is created only when the reports are written, so a failed evaluation
    leaves no empty ``*_eval`` folder behind.
    """
    ancestor = out_dir
    while not ancestor.exists() and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InvalidArgument("output_dir", str(out_dir), f"{str(ancestor)!r} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InvalidArgument("output_dir", str(out_dir), f"{str(ancestor)!r} is not writable")


def _check_stop(ctx: Any) -> None:
    if ctx is not None and ctx.should_stop():
        from hdr_mcp.jobs.context import JobCancelled

        raise JobCancelled("evaluation cancelled")


class _Worst:
    """The frame shown in the report: the one with the largest PU21 error (or the first one)."""

    def __init__(self) -> None:
        self.score = -math.inf
        self.index = 0
        self.pixels: np.ndarray | None = None
        self.reference: np.ndarray | None = None
        self.error: np.ndarray | None = None

    def offer(
        self,
        index: int,
        score: float,
        pixels: np.ndarray,
        reference: np.ndarray | None,
        error: np.ndarray | None,
    ) -> None:
        if score > self.score:
            self.score, self.index, self.pixels = score, index, pixels
            self.reference, self.error = reference, error


def _format(value: Any, unit: str = "", digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isinf(value):
            return "+inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}{unit}"
    return f"{value}{unit}"


def _write_reports(
    result: dict[str, Any],
    raw_metrics: dict[str, Any],
    *,
    worst: _Worst,
    pred_stats: LuminanceStats,
    ref_stats: LuminanceStats | None,
    nits_per_unit: float,
) -> None:
    from hdr_mcp.color import exposure_strip, preview
    from hdr_mcp.io import atomic_path, write_png
    from hdr_mcp.metrics.report import render_report

    m = raw_metrics
    lines = [
        f"prediction: {result['prediction']}",
        f"reference:  {result['reference'] or '(none: no-reference metrics only)'}",
        (f"frames: {result['frames']}   nits_per_unit: {nits_per_unit:g} cd/m^2 per scene-linear"
         f" 1.0   colorspace: {result['colorspace']}"),
        (f"PU21-PSNR {_format(m.get('pu21_psnr'), ' dB')}   PU21-SSIM {_format(m.get('pu21_ssim'))}"
         f"   dE ITP {_format(m.get('delta_e_itp'))}"),
        (f"peak_nits {_format(m['peak_nits'])} (robust {_format(m['peak_robust_nits'])})"
         f"   dynamic_range_stops {_format(m['dynamic_range_stops'])}"
         f"   clipped_fraction {_format(m['clipped_fraction'])}"),
    ]
    ref_m = result["reference_metrics"]
    if ref_m is not None:
        lines.append(
            f"reference: peak_nits {_format(ref_m['peak_nits'])}"
            f"   dynamic_range_stops {_format(ref_m['dynamic_range_stops'])}"
            f"   clipped_fraction {_format(ref_m['clipped_fraction'])}"
        )
    if "flicker" in m:
        lines.append(
            f"flicker {_format(m['flicker'])}"
            f"   frame-to-frame PU21-PSNR {_format(m['f2f_psnr'], ' dB')}"
            f"   identical pairs {m['f2f_identical_pairs']}"
        )
    shown = f"frame {worst.index}" + (
        " (largest PU21 error)" if worst.error is not None and result["frames"] > 1 else ""
    )
    strips = [(f"prediction {shown}, exposures EV -4 -2 0 +2 +4", exposure_strip(worst.pixels))]
    if worst.reference is not None:
        strips.append((f"reference {shown}", exposure_strip(worst.reference)))
    histograms = [("prediction", pred_stats.log2_histogram(), (255, 160, 60))]
    if ref_stats is not None:
        histograms.append(("reference", ref_stats.log2_histogram(), (90, 170, 255)))
    picture = render_report(
        title="hdr-mcp evaluation",
        lines=lines,
        strips=strips,
        histograms=histograms,
        nits_per_unit=nits_per_unit,
        error=worst.error,
        verdict=(result["qa"]["verdict"], result["qa"]["reasons"]),
    )
    write_png(Path(result["report_png"]), picture)
    write_png(Path(result["preview_png"]), preview(worst.pixels, max_size=512))
    with atomic_path(Path(result["report_json"])) as tmp:
        tmp.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def evaluate(
    prediction: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    *,
    nits_per_unit: float = 100.0,
    output_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    start: int = 0,
    stop: int | None = None,
    extra_metrics: Sequence[str] = (),
    sdr: str | os.PathLike[str] | None = None,
    ctx: Any = None,
) -> dict[str, Any]:
    """Measure an HDR prediction, against a reference when one is given, and write reports.

    Parameters
    ----------
    prediction, reference
        A scene-linear image file (OpenEXR, Radiance .hdr; SDR/display-encoded files are refused),
        or a frame sequence: a folder, a printf pattern (``shot/frame_%04d.exr``) or a glob
        (``shot/*.exr``), listed by :func:`hdr_mcp.io.sequence.list_frames`. With a reference the
        two must have the same number of frames (matched in sorted order) and frame shapes.
        Pixels must be finite. The colour space is read from each file (untagged: lin_rec709);
        the reference is converted into the prediction's colour space.
    nits_per_unit
        cd/m^2 for scene-linear 1.0, in (0, 10000]. PU21 and ITP figures depend on it.
    output_dir
        Where ``report.json``, ``report.png`` and ``preview.png`` go (created if missing); None
        writes no file (the metrics are only returned). A folder that already holds files is
        refused unless ``overwrite`` (which replaces exactly those three files).
    start, stop
        Python-slice frame indices into the sorted frame list (not frame numbers in names); a
        range beyond the input is refused, naming the argument and the frame count.
    extra_metrics
        Optional metrics beyond the built-in set (:data:`EXTRA_METRICS`): ``"cvvdp"``
        (ColorVideoVDP JOD per frame, averaged; needs a reference and the optional ``pycvvdp``
        package, checked before any frame is read).
    sdr
        Optional: the SDR the prediction was made from (an image, a frame folder/pattern or a
        video, with the prediction's frame count and size, matched in order; decoded with its
        tags as ``sdr_to_hdr_video`` does). The fake-HDR check then looks for detail where
        the SDR clipped and compares against a pure gain of it.
    ctx
        Optional job context: ``progress(done, total, message)`` after each frame;
        ``should_stop()`` checked before each frame (raises ``JobCancelled``).

    Returns
    -------
    dict
        JSON-safe: ``metrics`` (pu21_psnr, pu21_ssim, delta_e_itp only with a reference;
        peak_nits, peak_robust_nits, dynamic_range_stops, clipped_fraction; flicker, f2f_psnr,
        f2f_identical_pairs for sequences of >= 2 frames), ``reference_metrics`` (the no-reference
        metrics of the reference, or None), ``non_finite`` (dotted path -> "+inf" for values stored
        as null), ``nits_per_unit``, ``colorspace``, ``frames``, ``frame_range``, ``prediction``,
        ``reference``, ``sdr``, ``report_json``, ``report_png``, ``preview_png`` (paths, or None
        without ``output_dir``), ``qa`` (``verdict``, ``reasons``, ``metrics``, ``with_sdr``;
        for sequences also ``frame``, ``frames_checked``, ``frame_verdicts``: module
        docstring), ``definitions``.

    Raises
    ------
    InvalidArgument
        Naming ``prediction`` / ``reference`` (missing file, NaN/Inf, frame count or shape
        mismatch), ``nits_per_unit``, ``start`` or ``stop``.
    """
    # 1. Validate everything before reading pixels.
    scale = positive_scale(nits_per_unit, maximum=MAX_NITS_PER_UNIT)
    pred_src = _resolve(prediction, "prediction")
    ref_src = _resolve(reference, "reference") if reference is not None else None
    if ref_src is not None and len(ref_src.paths) != len(pred_src.paths):
        raise InvalidArgument(
            "reference",
            ref_src.text,
            f"has {len(ref_src.paths)} frame(s) but prediction has {len(pred_src.paths)}",
        )
    if ctx is not None:  # again where the files are opened: the roots the job came with
        for source in filter(None, (pred_src, ref_src)):
            for path in source.paths:
                ctx.check_path(source.argument, path)
        if sdr is not None:
            ctx.check_path("sdr", sdr)
        if output_dir is not None:
            ctx.check_path("output_dir", output_dir)
    first, end = frame_range(start, stop, len(pred_src.paths))
    extras = _check_extra_metrics(extra_metrics, has_reference=ref_src is not None)
    sdr_in = (
        _open_sdr(sdr, len(pred_src.paths), pred_src.paths[first]) if sdr is not None else None
    )
    n = end - first
    out_dir = Path(output_dir).expanduser().absolute() if output_dir is not None else None
    if out_dir is not None:
        from hdr_mcp.outputs import claim_output_dir

        _check_output_dir(out_dir)
        claim_output_dir("output_dir", out_dir, overwrite=overwrite, owned=OWNED_FILES)

    # 2. Stream the frames.
    pred_stats, ref_stats = LuminanceStats(), (LuminanceStats() if ref_src else None)
    # Temporal statistics only for sequences: PU-encoding every frame twice costs time.
    pred_temporal = TemporalStats(nits_per_unit=scale) if n >= 2 else None
    ref_temporal = TemporalStats(nits_per_unit=scale) if ref_src and n >= 2 else None
    clipped, ref_clipped, ssims, delta_es, mses, jods = [], [], [], [], [], []
    worst = _Worst()
    colorspace: str | None = None
    shape: tuple[int, ...] | None = None
    qa_set = frozenset(_qa_frames(first, end))
    sdr_frames = sdr_in.source.sample(sorted(qa_set)) if sdr_in is not None else None
    checked: list[tuple[int, Any]] = []
    peak_scene = -math.inf
    if ctx is not None:
        ctx.progress(0, n, "evaluating")
    try:
        for i in range(first, end):
            _check_stop(ctx)
            pred = _read_frame(pred_src.paths[i], "prediction")
            if colorspace is None:
                colorspace, shape = pred.colorspace, pred.pixels.shape
            elif pred.pixels.shape != shape:
                raise InvalidArgument(
                    "prediction",
                    str(pred_src.paths[i]),
                    f"frame shape {pred.pixels.shape} differs from frame {first} {shape}",
                )
            x = pred.pixels if pred.colorspace == colorspace else _convert(pred, colorspace)
            y_pred = image_luminance(x, colorspace)
            pred_stats.add(y_pred)
            clipped.append(clipped_fraction(x))
            if pred_temporal is not None:
                pred_temporal.add(x, argument="prediction", colorspace=colorspace)
            error = r = None
            score = 0.0 if i == first else -1.0
            if ref_src is not None:
                ref = _read_frame(ref_src.paths[i], "reference")
                r = ref.pixels if ref.colorspace == colorspace else _convert(ref, colorspace)
                if r.shape != x.shape:
                    raise InvalidArgument(
                        "reference",
                        str(ref_src.paths[i]),
                        f"frame shape {r.shape} differs from prediction {x.shape}"
                        f" ({pred_src.paths[i].name})",
                    )
                mse = pu21_mse(x, r, nits_per_unit=scale, colorspace=colorspace)
                mses.append(mse)
                # PU21 luminance codes once per frame, for both SSIM and the report's error map; in
                # float64, as pu21_ssim(x, r) computes them.
                codes_x = pu21_luminance_codes(
                    np.asarray(x, np.float64), nits_per_unit=scale, colorspace=colorspace
                )
                codes_r = pu21_luminance_codes(
                    np.asarray(r, np.float64), nits_per_unit=scale, colorspace=colorspace
                )
                if min(x.shape[:2]) >= 11:
                    ssims.append(ssim(codes_x, codes_r, data_range=PU21_PEAK))
                delta_es.append(delta_e_itp(x, r, nits_per_unit=scale, colorspace=colorspace))
                if "cvvdp" in extras:
                    jods.append(cvvdp(x, r, nits_per_unit=scale, colorspace=colorspace))
                ref_stats.add(image_luminance(r, colorspace))
                ref_clipped.append(clipped_fraction(r))
                if ref_temporal is not None:
                    ref_temporal.add(r, argument="reference", colorspace=colorspace)
                error = np.abs(codes_x - codes_r).astype(np.float32)
                score = mse
            peak_scene = max(peak_scene, float(np.max(x)))
            if i in qa_set:  # (after the reference: its frame errors come first)
                checked.append((i, _check_qa(x, colorspace, sdr_in, sdr_frames)))
            worst.offer(i, score, x, r, error)
            if ctx is not None:
                ctx.progress(i - first + 1, n, f"frame {i - first + 1}/{n}")

    finally:
        if sdr_frames is not None:
            sdr_frames.close()
    verdict = pool_verdict(checked, peak_scene=peak_scene, nits_per_unit=scale)

    # 3. Assemble, make JSON-safe, write reports.
    # 3. Assemble, make JSON-safe, write reports.
    metrics: dict[str, Any] = {}
    if ref_src is not None:
        metrics["pu21_psnr"] = psnr_from_mse(float(np.mean(mses)), PU21_PEAK)
        metrics["pu21_ssim"] = float(np.mean(ssims)) if ssims else None
        metrics["delta_e_itp"] = float(np.mean(delta_es))
        if jods:
            metrics["cvvdp_jod"] = float(np.mean(jods))
    metrics.update(_no_reference_metrics(pred_stats, pred_temporal, clipped, scale))
    reference_metrics = (
        _no_reference_metrics(ref_stats, ref_temporal, ref_clipped, scale) if ref_src else None
    )
    non_finite: dict[str, str] = {}
    result: dict[str, Any] = {
        "metrics": _json_safe(metrics, "metrics", non_finite),
        "reference_metrics": _json_safe(reference_metrics, "reference_metrics", non_finite),
        "non_finite": non_finite,
        "nits_per_unit": scale,
        "colorspace": colorspace,
        "frames": n,
        "frame_range": {"start": first, "stop": end},
        "prediction": pred_src.text,
        "reference": ref_src.text if ref_src else None,
        "sdr": sdr_in.source.path if sdr_in else None,
        "qa": _json_safe(qa_block(verdict), "qa", non_finite),
        "report_json": str(out_dir / REPORT_JSON) if out_dir else None,
        "report_png": str(out_dir / REPORT_PNG) if out_dir else None,
        "preview_png": str(out_dir / PREVIEW_PNG) if out_dir else None,
        "definitions": {**{k: DEFINITIONS[k] for k in metrics}, **QA_DEFINITIONS},
    }
    if out_dir is not None:
        from hdr_mcp.outputs import created_folder

        try:
            with created_folder(out_dir):
                _write_reports(result, metrics, worst=worst, pred_stats=pred_stats,
                               ref_stats=ref_stats, nits_per_unit=scale)
        except OSError as e:
            raise InvalidArgument("output_dir", str(out_dir), f"cannot be written: {e}") from e
    return result


def _check_qa(x: np.ndarray, colorspace: str, sdr: _Sdr | None, sdr_frames: Any) -> Any:
    """:func:`hdr_mcp.metrics.qa.check_frame` of one prediction frame, with the next sampled
    SDR frame as relative display light in its primaries when there is an SDR."""
    from hdr_mcp.io.sdr_source import display_light
    from hdr_mcp.metrics.qa import check_frame

    light, primaries = None, "lin_rec709"
    if sdr is not None:
        _, codes = next(sdr_frames)
        light, primaries = display_light(codes, sdr.transfer), sdr.primaries
    return check_frame(x, light, colorspace=colorspace, sdr_colorspace=primaries)


def _convert(frame: _Frame, colorspace: str) -> np.ndarray:
    from hdr_mcp.color import convert_colorspace

    return np.asarray(convert_colorspace(frame.pixels, frame.colorspace, colorspace), np.float32)


def _no_reference_metrics(
    stats: LuminanceStats, temporal: TemporalStats | None, clipped: list[float], scale: float
) -> dict[str, Any]:
    peak = stats.peak(nits_per_unit=scale)
    out: dict[str, Any] = {
        "peak_nits": peak["max"],
        "peak_robust_nits": peak["robust"],
        "dynamic_range_stops": stats.dynamic_range_stops(),
        "clipped_fraction": float(np.mean(clipped)),
    }
    if temporal is not None:
        out["flicker"] = temporal.flicker
        out["f2f_psnr"] = temporal.f2f_psnr
        out["f2f_identical_pairs"] = temporal.identical_pairs
    return out


def run(params: EvaluateParams | dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Job handler for kind ``"evaluate"``: validate ``params`` (:class:`EvaluateParams`), run."""
    p = parse(EvaluateParams, params)
    return evaluate(
        p.prediction,
        p.reference,
        nits_per_unit=p.nits_per_unit,
        output_dir=p.output_dir or ctx.workdir,
        overwrite=p.overwrite,
        start=p.start,
        stop=p.stop,
        extra_metrics=p.extra_metrics,
        sdr=p.sdr,
        ctx=ctx,
    )
