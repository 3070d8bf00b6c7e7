#!/usr/bin/env python
"""sdr_to_hdr_video's diffusion methods vs a bare diffusers call; peak RSS vs shot length.

1. Per-frame overhead (one process, warm model cache): ``sdr_to_hdr_video`` on a clip of one
   window against the bare pipeline call on the same frames (``output_type="latent"`` plus the
   VAE's own ``decode``: what a script does without hdr-mcp). Ours adds the float32 unclamped
   decode, the curve and the half-float EXR writes (previews off: their H.264 encode is a
   separate, optional output, timed on its own line). Goal: ratio <= 1.10. The same clip cut
   into overlapping windows is timed too (it pays for the overlap by design).
2. Peak RSS of a whole conversion (a fresh subprocess each, so ``ru_maxrss`` is its own) for
   ``--frames`` and 4x as many frames. Goal: <= 1.2x (frames stream; memory is flat).

    python tools/bench_video_diffusion.py [--method ltx2-hdr|wan-vace] [--size 128] [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {"ltx2-hdr": "tiny-ltx-2.3", "wan-vace": "tiny-wan2.1-vace-1.3b"}


def _clip(folder: Path, frames: int, size: int) -> Path:
    import numpy as np

    from hdr_mcp.io import write_sdr

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        frame = np.full((size, size, 3), 0.35 + 0.002 * i, np.float32)
        frame[: size // 3, size // 4: 3 * size // 4] = 1.0
        write_sdr(folder / f"f_{i:04d}.png", frame)
    return folder


def _interleaved(fns, repeats: int) -> list[float]:
    """Least CPU time (all threads of this process) of each function, run in turn
    ``repeats`` times: on a shared machine wall time follows the neighbours' load, CPU time
    much less, and interleaving gives both sides the same conditions."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.process_time()
            fn()
            best[k] = min(best[k], time.process_time() - start)
    return best


def _bare(pipe, method: str, model: str, folder: Path, frames, size: int, steps: int):
    """The pipeline call a script would make on the same frames, then the VAE's decode."""
    import torch

    from hdr_mcp.models import tiny

    common = {"height": size, "width": size, "num_frames": len(frames),
              "num_inference_steps": steps, "output_type": "latent", "return_dict": False,
              "guidance_scale": 1.0}
    if method == "ltx2-hdr":
        from diffusers.pipelines.ltx2 import LTX2HDRReferenceCondition

        video = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
        kwargs = {**common, **tiny.call_kwargs(model, folder),
                  "reference_conditions": LTX2HDRReferenceCondition(frames=video)}
    else:
        from hdr_mcp.pipelines.video.diffusion import _pil

        kwargs = {**common, "video": _pil(frames),
                  "prompt_embeds": tiny.wan_prompt_embeds(pipe, "a room", 128)}

    def run() -> None:
        latents = pipe(**kwargs, generator=torch.Generator().manual_seed(0))[0]
        with torch.no_grad():
            if method == "wan-vace":
                std = torch.tensor(pipe.vae.config.latents_std).view(1, -1, 1, 1, 1)
                mean = torch.tensor(pipe.vae.config.latents_mean).view(1, -1, 1, 1, 1)
                latents = latents * std + mean
                pipe.vae.decode(latents, return_dict=False)[0].numpy()
            else:
                pipe.vae.decode(latents, None, return_dict=False)[0].numpy()

    return run


def overhead(args) -> None:
    import numpy as np
    import torch

    from hdr_mcp.io.sdr_source import open_sdr
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    torch.set_num_threads(1)  # CPU time then measures the work, not the thread pool's spinning
    model = MODELS[args.method]
    scratch = Path(tempfile.mkdtemp(prefix="bench-video-"))
    one = _clip(scratch / "one", 17, args.size)
    cut = _clip(scratch / "cut", 41, args.size)
    ctx = LocalContext(scratch / "work")
    params = {"method": args.method, "model": model, "steps": args.steps, "overwrite": True}
    runs = iter(range(10**6))

    def ours(clip: Path, preview: bool = False) -> None:
        convert(str(clip), output_dir=str(scratch / "out"), **params, preview=preview,
                ctx=LocalContext(scratch / f"job{next(runs)}", models=ctx.models))

    ours(one)  # loads the model: both sides run warm
    (loaded,) = [ctx.models.get_or_load(key, lambda: None) for key in ctx.models.loaded_keys()]
    source = open_sdr(str(one), "input")
    frames = np.stack([codes for _, codes, _, _ in source.frames(0, 17)])
    bare = _bare(loaded.pipe, args.method, model, loaded.path, frames, args.size, args.steps)
    mine, baseline, windowed, previews = _interleaved(
        [lambda: ours(one), bare, lambda: ours(cut), lambda: ours(one, preview=True)],
        args.repeats)
    print(f"{args.method} on {model}, {args.size}x{args.size}, {args.steps} steps, least CPU "
          f"time of {args.repeats} (one torch thread)")
    print(f"sdr_to_hdr_video, one window (17 frames): {mine / 17 * 1000:8.1f} ms/frame")
    print(f"bare diffusers call + VAE decode:          {baseline / 17 * 1000:8.1f} ms/frame")
    print(f"ratio: {mine / baseline:.3f}  (goal <= 1.10)")
    print(f"with preview.png + preview.mp4:            {previews / 17 * 1000:8.1f} ms/frame")
    print(f"41 frames in overlapping windows:          {windowed / 41 * 1000:8.1f} ms/frame "
          f"({windowed / 41 / (baseline / 17):.2f}x the bare per-frame time; the overlap is "
          "denoised twice)")


def peak_rss_child(args) -> None:
    """Run one conversion; print its peak RSS (bytes) as JSON."""
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    scratch = Path(tempfile.mkdtemp(prefix="bench-video-rss-"))
    clip = _clip(scratch / "clip", args.frames, args.size)
    convert(str(clip), output_dir=str(scratch / "out"), method=args.method,
            model=MODELS[args.method], steps=args.steps, preview=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"frames": args.frames, "peak_rss": peak}))


def peak_rss(args) -> None:
    def child(frames: int) -> int:
        command = [sys.executable, __file__, "--child", "--method", args.method, "--size",
                   str(args.size), "--steps", "2", "--frames", str(frames)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])["peak_rss"]

    small, large = child(args.frames), child(4 * args.frames)
    print(f"peak RSS {args.frames} frames: {small / 2**20:.0f} MiB; {4 * args.frames} frames: "
          f"{large / 2**20:.0f} MiB; ratio {large / small:.3f}  (goal <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="ltx2-hdr", choices=sorted(MODELS))
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.size = args.size or (128 if args.method == "ltx2-hdr" else 64)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        peak_rss_child(args)
        return
    overhead(args)
    peak_rss(args)


if __name__ == "__main__":
    main()
