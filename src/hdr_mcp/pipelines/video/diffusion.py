"""The diffusion methods of ``sdr_to_hdr_video``: ``ltx2-hdr`` and ``wan-vace``.

``ltx2-hdr`` (LumiVid: LTX-2.3 + the HDR IC-LoRA, diffusers' ``LTX2HDRPipeline``)
    The SDR frames are the IC-LoRA's reference (``LTX2HDRReferenceCondition``, downscaled by the
    LoRA's ``reference_downscale_factor``); the model generates LogC3 (EI 800) code values,
    ``code = decode * 0.5 + 0.5``. The public LoRA ``Lightricks/LTX-2.3-22b-IC-LoRA-HDR`` is the
    default; its metadata gives the curve and the downscale. Real models run the distilled
    schedule (``DISTILLED_SIGMA_VALUES``, 8 steps) unless ``steps`` is given.
``wan-vace`` (DiffHDR: Wan 2.1 VACE + an HDR LoRA)
    The SDR frames are VACE's control video (mask all ones: everything is generated);
    optionally a ``reference_image``. The LoRA's metadata names its log-gamma parameters
    (``gamma``, ``max_value``; DiffHDR's code uses 65536, its paper 1000): those are what the
    output is decoded with. Soft exposure masks (:mod:`.exposure`) give the prompt's
    ``[Overexposed: ...]`` / ``[Underexposed: ...]`` parts (built from mask statistics of the
    whole clip when the prompt has none) and route them to their regions by context-focused
    cross-attention (:mod:`hdr_mcp.models.attention_routing`).

Steps, for both (a video longer than one window is cut by :mod:`.windows`):

1. check everything (input, size, windows, LoRA and its curve, prompt) before any weight loads;
2. frames stream in window by window (edge-padded to the model's size rule, the last window
   padded in time with the last frame); each window is denoised with the same seed to
   ``output_type="latent"`` (diffusers' own output clamps);
3. windows' latents are blended in latent space (linear ramps over the overlap) and each shot
   latent, once final, is decoded by :class:`hdr_mcp.models.decode.TemporalDecoder` in float32
   without any clamp (Wan's ``_decode`` clamp and LTX-2's LogC3 bound avoided);
4. VAE values -> code values (the LoRA's ``code_range``) -> the curve's inverse (extrapolating
   beyond [0, 1] where the curve allows) -> scene-linear BT.709 -> ``colorspace``;
5. frames cropped and trimmed to the input, written as half-float EXRs through the I/O core
   (atomically, colour space tagged, provenance in the header) with the previews.

Long shots: memory holds one window of frames and latents plus the overlap, whatever the shot's
length. Each finished window's latents are checkpointed in the job's working folder, so a
retried job denoises only the windows not done and, being deterministic, writes frames
identical to an uninterrupted run. Progress is per step and per window; cancelling
(``ctx.should_stop()``, checked after every step) stops within one step: finished frames stay
(each EXR is written whole), the preview MP4 is discarded.

Videos with a variable frame rate are read in decode order at their average rate (the EXR frame
numbers are decode indices, as for the classical method).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.sdr_to_hdr import SdrToHdrParams
from hdr_mcp.pipelines.sdr_to_hdr import EXR_PATTERN, SEQUENCE_FPS
from hdr_mcp.pipelines.video.exposure import PromptParts
from hdr_mcp.pipelines.video.windows import WindowPlan

if TYPE_CHECKING:
    from hdr_mcp.io.sdr_source import SdrSource
    from hdr_mcp.jobs.context import JobContext
    from hdr_mcp.models.registry import ModelFamily

__all__ = ["METHODS", "MethodSpec", "check_inputs", "convert_with_diffusion"]

HALF_MAX = 65504.0
#: Where a job keeps each finished window's latents (inside ``ctx.workdir``).
CHECKPOINTS = "windows"
#: Frames of the clip the exposure captions are measured on (evenly spaced), and their size.
CAPTION_FRAMES = 16
CAPTION_SIZE = 256
#: The second stage's schedule (diffusers ``ltx2.utils.STAGE_2_DISTILLED_SIGMA_VALUES``): it
#: starts from the upsampled latents noised to the first sigma.
STAGE_2_SIGMAS = (0.909375, 0.725, 0.421875)


@dataclass(frozen=True)
class MethodSpec:
    """What a method needs: its pipeline, the curve its LoRA must generate, default windows."""

    pipeline_class: str
    encoding: str
    window: int
    overlap: int
    models: str


METHODS: dict[str, MethodSpec] = {
    "ltx2-hdr": MethodSpec("LTX2HDRPipeline", "logc3", 121, 25, "ltx-2.3, tiny-ltx-2.3"),
    "wan-vace": MethodSpec("WanVACEPipeline", "log_gamma", 33, 9,
                           "wan2.1-vace-1.3b, wan2.1-vace-14b, their tiny- presets"),
}


@dataclass(frozen=True)
class _Lora:
    path: str | None = None
    sha256: str | None = None
    encoding: str = "logc3"
    encoding_params: dict[str, float] = field(default_factory=dict)
    code_range: tuple[float, float] = (-1.0, 1.0)
    reference_downscale_factor: int = 1
    trigger_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Plan:
    """Everything the conversion needs, validated. Attribute names shared with the classical
    plan (params, source, output_dir, start, stop, fps) let it reuse the preview writer."""

    params: SdrToHdrParams
    spec: MethodSpec
    source: SdrSource
    output_dir: Path
    start: int
    stop: int
    fps: float
    family: ModelFamily
    model: str
    height: int
    width: int
    windows: WindowPlan
    steps: int
    guidance: float
    lora: _Lora
    prompt: PromptParts | None
    prompt_sources: dict[str, str]
    exposure: dict[str, Any]
    reference_image: Path | None

    def parameters(self) -> dict[str, Any]:
        """Everything that decided the result (job result and EXR header)."""
        p = self.params
        return {
            "method": p.method, "model": self.model, "revision": p.revision or
            self.family.revision, "lora": self.lora.path, "lora_sha256": self.lora.sha256,
            "lora_scale": p.lora_scale, "encoding": self.lora.encoding,
            "encoding_params": self.lora.encoding_params,
            "code_range": list(self.lora.code_range), "prompt_used": self.prompt_text,
            "seed": p.seed, "steps": self.steps, "guidance": self.guidance,
            "upscale": p.upscale, "refine_steps": self.refine_steps,
            "width": self.width, "height": self.height, **self.windows.to_dict(),
            "reference_image": str(self.reference_image) if self.reference_image else None,
            "start": self.start, "stop": self.stop, "colorspace": p.colorspace,
            "compression": p.compression, "nits_per_unit": p.nits_per_unit,
        }

    @property
    def refine_steps(self) -> int:
        """Steps of the second stage (``upscale="latent-x2"``), 0 without one."""
        return len(STAGE_2_SIGMAS) if self.params.upscale else 0

    def prompt_segments(self) -> list[tuple[str, str]]:
        """wan-vace: ``(kind, text)`` of the prompt used, the LoRA's trigger words first."""
        if self.prompt is None:
            return []
        triggers = ", ".join(self.lora.trigger_words)
        base = ", ".join(part for part in (triggers, self.prompt.base) if part)
        return [("base", base), *self.prompt.segments()[1:]]

    @property
    def prompt_text(self) -> str | None:
        if self.prompt is None:
            return self.params.prompt
        return " ".join(text for _, text in self.prompt_segments() if text)

    def checkpoint_key(self) -> str:
        """What a stored window's latents must match to be reused."""
        key = {**self.parameters(), "input": self.source.path, "count": self.source.count}
        for name in ("colorspace", "compression", "nits_per_unit"):
            key.pop(name)
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


