"""Registry of the diffusion model families hdr-mcp can drive, one frozen entry per family.

Importing this module is cheap (standard library only): the MCP server imports it to validate
model names and to list models without loading torch, diffusers or peft.

Each :class:`ModelFamily` says what a caller needs before touching weights: the task, the
diffusers pipeline and component classes, where the weights live on the Hugging Face Hub (and at
which revision), the dtype and memory they need, size constraints, the VAE latent layout (which
decides how :func:`hdr_mcp.models.decode.decode_latents` turns latents into code values) and the
LoRA target modules training uses. Every entry lists its ``sources``; figures that could not be
checked against a primary source are named in ``unverified``.

Adding a family is adding one entry to :data:`_REAL_FAMILIES` (plus, for a tiny preset, a builder
in :mod:`hdr_mcp.models.tiny` and its limits in :data:`_TINY_LIMITS`).

Every real family also has a ``tiny-<name>`` twin: the same diffusers classes built from a small
config with seeded random weights (:mod:`hdr_mcp.models.tiny`), used by tests and ``selftest``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from hdr_mcp.errors import InvalidArgument

__all__ = [
    "Components",
    "FrameRule",
    "HdrLoraRef",
    "LatentLayout",
    "ModelFamily",
    "SizeRule",
    "families",
    "family",
    "names",
    "validate_size",
]

Task = Literal["text-to-image", "video-to-video"]
Packing = Literal["qwen-packed", "flux-packed", "flux2", "wan", "ltx2"]

FACTS = "shared/FACTS.md"


@dataclass(frozen=True)
class SizeRule:
    """Allowed values of one pixel dimension: a multiple of ``multiple`` in ``[min, max]``."""

    multiple: int
    min: int
    max: int

    def accepts(self, value: int) -> bool:
        return self.min <= value <= self.max and value % self.multiple == 0

    def describe(self) -> str:
        return f"a multiple of {self.multiple} between {self.min} and {self.max}"


@dataclass(frozen=True)
class FrameRule:
    """Allowed frame counts: ``step * k + 1`` in ``[min, max]`` (the video VAE keeps the first
    frame and compresses the rest ``step`` to one)."""

    step: int
    min: int
    max: int

    def accepts(self, value: int) -> bool:
        return self.min <= value <= self.max and (value - 1) % self.step == 0

    def describe(self) -> str:
        return f"{self.step}k+1 frames between {self.min} and {self.max}"


@dataclass(frozen=True)
class LatentLayout:
    """How a family's pipeline hands back ``output_type="latent"`` results.

    Attributes
    ----------
    packing
        ``qwen-packed``: packed 2x2 tokens (B, H/16*W/16, 64), normalised;
        ``flux-packed``: packed 2x2 tokens, scaled and shifted;
        ``flux2``: unpacked (B, 32, H/8, W/8), batch-norm already undone by the pipeline;
        ``wan``: (B, 16, F', H/8, W/8) normalised, leading reference-image frames included;
        ``ltx2``: (B, 128, F', H/32, W/32) already denormalised (reference tokens trimmed).
    channels
        Channels of the VAE latent (before any 2x2 packing).
    spatial_compression, temporal_compression
        Pixels per latent pixel in each axis; frames per latent frame (1 for image VAEs).
    normalisation
        Where the de-normalisation constants live (VAE config keys or buffers).
    decode_clamps
        Whether the VAE's own ``_decode`` clamps its output to [-1, 1] (FACTS.md section 4).
    """

    packing: Packing
    channels: int
    spatial_compression: int
    temporal_compression: int
    normalisation: str
    decode_clamps: bool


@dataclass(frozen=True)
class Components:
    """Class names of a pipeline's components as its ``model_index.json`` names them."""

    transformer: str
    vae: str
    text_encoders: tuple[str, ...]
    tokenizers: tuple[str, ...]
    scheduler: str
    others: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    """Sub-folders of the repository to download (``snapshot_download`` allow patterns)."""


@dataclass(frozen=True)
class HdrLoraRef:
    """A public HDR LoRA made for a family."""

    repository: str
    filename: str
    revision: str
    encoding: str
    """Curve the LoRA generates in, as :func:`hdr_mcp.color.encodings` spells it."""
    adapter_name: str
    scale: float
    gated: bool | None
    licence: str
    notes: str = ""


@dataclass(frozen=True)
class ModelFamily:
    """Everything hdr-mcp knows about one model family (or its ``tiny-`` twin).

    Memory figures are GB (10^9 bytes). ``vram_gb`` is the estimate without offload at
    ``torch_dtype``; ``vram_gb_offload`` with ``enable_model_cpu_offload`` (the largest single
    component resident). Both are estimates from weight sizes unless ``sources`` says otherwise.
    """

    name: str
    task: Task
    description: str
    pipeline_class: str
    components: Components
    repository: str | None
    revision: str
    revision_pinned: bool
    """True when ``revision`` is a commit hash; False when it is a branch (``main``)."""
    torch_dtype: str
    vram_gb: float
    vram_gb_offload: float
    size_gb: float
    gated: bool | None
    """None: not verified."""
    licence: str
    width: SizeRule
    height: SizeRule
    frames: FrameRule | None
    latent: LatentLayout
    lora_target_modules: tuple[str, ...]
    """Default peft ``target_modules`` for training an HDR LoRA (suffix match)."""
    architecture: str
    """Families sharing an architecture accept each other's LoRA weights."""
    hdr_lora: HdrLoraRef | None = None
    default_steps: int = 28
    sources: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    tiny: bool = False
    base: str | None = None
    """For a tiny preset: the family it mirrors."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Family-specific facts (e.g. ``lora_target_modules_text``; tiny presets' default size)."""

    @property
    def allow_patterns(self) -> list[str]:
        """``snapshot_download`` allow patterns: the index and the component folders only
        (repositories such as FLUX.1-dev also hold single-file checkpoints we never need)."""
        return ["model_index.json", *(f"{folder}/*" for folder in self.components.folders)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (for ``hdr-mcp models info --json`` and MCP resources)."""
        data = dataclasses.asdict(self)
        data["allow_patterns"] = self.allow_patterns
        return data


_IMAGE_SIZE = SizeRule(multiple=16, min=256, max=2048)
_T2I_FOLDERS = ("scheduler", "text_encoder", "tokenizer", "transformer", "vae")

_QWEN_COMPONENTS = Components(
    transformer="QwenImageTransformer2DModel",
    vae="AutoencoderKLQwenImage",
    text_encoders=("Qwen2_5_VLForConditionalGeneration",),
    tokenizers=("Qwen2Tokenizer",),
    scheduler="FlowMatchEulerDiscreteScheduler",
    folders=_T2I_FOLDERS,
)
_QWEN_LATENT = LatentLayout(
    packing="qwen-packed",
    channels=16,
    spatial_compression=8,
    temporal_compression=4,
    normalisation="vae.config.latents_mean / latents_std (per channel): x*std + mean",
    decode_clamps=True,
)
_ATTN_IMAGE = ("to_q", "to_k", "to_v", "to_out.0")
_ATTN_TEXT = ("add_q_proj", "add_k_proj", "add_v_proj", "to_add_out")
_QWEN_SOURCES = (
    "https://huggingface.co/Qwen/Qwen-Image",
    (f"{FACTS} section 4 (clamp in AutoencoderKLQwenImage._decode), section 8 (latent output, "
    "LoRA targets)"),
    ("diffusers 0.42.1 pipelines/qwenimage/pipeline_qwenimage.py (_unpack_latents, "
    "latents_mean/std)"),
    ("size: transformer 40.9 GB + text_encoder 16.6 GB + vae 0.25 GB (file listings of mirrors of "
    "the same weights, e.g. huggingface.co/frankjoshua/Qwen-Image/tree/main/transformer)"),
)


def _qwen(name: str, repository: str, revision: str, description: str) -> ModelFamily:
    return ModelFamily(
        name=name,
        task="text-to-image",
        description=description,
        pipeline_class="QwenImagePipeline",
        components=_QWEN_COMPONENTS,
        repository=repository,
        revision=revision,
        revision_pinned=True,
        torch_dtype="bfloat16",
        vram_gb=60.0,
        vram_gb_offload=42.0,
        size_gb=57.8,
        gated=False,
        licence="apache-2.0",
        width=_IMAGE_SIZE,
        height=_IMAGE_SIZE,
        frames=None,
        latent=_QWEN_LATENT,
        lora_target_modules=_ATTN_IMAGE,
        architecture="qwen-image",
        default_steps=50,
        sources=(*_QWEN_SOURCES, f"https://huggingface.co/{repository}"),
        unverified=("vram_gb and vram_gb_offload are estimates from weight sizes",),
        extra={"lora_target_modules_text": _ATTN_TEXT},
    )


_FLUX1 = ModelFamily(
    name="flux.1-dev",
    task="text-to-image",
    description="FLUX.1 [dev], 12B rectified-flow transformer, CLIP + T5 text encoders",
    pipeline_class="FluxPipeline",
    components=Components(
        transformer="FluxTransformer2DModel",
        vae="AutoencoderKL",
        text_encoders=("CLIPTextModel", "T5EncoderModel"),
        tokenizers=("CLIPTokenizer", "T5TokenizerFast"),
        scheduler="FlowMatchEulerDiscreteScheduler",
        folders=(*_T2I_FOLDERS, "text_encoder_2", "tokenizer_2"),
    ),
    repository="black-forest-labs/FLUX.1-dev",
    revision="0ef5fff789c832c5c7f4e127f94c8b54bbcced44",
    revision_pinned=True,
    torch_dtype="bfloat16",
    vram_gb=34.0,
    vram_gb_offload=24.0,
    size_gb=33.7,
    gated=True,
    licence="FLUX.1 [dev] Non-Commercial License",
    width=_IMAGE_SIZE,
    height=_IMAGE_SIZE,
    frames=None,
    latent=LatentLayout(
        packing="flux-packed",
        channels=16,
        spatial_compression=8,
        temporal_compression=1,
        normalisation="vae.config.scaling_factor / shift_factor: x/scaling + shift",
        decode_clamps=False,
    ),
    lora_target_modules=(
        *(f"attn.{m}" for m in _ATTN_IMAGE + _ATTN_TEXT),
        "proj_mlp",
        "proj_out",
    ),
    architecture="flux.1",
    default_steps=28,
    sources=(
        "https://huggingface.co/black-forest-labs/FLUX.1-dev",
        f"{FACTS} section 4 (tiny config, no clamp), section 8 (latent output, LoRA targets)",
        ("revision: snapshot hash in public transformer/config.json _name_or_path (e.g. "
        "huggingface.co/markury/flux-fused-v19)"),
    ),
    unverified=(
        ("size_gb (transformer 23.8 + T5 9.5 + CLIP 0.25 + VAE 0.17 GB) from memory of the "
        "file listing, not re-checked"),
        "vram_gb and vram_gb_offload are estimates from weight sizes",
        "'proj_out' also matches the transformer's final projection",
    ),
)

_FLUX2_KLEIN = ModelFamily(
    name="flux.2-klein-4b",
    task="text-to-image",
    description="FLUX.2 [klein] 4B, step-distilled, Qwen3 text encoder",
    pipeline_class="Flux2KleinPipeline",
    components=Components(
        transformer="Flux2Transformer2DModel",
        vae="AutoencoderKLFlux2",
        text_encoders=("Qwen3ForCausalLM",),
        tokenizers=("Qwen2Tokenizer",),
        scheduler="FlowMatchEulerDiscreteScheduler",
        folders=_T2I_FOLDERS,
    ),
    repository="black-forest-labs/FLUX.2-klein-4B",
    revision="e7b7dc27f91deacad38e78976d1f2b499d76a294",
    revision_pinned=True,
    torch_dtype="bfloat16",
    vram_gb=17.0,
    vram_gb_offload=13.0,
    size_gb=16.2,
    gated=False,
    licence="apache-2.0",
    width=_IMAGE_SIZE,
    height=_IMAGE_SIZE,
    frames=None,
    latent=LatentLayout(
        packing="flux2",
        channels=32,
        spatial_compression=8,
        temporal_compression=1,
        normalisation="batch norm running stats (vae.bn), undone by the pipeline before "
        "output_type='latent' returns",
        decode_clamps=False,
    ),
    lora_target_modules=(
        *(f"attn.{m}" for m in _ATTN_IMAGE + _ATTN_TEXT),
        "attn.to_qkv_mlp_proj",
    ),
    architecture="flux.2-klein-4b",
    default_steps=4,
    sources=(
        ("https://huggingface.co/black-forest-labs/FLUX.2-klein-4B (model_index.json: "
        "Flux2KleinPipeline, is_distilled=true; transformer 7.75 GB, text_encoder 8.05 GB)"),
        ("https://github.com/black-forest-labs/flux2 (licence table: klein 4B apache-2.0; "
        "'as little as 13GB VRAM')"),
        f"{FACTS} section 4 (tiny config), section 8 (latent output, LoRA targets)",
        "revision: snapshot hash seen in several public scripts' HF cache paths",
    ),
    unverified=(
        "vram_gb (no offload) is an estimate from weight sizes",
        ("single-block 'attn.to_out' is left out of lora_target_modules: as a suffix it also "
        "matches the double blocks' to_out ModuleList"),
    ),
)

_WAN_COMPONENTS = Components(
    transformer="WanVACETransformer3DModel",
    vae="AutoencoderKLWan",
    text_encoders=("UMT5EncoderModel",),
    tokenizers=("T5TokenizerFast",),
    scheduler="UniPCMultistepScheduler",
    folders=_T2I_FOLDERS,
)
_WAN_LATENT = LatentLayout(
    packing="wan",
    channels=16,
    spatial_compression=8,
    temporal_compression=4,
    normalisation="vae.config.latents_mean / latents_std (per channel): x*std + mean",
    decode_clamps=True,
)
_WAN_FRAMES = FrameRule(step=4, min=5, max=161)
_WAN_SIZE = SizeRule(multiple=16, min=256, max=1280)
_WAN_SOURCES = (
    (f"{FACTS} section 4 (tiny config, clamp in AutoencoderKLWan._decode), section 8 (VACE "
    "latent output keeps reference frames)"),
    "diffusers 0.42.1 pipelines/wan/pipeline_wan_vace.py",
    ("model_index.json of the 14B diffusers repository (mirror: huggingface.co/"
    "JackIsNotInTheBox/Video_Watermark_Remover_Checkpoints/blob/main/vace-14b/model_index.json)"),
)


def _wan(name: str, repository: str, revision: str, **figures: Any) -> ModelFamily:
    return ModelFamily(
        name=name,
        task="video-to-video",
        pipeline_class="WanVACEPipeline",
        components=_WAN_COMPONENTS,
        repository=repository,
        revision=revision,
        revision_pinned=True,
        torch_dtype="bfloat16",
        gated=False,
        licence="apache-2.0",
        width=_WAN_SIZE,
        height=_WAN_SIZE,
        frames=_WAN_FRAMES,
        latent=_WAN_LATENT,
        lora_target_modules=_ATTN_IMAGE,
        default_steps=30,
        **figures,
    )


_WAN_1_3B = _wan(
    "wan2.1-vace-1.3b",
    "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
    "ec4d2cb062b548996b179d493fdd05340de702a1",
    description="Wan 2.1 VACE 1.3B (video editing / conditioning), UMT5 text encoder",
    vram_gb=12.0,
    vram_gb_offload=8.2,
    size_gb=19.1,
    architecture="wan2.1-vace-1.3b",
    sources=(
        *_WAN_SOURCES,
        ("https://huggingface.co/Wan-AI/Wan2.1-VACE-1.3B-diffusers (transformer 7.15 GB, "
        "tokenizer 21.5 MB; text_encoder 11.4 GB and vae 508 MB from the same files in "
        "a-r-r-o-w/Wan-VACE-1.3B-diffusers)"),
        "Wan2.1 model card: T2V-1.3B needs 8.19 GB VRAM (with offload)",
        "revision: snapshot hash in public scripts' HF cache paths",
    ),
    unverified=(
        ("lora_target_modules follow the attention projections of diffusers' LoRA trainers, "
        "not FACTS.md"),
        "vram_gb (no offload) is an estimate",
    ),
)
_WAN_14B = _wan(
    "wan2.1-vace-14b",
    "Wan-AI/Wan2.1-VACE-14B-diffusers",
    "9acc137423da4e4893f83700034ab0693575cb22",
    description="Wan 2.1 VACE 14B (video editing / conditioning), UMT5 text encoder",
    vram_gb=48.0,
    vram_gb_offload=36.0,
    size_gb=81.2,
    architecture="wan2.1-vace-14b",
    sources=(
        *_WAN_SOURCES,
        ("https://huggingface.co/Wan-AI/Wan2.1-VACE-14B-diffusers (revision from the blob URL of "
        "transformer/diffusion_pytorch_model-00010-of-00013.safetensors)"),
        "size: 81.2 GB total of the identical layout in linoyts/Wan-VACE-14B-diffusers",
    ),
    unverified=(
        "lora_target_modules follow the attention projections of diffusers' LoRA trainers",
        "vram figures are estimates from weight sizes",
    ),
)

_LTX_HDR_LORA = HdrLoraRef(
    repository="Lightricks/LTX-2.3-22b-IC-LoRA-HDR",
    filename="ltx-2.3-22b-ic-lora-hdr-0.9.safetensors",
    revision="main",
    encoding="logc3",
    adapter_name="hdr_lora",
    scale=1.0,
    gated=None,
    licence="LTX-2 Community License",
    notes="metadata keys hdr_transform (logc3) and reference_downscale_factor, read by "
    "hdr_mcp.models.lora.read_hdr_lora_info; call with sigmas=DISTILLED_SIGMA_VALUES",
)

_LTX_23 = ModelFamily(
    name="ltx-2.3",
    task="video-to-video",
    description="LTX-2.3 22B distilled with the HDR IC-LoRA (SDR reference video -> LogC3 HDR)",
    pipeline_class="LTX2HDRPipeline",
    components=Components(
        transformer="LTX2VideoTransformer3DModel",
        vae="AutoencoderKLLTX2Video",
        text_encoders=("Gemma3ForConditionalGeneration",),
        tokenizers=("GemmaTokenizerFast",),
        scheduler="FlowMatchEulerDiscreteScheduler",
        others=("LTX2TextConnectors", "AutoencoderKLLTX2Audio", "LTX2VocoderWithBWE"),
        folders=(*_T2I_FOLDERS, "connectors", "audio_vae", "vocoder", "processor"),
    ),
    repository="diffusers/LTX-2.3-Distilled-Diffusers",
    revision="main",
    revision_pinned=False,
    torch_dtype="bfloat16",
    vram_gb=80.0,
    vram_gb_offload=48.0,
    size_gb=72.0,
    gated=None,
    licence="LTX-2 Community License",
    width=SizeRule(multiple=32, min=64, max=3840),
    height=SizeRule(multiple=32, min=64, max=3840),
    frames=FrameRule(step=8, min=9, max=257),
    latent=LatentLayout(
        packing="ltx2",
        channels=128,
        spatial_compression=32,
        temporal_compression=8,
        normalisation="vae.latents_mean / latents_std buffers and scaling_factor, undone by "
        "the pipeline before output_type='latent' returns",
        decode_clamps=False,
    ),
    lora_target_modules=_ATTN_IMAGE,
    architecture="ltx-2.3",
    hdr_lora=_LTX_HDR_LORA,
    default_steps=8,
    sources=(
        "https://huggingface.co/diffusers/LTX-2.3-Distilled-Diffusers",
        ("diffusers 0.42.1 pipelines/ltx2/pipeline_ltx2_hdr_lora.py (docstring example: repo, "
        "HDR IC-LoRA file, adapter 'hdr_lora')"),
        f"{FACTS} section 4 (tiny config), section 8 (LTX2HDRPipeline behaviour, clamps)",
        ("Lightricks/LTX-2 packages/ltx-pipelines/src/ltx_pipelines/hdr_ic_lora.py "
        "(read_hdr_lora_config: hdr_transform, reference_downscale_factor; up to 4K)"),
        "frame rule 8k+1, 9..257 and multiple of 32: docs.daydream.live LTX 2.3 pipeline page",
    ),
    unverified=(
        "revision: no commit hash found, 'main' is used",
        ("gated: not verified for the diffusers repository or the HDR IC-LoRA (other Lightricks "
        "IC-LoRA cards are gated behind 'Agree and Access')"),
        ("size_gb (22B transformer ~46 GB + Gemma 3 12B ~24 GB + VAEs) and vram figures are "
        "estimates"),
        "lora_target_modules (attention projections) not checked against the IC-LoRA keys",
    ),
)

_REAL_FAMILIES: tuple[ModelFamily, ...] = (
    _qwen(
        "qwen-image",
        "Qwen/Qwen-Image",
        "9e31a1d489546029df1adfc9e12a08edafc692e7",
        "Qwen-Image 20B MMDiT, Qwen2.5-VL 7B text encoder",
    ),
    _qwen(
        "qwen-image-2512",
        "Qwen/Qwen-Image-2512",
        "25468b98e3276ca6700de15c6628e51b7de54a26",
        "Qwen-Image 2512 update (same architecture as qwen-image, new weights)",
    ),
    _FLUX1,
    _FLUX2_KLEIN,
    _WAN_1_3B,
    _WAN_14B,
    _LTX_23,
)

# Tiny presets: pixel limits and defaults (the builders live in hdr_mcp.models.tiny).
_TINY_LIMITS: Mapping[str, dict[str, Any]] = MappingProxyType(
    {
        "qwen-image": {"size": SizeRule(16, 16, 128), "default": (32, 32, None)},
        "qwen-image-2512": {"size": SizeRule(16, 16, 128), "default": (32, 32, None)},
        "flux.1-dev": {"size": SizeRule(16, 16, 128), "default": (32, 32, None)},
        "flux.2-klein-4b": {"size": SizeRule(16, 16, 128), "default": (32, 32, None)},
        "wan2.1-vace-1.3b": {
            "size": SizeRule(16, 16, 64),
            "frames": FrameRule(4, 5, 17),
            "default": (32, 32, 5),
        },
        "wan2.1-vace-14b": {
            "size": SizeRule(16, 16, 64),
            "frames": FrameRule(4, 5, 17),
            "default": (32, 32, 5),
        },
        "ltx-2.3": {
            "size": SizeRule(32, 32, 128),
            "frames": FrameRule(8, 9, 17),
            "default": (64, 64, 9),
            "latent_channels": 16,
        },
    }
)


def _tiny_variant(entry: ModelFamily) -> ModelFamily:
    limits = _TINY_LIMITS[entry.name]
    height, width, frames = limits["default"]
    latent = dataclasses.replace(
        entry.latent, channels=limits.get("latent_channels", entry.latent.channels)
    )
    return dataclasses.replace(
        entry,
        name=f"tiny-{entry.name}",
        description=f"tiny random {entry.name} (same classes, seeded weights) for tests",
        repository=None,
        revision="local",
        revision_pinned=False,
        torch_dtype="float32",
        vram_gb=0.0,
        vram_gb_offload=0.0,
        size_gb=0.0,
        gated=False,
        licence="apache-2.0 (hdr-mcp generated)",
        width=limits["size"],
        height=limits["size"],
        frames=limits.get("frames"),
        latent=latent,
        architecture=f"tiny-{entry.architecture}",
        hdr_lora=None,
        default_steps=2,
        sources=(*entry.sources, "hdr_mcp.models.tiny (builder)"),
        unverified=(),
        tiny=True,
        base=entry.name,
        extra={**entry.extra, "default_height": height, "default_width": width,
               "default_frames": frames},
    )


def _build_registry() -> Mapping[str, ModelFamily]:
    entries = list(_REAL_FAMILIES) + [_tiny_variant(e) for e in _REAL_FAMILIES]
    return MappingProxyType({entry.name: entry for entry in entries})


FAMILIES: Mapping[str, ModelFamily] = _build_registry()
"""Every registered family by name, real ones first, then their ``tiny-`` twins (read-only)."""


def names(*, include_tiny: bool = True) -> tuple[str, ...]:
    """Registered family names (real families first)."""
    return tuple(n for n, e in FAMILIES.items() if include_tiny or not e.tiny)


def families(*, include_tiny: bool = True) -> tuple[ModelFamily, ...]:
    """Registered :class:`ModelFamily` entries."""
    return tuple(FAMILIES[n] for n in names(include_tiny=include_tiny))


def family(name: str, argument: str = "model") -> ModelFamily:
    """The entry called ``name`` (case-insensitive).

    Raises
    ------
    InvalidArgument
        ``name`` is not registered; the message lists every name, tiny presets included.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in FAMILIES:
        raise InvalidArgument(argument, name, f"unknown model; known: {', '.join(FAMILIES)}")
    return FAMILIES[key]


def validate_size(
    entry: ModelFamily | str,
    *,
    width: int | None = None,
    height: int | None = None,
    num_frames: int | None = None,
) -> None:
    """Check pixel sizes and frame count against the family's constraints.

    Raises :class:`~hdr_mcp.errors.InvalidArgument` naming the argument and the rule, e.g.
    ``width=1000: qwen-image needs a multiple of 16 between 256 and 2048``. ``num_frames`` on an
    image family is refused; ``None`` values are not checked.
    """
    entry = family(entry) if isinstance(entry, str) else entry
    for argument, value, rule in (("width", width, entry.width), ("height", height, entry.height)):
        if value is not None and not (_is_int(value) and rule.accepts(value)):
            raise InvalidArgument(argument, value, f"{entry.name} needs {rule.describe()}")
    if num_frames is None:
        return
    if entry.frames is None:
        raise InvalidArgument("num_frames", num_frames, f"{entry.name} makes still images")
    if not (_is_int(num_frames) and entry.frames.accepts(num_frames)):
        raise InvalidArgument(
            "num_frames", num_frames, f"{entry.name} needs {entry.frames.describe()}"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
