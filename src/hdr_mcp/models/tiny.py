"""Tiny random presets: every family's diffusers classes built from a small config.

``tiny-<family>`` uses the *same* pipeline, transformer, VAE, scheduler, text-encoder and
tokenizer classes as the real weights (constructor arguments from FACTS.md section 4, trimmed
further), with seeded random weights. A preset is written once, atomically, to a local
diffusers folder (``save_pretrained``: ``model_index.json`` plus one folder per component) and
then loaded with the pipeline class's ``from_pretrained(folder)`` exactly like real weights, so
the loading path under test is the real one.

Text conditioning
-----------------
* Qwen-Image, FLUX.1, FLUX.2 Klein, Wan VACE: a tiny random text encoder (Qwen2.5-VL, CLIP + T5,
  Qwen3, UMT5) with an offline tokenizer built from a vocabulary written here (byte-level BPE
  without merges for Qwen / CLIP; character Unigram for T5). ``pipe(prompt=...)`` works.
* LTX-2.3 (``LTX2HDRPipeline``): no Gemma 3 encoder (FACTS.md section 8: text can be bypassed).
  Connector outputs computed once by the tiny connectors from seeded random text states are stored
  beside the model in ``prompt_embeds.safetensors`` (``video_context``, ``audio_context``);
  :func:`call_kwargs` passes them as ``connector_video_embeds`` / ``connector_audio_embeds``.

Non-trivial latent normalisation (random ``latents_mean/std``, batch-norm running stats, FLUX's
real ``scaling_factor/shift_factor``) is set on purpose so that decode tests exercise it.

Cache folder: ``<HDR_MCP_HOME or platformdirs user data dir>/models/tiny/<name>-<hash>``; the hash
covers the builder's source, the seed and the diffusers / transformers versions, so a changed
config never reuses a stale folder. Building every preset takes about a second on one CPU core;
each folder is under 4 MB.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models.registry import ModelFamily, family, names

__all__ = [
    "MARKER_FILE",
    "PROMPT_EMBEDS_FILE",
    "TinyPreset",
    "build_components",
    "call_kwargs",
    "ensure_tiny",
    "models_home",
    "tiny_folder",
    "tiny_names",
    "tiny_preset",
]

TINY_FORMAT_VERSION = 2
MARKER_FILE = "hdr_mcp_tiny.json"
"""Written last into a finished preset folder; its presence marks the folder complete."""
PROMPT_EMBEDS_FILE = "prompt_embeds.safetensors"
LATENT_UPSAMPLER = "latent_upsampler"
"""Folder of a preset (and of an LTX-2 model) holding its ``LTX2LatentUpsamplerModel``."""
DEFAULT_SEED = 0


def models_home() -> Path:
    """``$HDR_MCP_HOME/models`` or ``<platformdirs user data dir>/models`` (not created).

    Same resolution rule as the job store's home (:func:`hdr_mcp.jobs.store.default_home`), kept
    here because the model layer sits below the job layer.
    """
    configured = os.environ.get("HDR_MCP_HOME")
    if configured:
        return Path(configured).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_data_dir("hdr-mcp", appauthor=False)) / "models"


# --------------------------------------------------------------------------- tokenizers


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values (byte-level BPE alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1),
                 *range(ord("\u00ae"), ord("\u00ff") + 1)]
    present = set(printable)
    unprintable = [b for b in range(256) if b not in present]
    codes = printable + [256 + i for i in range(len(unprintable))]
    return [chr(code) for code in codes]


_QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _qwen_tokenizer():
    """Byte-level BPE without merges (one token per byte) plus Qwen's special tokens."""
    from transformers import Qwen2Tokenizer

    vocab = {symbol: i for i, symbol in enumerate(_byte_symbols())}
    for special in _QWEN_SPECIALS:
        vocab[special] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=[], unk_token="<|endoftext|>", model_max_length=1024
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(_QWEN_SPECIALS[1:])})
    tokenizer.chat_template = _CHAT_TEMPLATE
    return tokenizer