# -- checks ------------------------------------------------------------------------------------


def _family(p: SdrToHdrParams, spec: MethodSpec) -> tuple[ModelFamily, str]:
    from hdr_mcp.models.registry import family

    folder = Path(str(p.model)).expanduser()
    if folder.is_dir():
        from hdr_mcp.models.loading import detect_family

        entry, model = detect_family(folder), str(folder)
    else:
        entry, model = family(str(p.model)), family(str(p.model)).name
    if entry.pipeline_class != spec.pipeline_class:
        raise InvalidArgument("model", p.model, f"is a {entry.pipeline_class} model; method "
                              f"{p.method!r} needs one of: {spec.models}")
    return entry, model


def _model_size(entry: ModelFamily, height: int, width: int, stages: int = 1
                ) -> tuple[int, int]:
    """The frame size the model takes: the input's, rounded up to the family's multiple (twice
    it with a half-size first stage; the frames are edge-padded and the output cropped back)."""
    sizes = []
    for argument, value, rule in (("height", height, entry.height), ("width", width, entry.width)):
        multiple = rule.multiple * stages
        size = max(rule.min * stages, math.ceil(value / multiple) * multiple)
        if size > rule.max:
            raise InvalidArgument("input", f"{width}x{height}", f"{entry.name} takes frames of "
                                  f"at most {rule.max} pixels ({argument}); scale the video down")
        sizes.append(size)
    return sizes[0], sizes[1]


