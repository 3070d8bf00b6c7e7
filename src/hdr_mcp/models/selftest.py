"""``selftest``: every tiny preset through load -> 2 denoising steps -> unclamped decode.

This is what a user runs first on a new machine (``hdr-mcp selftest``): it exercises the real
loading path (``from_pretrained`` of a diffusers folder), each pipeline's denoising loop with
``output_type="latent"``, and :func:`hdr_mcp.models.decode.decode_latents`, and reports library
versions and CUDA devices. Writing the tagged EXR is the caller's job; ask for the decoded
code values with ``return_arrays=True``.

All presets run on CPU in a few seconds (first run adds about a second to build the presets).
"""

from __future__ import annotations

import platform
import time
from typing import Any

from hdr_mcp.models.registry import ModelFamily, family

__all__ = ["environment", "run_selftest", "run_tiny", "run_video_methods", "selftest",
           "tiny_inputs"]

#: The ``sdr_to_hdr_video`` diffusion method each video preset family runs in ``selftest``.
VIDEO_METHODS = {"ltx-2.3": "ltx2-hdr", "wan2.1-vace-1.3b": "wan-vace"}
#: Frames of the synthetic SDR clip the video methods convert (more than one window).
SELFTEST_FRAMES = 20


def environment() -> dict[str, Any]:
    """Python, torch, diffusers, peft, transformers versions; CUDA availability and devices."""
    import diffusers
    import peft
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda else [],
    }


def tiny_inputs(pipe: Any, name: str, folder: Any, *, seed: int = 0,
                output_type: str = "latent") -> dict[str, Any]:
    """Pipeline-call keywords for a 2-step run of tiny preset ``name`` at its default size.

    Video presets get a seeded random reference video (Wan VACE: ``video`` frames as PIL
    images; LTX-2.3: one :class:`LTX2HDRReferenceCondition`). Classifier-free guidance is off.
    """
    import torch

    from hdr_mcp.models import tiny

    entry = family(name)
    height, width = entry.extra["default_height"], entry.extra["default_width"]
    kwargs: dict[str, Any] = {
        **tiny.call_kwargs(name, folder), "height": height, "width": width,
        "num_inference_steps": 2, "output_type": output_type, "return_dict": False,
        "generator": torch.Generator().manual_seed(seed),
    }
    if entry.task == "text-to-image":
        kwargs["prompt"] = "a sunlit window in a dark room"
        return kwargs
    frames = entry.extra["default_frames"]
    kwargs["num_frames"] = frames
    video = torch.rand(frames, 3, height, width, generator=torch.Generator().manual_seed(seed + 1))
    if entry.base.startswith("wan"):
        kwargs.pop("max_sequence_length", None)
        kwargs.update(video=_to_pil(video), guidance_scale=1.0,
                      prompt_embeds=tiny.wan_prompt_embeds(pipe, "a sunlit window"))
    else:
        from diffusers.pipelines.ltx2 import LTX2HDRReferenceCondition

        kwargs["reference_conditions"] = LTX2HDRReferenceCondition(frames=video)
    return kwargs