def _clip_tokenizer():
    """CLIP BPE without merges: every byte symbol, alone and as a word end (``</w>``)."""
    from transformers import CLIPTokenizer

    symbols = _byte_symbols()
    vocab = {symbol: i for i, symbol in enumerate(symbols)}
    for symbol in symbols:
        vocab[f"{symbol}</w>"] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _t5_tokenizer():
    """SentencePiece-style Unigram over printable ASCII, with and without the word marker."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    for code in range(32, 127):
        pieces += [(chr(code), -2.0), ("\u2581" + chr(code), -1.5)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


# --------------------------------------------------------------------------- builders


def _seeded(seed: int, offset: int) -> None:
    import torch

    torch.manual_seed(seed * 1000 + offset)


def _randomise_mean_std(channels: int, seed: int) -> tuple[list[float], list[float]]:
    import torch

    generator = torch.Generator().manual_seed(seed + 7)
    mean = (torch.randn(channels, generator=generator) * 0.3).tolist()
    std = (torch.rand(channels, generator=generator) * 1.5 + 0.5).tolist()
    return [round(v, 4) for v in mean], [round(v, 4) for v in std]


def _build_qwen_image(seed: int) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = _qwen_tokenizer()
    vocab = len(tokenizer)
    _seeded(seed, 1)
    text_config = {
        "hidden_size": 32,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "vocab_size": vocab,
        "max_position_embeddings": 2048,
        "rope_scaling": {"mrope_section": [2, 3, 3], "rope_type": "default", "type": "default"},
        "bos_token_id": vocab - 3,
        "eos_token_id": vocab - 1,
    }
    config = Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": 32},
        vision_start_token_id=vocab + 1,
        vision_end_token_id=vocab + 2,
        vision_token_id=vocab + 3,
        image_token_id=vocab + 4,
        video_token_id=vocab + 5,
    )
    text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
    _seeded(seed, 2)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=64, out_channels=16, num_layers=2, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, axes_dims_rope=(8, 4, 4),
    )
    mean, std = _randomise_mean_std(16, seed)
    _seeded(seed, 3)
    vae = AutoencoderKLQwenImage(
        base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=mean, latents_std=std,
    )
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "vae": vae,
            "text_encoder": text_encoder, "tokenizer": tokenizer, "transformer": transformer}


def _build_flux(seed: int) -> dict[str, Any]:
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    tokenizer, tokenizer_2 = _clip_tokenizer(), _t5_tokenizer()
    _seeded(seed, 1)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=2, num_hidden_layers=1,
        vocab_size=len(tokenizer), projection_dim=32, max_position_embeddings=77,
        bos_token_id=len(tokenizer) - 2, eos_token_id=len(tokenizer) - 1,
        pad_token_id=len(tokenizer) - 1,
    )).eval()
    _seeded(seed, 2)
    text_encoder_2 = T5EncoderModel(T5Config(
        d_model=32, d_ff=37, d_kv=16, num_heads=2, num_layers=1, vocab_size=len(tokenizer_2),
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )).eval()
    _seeded(seed, 3)
    transformer = FluxTransformer2DModel(
        in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8], guidance_embeds=True,
    )
    _seeded(seed, 4)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8,) * 4,
        layers_per_block=1, latent_channels=16, norm_num_groups=4, use_quant_conv=False,
        use_post_quant_conv=False, scaling_factor=0.3611, shift_factor=0.1159, sample_size=32,
    )
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "vae": vae,
            "text_encoder": text_encoder, "tokenizer": tokenizer,
            "text_encoder_2": text_encoder_2, "tokenizer_2": tokenizer_2,
            "transformer": transformer}


FLUX2_TEXT_LAYERS = (1, 2, 3)
"""Hidden-state layers of the tiny Qwen3 encoder concatenated into the prompt embedding (the
real pipeline's default (9, 18, 27) needs 27 layers); passed by :func:`call_kwargs`."""


def _build_flux2_klein(seed: int) -> dict[str, Any]:
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = _qwen_tokenizer()
    _seeded(seed, 1)
    text_encoder = Qwen3ForCausalLM(Qwen3Config(
        hidden_size=16, intermediate_size=16, num_hidden_layers=3, num_attention_heads=2,
        num_key_value_heads=2, head_dim=8, vocab_size=len(tokenizer),
        max_position_embeddings=1024, bos_token_id=len(tokenizer) - 3,
        eos_token_id=len(tokenizer) - 1, pad_token_id=len(tokenizer) - 3,
    )).eval()
    _seeded(seed, 2)
    transformer = Flux2Transformer2DModel(
        in_channels=128, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=16 * len(FLUX2_TEXT_LAYERS),
        axes_dims_rope=[4, 4, 4, 4], guidance_embeds=False,
    )
    _seeded(seed, 3)
    vae = AutoencoderKLFlux2(
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8,) * 4, layers_per_block=1, latent_channels=32,
        norm_num_groups=4, sample_size=32,
    )
    generator = torch.Generator().manual_seed(seed + 11)
    with torch.no_grad():  # non-trivial batch-norm stats so denormalisation is exercised
        vae.bn.running_mean.copy_(torch.randn(vae.bn.num_features, generator=generator) * 0.2)
        vae.bn.running_var.copy_(torch.rand(vae.bn.num_features, generator=generator) + 0.5)
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "vae": vae,
            "text_encoder": text_encoder, "tokenizer": tokenizer, "transformer": transformer,
            "is_distilled": True}


