"""Text -> scene-linear HDR EXR (job kind ``generate_hdr``; handler :func:`run`).

Two methods:

``logc-lora``
    An HDR LoRA (trained on curve-encoded HDR: LogC4 on Qwen-Image-2512 and FLUX, PU21 in
    X2HDR) makes the model generate a flat log picture. Steps: 1. the pipeline denoises with
    ``output_type="latent"`` (diffusers' image processor would clamp to [0, 1]); 2. the model
    layer decodes the latents in float32 with no clamp (:func:`hdr_mcp.models.decode.
    decode_latents`); 3. VAE values -> code values with the LoRA's ``code_range``
    (``(x - vae_min) / (vae_max - vae_min)``); 4. the curve's inverse -> scene-linear light
    (BT.709 primaries: the VAE's RGB is sRGB/Rec.709); 5. the requested colour space; 6. a
    half-float EXR with provenance, a preview and an exposure strip.
``two-stage``
    Public weights, no LoRA: the base model makes an SDR picture (steps 1-2, code values =
    sRGB display codes in [0, 1]), written as a 16-bit PNG, and a ``sdr_to_hdr_video`` method
    (``hdr_method``, default classical) expands it to scene-linear light.

``layout="latlong"`` makes a 2:1 equirectangular HDRI whose left and right edges meet: the
latents are rolled half a turn after every other denoising step (so what lies on the seam is
denoised in the middle of the picture half of the time, as panorama diffusion methods do), and
the decoder's zero padding is kept away from the seam by decoding a half-turn-rolled copy and
cross-fading the two near the edges. The EXR carries ``envmap = latlong``.

Every image is judged: ``peak_nits``, ``peak_scene``, ``dynamic_range_stops``,
``fraction_above_1`` and the QA verdict (:func:`hdr_mcp.metrics.qa.verdict`), which says
plainly when a result is not HDR at all.

Resumable per image: a retried job keeps the images an earlier attempt finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.params import parse
from hdr_mcp.params.generate import MAX_IMAGES, GenerateParams

if TYPE_CHECKING:
    from hdr_mcp.jobs.context import JobContext
    from hdr_mcp.models.registry import ModelFamily

__all__ = ["OWNED_FILES", "Prompt", "generate", "read_prompts", "run"]

#: Files this tool writes in its output folder (``overwrite`` removes exactly these).
OWNED_FILES = ("image_*.exr", "image_*.png", "strip_*.png", "sdr_*.png", "preview.png")
#: Default picture size of real families (tiny presets use their own small size).
DEFAULT_SIZE = 1024
PREVIEW_SIZE = 512
#: Largest finite half float: what the EXRs can hold.
HALF_MAX = 65504.0


@dataclass(frozen=True)
class Prompt:
    """One prompt to render ``num_images`` times."""

    text: str
    negative: str | None
    seed: int
    line: int | None = None


@dataclass(frozen=True)
class _Plan:
    params: GenerateParams
    family: ModelFamily
    model: str
    width: int
    height: int
    steps: int
    prompts: list[Prompt]
    output_dir: Path
    lora: Any = None  # HdrLoraInfo
    lora_sha256: str | None = None
    encoding: str | None = None
    encoding_params: dict[str, float] = field(default_factory=dict)
    code_range: tuple[float, float] = (-1.0, 1.0)

    @property
    def images(self) -> list[tuple[int, Prompt, int]]:
        """``(k, prompt, seed)`` of every image, in output order."""
        n = self.params.num_images
        return [(i * n + j, prompt, prompt.seed + j) for i, prompt in enumerate(self.prompts)
                for j in range(n)]


# -- inputs ------------------------------------------------------------------------------------


def read_prompts(path: str | Path, *, seed: int, negative: str | None) -> list[Prompt]:
    """Prompts of a file: one per line, plain text or a JSON object (``prompt``,
    ``negative_prompt``, ``seed``); blank lines and ``#`` comments skipped. Errors name the line."""
    shown = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgument("prompts_file", shown, f"cannot be read: {e}") from e
    prompts = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        prompts.append(_prompt_line(shown, number, line, seed, negative))
    if not prompts:
        raise InvalidArgument("prompts_file", shown, "holds no prompt")
    return prompts


