"""Rectified-flow-matching loss with the base model's timestep sampling and an optional
highlight weighting.

Recipe (diffusers' ``train_dreambooth_lora_{qwen_image,flux,flux2_klein}.py``, FACTS.md
section 8): ``u`` from :func:`diffusers.training_utils.compute_density_for_timestep_sampling`,
``index = (u * N).long()`` into the training scheduler's tables (its static ``shift`` applies
when the scheduler does not shift dynamically), ``x_t = (1 - sigma) x0 + sigma noise``, target
``noise - x0``, per-sample weights from
:func:`diffusers.training_utils.compute_loss_weighting_for_sd3`.

Highlight weighting (after the Qwen-Image HDR work: the sun's error must not drown in the
mid-tones): a latent pixel whose target luminance ``L`` (scene-linear, averaged over the pixels
it covers) exceeds ``threshold`` gets weight ``1 + highlight_weight * log2(L / threshold)``;
others weight 1. The weighted squared error is normalised by the mean weight, so the loss keeps
its scale and only the balance between regions changes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FlowTimesteps", "flow_matching_loss", "highlight_weights", "latent_luminance"]

_LUMA = (0.2126, 0.7152, 0.0722)


class FlowTimesteps:
    """Sampling of training timesteps and sigmas for a flow-matching model."""

    def __init__(self, scheduler_config: dict[str, Any], *, weighting_scheme: str,
                 logit_mean: float, logit_std: float, mode_scale: float) -> None:
        from diffusers import FlowMatchEulerDiscreteScheduler

        config = dict(scheduler_config)
        if config.get("_class_name") != "FlowMatchEulerDiscreteScheduler":
            # Wan ships a UniPC sampler; its flow_shift is the static shift of the flow.
            config = {"shift": config.get("flow_shift", 1.0), "use_dynamic_shifting": False}
        self.scheduler = FlowMatchEulerDiscreteScheduler.from_config(config)
        self.weighting_scheme = weighting_scheme
        self.logit_mean, self.logit_std, self.mode_scale = logit_mean, logit_std, mode_scale

    def sample(self, batch_size: int, generator) -> tuple[Any, Any]:
        """(timesteps in [0, 1000], sigmas in [0, 1]) for ``batch_size`` samples."""
        from diffusers.training_utils import compute_density_for_timestep_sampling

        scheme = self.weighting_scheme if self.weighting_scheme in ("logit_normal", "mode") \
            else "uniform"
        u = compute_density_for_timestep_sampling(
            scheme, batch_size, logit_mean=self.logit_mean, logit_std=self.logit_std,
            mode_scale=self.mode_scale, generator=generator)
        count = self.scheduler.config.num_train_timesteps
        index = (u * count).long().clamp(0, count - 1)
        return self.scheduler.timesteps[index].float(), self.scheduler.sigmas[index].float()


def latent_luminance(target, latent_shape) -> Any:
    """Scene-linear target (3, H, W) or (3, F, H, W) -> mean luminance per latent pixel, shaped
    like the latent's trailing dims (``latent_shape`` without channels)."""
    import torch

    weights = torch.tensor(_LUMA, dtype=target.dtype).view((3,) + (1,) * (target.ndim - 1))
    luminance = (target * weights).sum(0)[None, None]
    return torch.nn.functional.adaptive_avg_pool3d(
        luminance if luminance.ndim == 5 else luminance[:, :, None],
        tuple(latent_shape) if len(latent_shape) == 3 else (1, *latent_shape))[0, 0].reshape(
            tuple(latent_shape))


def highlight_weights(luminance, highlight_weight: float, threshold: float):
    """Per-latent-pixel weights ``1 + highlight_weight * max(0, log2(L / threshold))``."""
    import torch

    stops = torch.log2(torch.clamp(luminance, min=1e-12) / threshold).clamp(min=0.0)
    return 1.0 + highlight_weight * stops


def flow_matching_loss(prediction, target, *, sigmas, weighting_scheme: str,
                       pixel_weights=None):
    """Mean over the batch of ``w(sigma) * mean(pixel_weights * (prediction - target)^2) /
    mean(pixel_weights)`` per sample. ``pixel_weights``: (B, *latent dims without channels)."""
    import torch
    from diffusers.training_utils import compute_loss_weighting_for_sd3

    view = (-1,) + (1,) * (prediction.ndim - 1)
    scheme = weighting_scheme if weighting_scheme in ("sigma_sqrt", "cosmap") else "none"
    weighting = compute_loss_weighting_for_sd3(scheme, sigmas.view(view)).to(prediction.device)
    error = weighting.float() * (prediction.float() - target.float()) ** 2
    if pixel_weights is None:
        return error.reshape(error.shape[0], -1).mean(1).mean()
    w = pixel_weights.unsqueeze(1).to(error.dtype)
    per_sample = (error * w).reshape(error.shape[0], -1).mean(1)
    norm = w.expand_as(error).reshape(error.shape[0], -1).mean(1)
    return torch.mean(per_sample / norm)