def _lora(p: SdrToHdrParams, entry: ModelFamily, spec: MethodSpec,
          check: Callable[[str, Any], Path]) -> _Lora:
    """The LoRA (given, else the family's public HDR LoRA) and the curve it generates."""
    from hdr_mcp.models.lora import check_family, read_hdr_lora_info, resolve_lora_source

    source = p.lora
    if source is None and entry.hdr_lora is not None and entry.hdr_lora.encoding == spec.encoding:
        source = f"{entry.hdr_lora.repository}/{entry.hdr_lora.filename}"
    if source is None:
        if not entry.tiny:
            raise InvalidArgument("lora", None, f"method {p.method!r} needs an HDR LoRA that "
                                  f"generates {spec.encoding} (a file or repo_id/filename)")
        return _Lora(encoding=spec.encoding)  # tiny presets run bare, decoded with the defaults
    path = resolve_lora_source(source)
    if Path(source).expanduser().exists():
        check("lora", path)
    info = read_hdr_lora_info(path)
    check_family(info, entry, allow_family_mismatch=False)
    if info.encoding != spec.encoding:
        said = "carries no HDR metadata" if info.encoding is None else (
            f"generates {info.encoding}")
        raise InvalidArgument("lora", source, f"{said}; method {p.method!r} needs a LoRA that "
                              f"generates {spec.encoding}")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _Lora(str(path), digest, info.encoding, dict(info.encoding_params),
                 (float(info.code_range["vae_min"]), float(info.code_range["vae_max"])),
                 info.reference_downscale_factor or 1, tuple(info.trigger_words))


def _exposure_prompt(p: SdrToHdrParams, source: SdrSource, start: int, stop: int
                     ) -> tuple[PromptParts, dict[str, str], dict[str, Any]]:
    """wan-vace: masks of evenly spaced frames of the clip -> the prompt's exposure parts."""
    from hdr_mcp.color.tonemap import downscale_area
    from hdr_mcp.pipelines.sdr_to_hdr import _sample_indices
    from hdr_mcp.pipelines.video.exposure import exposure_masks, mask_stats, prompt_with_captions

    samples = source.sample(_sample_indices(start, stop, CAPTION_FRAMES))
    try:
        frames = np.stack([downscale_area(codes, CAPTION_SIZE) for _, codes in samples])
    finally:
        samples.close()
    over, under = exposure_masks(frames, temporal_radius=0)
    stats = {"over": mask_stats(over), "under": mask_stats(under)}
    parts, sources = prompt_with_captions(p.prompt, stats["over"], stats["under"])
    return parts, sources, {kind: s.to_dict() for kind, s in stats.items()}


