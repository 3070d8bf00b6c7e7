#!/usr/bin/env python
"""generate_hdr end to end vs a bare diffusers call plus a plain decode (one process, one run).

Both sides use the same tiny preset, size, steps and seed, with the pipeline already loaded
(the worker's model cache keeps it warm between jobs). The bare side is what a script would do
without hdr-mcp: ``pipe(..., output_type="latent")`` then ``vae.decode``. Goal: ratio <= 1.10 at a
size where the model dominates. Prints the split of one generate_hdr image: denoise, decode,
curve + colour space, EXR write, preview and strip.

    python tools/bench_generate.py [--model tiny-flux.1-dev] [--size 512] [--steps 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _random_lora(model: str, path: Path) -> Path:
    """A LogC4 HDR LoRA with random weights for the tiny model (what matters here is speed)."""
    import torch
    from peft import LoraConfig

    from hdr_mcp.models.loading import load_pipeline
    from hdr_mcp.models.lora import HdrLoraInfo, save_hdr_lora_from_pipeline

    torch.manual_seed(0)
    pipe = load_pipeline(model).pipe
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4.0, init_lora_weights=False,
                                            target_modules=["to_q", "to_k", "to_v"]))
    save_hdr_lora_from_pipeline(pipe, path, HdrLoraInfo(encoding="logc4", base_model=model))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-flux.1-dev")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from hdr_mcp.color import convert_colorspace, decode, exposure_strip, preview
    from hdr_mcp.io import write_exr, write_png
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.models import tiny
    from hdr_mcp.models.decode import decode_latents, vae_to_code
    from hdr_mcp.models.registry import family
    from hdr_mcp.pipelines.text_to_hdr import generate

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    entry = family(args.model)
    scratch = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    ctx = LocalContext(scratch / "work")
    lora = _random_lora(args.model, scratch / "hdr.safetensors")
    params = {"prompt": "a sunset over the sea", "model": args.model, "lora": str(lora),
              "width": args.size, "height": args.size, "steps": args.steps, "seed": 1,
              "colorspace": "acescg", "overwrite": True, "output_dir": str(scratch / "out")}
    generate(params, ctx)  # loads the pipeline into ctx.models: both sides run warm
    (loaded,) = [ctx.models.get_or_load(key, lambda: None) for key in ctx.models.loaded_keys()]
    pipe = loaded.pipe
    kwargs = {**tiny.call_kwargs(args.model, loaded.path), "prompt": "a sunset over the sea",
              "height": args.size, "width": args.size, "num_inference_steps": args.steps,
              "output_type": "latent", "return_dict": False}

    def bare() -> None:
        latents = pipe(**kwargs, generator=torch.Generator().manual_seed(1))[0]
        with torch.no_grad():
            z = pipe._unpack_latents(latents, args.size, args.size, pipe.vae_scale_factor)
            z = z / pipe.vae.config.scaling_factor + pipe.vae.config.shift_factor
            image = pipe.vae.decode(z, return_dict=False)[0]
        ((image + 1) / 2).float().numpy()

    runs = iter(range(10**6))

    def fresh_job() -> None:  # a new job (no resume) on the warm cache, as a worker runs it
        generate(params, LocalContext(scratch / f"job{next(runs)}", models=ctx.models))

    ours = _best(fresh_job, args.repeats)
    baseline = _best(bare, args.repeats)

    # the split of one image, each step timed on its own
    latents = pipe(**kwargs, generator=torch.Generator().manual_seed(1))[0]
    split = {"denoise": _best(lambda: pipe(**kwargs, generator=torch.Generator().manual_seed(1)),
                              args.repeats)}
    split["decode"] = _best(lambda: decode_latents(pipe, latents, entry, height=args.size,
                                                   width=args.size), args.repeats)
    values = np.moveaxis(decode_latents(pipe, latents, entry, height=args.size,
                                        width=args.size)[0].numpy(), 0, -1)
    split["curve + colour space"] = _best(lambda: convert_colorspace(
        decode(vae_to_code(values.astype(np.float64)), "logc4").astype(np.float32),
        "lin_rec709", "acescg"), args.repeats)
    scene = decode(vae_to_code(values.astype(np.float64)), "logc4").astype(np.float32)
    split["exr write"] = _best(lambda: write_exr(scratch / "b.exr", scene, colorspace="acescg"),
                               args.repeats)
    split["preview + strip"] = _best(lambda: (write_png(scratch / "p.png", preview(scene)),
                                              write_png(scratch / "s.png", exposure_strip(scene))),
                                     args.repeats)
    print(f"{args.model} {args.size}x{args.size}, {args.steps} steps, best of {args.repeats}")
    print(f"generate_hdr (logc-lora, warm): {ours * 1000:8.1f} ms")
    print(f"bare diffusers + plain decode:  {baseline * 1000:8.1f} ms")
    print(f"ratio: {ours / baseline:.3f}  (goal <= 1.10)")
    total = sum(split.values())
    for name, seconds in split.items():
        print(f"  {name:22} {seconds * 1000:8.1f} ms  {100 * seconds / total:5.1f} %")
    print(f"  median of the split: {statistics.median(split.values()) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