def _to_pil(video) -> list[Any]:
    import numpy as np
    from PIL import Image

    frames = (video.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return [Image.fromarray(frame) for frame in frames]


def run_tiny(pipe: Any, name: str, folder: Any, *, seed: int = 0,
             output_type: str = "latent") -> Any:
    """Run tiny preset ``name`` for 2 steps; return the pipeline's first output."""
    return pipe(**tiny_inputs(pipe, name, folder, seed=seed, output_type=output_type))[0]


def _one(name: str, cache_dir: Any, return_arrays: bool) -> dict[str, Any]:
    from hdr_mcp.models.decode import decode_latents
    from hdr_mcp.models.loading import load_pipeline

    entry: ModelFamily = family(name)
    started = time.perf_counter()
    loaded = load_pipeline(name, tiny_cache_dir=cache_dir)
    loaded.pipe.set_progress_bar_config(disable=True)
    load_s = time.perf_counter() - started
    latents = run_tiny(loaded.pipe, name, loaded.path)
    denoise_s = time.perf_counter() - started - load_s
    values = decode_latents(loaded.pipe, latents, entry, height=entry.extra["default_height"],
                            width=entry.extra["default_width"],
                            num_frames=entry.extra["default_frames"])
    result = {
        "model": name, "status": "ok", "task": entry.task, "pipeline": entry.pipeline_class,
        "shape": list(values.shape), "min": float(values.min()), "max": float(values.max()),
        "finite": bool(values.isfinite().all()), "load_s": round(load_s, 3),
        "denoise_s": round(denoise_s, 3),
        "total_s": round(time.perf_counter() - started, 3),
    }
    if return_arrays:
        result["values"] = values.numpy()
    return result


def run_selftest(families: list[str] | None = None, *, return_arrays: bool = False,
                 cache_dir: Any = None) -> dict[str, Any]:
    """Run every tiny preset (or the ``tiny-`` names given) and report.

    Returns ``{"environment": {...}, "results": [...], "ok": bool, "total_s": float}``. Each
    result has ``model``, ``status`` (``ok`` or ``error``), ``shape``, ``min``/``max`` of the
    decoded float32 VAE-space values (not clamped: may leave [-1, 1]), timings in seconds and,
    with ``return_arrays``, ``values`` (numpy float32, (B, 3, H, W) or (B, 3, F, H, W)). A
    failing preset is reported with ``error`` and does not stop the others.
    """
    from hdr_mcp.models import tiny
    from hdr_mcp.models.loading import quiet_libraries

    quiet_libraries()
    started = time.perf_counter()
    selected = list(families) if families is not None else list(tiny.tiny_names())
    for name in selected:
        tiny.tiny_preset(name)  # unknown names fail before any work
    results = []
    for name in selected:
        try:
            results.append(_one(name, cache_dir, return_arrays))
        except Exception as error:  # noqa: BLE001 - one broken preset must not hide the rest
            results.append({"model": name, "status": "error",
                            "error": f"{type(error).__name__}: {error}"})
    return {
        "environment": environment(),
        "results": results,
        "ok": all(r["status"] == "ok" for r in results),
        "total_s": round(time.perf_counter() - started, 3),
    }


def selftest(models: list[str] | None, output_dir: Any, *, overwrite: bool = False,
             progress: Any = None) -> dict[str, Any]:
    """``hdr-mcp selftest``: :func:`run_selftest`, then each preset's first image (or frame)
    written as a tagged EXR in ``output_dir``: VAE values -> code values (``vae_to_code``) ->
    LogC4 decoded to scene-linear, the chain an HDR LoRA's output takes. Random weights: the
    pictures are noise; the point is that every step runs and nothing clamps. JSON-safe.
    """
    from pathlib import Path

    import numpy as np

    from hdr_mcp.color import decode
    from hdr_mcp.io import write_exr
    from hdr_mcp.models.decode import vae_to_code
    from hdr_mcp.outputs import claim_output_dir, created_folder

    out = Path(output_dir)
    claim_output_dir("output_dir", out, overwrite=overwrite, owned=("tiny-*.exr",))
    report = run_selftest(models, return_arrays=True)
    with created_folder(out):
        report["methods"] = run_video_methods(report["results"], out, overwrite=overwrite,
                                              progress=progress)
        report["ok"] = report["ok"] and all(r["status"] == "ok" for r in report["methods"])
        for row in report["results"]:
            values = row.pop("values", None)
            if values is None:
                continue
            first = values[0] if values.ndim == 4 else values[0][:, 0]  # (3, H, W)
            codes = vae_to_code(np.moveaxis(first, 0, -1).astype(np.float64))
            linear = decode(codes, "logc4").astype(np.float32)
            row["exr"] = str(write_exr(out / f"{row['model']}.exr", linear, dtype="float", metadata={
                "hdr_mcp/model": row["model"], "hdr_mcp/decoded_encoding": "logc4",
                "hdr_mcp/note": "hdr-mcp selftest: tiny preset with random weights"}))
            row["peak_scene"] = float(linear.max())
            if progress is not None:
                progress(row["model"])
    report["output_dir"] = str(out)
    return report


def run_video_methods(results: list[dict[str, Any]], output_dir: Any, *, overwrite: bool = False,
                      progress: Any = None) -> list[dict[str, Any]]:
    """``sdr_to_hdr_video``'s diffusion methods on the video presets that passed: a synthetic
    :data:`SELFTEST_FRAMES`-frame SDR clip with a blown-out window (two temporal windows)
    converted into ``output_dir/<method>/``. One row per method: ``method``, ``model``,
    ``status``, and ``frames``, ``peak_scene``, ``windows``, ``prompt_used`` or ``error``."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from hdr_mcp.io import write_sdr

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for result in results:
            entry = family(result["model"])
            method = VIDEO_METHODS.get(entry.base or "")
            if method is None or result["status"] != "ok":
                continue
            clip = Path(scratch) / "clip"
            if not clip.exists():
                clip.mkdir()
                for i in range(SELFTEST_FRAMES):
                    frame = np.full((64, 64, 3), 0.35 + 0.01 * i, np.float32)
                    frame[:20, 16:48] = 1.0
                    write_sdr(clip / f"sdr_{i:03d}.png", frame)
            rows.append(_video_method(clip, entry.name, method, Path(output_dir) / method,
                                      overwrite))
            if progress is not None:
                progress(f"{entry.name} {method}")
    return rows


def _video_method(clip: Any, model: str, method: str, out: Any, overwrite: bool
                  ) -> dict[str, Any]:
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    row: dict[str, Any] = {"method": method, "model": model}
    try:
        result = convert(str(clip), output_dir=str(out), method=method, model=model,
                         overwrite=overwrite)
    except Exception as error:  # noqa: BLE001 - reported, like a broken preset
        return {**row, "status": "error", "error": f"{type(error).__name__}: {error}"}
    return {**row, "status": "ok", "frames": result["frames"], "peak_scene": result["peak_scene"],
            "windows": result["windows"]["windows"], "prompt_used": result["prompt_used"],
            "output_dir": result["output_dir"]}
