"""Fixtures for hdr_mcp.models tests: private HDR_MCP_HOME / HF caches, tiny presets built once,
loaded tiny pipelines. Nothing here touches the network or the user's home."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdr_mcp.models import tiny


@pytest.fixture(scope="session")
def tiny_cache(models_env: Path) -> Path:
    """Every tiny preset built once for the session; returns their cache folder."""
    cache = models_env / "tiny"
    for name in tiny.tiny_names():
        tiny.ensure_tiny(name, cache_dir=cache)
    return cache


@pytest.fixture(scope="session")
def loaded(tiny_cache: Path):
    """``loaded(name)``: a tiny pipeline loaded through load_pipeline (memoised per session;
    tests must not modify it)."""
    from hdr_mcp.models.loading import load_pipeline

    memo: dict[str, object] = {}

    def get(name: str):
        if name not in memo:
            result = load_pipeline(name, tiny_cache_dir=tiny_cache)
            result.pipe.set_progress_bar_config(disable=True)
            memo[name] = result
        return memo[name]

    return get


TEXT_TO_IMAGE = [n for n in tiny.tiny_names() if "wan" not in n and "ltx" not in n]
DISTINCT = ["tiny-qwen-image", "tiny-flux.1-dev", "tiny-flux.2-klein-4b",
            "tiny-wan2.1-vace-1.3b", "tiny-ltx-2.3"]
"""One preset per architecture (the others share builders)."""