def _prompt_line(shown: str, number: int, line: str, seed: int, negative: str | None) -> Prompt:
    if not line.startswith("{"):
        return Prompt(line, negative, seed, number)
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise InvalidArgument("prompts_file", shown, f"line {number}: not JSON: {e.msg}") from e
    unknown = set(data) - {"prompt", "negative_prompt", "seed"}
    if unknown:
        raise InvalidArgument("prompts_file", shown, f"line {number}: unknown key(s) "
                              f"{', '.join(sorted(unknown))} (prompt, negative_prompt, seed)")
    text = data.get("prompt")
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("prompts_file", shown, f"line {number}: 'prompt' must be a "
                              "non-empty string")
    line_seed = data.get("seed", seed)
    if isinstance(line_seed, bool) or not isinstance(line_seed, int) or line_seed < 0:
        raise InvalidArgument("prompts_file", shown, f"line {number}: 'seed' must be an "
                              "integer >= 0")
    return Prompt(text, data.get("negative_prompt", negative), line_seed, number)


def _family(p: GenerateParams) -> tuple[ModelFamily, str]:
    from hdr_mcp.models.registry import family

    if Path(p.model).expanduser().is_dir():
        from hdr_mcp.models.loading import detect_family

        return detect_family(Path(p.model).expanduser()), str(Path(p.model).expanduser())
    entry = family(p.model)
    return entry, entry.name


