"""Loading a model for training or latent precomputation.

The pipeline comes through :func:`hdr_mcp.models.loading.load_pipeline` (tiny presets, Hub
families at pinned revisions, local folders) and is not shared with the worker's model cache:
training adds an adapter to the transformer. The VAE is always float32; the transformer is
bfloat16 on CUDA and float32 on the CPU unless ``transformer_dtype`` says otherwise.
"""

from __future__ import annotations

from typing import Any

from hdr_mcp.params.training import DataConfig

__all__ = ["load_for_training", "transformer_dtype"]


def transformer_dtype(config: DataConfig, device: str) -> str:
    choice = getattr(config, "transformer_dtype", "float32")
    if choice == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return choice


def load_for_training(config: DataConfig, ctx: Any, device: str | None = None, *,
                      without: tuple[str, ...] = ()):
    """(:class:`~hdr_mcp.models.loading.LoadedPipeline`, :class:`TrainingFamily`), frozen;
    ``without``: components not loaded (precomputation needs no transformer)."""
    from hdr_mcp.models import tiny
    from hdr_mcp.models.loading import load_pipeline
    from hdr_mcp.training.families import training_family

    device = device or getattr(ctx, "device", "cpu")
    loaded = load_pipeline(config.model, revision=config.revision, device=device,
                           dtype=transformer_dtype(config, device),
                           allow_large_on_cpu=config.allow_cpu, without=without)
    family = training_family(loaded.family,
                             tiny.call_kwargs(loaded.family.name, loaded.path)
                             if loaded.family.tiny else {})
    family.bind(loaded.pipe)
    loaded.pipe.set_progress_bar_config(disable=True)
    for component in loaded.pipe.components.values():
        if hasattr(component, "requires_grad_"):
            component.requires_grad_(False)
    return loaded, family