def check_inputs(p: SdrToHdrParams, ctx: JobContext | None = None) -> _Plan:
    """Validate everything before any weight is loaded; errors name the argument."""
    from hdr_mcp.io.sdr_source import open_sdr
    from hdr_mcp.io.sequence import frame_range
    from hdr_mcp.pipelines.video.windows import plan_windows

    check = ctx.check_path if ctx is not None else (lambda argument, path: Path(path))
    spec = METHODS[p.method]
    if p.output_dir is None:
        raise InvalidArgument("output_dir", None, "required: the folder for the EXR frames")
    out = check("output_dir", Path(p.output_dir).expanduser().absolute())
    entry, model = _family(p, spec)
    source = open_sdr(p.input, "input", sequence_fps=SEQUENCE_FPS)
    for path in source.files or (Path(source.path),):
        check("input", path)
    start, stop = frame_range(p.start, p.stop, source.count)
    height, width = _model_size(entry, source.height, source.width, 2 if p.upscale else 1)
    windows = plan_windows(
        stop - start, step=entry.latent.temporal_compression, min_frames=entry.frames.min,
        max_frames=entry.frames.max, window=p.window, overlap=p.overlap,
        default_window=spec.window, default_overlap=spec.overlap)
    lora = _lora(p, entry, spec, check)
    prompt, sources, exposure = None, {}, {}
    if p.method == "wan-vace":
        prompt, sources, exposure = _exposure_prompt(p, source, start, stop)
    elif p.prompt is not None and entry.tiny:
        raise InvalidArgument("prompt", p.prompt, f"{entry.name} has no text encoder (its "
                              "conditioning is stored with it); omit the prompt")
    reference = check("reference_image", Path(p.reference_image).expanduser()) if (
        p.reference_image) else None
    if reference is not None and not reference.is_file():
        raise InvalidArgument("reference_image", p.reference_image, "no such file")
    if reference is not None:
        _reference_pixels(reference)  # an unreadable or HDR file fails before any work
    return _Plan(p, spec, source, out, start, stop, p.fps or source.fps or SEQUENCE_FPS, entry,
                 model, height, width, windows, p.steps or entry.default_steps,
                 1.0 if p.guidance is None else p.guidance, lora, prompt, sources, exposure,
                 reference)


# -- frames in ---------------------------------------------------------------------------------


def _window_frames(plan: _Plan) -> Iterator[tuple[int, np.ndarray]]:
    """``(window index, frames)``: each window's SDR code values (window, H, W, 3), padded
    in space (edge) to the model's size and in time with the last frame; memory: one window."""
    windows = plan.windows
    buffer: deque[np.ndarray] = deque(maxlen=windows.window)
    frames = plan.source.frames(plan.start, plan.stop)
    read = 0
    last = None
    try:
        for index in range(windows.count):
            while read < windows.start(index) + windows.window:
                item = next(frames, None)
                last = _pad_space(item[1], plan) if item is not None else last
                buffer.append(last)
                read += 1
            yield index, np.stack(buffer)
    finally:
        frames.close()


