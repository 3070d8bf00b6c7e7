#!/usr/bin/env python
"""Benchmarks for the colour and I/O hot paths, one section per function.

Usage::

    python tools/bench_color_io.py                 # every section
    python tools/bench_color_io.py --only logc4    # one section (repeatable flag)
    python tools/bench_color_io.py --only logc4 --repeat 10

Each section times its work on one 4096x2160 RGB float32 frame of random log-normal HDR values
(best of ``--repeat`` runs in this process) and prints its figures. To add a section, write
``bench_<name>(frame, repeat) -> dict`` and register it in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

FRAME_SHAPE = (2160, 4096, 3)


def make_frame(seed: int = 0) -> np.ndarray:
    """Scene-linear HDR test frame: log-normal around 0.22 with ~2-stop spread (peaks ~1e4)."""
    rng = np.random.default_rng(seed)
    return rng.lognormal(mean=-1.5, sigma=2.0, size=FRAME_SHAPE).astype(np.float32)


def best_of(
    run: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
) -> float:
    """Smallest wall time of ``repeat`` calls of ``run`` (``before`` runs untimed each time)."""
    best = float("inf")
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


# ============================================================================================
# Section "logc4" (owner: colour): hdr_mcp.color.decode(..., "logc4") vs OpenColorIO
# ============================================================================================

LOGC4_RATIO_GOAL = 1.5


def bench_logc4(frame: np.ndarray, repeat: int) -> dict:
    """Time our numpy LogC4 decode against OCIO's default-optimised CPU processor.

    OCIO's ``applyRGB`` works in place, so the code values are copied into its buffer before
    each run, outside the timed region; our decode allocates its output inside the timing.
    """
    import PyOpenColorIO as ocio

    from hdr_mcp.color import decode, encode

    code = encode(frame, "logc4")
    config = ocio.Config.CreateRaw()
    curve = config.getProcessor(ocio.BuiltinTransform("ARRI_LOGC4_to_ACES2065-1"))
    curve = curve.createGroupTransform()[0]  # the LogC4 curve alone (log -> lin), no gamut
    default = config.getProcessor(curve).getDefaultCPUProcessor()
    lossless = config.getProcessor(curve).getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)

    ours_s = best_of(lambda: decode(code, "logc4"), repeat)
    buffer = np.empty_like(code)
    flat = buffer.reshape(-1, 3)
    ocio_s = best_of(lambda: default.applyRGB(flat), repeat, before=lambda: np.copyto(buffer, code))

    # Accuracy on the same data, against OCIO's exact (lossless) evaluation.
    ours = decode(code, "logc4")
    np.copyto(buffer, code)
    default.applyRGB(flat)
    fast = buffer.copy()
    np.copyto(buffer, code)
    lossless.applyRGB(flat)
    exact = buffer.astype(np.float64)
    scale = np.maximum(np.abs(exact), 1e-3)
    return {
        "values": code.size,
        "ours_ms": ours_s * 1e3,
        "ocio_default_ms": ocio_s * 1e3,
        "ratio": ours_s / ocio_s,
        "goal": LOGC4_RATIO_GOAL,
        "ours_max_rel_err_vs_ocio_lossless": float(np.max(np.abs(ours - exact) / scale)),
        "ocio_default_max_rel_err_vs_lossless": float(np.max(np.abs(fast - exact) / scale)),
    }


def report_logc4(result: dict) -> None:
    verdict = "OK" if result["ratio"] <= result["goal"] else "SLOWER THAN GOAL"
    print(f"LogC4 decode, {result['values']:,} float32 values (4096x2160 RGB)")
    print(f"  hdr_mcp.color.decode (numpy)   {result['ours_ms']:8.1f} ms")
    print(f"  OCIO default CPU applyRGB      {result['ocio_default_ms']:8.1f} ms")
    ratio, goal = result["ratio"], result["goal"]
    print(f"  ratio ours/OCIO                {ratio:8.3f}  (goal <= {goal}: {verdict})")
    ours_err = result["ours_max_rel_err_vs_ocio_lossless"]
    ocio_err = result["ocio_default_max_rel_err_vs_lossless"]
    print(f"  max rel. error vs OCIO lossless: ours {ours_err:.2e}, OCIO default {ocio_err:.2e}")


# ============================================================================================
# Section "write_exr" (owner: io): hdr_mcp.io.write_exr vs a bare OpenEXR.File(...).write
# ============================================================================================

WRITE_EXR_RATIO_GOAL = 1.2


def bench_write_exr(frame: np.ndarray, repeat: int) -> dict:
    """Time ``write_exr`` against the bare bindings on the same half frame, ZIP, same directory.

    ``write_exr`` adds validation (NaN/Inf/overflow), colour tagging, provenance attributes and
    the atomic temporary-file + rename; the bare call writes a plain header. The two are
    interleaved (bare, ours, bare, ours, ...) so background load hits both alike; best of
    ``repeat`` each. A second figure times float32 input, where ``write_exr`` also converts to
    half (the bare call is given that conversion too, inside its timing).
    """
    import tempfile
    from pathlib import Path

    import OpenEXR

    from hdr_mcp.io import write_exr
    from hdr_mcp.io.exr import use_all_cores

    use_all_cores()  # the same OpenEXR thread pool for both sides
    half = frame.astype(np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}

    def bare(path: Path, pixels: np.ndarray) -> None:
        data = pixels if pixels.dtype == np.float16 else pixels.astype(np.float16)
        OpenEXR.File(dict(header), {"RGB": data}).write(str(path))

    def interleaved(pixels: np.ndarray, folder: Path) -> tuple[float, float]:
        bare_best = ours_best = float("inf")
        bare(folder / "warm.exr", pixels)  # first-call costs (thread pool, imports) untimed
        write_exr(folder / "warm.exr", pixels, compression="zip")
        for _ in range(repeat):
            start = time.perf_counter()
            bare(folder / "bare.exr", pixels)
            bare_best = min(bare_best, time.perf_counter() - start)
            start = time.perf_counter()
            write_exr(folder / "ours.exr", pixels, compression="zip")
            ours_best = min(ours_best, time.perf_counter() - start)
        return bare_best, ours_best

    with tempfile.TemporaryDirectory(prefix="bench_write_exr_") as tmp:
        folder = Path(tmp)
        bare_s, ours_s = interleaved(half, folder)
        with OpenEXR.File(str(folder / "bare.exr")) as a, OpenEXR.File(str(folder / "ours.exr")) as b:
            identical = bool(np.array_equal(a.channels()["RGB"].pixels, b.channels()["RGB"].pixels))
        sizes = ((folder / "bare.exr").stat().st_size, (folder / "ours.exr").stat().st_size)
        bare32_s, ours32_s = interleaved(frame, folder)
    return {
        "shape": half.shape,
        "bare_ms": bare_s * 1e3,
        "ours_ms": ours_s * 1e3,
        "ratio": ours_s / bare_s,
        "goal": WRITE_EXR_RATIO_GOAL,
        "float32_bare_ms": bare32_s * 1e3,
        "float32_ours_ms": ours32_s * 1e3,
        "float32_ratio": ours32_s / bare32_s,
        "identical_pixels": identical,
        "bytes": sizes,
    }


def report_write_exr(result: dict) -> None:
    verdict = "OK" if result["ratio"] <= result["goal"] else "SLOWER THAN GOAL"
    height, width, channels = result["shape"]
    print(f"write_exr, {width}x{height}x{channels} half, ZIP")
    print(f"  OpenEXR.File(header, {{'RGB': arr}}).write {result['bare_ms']:8.1f} ms")
    print(f"  hdr_mcp.io.write_exr                   {result['ours_ms']:8.1f} ms")
    ratio, goal = result["ratio"], result["goal"]
    print(f"  ratio ours/bare                        {ratio:8.3f}  (goal <= {goal}: {verdict})")
    print(
        f"  float32 input (half conversion timed in both): bare {result['float32_bare_ms']:.1f} ms, "
        f"ours {result['float32_ours_ms']:.1f} ms, ratio {result['float32_ratio']:.3f}"
    )
    bare_bytes, ours_bytes = result["bytes"]
    print(
        f"  same decoded pixels: {result['identical_pixels']}; file sizes {bare_bytes:,} / "
        f"{ours_bytes:,} bytes (ours adds colour + provenance attributes)"
    )


# ============================================================================================
# Section registry.
# ============================================================================================

SECTIONS: dict[str, tuple[Callable[[np.ndarray, int], dict], Callable[[dict], None]]] = {
    "logc4": (bench_logc4, report_logc4),
    "write_exr": (bench_write_exr, report_write_exr),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SECTIONS),
        help="run only this section (repeatable)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs per measurement (best is kept)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    frame = make_frame()
    for name in args.only or list(SECTIONS):
        bench, report = SECTIONS[name]
        report(bench(frame, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
