"""What training needs to know about each model family: text, VAE encoding, the forward call.

One :class:`TrainingFamily` per latent layout (``ModelFamily.latent.packing``). All tensors a
family produces for an item are *per item* (no batch dimension) so they can be cached
(:mod:`hdr_mcp.training.latents`) and collated later:

- :meth:`encode_text`: caption -> conditioning tensors (prompt embeddings, masks);
- :meth:`encode_target`: VAE-space target (B, 3, H, W) or (B, 3, F, H, W) in float32 -> the
  model's normalised latents ``x0`` (unpacked, the layout the loss is computed in);
- :meth:`encode_reference`: video families: the SDR reference -> the conditioning the
  transformer reads (Wan-VACE: ``control_hidden_states``);
- :meth:`predict`: noisy latents ``x_t`` and ``sigma`` -> the predicted velocity (unpacked).

The normalisations and packings are the pipelines' own (diffusers 0.42.1, FACTS.md section 8):
Qwen-Image ``(z - mean) / std`` then 2x2 packing; FLUX.1 ``(z - shift) * scale`` then 2x2
packing; FLUX.2 2x2 patchify then batch-norm statistics, tokens in row-major order; Wan
``(z - mean) / std``, and for VACE the context ``[inactive, reactive, mask]`` with the whole
clip marked to generate (mask 1), so the SDR reference is the reactive video.
"""

from __future__ import annotations

from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models.registry import ModelFamily

__all__ = ["TrainingFamily", "training_family"]

FLUX_GUIDANCE = 3.5
"""Guidance embedding value used while training FLUX.1-dev (diffusers' LoRA script default)."""


def _vae_mode(vae, x):
    return vae.encode(x).latent_dist.mode()


def _stat(values, like, dims: int):
    import torch

    return torch.as_tensor(values, dtype=like.dtype, device=like.device).view(
        (1, -1) + (1,) * dims)


class TrainingFamily:
    """Base: the parts shared by every family (see the module docstring)."""

    timestep_scale = 1.0 / 1000.0
    """The transformer takes ``timestep * timestep_scale`` (diffusers' pipelines divide by 1000
    except Wan)."""

    def __init__(self, entry: ModelFamily, text_kwargs: dict[str, Any]) -> None:
        self.entry = entry
        self.text_kwargs = text_kwargs

    def bind(self, pipe) -> None:
        """Read what :meth:`predict` needs from the pipeline (it only gets the transformer)."""

    def encode_text(self, pipe, caption: str) -> dict[str, Any]:
        raise NotImplementedError

    def encode_target(self, pipe, x):
        raise NotImplementedError

    def encode_reference(self, pipe, sdr_codes) -> dict[str, Any]:
        return {}

    def predict(self, transformer, x_t, timesteps, batch: dict[str, Any]):
        raise NotImplementedError


