"""Job handlers of ``train_lora`` and ``precompute_latents`` (MCP tools, CLI commands).

Both take their job parameters (every field optional, plus a ``config`` YAML), merge them into
the strict config (:func:`hdr_mcp.params.training.resolve_config`), check every path against
the roots the job was submitted with, and run. Without ``output_dir`` the job writes into its
working folder, which a retried job shares: a killed worker's training resumes from its last
checkpoint there, a precomputation keeps its finished shards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdr_mcp.params.training import PrecomputeConfig, TrainConfig, resolve_config

__all__ = ["run_precompute_latents", "run_train_lora"]

_PATHS = ("dataset", "latents_dir", "output_dir")


def _checked(config: Any, ctx: Any, default_output: str) -> Any:
    """Paths resolved inside the job's roots (a config file can name any path); output_dir
    defaults to a folder in the job's working directory."""
    updates: dict[str, Any] = {}
    if config.output_dir is None:
        updates["output_dir"] = str(Path(ctx.workdir) / default_output)
    for name in _PATHS:
        value = updates.get(name, getattr(config, name, None))
        if value is not None:
            updates[name] = str(ctx.check_path(name, Path(value).expanduser().absolute()))
    resume = getattr(config, "resume", None)
    if resume not in (None, "latest"):
        updates["resume"] = str(ctx.check_path("resume", Path(resume).expanduser().absolute()))
    return config.model_copy(update=updates)


def run_train_lora(params: Any, ctx: Any) -> dict[str, Any]:
    """Handler of ``train_lora``."""
    from hdr_mcp.training.trainer import train

    config = _checked(resolve_config(params, TrainConfig), ctx, "training")
    return train(config, ctx)


def run_precompute_latents(params: Any, ctx: Any) -> dict[str, Any]:
    """Handler of ``precompute_latents``."""
    from hdr_mcp.training.latents import precompute

    config = _checked(resolve_config(params, PrecomputeConfig), ctx, "latents")
    return precompute(config, ctx)