def _pad_space(codes: np.ndarray, plan: _Plan) -> np.ndarray:
    pad_h, pad_w = plan.height - codes.shape[0], plan.width - codes.shape[1]
    if pad_h or pad_w:
        codes = np.pad(codes, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(codes, dtype=np.float32)


# -- the two methods ---------------------------------------------------------------------------


class _Denoiser:
    """Runs one window through the method's pipeline to shot-ready latents (de-normalised
    float32 (1, C, F', h, w)); ``on_step(step)`` after every denoising step."""

    def __init__(self, plan: _Plan, loaded: Any) -> None:
        self.plan, self.loaded, self.pipe = plan, loaded, loaded.pipe

    def common(self, frames: np.ndarray, on_step: Callable[[int], None]) -> dict[str, Any]:
        import torch

        def callback(pipe: Any, step: int, t: Any, kwargs: dict) -> dict:
            on_step(step + 1)
            return {}

        plan = self.plan
        return {"height": plan.height, "width": plan.width, "num_frames": frames.shape[0],
                "num_inference_steps": plan.steps, "guidance_scale": plan.guidance,
                "generator": torch.Generator().manual_seed(plan.params.seed),
                "output_type": "latent", "return_dict": False, "callback_on_step_end": callback}

    def close(self) -> None:
        """Undo what the denoiser changed on the (cached) pipeline."""


class _LtxDenoiser(_Denoiser):
    def __init__(self, plan: _Plan, loaded: Any) -> None:
        super().__init__(plan, loaded)
        from hdr_mcp.models import tiny

        entry = plan.family
        self.static: dict[str, Any] = {"frame_rate": float(plan.fps),
                                       "reference_downscale_factor":
                                       plan.lora.reference_downscale_factor}
        if entry.tiny:
            self.static.update(tiny.call_kwargs(entry.name, loaded.path))
        else:
            self.static["prompt"] = plan.prompt_text or ""
            if plan.params.steps is None:  # the distilled model's own schedule
                from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

                self.static["sigmas"] = list(DISTILLED_SIGMA_VALUES)

    def denoise(self, frames: np.ndarray, on_step: Callable[[int], None]) -> Any:
        plan = self.plan
        if not plan.params.upscale:
            return self._stage(frames, on_step, plan.height, plan.width)
        # two stages (LTX-2's recipe): half size, 2x latent upsampling, a short refining pass
        small = frames.reshape(frames.shape[0], plan.height // 2, 2, plan.width // 2, 2, 3)
        first = self._stage(small.mean(axis=(2, 4)), on_step, plan.height // 2, plan.width // 2)
        upsampled = self._upsample(first)
        return self._stage(frames, lambda step: on_step(plan.steps + step), plan.height,
                           plan.width, latents=upsampled, sigmas=list(STAGE_2_SIGMAS))

    def _stage(self, frames: np.ndarray, on_step: Callable[[int], None], height: int,
               width: int, **extra: Any) -> Any:
        import torch
        from diffusers.pipelines.ltx2 import LTX2HDRReferenceCondition

        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()
        kwargs = {**self.common(frames, on_step), **self.static, "height": height,
                  "width": width, "reference_conditions": LTX2HDRReferenceCondition(frames=video),
                  **extra}
        if "sigmas" in kwargs:
            kwargs["num_inference_steps"] = len(kwargs["sigmas"])
        return self.pipe(**kwargs)[0].float()

    def _upsample(self, latents: Any) -> Any:
        """The model's 2x latent upsampler (loaded once per cached pipeline) on de-normalised
        latents, as ``LTX2LatentUpsamplePipeline`` runs it."""
        import torch

        upsampler = getattr(self.loaded, "latent_upsampler", None)
        if upsampler is None:
            upsampler = _load_upsampler(self.loaded)
            self.loaded.latent_upsampler = upsampler
        with torch.no_grad():
            return upsampler(latents.to(upsampler.dtype)).float()


def _load_upsampler(loaded: Any) -> Any:
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    from hdr_mcp.models.tiny import LATENT_UPSAMPLER

    folder = Path(loaded.path) / LATENT_UPSAMPLER
    if not (folder / "config.json").is_file():
        raise InvalidArgument("upscale", "latent-x2", f"{loaded.family.name} has no latent "
                              f"upsampler ({folder} is missing); omit upscale")
    device = next(loaded.pipe.vae.parameters()).device
    return LTX2LatentUpsamplerModel.from_pretrained(str(folder)).to(device).eval()


class _WanDenoiser(_Denoiser):
    def __init__(self, plan: _Plan, loaded: Any) -> None:
        super().__init__(plan, loaded)
        from hdr_mcp.models.attention_routing import install_routing, token_ranges
        from hdr_mcp.models.tiny import wan_prompt_embeds

        pipe = self.pipe
        tokens = 128 if plan.family.tiny else 512
        ranges, text_tokens, text = token_ranges(pipe.tokenizer, plan.prompt_segments(), tokens)
        self.reference = _reference_image(plan)
        self.embeds = wan_prompt_embeds(pipe, text, tokens)
        self.negative = wan_prompt_embeds(pipe, "", tokens) if plan.guidance > 1 else None
        # last: close() undoes it, and only a denoiser that was built is closed
        self.routing = install_routing(pipe.transformer) if ranges else None
        if self.routing is not None:
            self.routing.key_ranges, self.routing.text_tokens = ranges, text_tokens
            self.routing.condition = self.embeds

    def denoise(self, frames: np.ndarray, on_step: Callable[[int], None]) -> Any:
        from hdr_mcp.models.decode import denormalise_latents

        plan = self.plan
        if self.routing is not None:
            self.routing.masks = _token_masks(frames, plan, self.reference is not None)
        kwargs = {**self.common(frames, on_step), "video": _pil(frames),
                  "prompt_embeds": self.embeds, "negative_prompt_embeds": self.negative,
                  "reference_images": [self.reference] if self.reference is not None else None}
        latents = self.pipe(**kwargs)[0]
        return denormalise_latents(self.pipe, latents, plan.family, height=plan.height,
                                   width=plan.width,
                                   reference_frames=int(self.reference is not None))

    def close(self) -> None:
        from hdr_mcp.models.attention_routing import remove_routing

        remove_routing(self.pipe.transformer)


def _pil(frames: np.ndarray) -> list[Any]:
    from PIL import Image

    codes = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    return [Image.fromarray(frame) for frame in codes]


def _reference_pixels(path: Path) -> np.ndarray:
    """SDR code values (H, W, 3) of a reference image; scene-linear files are refused."""
    from hdr_mcp.io import read_image

    try:
        image = read_image(path)
    except InvalidArgument as e:
        raise type(e)("reference_image", str(path), e.reason) from e
    if image.info.transfer == "linear":
        raise InvalidArgument("reference_image", str(path), "is scene-linear HDR; give an SDR "
                              "image (PNG, JPEG, TIFF)")
    pixels = image.pixels
    return pixels[..., :3] if pixels.shape[-1] >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)


def _reference_image(plan: _Plan) -> Any:
    """The reference as VACE takes it: padded like the frames when it has their size, else
    resized to the model's frame size."""
    if plan.reference_image is None:
        return None
    pixels = _reference_pixels(plan.reference_image)
    if pixels.shape[:2] == (plan.source.height, plan.source.width):
        return _pil(_pad_space(pixels, plan)[None])[0]
    return _pil(pixels[None])[0].resize((plan.width, plan.height))


def _token_masks(frames: np.ndarray, plan: _Plan, reference: bool) -> dict[str, Any]:
    """Exposure masks of a window on the transformer's video tokens: latent frames (the
    first frame alone, then groups of ``step``) x patches of ``8 x 2`` pixels, averaged."""
    import torch

    from hdr_mcp.pipelines.video.exposure import exposure_masks

    step = plan.family.latent.temporal_compression
    patch = plan.family.latent.spatial_compression * 2
    out = {}
    for kind, masks in zip(("over", "under"), exposure_masks(frames), strict=True):
        groups = [masks[:1]] + [masks[1 + k:1 + k + step] for k in range(0, len(masks) - 1, step)]
        latent = np.stack([g.mean(axis=0) for g in groups])
        t, h, w = latent.shape
        pooled = latent.reshape(t, h // patch, patch, w // patch, patch).mean(axis=(2, 4))
        if reference:
            pooled = np.concatenate([np.zeros_like(pooled[:1]), pooled])
        out[kind] = torch.from_numpy(np.ascontiguousarray(pooled.reshape(-1)))
    return out


_DENOISERS = {"ltx2-hdr": _LtxDenoiser, "wan-vace": _WanDenoiser}


# -- checkpoints -------------------------------------------------------------------------------


def _checkpoint_path(workdir: Path | None, index: int) -> Path | None:
    return None if workdir is None else Path(workdir) / CHECKPOINTS / f"window_{index:05d}.pt"


def _stored_latents(path: Path | None, key: str) -> Any:
    """A window's latents an earlier attempt stored (None: none, or for other parameters)."""
    import torch

    if path is None or not path.is_file():
        return None
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError):
        return None
    return record["latents"] if record.get("key") == key else None


def _store_latents(path: Path | None, key: str, latents: Any) -> None:
    import torch

    from hdr_mcp.io.atomic import atomic_path

    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"key": key, "latents": latents.detach().cpu().contiguous()}, tmp)


