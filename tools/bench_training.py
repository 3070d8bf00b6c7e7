#!/usr/bin/env python
"""train_lora step time with cached latents over without (goal <= 0.65), samples per second,
peak memory.

A tiny preset at a size where the float32 VAE encoder dominates a step (tiny-qwen-image at
128 px: 64 latent tokens for the transformer, 128^2 pixels for the VAE). Both runs train the
same steps on the same crops with the same seed (their loss sequences are equal, which this
script checks); each runs in its own process so its peak RSS is its own. Step time is the median
of the steps between the first and the last (the last one validates and saves).

    python tools/bench_training.py [--model tiny-qwen-image] [--size 128] [--steps 20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def _dataset(folder: Path, size: int) -> Path:
    from hdr_mcp.io.exr import read_exr, write_exr

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(DATA.glob("*.exr")):
        pixels = read_exr(path).pixels[..., :3]
        for k in range(2):
            crop = pixels[:size, k * size:(k + 1) * size]
            write_exr(folder / f"{path.stem}_{k}.exr", crop.copy())
            (folder / f"{path.stem}_{k}.txt").write_text(f"{path.stem}, an HDR panorama")
    return folder


def _config(args, dataset: Path, output_dir: Path, **extra):
    from hdr_mcp.params.training import TrainConfig

    return TrainConfig(model=args.model, dataset=str(dataset), resolution=args.size, rank=16,
                       steps=args.steps, batch_size=args.batch_size, augment_variants=1,
                       validation_fraction=0, logging="none", checkpoint_every=10**6,
                       validation_every=10**6, validation_steps=1, output_dir=str(output_dir),
                       **extra)


def _one(args) -> None:
    """Child process: one training run; prints a JSON line."""
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.training.trainer import train

    stamps: list[float] = []
    root = Path(args.root)
    extra = {"latents_dir": str(root / "cache")} if args.mode == "cached" else {}
    config = _config(args, root / "data", root / f"run-{args.mode}", **extra)
    ctx = LocalContext(root / "work", on_progress=lambda *_: stamps.append(time.perf_counter()))
    result = train(config, ctx)
    steps = [b - a for a, b in itertools.pairwise(stamps[:-1])]
    print(json.dumps({"step_s": statistics.median(steps), "losses": result["losses"],
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _child(args, mode: str, root: Path) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--root", str(root), "--model",
               args.model, "--size", str(args.size), "--steps", str(args.steps),
               "--batch-size", str(args.batch_size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-qwen-image")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--child", dest="mode", default=None)
    parser.add_argument("--root", default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.mode:
        _one(args)
        return

    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.params.training import PrecomputeConfig
    from hdr_mcp.training.latents import precompute

    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        root = Path(scratch)
        dataset = _dataset(root / "data", args.size)
        fields = _config(args, dataset, root / "cache").model_dump()
        start = time.perf_counter()
        precompute(PrecomputeConfig(**{k: v for k, v in fields.items()
                                       if k in PrecomputeConfig.model_fields}),
                   LocalContext(root / "work"))
        precompute_s = time.perf_counter() - start
        plain = _child(args, "plain", root)
        cached = _child(args, "cached", root)
    same = max(abs(a - b) / abs(a) for a, b in zip(plain["losses"], cached["losses"],
                                                   strict=True))
    ratio = cached["step_s"] / plain["step_s"]
    batch = args.batch_size
    print(f"model {args.model}, {args.size} px, batch {batch}, {args.steps} steps")
    print(f"precompute (once): {precompute_s:.2f} s for {len(list(DATA.glob('*.exr'))) * 2} "
          "crops")
    print(f"step without cache: {plain['step_s'] * 1000:.1f} ms "
          f"({batch / plain['step_s']:.1f} samples/s), peak RSS {plain['peak_rss_mib']:.0f} MiB")
    print(f"step with cache:    {cached['step_s'] * 1000:.1f} ms "
          f"({batch / cached['step_s']:.1f} samples/s), peak RSS {cached['peak_rss_mib']:.0f} MiB")
    print(f"ratio cached/uncached: {ratio:.2f} (goal <= 0.65); loss sequences differ by at most "
          f"{same:.1e} (relative)")


if __name__ == "__main__":
    main()
