"""Plain functions behind ``hdr-mcp models list|info|pull`` and the MCP ``list_models`` tool.

Cache checks never touch the network: a family counts as cached when its ``model_index.json``
resolves from the Hub cache at the pinned revision (``try_to_load_from_cache``) and every
component folder it names has a snapshot directory. Tiny presets count as cached when their
folder is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hdr_mcp.models.registry import ModelFamily, families, family

__all__ = ["is_cached", "list_models", "model_info", "pull_model"]


def _snapshot_dir(entry: ModelFamily) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    from hdr_mcp.models.loading import hub_cache_dir

    found = try_to_load_from_cache(entry.repository, "model_index.json",
                                   cache_dir=str(hub_cache_dir()), revision=entry.revision)
    return Path(found).parent if isinstance(found, str) else None


def is_cached(entry: ModelFamily | str) -> bool:
    """True when the family's weights (or the tiny preset's folder) are available offline."""
    entry = family(entry) if isinstance(entry, str) else entry
    if entry.tiny:
        from hdr_mcp.models.tiny import MARKER_FILE, tiny_folder

        return (tiny_folder(entry.name) / MARKER_FILE).is_file()
    snapshot = _snapshot_dir(entry)
    return snapshot is not None and all(
        (snapshot / folder).is_dir() for folder in entry.components.folders)


def _row(entry: ModelFamily) -> dict[str, Any]:
    return {
        "name": entry.name, "task": entry.task, "repository": entry.repository,
        "revision": entry.revision, "revision_pinned": entry.revision_pinned,
        "cached": is_cached(entry), "size_gb": entry.size_gb, "vram_gb": entry.vram_gb,
        "vram_gb_offload": entry.vram_gb_offload, "gated": entry.gated,
        "licence": entry.licence, "tiny": entry.tiny,
    }


def list_models(*, include_tiny: bool = True) -> list[dict[str, Any]]:
    """One row per family: name, task, repository, revision, cached, size, gated, licence."""
    return [_row(entry) for entry in families(include_tiny=include_tiny)]


def model_info(name: str) -> dict[str, Any]:
    """Everything the registry knows about ``name`` plus whether it is cached."""
    entry = family(name)
    return {**entry.to_dict(), "cached": is_cached(entry)}


def pull_model(name: str, progress: Any = None, *, revision: str | None = None,
               with_hdr_lora: bool = True) -> Path:
    """Download ``name`` (at its pinned revision) into the Hub cache; return the snapshot
    folder. Also fetches the family's public HDR LoRA. ``progress`` is a tqdm class passed to
    ``snapshot_download``. Tiny presets are built instead. Offline this raises
    :class:`~hdr_mcp.models.loading.ModelNotCached` unless everything is already cached.
    """
    from hdr_mcp.models.loading import snapshot

    entry = family(name)
    if entry.tiny:
        from hdr_mcp.models.tiny import ensure_tiny

        return ensure_tiny(entry.name)
    folder = snapshot(entry, revision, progress=progress)
    if with_hdr_lora and entry.hdr_lora is not None:
        from hdr_mcp.models.lora import resolve_lora_source

        lora = entry.hdr_lora
        resolve_lora_source(f"{lora.repository}/{lora.filename}", revision=lora.revision)
    return folder