# -- frames out --------------------------------------------------------------------------------


class _Frames:
    """Decoded VAE values -> scene-linear half-float EXRs (cropped, trimmed) and previews."""

    def __init__(self, plan: _Plan, resuming: bool) -> None:
        from hdr_mcp.io import ExrSequenceWriter
        from hdr_mcp.pipelines.sdr_to_hdr import QUEUE_FRAMES, _Previews, _Writer

        p = plan.params
        self.plan, self.resuming = plan, resuming
        self.exr = ExrSequenceWriter(
            plan.output_dir, EXR_PATTERN, colorspace=p.colorspace, compression=p.compression,
            metadata=_provenance(plan))
        self.writer = _Writer(self.exr, QUEUE_FRAMES)
        self.previews = _Previews(plan)
        self.done = self.kept = self.overflow = 0
        self.peak = -math.inf

    def add(self, values: Any) -> None:
        """Frames (1, 3, f, H, W) VAE values, next in shot order."""
        if values is None:
            return
        plan = self.plan
        total = plan.stop - plan.start
        values = values.cpu()
        for t in range(values.shape[2]):
            if self.done >= total:
                return  # the padding at the end of the shot
            index = plan.start + self.done
            frame = values[0, :, t, :plan.source.height, :plan.source.width]
            stored = self._scene(np.moveaxis(frame.numpy(), 0, -1))
            if self.resuming and self.exr.path_for(index).is_file():
                self.kept += 1
            else:
                self.writer.submit(stored, index, {"hdr_mcp/source_frame": index})
            self.previews.add(index, stored)
            self.peak = max(self.peak, float(np.max(stored)))
            self.done += 1

    def _scene(self, values: np.ndarray) -> np.ndarray:
        """VAE values -> code values -> the curve's inverse -> colour space -> float16."""
        from hdr_mcp.color import convert_colorspace, decode
        from hdr_mcp.models.decode import vae_to_code

        lora = self.plan.lora
        codes = vae_to_code(values.astype(np.float64), *lora.code_range)
        with np.errstate(over="ignore", invalid="ignore"):
            linear = decode(codes, lora.encoding, **lora.encoding_params)
        linear = np.nan_to_num(np.asarray(linear, np.float32), nan=0.0, posinf=HALF_MAX,
                               neginf=-HALF_MAX)
        colorspace = self.plan.params.colorspace
        if colorspace != "lin_rec709":
            linear = convert_colorspace(linear, "lin_rec709", colorspace)
        self.overflow += int(np.count_nonzero(np.abs(linear) > HALF_MAX))
        return np.clip(linear, -HALF_MAX, HALF_MAX).astype(np.float16)

    def finish(self) -> dict[str, Any]:
        self.writer.finish()
        previews = self.previews.finish()
        self.exr.close()
        return previews

    def abort(self) -> None:
        self.previews.abort()
        self.writer.abandon()
        self.exr.close()


