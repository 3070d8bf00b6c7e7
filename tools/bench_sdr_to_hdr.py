#!/usr/bin/env python
"""Benchmark the "classical" SDR -> HDR conversion: throughput and memory versus frame count.

Makes a synthetic 1080p SDR H.264 clip (moving gradients, a bright highlight, grain), then runs
``hdr_mcp.pipelines.sdr_to_hdr.convert`` in fresh subprocesses (each has its own peak RSS):

* ``baseline``: the conversion as it was before issue 11: operator ``bt2446c``, decode, maths
  and EXR write in turn on one thread (``QUEUE_FRAMES = 0``);
* ``auto serial``: the new default operator ``auto`` (shot analysis + expand), still in turn;
* ``auto pipelined``: the default: ``auto`` with decode, maths and the EXR write overlapped
  (reader and writer threads, ``QUEUE_FRAMES`` frames queued between them).

Throughput is frames per second of the conversion (shot analysis, decode, expand, EXR write,
previews; imports excluded) on ``--frames`` frames. The machine may be shared, so the
configurations run ``--repeat`` times, interleaved, and the best run of each counts; the
figures that matter are the ratios to the baseline measured in the same run. Memory: peak RSS
of the pipelined run on ``--frames`` versus ``--small`` frames (goal <= 1.2: streaming).

    python tools/bench_sdr_to_hdr.py                 # 240 vs 24 frames of 1920x1080
    python tools/bench_sdr_to_hdr.py --frames 96 --small 12 --repeat 1 --json

EXR output is deleted after each run (240 half-float 1080p frames take about 1.5 GB).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_clip(path: Path, frames: int, width: int, height: int) -> float:
    """Write the synthetic SDR clip; return the seconds it took."""
    import numpy as np

    from hdr_mcp.io.video import VideoWriter

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    grain = rng.normal(0.0, 4.0, (height, width, 3)).astype(np.float32)
    with VideoWriter(path, fps=24, crf=20, preset="ultrafast") as writer:
        for i in range(frames):
            phase = i / 24.0
            base = 0.5 + 0.45 * np.sin(x / width * 6.0 + phase)[..., None] * np.array(
                [1.0, 0.8, 0.6], np.float32
            )
            sky = (1.0 - y / height)[..., None] * np.array([0.3, 0.5, 0.9], np.float32)
            frame = (base * 0.7 + sky * 0.5) * 255.0
            cx, cy = int(width * (0.2 + 0.6 * (i % 48) / 48)), height // 3
            frame[max(cy - 60, 0) : cy + 60, max(cx - 60, 0) : cx + 60] = 255.0  # clipped highlight
            writer.write(np.clip(frame + np.roll(grain, i * 7, axis=1), 0, 255).astype(np.uint8))
    return time.perf_counter() - started


def memory_mib() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB.

    Linux: ``VmRSS``/``VmHWM`` from /proc/self/status, which start afresh at exec. (``ru_maxrss``
    does not: it carries the parent's peak over fork and exec.) Elsewhere ``ru_maxrss`` for both.
    """
    try:
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = (
            peak / 1024 if sys.platform != "darwin" else peak / 2**20
        )  # KiB on Linux, bytes on macOS
        return peak, peak


def child(args: argparse.Namespace) -> None:
    """Run one conversion in this process and print a JSON line with its figures."""
    # convert() imports colour, EXR and video modules on first use; import them before the
    # clock starts so the figures time the conversion, not the imports.
    import hdr_mcp.color.inverse_tonemap
    import hdr_mcp.io.sequence
    import hdr_mcp.io.video  # noqa: F401
    from hdr_mcp.pipelines import sdr_to_hdr

    sdr_to_hdr.QUEUE_FRAMES = args.queue_frames
    rss_before, _ = memory_mib()
    started = time.perf_counter()
    result = sdr_to_hdr.convert(
        args.input, output_dir=args.out, stop=args.frames, compression=args.compression,
        operator=args.operator,
    )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "frames": result["frames"],
                "operator": args.operator,
                "queue_frames": args.queue_frames,
                "seconds": seconds,
                "fps": result["frames"] / seconds,
                "peak_rss_mib": memory_mib()[1],
                "rss_before_mib": rss_before,
            }
        )
    )