class QwenImageFamily(TrainingFamily):
    def encode_text(self, pipe, caption: str) -> dict[str, Any]:
        import torch

        embeds, mask = pipe.encode_prompt(prompt=[caption], device=pipe.device,
                                          max_sequence_length=512)
        if mask is None:
            mask = torch.ones(embeds.shape[:2], dtype=torch.long)
        return {"prompt_embeds": embeds[0].float(), "prompt_embeds_mask": mask[0]}

    def encode_target(self, pipe, x):
        z = _vae_mode(pipe.vae, x[:, :, None])[:, :, 0]
        config = pipe.vae.config
        return (z - _stat(config.latents_mean, z, 2)) / _stat(config.latents_std, z, 2)

    def predict(self, transformer, x_t, timesteps, batch):
        from diffusers import QwenImagePipeline

        b, c, h, w = x_t.shape
        packed = QwenImagePipeline._pack_latents(x_t, b, c, h, w)
        out = transformer(hidden_states=packed, timestep=timesteps * self.timestep_scale,
                          encoder_hidden_states=batch["prompt_embeds"],
                          encoder_hidden_states_mask=batch["prompt_embeds_mask"],
                          img_shapes=[[(1, h // 2, w // 2)]] * b, return_dict=False)[0]
        return QwenImagePipeline._unpack_latents(out, h * 8, w * 8, 8)[:, :, 0]


class FluxFamily(TrainingFamily):
    def encode_text(self, pipe, caption: str) -> dict[str, Any]:
        embeds, pooled, _ = pipe.encode_prompt(prompt=[caption], prompt_2=[caption],
                                               device=pipe.device, max_sequence_length=128)
        return {"prompt_embeds": embeds[0].float(), "pooled_prompt_embeds": pooled[0].float()}

    def encode_target(self, pipe, x):
        config = pipe.vae.config
        return (_vae_mode(pipe.vae, x) - config.shift_factor) * config.scaling_factor

    def predict(self, transformer, x_t, timesteps, batch):
        import torch
        from diffusers import FluxPipeline

        b, c, h, w = x_t.shape
        packed = FluxPipeline._pack_latents(x_t, b, c, h, w)
        img_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, x_t.device, x_t.dtype)
        embeds = batch["prompt_embeds"]
        txt_ids = torch.zeros(embeds.shape[1], 3, device=x_t.device, dtype=x_t.dtype)
        guidance = (torch.full((b,), FLUX_GUIDANCE, device=x_t.device, dtype=torch.float32)
                    if transformer.config.guidance_embeds else None)
        out = transformer(hidden_states=packed, timestep=timesteps * self.timestep_scale,
                          guidance=guidance, pooled_projections=batch["pooled_prompt_embeds"],
                          encoder_hidden_states=embeds, txt_ids=txt_ids, img_ids=img_ids,
                          return_dict=False)[0]
        return FluxPipeline._unpack_latents(out, h * 8, w * 8, 8)


class Flux2Family(TrainingFamily):
    def encode_text(self, pipe, caption: str) -> dict[str, Any]:
        kwargs = {k: v for k, v in self.text_kwargs.items()
                  if k in ("text_encoder_out_layers", "max_sequence_length")}
        embeds, _ = pipe.encode_prompt(prompt=[caption], device=pipe.device, **kwargs)
        return {"prompt_embeds": embeds[0].float()}

    def encode_target(self, pipe, x):
        return pipe._encode_vae_image(x, generator=None)

    def predict(self, transformer, x_t, timesteps, batch):
        from diffusers import Flux2KleinPipeline

        b, c, h, w = x_t.shape
        packed = x_t.reshape(b, c, h * w).permute(0, 2, 1)
        img_ids = Flux2KleinPipeline._prepare_latent_ids(x_t).to(x_t.device)
        embeds = batch["prompt_embeds"]
        txt_ids = Flux2KleinPipeline._prepare_text_ids(embeds).to(x_t.device)
        out = transformer(hidden_states=packed, timestep=timesteps * self.timestep_scale,
                          guidance=None, encoder_hidden_states=embeds, txt_ids=txt_ids,
                          img_ids=img_ids, return_dict=False)[0]
        return out[:, : h * w].permute(0, 2, 1).reshape(b, c, h, w)


class WanVaceFamily(TrainingFamily):
    timestep_scale = 1.0

    def encode_text(self, pipe, caption: str) -> dict[str, Any]:
        from hdr_mcp.models.tiny import wan_prompt_embeds

        length = int(self.text_kwargs.get("max_sequence_length", 512))
        return {"prompt_embeds": wan_prompt_embeds(pipe, caption, length)[0].float()}

    def _normalised(self, pipe, x):
        config = pipe.vae.config
        z = _vae_mode(pipe.vae, x)
        return (z - _stat(config.latents_mean, z, 3)) / _stat(config.latents_std, z, 3)

    def encode_target(self, pipe, x):
        return self._normalised(pipe, x)

    def encode_reference(self, pipe, sdr_codes) -> dict[str, Any]:
        import torch

        video = sdr_codes * 2.0 - 1.0
        reactive = self._normalised(pipe, video)
        inactive = self._normalised(pipe, torch.zeros_like(video))
        spatial = pipe.vae_scale_factor_spatial
        mask = torch.ones((video.shape[0], spatial * spatial, *reactive.shape[2:]),
                          dtype=reactive.dtype, device=reactive.device)
        return {"control": torch.cat([inactive, reactive, mask], dim=1)[0]}

    def predict(self, transformer, x_t, timesteps, batch):
        import torch

        layers = len(transformer.config.vace_layers)
        scale = torch.ones(layers, device=x_t.device, dtype=x_t.dtype)
        return transformer(hidden_states=x_t, timestep=timesteps * self.timestep_scale,
                           encoder_hidden_states=batch["prompt_embeds"],
                           control_hidden_states=batch["control"],
                           control_hidden_states_scale=scale, return_dict=False)[0]


class Ltx2HdrFamily(TrainingFamily):
    """LTX-2 HDR IC-LoRA: the SDR reference's latent tokens follow the noisy tokens in the
    sequence with timestep 0 (clean context, as ``LTX2HDRPipeline`` appends them), at the same
    positions (``reference_downscale_factor`` 1); the audio branch gets zero latents."""

    timestep_scale = 1.0
    FPS = 24.0

    def bind(self, pipe) -> None:
        self.audio = {
            "per_second": pipe.audio_sampling_rate / pipe.audio_hop_length
            / float(pipe.audio_vae_temporal_compression_ratio),
            "features": pipe.audio_latent_channels
            * (pipe.audio_mel_bins // pipe.audio_vae_mel_compression_ratio),
            "temporal": pipe.vae_temporal_compression_ratio}

    def encode_text(self, pipe, caption: str) -> dict[str, Any]:
        import torch

        if "connector_video_embeds" in self.text_kwargs:  # tiny preset: stored embeddings
            video = self.text_kwargs["connector_video_embeds"]
            audio = self.text_kwargs["connector_audio_embeds"]
            mask = torch.ones(video.shape[:2], dtype=torch.long)
        else:
            embeds, mask, _, _ = pipe.encode_prompt(prompt=[caption], device=pipe.device,
                                                    do_classifier_free_guidance=False)
            video, audio, mask = pipe.connectors(embeds, mask,
                                                 padding_side=pipe.tokenizer_padding_side)
        return {"prompt_embeds": video[0].float(), "audio_prompt_embeds": audio[0].float(),
                "prompt_embeds_mask": mask[0].long()}

    def _normalised(self, pipe, x):
        z = _vae_mode(pipe.vae, x)
        return type(pipe)._normalize_latents(z, pipe.vae.latents_mean, pipe.vae.latents_std)

    def encode_target(self, pipe, x):
        return self._normalised(pipe, x)

    def encode_reference(self, pipe, sdr_codes) -> dict[str, Any]:
        return {"reference": self._normalised(pipe, sdr_codes * 2.0 - 1.0)[0]}

    def predict(self, transformer, x_t, timesteps, batch):
        import torch
        from diffusers import LTX2HDRPipeline

        b, _, f, h, w = x_t.shape
        tokens = f * h * w
        hidden = torch.cat([LTX2HDRPipeline._pack_latents(x_t),
                            LTX2HDRPipeline._pack_latents(batch["reference"])], dim=1)
        coords = transformer.rope.prepare_video_coords(b, f, h, w, x_t.device, fps=self.FPS)
        coords = torch.cat([coords, coords], dim=2)
        t = timesteps * self.timestep_scale
        video_t = torch.cat([t[:, None].expand(b, tokens), torch.zeros_like(t)[:, None].expand(
            b, tokens)], dim=1)
        frames = (f - 1) * self.audio["temporal"] + 1
        audio_frames = max(1, round(frames / self.FPS * self.audio["per_second"]))
        audio = torch.zeros(b, audio_frames, self.audio["features"], dtype=x_t.dtype,
                            device=x_t.device)
        zero = torch.zeros_like(t)
        mask = batch["prompt_embeds_mask"]
        out = transformer(
            hidden_states=hidden, audio_hidden_states=audio,
            encoder_hidden_states=batch["prompt_embeds"],
            audio_encoder_hidden_states=batch["audio_prompt_embeds"], timestep=video_t,
            audio_timestep=zero, sigma=t, audio_sigma=zero, encoder_attention_mask=mask,
            audio_encoder_attention_mask=mask, num_frames=f, height=h, width=w, fps=self.FPS,
            audio_num_frames=audio_frames, video_coords=coords,
            audio_coords=transformer.audio_rope.prepare_audio_coords(b, audio_frames,
                                                                     x_t.device),
            return_dict=False)[0]
        return LTX2HDRPipeline._unpack_latents(out[:, :tokens], f, h, w)


_BY_PACKING = {"qwen-packed": QwenImageFamily, "flux-packed": FluxFamily, "flux2": Flux2Family,
               "wan": WanVaceFamily, "ltx2": Ltx2HdrFamily}


def training_family(entry: ModelFamily, text_kwargs: dict[str, Any] | None = None
                    ) -> TrainingFamily:
    """The :class:`TrainingFamily` of ``entry``; a family training does not support yet is an
    :class:`InvalidArgument` naming the supported ones."""
    cls = _BY_PACKING.get(entry.latent.packing)
    if cls is None:
        supported = sorted(n for n in ("qwen-image", "flux.1-dev", "flux.2-klein-4b",
                                       "wan2.1-vace-1.3b", "wan2.1-vace-14b", "ltx-2.3"))
        raise InvalidArgument("model", entry.name, "LoRA training is not implemented for this "
                              f"family yet; supported: {', '.join(supported)} (and tiny- twins)")
    return cls(entry, text_kwargs or {})