def _provenance(plan: _Plan) -> dict[str, Any]:
    p = plan.params
    return {
        "hdr_mcp/method": p.method, "hdr_mcp/model": plan.model,
        "hdr_mcp/lora": plan.lora.path or "", "hdr_mcp/lora_sha256": plan.lora.sha256 or "",
        "hdr_mcp/decoded_encoding": plan.lora.encoding,
        "hdr_mcp/encoding_params": plan.lora.encoding_params,
        "hdr_mcp/prompt": plan.prompt_text or "", "hdr_mcp/seed": p.seed,
        "hdr_mcp/parameters": json.dumps(plan.parameters()),
        "hdr_mcp/nits_per_unit": p.nits_per_unit, "hdr_mcp/source": plan.source.path,
    }


# -- the conversion ----------------------------------------------------------------------------


def convert_with_diffusion(params: SdrToHdrParams, ctx: JobContext | None = None
                           ) -> dict[str, Any]:
    """Run a diffusion method (``params.method`` in :data:`METHODS`); see the module doc and
    :func:`hdr_mcp.pipelines.sdr_to_hdr.convert` for the arguments and the result, which adds
    ``model``, ``lora``, ``prompt_used`` / ``prompt_sources`` / ``exposure_masks`` (wan-vace),
    ``windows`` (frames, window, overlap, windows, padded_frames), ``resumed_windows``,
    ``steps``, ``seed``, ``overflow`` (values beyond the largest half float, clamped)."""
    from hdr_mcp.models.cache import cached_pipeline
    from hdr_mcp.outputs import claim_output_dir, created_folder
    from hdr_mcp.pipelines.sdr_to_hdr import OWNED_FILES

    plan = check_inputs(params, ctx)
    workdir = ctx.workdir if ctx is not None else None
    resuming = claim_output_dir("output_dir", plan.output_dir, overwrite=params.overwrite,
                                owned=OWNED_FILES, workdir=workdir)
    if ctx is not None:
        ctx.log(f"sdr_to_hdr {params.method}: {plan.source.kind} {plan.source.path}, "
                f"{json.dumps(plan.parameters())}{' (resuming)' if resuming else ''}")
    with created_folder(plan.output_dir):
        loaded = cached_pipeline(plan.model, family=plan.family, ctx=ctx,
                                 revision=params.revision, lora=plan.lora.path,
                                 lora_scale=params.lora_scale, allow_cpu=params.allow_cpu)
        denoiser = _DENOISERS[params.method](plan, loaded)
        try:
            return _run_windows(plan, loaded, denoiser, ctx, resuming)
        finally:
            denoiser.close()


