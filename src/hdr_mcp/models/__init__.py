"""Model families, tiny presets, Hub loading, the worker's model cache, unclamped decoding and
HDR LoRA files.

``import hdr_mcp.models`` is light: only the registry (standard library) is imported; torch,
diffusers, peft, numpy and huggingface_hub load when a function that needs them is called.

* :mod:`.registry`: :func:`family`, :func:`names`, :func:`validate_size`, :class:`ModelFamily`.
* :mod:`.tiny`: ``tiny-<family>`` presets built from configs (tests, ``selftest``).
* :mod:`.loading`: :func:`load_pipeline` (Hub snapshot, local folder or tiny preset).
* :mod:`.cache`: :class:`ModelCache` (pipelines kept warm between jobs, LRU under a budget).
* :mod:`.decode`: :func:`decode_latents` (latents -> float32 code values, no clamp).
* :mod:`.lora`: HDR LoRA metadata convention, reader, writer, :func:`load_hdr_lora`.
* :mod:`.catalog`: :func:`list_models`, :func:`model_info`, :func:`pull_model` (CLI / MCP).
* :mod:`.selftest`: :func:`run_selftest`.
"""

from __future__ import annotations

import importlib
from typing import Any

from hdr_mcp.models.registry import (
    FAMILIES,
    ModelFamily,
    families,
    family,
    names,
    validate_size,
)

_LAZY = {
    "load_pipeline": "hdr_mcp.models.loading",
    "LoadedPipeline": "hdr_mcp.models.loading",
    "ModelCache": "hdr_mcp.models.cache",
    "CacheKey": "hdr_mcp.models.cache",
    "decode_latents": "hdr_mcp.models.decode",
    "HdrLoraInfo": "hdr_mcp.models.lora",
    "load_hdr_lora": "hdr_mcp.models.lora",
    "read_hdr_lora_info": "hdr_mcp.models.lora",
    "save_hdr_lora": "hdr_mcp.models.lora",
    "list_models": "hdr_mcp.models.catalog",
    "model_info": "hdr_mcp.models.catalog",
    "pull_model": "hdr_mcp.models.catalog",
    "run_selftest": "hdr_mcp.models.selftest",
    "ensure_tiny": "hdr_mcp.models.tiny",
}

__all__ = [  # noqa: PLE0604 - the lazy names are strings too
    "FAMILIES", "ModelFamily", "families", "family", "names", "validate_size", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hdr_mcp.models' has no attribute {name!r}")