def _build_wan_vace(seed: int) -> dict[str, Any]:
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACETransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = _t5_tokenizer()
    _seeded(seed, 1)
    text_encoder = UMT5EncoderModel(UMT5Config(
        d_model=32, d_ff=37, d_kv=16, num_heads=2, num_layers=1, vocab_size=len(tokenizer),
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )).eval()
    _seeded(seed, 2)
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
        out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
        rope_max_seq_len=32, vace_layers=[0, 1], vace_in_channels=96,
    )
    mean, std = _randomise_mean_std(16, seed)
    _seeded(seed, 3)
    vae = AutoencoderKLWan(
        base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=mean, latents_std=std,
    )
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0,
        num_train_timesteps=1000,
    )
    return {"scheduler": scheduler, "vae": vae, "text_encoder": text_encoder,
            "tokenizer": tokenizer, "transformer": transformer}


_LTX_CAPTION = 16


def _build_ltx2(seed: int) -> dict[str, Any]:
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    _seeded(seed, 1)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=16, out_channels=16, patch_size=1, patch_size_t=1, num_attention_heads=2,
        attention_head_dim=8, cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4,
        audio_num_attention_heads=2, audio_attention_head_dim=4, audio_cross_attention_dim=8,
        num_layers=2, qk_norm="rms_norm_across_heads", caption_channels=_LTX_CAPTION,
        rope_double_precision=False, rope_type="split",
    )
    _seeded(seed, 2)
    connectors = LTX2TextConnectors(
        caption_channels=_LTX_CAPTION, text_proj_in_factor=2,
        video_connector_num_attention_heads=2, video_connector_attention_head_dim=8,
        video_connector_num_layers=1, video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=2, audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1, audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32, rope_double_precision=False,
        causal_temporal_positioning=False, rope_type="split",
    )
    _seeded(seed, 3)
    vae = AutoencoderKLLTX2Video(
        latent_channels=16, block_out_channels=(8, 16, 32, 64),
        decoder_block_out_channels=(8, 16, 32), layers_per_block=(1,) * 5,
        decoder_layers_per_block=(1,) * 4, patch_size=4, decoder_causal=False,
        spatial_compression_ratio=32, temporal_compression_ratio=8,
    )
    mean, std = _randomise_mean_std(16, seed)
    with torch.no_grad():
        vae.latents_mean.copy_(torch.tensor(mean))
        vae.latents_std.copy_(torch.tensor(std))
    _seeded(seed, 4)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1,
        attn_resolutions=None, in_channels=2, resolution=32, latent_channels=2,
        norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True,
        mel_bins=8,
    )
    _seeded(seed, 5)
    vocoder = LTX2Vocoder(
        in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[4, 4],
        upsample_factors=[2, 2], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1, output_sampling_rate=16000,
    )
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "vae": vae, "audio_vae": audio_vae,
            "text_encoder": None, "tokenizer": None, "connectors": connectors,
            "transformer": transformer, "vocoder": vocoder}