#: (name, operator, queue frames) of the configurations compared.
CONFIGS = (
    ("baseline", "bt2446c", 0),
    ("auto serial", "auto", 0),
    ("auto pipelined", "auto", None),  # None: the module's default QUEUE_FRAMES
)


def run_self(*options: str) -> str:
    """Run this script with ``options`` in a fresh interpreter; return its last output line."""
    completed = subprocess.run(
        [sys.executable, __file__, *options], check=True, capture_output=True, text=True
    )
    return completed.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frames", type=int, default=240, help="frames of the long run (default 240)"
    )
    parser.add_argument(
        "--small", type=int, default=24, help="frames of the short run (default 24)"
    )
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--compression", default="zip", help="EXR compression (default zip)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="interleaved runs per configuration (default 2)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make-clip", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--operator", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--queue-frames", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    if args.make_clip:
        print(make_clip(Path(args.out), args.frames, args.width, args.height))
        return
    if not 0 < args.small < args.frames:
        parser.error("need 0 < --small < --frames")
    from hdr_mcp.pipelines.sdr_to_hdr import QUEUE_FRAMES

    # Every heavy step runs in its own interpreter: this process stays small, so nothing of it
    # shows in the children's figures.
    scratch = Path(tempfile.mkdtemp(prefix="bench_sdr_to_hdr_", dir=args.workdir))

    def convert(frames: int, operator: str, queue_frames: int) -> dict:
        out = scratch / "out"
        try:
            return json.loads(
                run_self(
                    "--child", "--input", str(clip), "--out", str(out), "--frames", str(frames),
                    "--compression", args.compression, "--operator", operator,
                    "--queue-frames", str(queue_frames),
                )
            )
        finally:
            shutil.rmtree(out, ignore_errors=True)

    try:
        clip = scratch / "clip.mp4"
        clip_seconds = float(
            run_self(
                "--make-clip", "--out", str(clip), "--frames", str(args.frames),
                "--width", str(args.width), "--height", str(args.height),
            )
        )
        best: dict[str, dict] = {}
        for _ in range(max(1, args.repeat)):
            for name, operator, queue_frames in CONFIGS:
                queue_frames = QUEUE_FRAMES if queue_frames is None else queue_frames
                run = convert(args.frames, operator, queue_frames)
                if name not in best or run["fps"] > best[name]["fps"]:
                    best[name] = run
        small = convert(args.small, "auto", QUEUE_FRAMES)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    large = best["auto pipelined"]
    baseline_fps = best["baseline"]["fps"]
    report = {
        "size": f"{args.width}x{args.height}",
        "compression": args.compression,
        "clip_seconds": round(clip_seconds, 1),
        "repeat": args.repeat,
        "runs": best,
        "fps_ratio_to_baseline": {name: run["fps"] / baseline_fps for name, run in best.items()},
        "small": small,
        "large": large,
        "rss_ratio": large["peak_rss_mib"] / small["peak_rss_mib"],
        "rss_goal": 1.2,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"classical SDR->HDR, {report['size']}, EXR {args.compression}, "
        f"synthetic clip made in {clip_seconds:.1f} s; best of {args.repeat} interleaved runs"
    )
    print(f"{'configuration':>16} {'frames':>7} {'seconds':>8} {'fps':>6} {'x baseline':>11} "
          f"{'peak RSS MiB':>13}")
    for name, run in best.items():
        print(
            f"{name:>16} {run['frames']:>7} {run['seconds']:>8.1f} {run['fps']:>6.2f} "
            f"{report['fps_ratio_to_baseline'][name]:>11.2f} {run['peak_rss_mib']:>13.0f}"
        )
    print(
        f"{'auto pipelined':>16} {small['frames']:>7} {small['seconds']:>8.1f} "
        f"{small['fps']:>6.2f} {'':>11} {small['peak_rss_mib']:>13.0f}"
    )
    verdict = "ok" if report["rss_ratio"] <= report["rss_goal"] else "ABOVE GOAL"
    print(
        f"peak RSS ratio {large['frames']}/{small['frames']} frames: {report['rss_ratio']:.3f} "
        f"(goal <= {report['rss_goal']}: {verdict})"
    )


if __name__ == "__main__":
    main()