def _decoder(plan: _Plan, loaded: Any) -> Any:
    from hdr_mcp.models.decode import AUTO_TILE_PIXELS, TemporalDecoder

    tiled = plan.height * plan.width > AUTO_TILE_PIXELS
    return TemporalDecoder(loaded.pipe, plan.family, tiled=tiled)


def _run_windows(plan: _Plan, loaded: Any, denoiser: _Denoiser, ctx: JobContext | None,
                 resuming: bool) -> dict[str, Any]:
    from hdr_mcp.jobs.context import JobCancelled
    from hdr_mcp.pipelines.video.windows import LatentBlender

    windows, steps = plan.windows, plan.steps + plan.refine_steps
    total = windows.count * steps
    key = plan.checkpoint_key()
    blender, decoder = LatentBlender(windows), _decoder(plan, loaded)
    out = _Frames(plan, resuming)
    resumed = 0
    try:
        for index, frames in _window_frames(plan):
            def on_step(step: int, index: int = index) -> None:
                if ctx is None:
                    return
                if ctx.should_stop():
                    raise JobCancelled(f"cancelled in window {index + 1}/{windows.count}, step "
                                       f"{step}; {out.done} finished EXR frames stay in "
                                       f"{plan.output_dir}, the preview MP4 was discarded")
                ctx.progress(index * steps + step, total,
                             f"window {index + 1}/{windows.count} step {step}/{steps}")

            path = _checkpoint_path(ctx.workdir if ctx is not None else None, index)
            latents = _stored_latents(path, key)
            if latents is None:
                on_step(0)
                # the blend runs on the CPU (a window's latents are small; stored ones load
                # there); the decoder moves them back to the VAE's device
                latents = denoiser.denoise(frames, on_step).cpu()
                _store_latents(path, key, latents)
            else:
                resumed += 1
            out.add(decoder.push(blender.add(index, latents)))
            if ctx is not None:
                ctx.progress((index + 1) * steps, total,
                             f"window {index + 1}/{windows.count} denoised")
        out.add(decoder.finish())
        previews = out.finish()
    except BaseException:
        out.abort()
        raise
    return _result(plan, out, previews, resumed, loaded)


def _result(plan: _Plan, out: _Frames, previews: dict[str, Any], resumed: int,
            loaded: Any) -> dict[str, Any]:
    p = plan.params
    first, last = (out.exr.path_for(plan.start), out.exr.path_for(plan.stop - 1))
    lora = None if plan.lora.path is None else {
        "path": plan.lora.path, "sha256": plan.lora.sha256, "encoding": plan.lora.encoding,
        "encoding_params": plan.lora.encoding_params, "code_range": list(plan.lora.code_range),
        "scale": p.lora_scale, "reference_downscale_factor":
        plan.lora.reference_downscale_factor}
    return {
        "frames": out.done, "resumed_frames": out.kept, "resumed_windows": resumed,
        "output_dir": str(plan.output_dir),
        "exr_paths": [str(path) for path in dict.fromkeys((first, last))],
        "exr_pattern": str(plan.output_dir / EXR_PATTERN), "exr_count": out.done,
        **previews, "colorspace": p.colorspace, "peak_scene": out.peak,
        "peak_nits": out.peak * p.nits_per_unit, "nits_per_unit": p.nits_per_unit,
        "method": p.method, "model": plan.model, "lora": lora, "encoding": plan.lora.encoding,
        "prompt_used": plan.prompt_text, "prompt_sources": plan.prompt_sources,
        "exposure_masks": plan.exposure, "windows": plan.windows.to_dict(), "steps": plan.steps,
        "seed": p.seed, "overflow": out.overflow, "device": str(loaded.device),
        "input": plan.source.describe(), "parameters": plan.parameters(),
    }