def _ltx2_latent_upsampler(seed: int):
    """The 2x spatial latent upsampler of the second stage (``upscale="latent-x2"``)."""
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    _seeded(seed, 6)
    return LTX2LatentUpsamplerModel(
        in_channels=16, mid_channels=32, num_blocks_per_stage=1, dims=3, spatial_upsample=True,
        temporal_upsample=False, rational_spatial_scale=2.0, use_rational_resampler=True,
    ).eval()


def _ltx2_prompt_embeds(connectors, seed: int) -> dict[str, Any]:
    """Connector outputs for a seeded random 'text' (what a Gemma 3 encoder would feed)."""
    import torch

    generator = torch.Generator().manual_seed(seed + 13)
    factor = connectors.config.text_proj_in_factor
    states = torch.randn(1, 8, _LTX_CAPTION * factor, generator=generator)
    with torch.no_grad():
        video, audio, _ = connectors(states, torch.ones(1, 8, dtype=torch.long))
    return {"video_context": video.contiguous(), "audio_context": audio.contiguous()}


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class TinyPreset:
    """How to build one ``tiny-`` preset."""

    name: str
    builder: Callable[[int], dict[str, Any]]
    text: str
    """``encoder`` (tiny text encoder + offline tokenizer) or ``embeddings`` (stored beside)."""
    from_pretrained_kwargs: dict[str, Any]
    """Extra ``from_pretrained`` keywords (components deliberately absent)."""

    @property
    def entry(self) -> ModelFamily:
        return family(self.name)


_BUILDERS: dict[str, tuple[Callable[[int], dict[str, Any]], str]] = {
    "qwen-image": (_build_qwen_image, "encoder"),
    "qwen-image-2512": (_build_qwen_image, "encoder"),
    "flux.1-dev": (_build_flux, "encoder"),
    "flux.2-klein-4b": (_build_flux2_klein, "encoder"),
    "wan2.1-vace-1.3b": (_build_wan_vace, "encoder"),
    "wan2.1-vace-14b": (_build_wan_vace, "encoder"),
    "ltx-2.3": (_build_ltx2, "embeddings"),
}


def tiny_names() -> tuple[str, ...]:
    """Names of every tiny preset (``tiny-<family>``)."""
    return tuple(n for n in names() if family(n).tiny)


def tiny_preset(name: str) -> TinyPreset:
    """The :class:`TinyPreset` called ``name`` (``tiny-<family>``); unknown names raise
    :class:`~hdr_mcp.errors.InvalidArgument` listing the valid ones."""
    entry = family(name)
    if not entry.tiny:
        raise InvalidArgument("model", name, f"not a tiny preset; tiny presets: "
                              f"{', '.join(tiny_names())}")
    builder, text = _BUILDERS[entry.base]
    extra = {"text_encoder": None, "tokenizer": None} if text == "embeddings" else {}
    return TinyPreset(entry.name, builder, text, extra)