def _size(p: GenerateParams, entry: ModelFamily) -> tuple[int, int]:
    from hdr_mcp.models.registry import validate_size

    base = entry.extra.get("default_height", DEFAULT_SIZE)
    height = p.height or (base if p.layout == "frame" else (p.width or 2 * base) // 2)
    width = p.width or (entry.extra.get("default_width", base) if p.layout == "frame"
                        else 2 * height)
    if p.layout == "latlong" and width != 2 * height:
        raise InvalidArgument("width", width, f"a latlong HDRI is twice as wide as high "
                              f"(height={height}: width={2 * height})")
    validate_size(entry, width=width, height=height)
    return width, height


def _lora(p: GenerateParams, entry: ModelFamily, check: Callable[[str, Path], Path]):
    """The LoRA's metadata and the encoding to decode with (validated, before any loading)."""
    from hdr_mcp.models.lora import check_family, read_hdr_lora_info, resolve_lora_source

    if p.method == "two-stage":
        if p.lora is not None:
            raise InvalidArgument("lora", p.lora, "two-stage uses the base model alone; pass "
                                  "method='logc-lora' to generate with an HDR LoRA")
        return None, None, None, {}, (-1.0, 1.0)
    if p.lora is None:
        raise InvalidArgument("lora", None, "method 'logc-lora' needs an HDR LoRA (a file or "
                              "repo_id/filename); method 'two-stage' works with public weights")
    path = resolve_lora_source(p.lora, revision=None)
    if Path(p.lora).expanduser().exists():
        check("lora", path)
    info = read_hdr_lora_info(path)
    check_family(info, entry, allow_family_mismatch=False)
    encoding = info.encoding
    if encoding is None and p.encoding is None:
        raise InvalidArgument("encoding", None, f"the LoRA {Path(path).name} carries no HDR "
                              "metadata: say which curve it generates in (logc4, logc3, pq, "
                              "log_gamma, pu21, ...)")
    if encoding is not None and p.encoding is not None and p.encoding != encoding:
        raise InvalidArgument("encoding", p.encoding, f"the LoRA {Path(path).name} says it "
                              f"generates {encoding}")
    encoding = encoding or p.encoding
    params = dict(info.encoding_params)
    if encoding in ("pq", "pu21"):
        params.setdefault("nits_per_unit", p.nits_per_unit)
    code_range = (float(info.code_range.get("vae_min", -1.0)),
                  float(info.code_range.get("vae_max", 1.0)))
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return info, digest, encoding, params, code_range


def check_inputs(p: GenerateParams, ctx: JobContext | None) -> _Plan:
    """Validate everything before loading any weight; errors name the argument."""
    from hdr_mcp.color import encoding as curve

    check = ctx.check_path if ctx is not None else (lambda argument, path: Path(path))
    entry, model = _family(p)
    if entry.task != "text-to-image":
        raise InvalidArgument("model", p.model, f"is a {entry.task} model; generate_hdr needs a "
                              "text-to-image family (qwen-image, qwen-image-2512, flux.1-dev, "
                              "flux.2-klein-4b or their tiny- presets)")
    width, height = _size(p, entry)
    if p.prompts_file is not None:
        prompts = read_prompts(check("prompts_file", p.prompts_file), seed=p.seed,
                               negative=p.negative_prompt)
    else:
        prompts = [Prompt(p.prompt or "", p.negative_prompt, p.seed)]
    if len(prompts) * p.num_images > MAX_IMAGES:
        raise InvalidArgument("num_images", p.num_images, f"{len(prompts)} prompt(s) x "
                              f"{p.num_images} = {len(prompts) * p.num_images} images; at most "
                              f"{MAX_IMAGES} per job (split the prompts file)")
    info, digest, encoding, params, code_range = _lora(p, entry, check)
    if encoding is not None:
        curve(encoding)  # known and its parameters valid
    if p.output_dir is None:
        raise InvalidArgument("output_dir", None, "required: the folder for the EXRs")
    out = check("output_dir", Path(p.output_dir).expanduser().absolute())
    return _Plan(params=p, family=entry, model=model, width=width, height=height,
                 steps=p.steps or entry.default_steps, prompts=prompts, output_dir=out,
                 lora=info, lora_sha256=digest, encoding=encoding, encoding_params=params,
                 code_range=code_range)


# -- the model ---------------------------------------------------------------------------------


def _pipeline(plan: _Plan, ctx: JobContext | None) -> Any:
    """The loaded pipeline from the worker's cache (a second job on the same model and LoRA
    does not load it again); the LoRA set to this job's scale."""
    from hdr_mcp.models.cache import cached_pipeline

    p = plan.params
    return cached_pipeline(plan.model, family=plan.family, ctx=ctx, revision=p.revision,
                           lora=p.lora, lora_scale=p.lora_scale, allow_cpu=p.allow_cpu)


# -- one image ---------------------------------------------------------------------------------


def _call_kwargs(loaded: Any, plan: _Plan, prompt: Prompt, seed: int,
                 callback: Callable[..., dict]) -> dict[str, Any]:
    import inspect

    import torch

    from hdr_mcp.models import tiny

    p, entry = plan.params, plan.family
    kwargs: dict[str, Any] = tiny.call_kwargs(entry.name, loaded.path) if entry.tiny else {}
    kwargs.update(prompt=prompt.text, height=plan.height, width=plan.width,
                  num_inference_steps=plan.steps, output_type="latent", return_dict=False,
                  generator=torch.Generator().manual_seed(seed),
                  callback_on_step_end=callback)
    accepted = set(inspect.signature(loaded.pipe.__call__).parameters)
    if prompt.negative and "negative_prompt" in accepted:
        kwargs["negative_prompt"] = prompt.negative
    if p.guidance is not None:
        # Qwen-Image's classifier-free guidance is true_cfg_scale; FLUX's is guidance_scale.
        name = "true_cfg_scale" if "true_cfg_scale" in accepted and not entry.name.startswith(
            ("flux", "tiny-flux")) else "guidance_scale"
        kwargs[name] = p.guidance
    return {k: v for k, v in kwargs.items() if k in accepted}


def _denoise(loaded: Any, plan: _Plan, prompt: Prompt, seed: int,
             on_step: Callable[[int], None]) -> tuple[Any, int]:
    """Run the pipeline to latents; returns them and the width shift (in latent-token
    columns) still applied by latlong rolling."""
    from hdr_mcp.pipelines.panorama import roll_packed

    latlong = plan.params.layout == "latlong"
    grid = (plan.height // 16, plan.width // 16)  # 2x2-packed token grid of an 8x VAE
    state = {"shift": 0}

    def callback(pipe: Any, step: int, t: Any, kwargs: dict) -> dict:
        on_step(step + 1)
        if not latlong or step % 2:
            return {}
        half = grid[1] // 2
        state["shift"] = (state["shift"] + half) % grid[1]
        return {"latents": roll_packed(kwargs["latents"], grid, half)}

    latents = loaded.pipe(**_call_kwargs(loaded, plan, prompt, seed, callback))[0]
    return latents, state["shift"]


def _to_values(loaded: Any, plan: _Plan, latents: Any, shift: int) -> np.ndarray:
    """Latents -> float32 VAE values (H, W, 3), unclamped; latlong seams removed."""
    from hdr_mcp.models.decode import decode_latents
    from hdr_mcp.pipelines.panorama import seamless_decode, unroll_latents

    def decode(z: Any) -> np.ndarray:
        values = decode_latents(loaded.pipe, z, plan.family, height=plan.height, width=plan.width)
        return np.moveaxis(values[0].float().numpy(), 0, -1)

    if plan.params.layout == "frame":
        return decode(latents)
    latents = unroll_latents(latents, plan.family, (plan.height // 16, plan.width // 16), shift)
    return seamless_decode(latents, decode, plan.family, (plan.height // 16, plan.width // 16))


def _scene_linear(plan: _Plan, values: np.ndarray, k: int, ctx: JobContext | None) -> np.ndarray:
    """VAE values -> scene-linear lin_rec709 float32."""
    from hdr_mcp.color import decode
    from hdr_mcp.models.decode import vae_to_code

    if plan.params.method == "logc-lora":
        codes = vae_to_code(values.astype(np.float64), *plan.code_range)
        with np.errstate(over="ignore", invalid="ignore"):
            linear = decode(codes, plan.encoding, **plan.encoding_params)
        return np.nan_to_num(linear, nan=0.0, posinf=65504.0, neginf=-65504.0).astype(np.float32)
    return _two_stage(plan, values, k, ctx)


def _sdr_light(plan: _Plan, values: np.ndarray) -> np.ndarray | None:
    """Two-stage: the SDR picture as relative display light (what the verdict compares with)."""
    if plan.params.method != "two-stage":
        return None
    from hdr_mcp.color import decode
    from hdr_mcp.models.decode import vae_to_code

    return decode(np.clip(vae_to_code(values), 0.0, 1.0).astype(np.float32), "srgb")


def _two_stage(plan: _Plan, values: np.ndarray, k: int, ctx: JobContext | None) -> np.ndarray:
    """SDR display codes -> a 16-bit PNG beside the EXRs -> the sdr_to_hdr method."""
    import tempfile

    from hdr_mcp.io import read_image, write_sdr
    from hdr_mcp.models.decode import vae_to_code
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    codes = np.clip(vae_to_code(values), 0.0, 1.0).astype(np.float32)
    sdr = write_sdr(plan.output_dir / f"sdr_{k:03d}.png", codes, bit_depth=16)
    with tempfile.TemporaryDirectory(dir=ctx.workdir if ctx else None) as scratch:
        result = convert(str(sdr), output_dir=scratch, method=plan.params.hdr_method,
                         colorspace="lin_rec709", nits_per_unit=plan.params.nits_per_unit,
                         preview=False)
        return read_image(result["exr_paths"][0]).pixels[..., :3].astype(np.float32)


def _provenance(plan: _Plan, prompt: Prompt, seed: int) -> dict[str, Any]:
    p = plan.params
    return {
        "hdr_mcp/prompt": prompt.text,
        "hdr_mcp/negative_prompt": prompt.negative or "",
        "hdr_mcp/seed": seed,
        "hdr_mcp/model": plan.model,
        "hdr_mcp/revision": p.revision or plan.family.revision,
        "hdr_mcp/method": p.method,
        "hdr_mcp/hdr_method": p.hdr_method if p.method == "two-stage" else "",
        "hdr_mcp/lora": p.lora or "",
        "hdr_mcp/lora_sha256": plan.lora_sha256 or "",
        "hdr_mcp/lora_scale": p.lora_scale if p.lora else 0,
        "hdr_mcp/decoded_encoding": plan.encoding or "",
        "hdr_mcp/encoding_params": plan.encoding_params,
        "hdr_mcp/code_range": list(plan.code_range),
        "hdr_mcp/steps": plan.steps,
        "hdr_mcp/guidance": p.guidance if p.guidance is not None else "default",
        "hdr_mcp/layout": p.layout,
        "hdr_mcp/nits_per_unit": p.nits_per_unit,
    }


def _judge(scene_rec709: np.ndarray, nits_per_unit: float, overflow: int = 0,
           sdr: np.ndarray | None = None) -> dict[str, Any]:
    """Honest numbers of what the EXR holds: peak, range, how much lies above 1.0, and the QA
    verdict (plus a reason when values beyond the largest half float were clamped). ``sdr``
    (two-stage: the SDR picture as display light) lets the verdict tell a real expansion from a
    gain of the SDR."""
    from hdr_mcp.metrics.qa import verdict
    from hdr_mcp.metrics.range import dynamic_range_stops, image_luminance

    y = image_luminance(scene_rec709, "lin_rec709")
    peak = float(y.max())
    judged = verdict(scene_rec709, sdr, nits_per_unit=nits_per_unit, colorspace="lin_rec709")
    if overflow:
        judged["reasons"].append(f"{overflow} value(s) beyond the largest half float (65504) "
                                 "were clamped: the LoRA's output overshoots its curve")
    return {
        "peak_scene": peak,
        "peak_nits": peak * nits_per_unit,
        "dynamic_range_stops": float(dynamic_range_stops(y)),
        "fraction_above_1": float(np.mean(scene_rec709.max(axis=-1) > 1.0)),
        "hdr": judged["verdict"] != "fail",
        "verdict": judged["verdict"],
        "reasons": judged["reasons"],
    }


def _write(plan: _Plan, k: int, scene_rec709: np.ndarray, metadata: dict[str, Any]) -> dict:
    from hdr_mcp.color import convert_colorspace, exposure_strip, preview
    from hdr_mcp.io import write_exr, write_png

    p = plan.params
    stored = scene_rec709
    if p.colorspace != "lin_rec709":
        stored = convert_colorspace(scene_rec709, "lin_rec709", p.colorspace)
    exr = write_exr(plan.output_dir / f"image_{k:03d}.exr", stored, colorspace=p.colorspace,
                    compression=p.compression, metadata=metadata, overflow="clamp",
                    envmap="latlong" if p.layout == "latlong" else None)
    png = write_png(plan.output_dir / f"image_{k:03d}.png",
                    preview(scene_rec709, max_size=PREVIEW_SIZE))
    strip = write_png(plan.output_dir / f"strip_{k:03d}.png", exposure_strip(scene_rec709))
    return {"exr": str(exr), "preview_png": str(png), "strip_png": str(strip)}


def _kept(plan: _Plan, k: int, resuming: bool) -> dict[str, Any] | None:
    """An image an earlier attempt finished (EXRs are written atomically), re-judged."""
    from hdr_mcp.color import convert_colorspace
    from hdr_mcp.io import read_image

    path = plan.output_dir / f"image_{k:03d}.exr"
    if not resuming or not path.is_file():
        return None
    try:
        stored = read_image(path).pixels[..., :3]
    except (InvalidArgument, OSError):
        return None
    rec709 = convert_colorspace(stored, plan.params.colorspace, "lin_rec709")
    return {"exr": str(path), "preview_png": str(path.with_suffix(".png")),
            "strip_png": str(plan.output_dir / f"strip_{k:03d}.png"),
            **_judge(rec709.astype(np.float32), plan.params.nits_per_unit), "resumed": True}


# -- the job -----------------------------------------------------------------------------------


def generate(params: GenerateParams | dict[str, Any], ctx: JobContext | None = None
             ) -> dict[str, Any]:
    """Generate scene-linear HDR EXRs from text (see the module doc). JSON-safe result:
    ``images`` (per image: exr, preview_png, strip_png, prompt, seed, peak_nits, peak_scene,
    dynamic_range_stops, fraction_above_1, hdr, verdict, reasons), ``preview_png`` (the first
    image's), ``output_dir``, ``model``, ``method``, ``encoding``, ``lora`` (metadata and the
    number of adapted modules), ``prompt_used`` (trigger words added), ``width``, ``height``,
    ``steps``, ``layout``, ``colorspace``, ``not_hdr`` (how many images failed the verdict)."""
    from hdr_mcp.jobs.context import JobCancelled
    from hdr_mcp.outputs import claim_output_dir, created_folder

    p = parse(GenerateParams, params)
    plan = check_inputs(p, ctx)
    resuming = claim_output_dir("output_dir", plan.output_dir, overwrite=p.overwrite,
                                owned=OWNED_FILES, workdir=ctx.workdir if ctx else None)
    triggers = ", ".join(plan.lora.trigger_words) if plan.lora and plan.lora.trigger_words else ""
    images = plan.images
    total_steps = len(images) * plan.steps
    with created_folder(plan.output_dir):
        loaded = _pipeline(plan, ctx)
        rows = []
        for n, (k, prompt, seed) in enumerate(images):
            kept = _kept(plan, k, resuming)
            if kept is None:
                used = Prompt(f"{triggers}, {prompt.text}" if triggers else prompt.text,
                              prompt.negative, seed, prompt.line)

                def on_step(step: int, n: int = n, k: int = k) -> None:
                    if ctx is not None:
                        if ctx.should_stop():
                            raise JobCancelled(f"cancelled at image {k}, step {step}; finished "
                                               f"images stay in {plan.output_dir}")
                        ctx.progress(n * plan.steps + step, total_steps,
                                     f"image {n + 1}/{len(images)} step {step}/{plan.steps}")

                latents, shift = _denoise(loaded, plan, used, seed, on_step)
                values = _to_values(loaded, plan, latents, shift)
                scene = _scene_linear(plan, values, k, ctx)
                overflow = int(np.count_nonzero(np.abs(scene) > HALF_MAX))
                scene = np.clip(scene, -HALF_MAX, HALF_MAX)  # what a half-float EXR can hold
                kept = {**_write(plan, k, scene, _provenance(plan, used, seed)),
                        **_judge(scene, p.nits_per_unit, overflow, _sdr_light(plan, values)),
                        "resumed": False}
            rows.append({"index": k, "prompt": prompt.text, "seed": seed, **kept})
            if ctx is not None:
                ctx.progress((n + 1) * plan.steps, total_steps, f"image {n + 1}/{len(images)}")
    return _result(plan, loaded, rows, triggers)


def _result(plan: _Plan, loaded: Any, rows: list[dict], triggers: str) -> dict[str, Any]:
    p = plan.params
    lora = None
    if plan.lora is not None:
        lora = {"source": p.lora, "sha256": plan.lora_sha256, "encoding": plan.encoding,
                "encoding_params": plan.encoding_params, "code_range": list(plan.code_range),
                "trigger_words": list(plan.lora.trigger_words), "scale": p.lora_scale,
                "metadata": plan.lora.source}
    return {
        "images": rows,
        "exr_paths": [row["exr"] for row in rows],
        "preview_png": rows[0]["preview_png"] if rows else None,
        "output_dir": str(plan.output_dir),
        "model": plan.model,
        "revision": p.revision or plan.family.revision,
        "method": p.method,
        "encoding": plan.encoding,
        "lora": lora,
        "prompt_used": f"{triggers}, {{prompt}}" if triggers else "{prompt}",
        "width": plan.width,
        "height": plan.height,
        "steps": plan.steps,
        "layout": p.layout,
        "colorspace": p.colorspace,
        "nits_per_unit": p.nits_per_unit,
        "not_hdr": sum(1 for row in rows if not row["hdr"]),
        "device": str(loaded.device),
    }


def run(params: GenerateParams | dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Job handler for ``generate_hdr``; without ``output_dir`` it writes into the job's
    working folder."""
    p = parse(GenerateParams, params)
    if p.output_dir is None:
        p = p.model_copy(update={"output_dir": str(ctx.workdir / "images")})
    try:
        return generate(p, ctx)
    except ImportError as e:
        raise HdrMcpError(f"generate_hdr needs the diffusion extra: pip install "
                          f"'hdr-mcp[diffusion]' after a torch for your machine ({e})") from e