def build_components(name: str, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Seeded components of preset ``name`` in memory (``DiffusionPipeline(**components)``).

    The global torch RNG state is restored afterwards.
    """
    import torch

    preset = tiny_preset(name)
    with torch.random.fork_rng(devices=[]):
        return preset.builder(seed)


def config_hash(name: str, seed: int = DEFAULT_SEED) -> str:
    """12 hex digits identifying a preset's build: builder source, tokenizer sources, seed and
    library versions (any change gives a new folder)."""
    import diffusers
    import transformers

    preset = tiny_preset(name)
    parts = [
        preset.name, str(seed), str(TINY_FORMAT_VERSION), diffusers.__version__,
        transformers.__version__, inspect.getsource(preset.builder),
        *(inspect.getsource(f) for f in (_qwen_tokenizer, _clip_tokenizer, _t5_tokenizer,
                                           _byte_symbols, _randomise_mean_std,
                                           _ltx2_latent_upsampler)),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def tiny_folder(name: str, *, cache_dir: str | os.PathLike[str] | None = None,
                seed: int = DEFAULT_SEED) -> Path:
    """Where preset ``name`` lives (whether built or not)."""
    root = Path(cache_dir) if cache_dir is not None else models_home() / "tiny"
    return root / f"{tiny_preset(name).name}-{config_hash(name, seed)}"


def ensure_tiny(name: str, *, cache_dir: str | os.PathLike[str] | None = None,
                seed: int = DEFAULT_SEED) -> Path:
    """Build preset ``name`` unless its folder is complete; return the folder.

    Safe under concurrency: each builder writes a private temporary folder beside the target and
    renames it into place; a builder that loses the race discards its copy.
    """
    target = tiny_folder(name, cache_dir=cache_dir, seed=seed)
    if (target / MARKER_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_dir(target) as temporary:
        _write_preset(name, seed, temporary)
        with contextlib.suppress(OSError):  # another builder finished first: keep theirs
            os.rename(temporary, target)
    if not (target / MARKER_FILE).is_file():
        raise OSError(f"tiny preset {name!r} could not be written to {target}")
    return target


@contextlib.contextmanager
def _temporary_dir(target: Path) -> Iterator[Path]:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    temporary.mkdir()
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _write_preset(name: str, seed: int, folder: Path) -> None:
    import diffusers
    import transformers

    preset = tiny_preset(name)
    entry = preset.entry
    components = build_components(name, seed)
    pipeline_class = getattr(diffusers, entry.pipeline_class)
    pipe = pipeline_class(**components)
    pipe.save_pretrained(folder)
    if preset.text == "embeddings":
        from safetensors.torch import save_file

        save_file(_ltx2_prompt_embeds(components["connectors"], seed), folder / PROMPT_EMBEDS_FILE)
    if entry.base == "ltx-2.3":
        import torch

        with torch.random.fork_rng(devices=[]):
            _ltx2_latent_upsampler(seed).save_pretrained(folder / LATENT_UPSAMPLER)
    marker = {
        "name": entry.name, "base": entry.base, "seed": seed, "hash": config_hash(name, seed),
        "format": TINY_FORMAT_VERSION, "text": preset.text,
        "diffusers": diffusers.__version__, "transformers": transformers.__version__,
    }
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")


def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The preset marker of ``folder`` or None when it is not a finished tiny preset."""
    path = Path(folder) / MARKER_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def call_kwargs(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Extra pipeline-call keywords a tiny preset needs: FLUX.2 Klein's text-encoder layers,
    LTX-2.3's stored connector embeddings (read from ``folder``)."""
    entry = tiny_preset(name).entry
    if entry.base == "flux.2-klein-4b":
        return {"text_encoder_out_layers": FLUX2_TEXT_LAYERS, "max_sequence_length": 64}
    if entry.base == "ltx-2.3":
        from safetensors.torch import load_file

        folder = Path(folder) if folder is not None else ensure_tiny(name)
        embeds = load_file(folder / PROMPT_EMBEDS_FILE)
        return {"connector_video_embeds": embeds["video_context"],
                "connector_audio_embeds": embeds["audio_context"]}
    if entry.base in ("wan2.1-vace-1.3b", "wan2.1-vace-14b"):
        return {"max_sequence_length": 32}
    return {}


def wan_prompt_embeds(pipe, prompt: str, max_sequence_length: int = 32):
    """Wan prompt embeddings without diffusers' ``prompt_clean``.

    ``WanVACEPipeline`` cleans every text prompt with ``ftfy``, which hdr-mcp does not depend
    on; this runs the same tokenizer -> UMT5 -> zero-padded ``last_hidden_state`` steps as
    ``WanVACEPipeline._get_t5_prompt_embeds`` (diffusers 0.42.1) minus the cleaning.
    Returns a float tensor (1, max_sequence_length, text_dim).
    """
    import torch

    tokens = pipe.tokenizer([prompt], padding="max_length", max_length=max_sequence_length,
                            truncation=True, add_special_tokens=True,
                            return_attention_mask=True, return_tensors="pt")
    device = next(pipe.text_encoder.parameters()).device
    mask = tokens.attention_mask.to(device)
    with torch.no_grad():
        states = pipe.text_encoder(tokens.input_ids.to(device), mask).last_hidden_state
    return states * mask.unsqueeze(-1).to(states.dtype)
