"""Suite-wide set-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def models_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HDR_MCP_HOME and the Hugging Face cache in a temporary folder, offline: no test touches
    the user's data folder or the network's model hubs."""
    root = tmp_path_factory.mktemp("models-env")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HDR_MCP_HOME", str(root / "home"))
        patch.setenv("HF_HOME", str(root / "hf"))
        patch.delenv("HF_HUB_CACHE", raising=False)
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        yield root


@pytest.fixture(scope="session")
def loaded_tiny():
    """``loaded_tiny(name)``: a tiny pipeline, loaded once per session (tests that add an
    adapter remove it again)."""
    from hdr_mcp.models.loading import load_pipeline

    memo: dict[str, object] = {}

    def get(name: str):
        if name not in memo:
            memo[name] = load_pipeline(name).pipe
            memo[name].set_progress_bar_config(disable=True)
        return memo[name]

    return get


def pytest_configure(config) -> None:
    # colour-science (a test reference) puts a MagicMock in sys.modules["matplotlib"] when
    # matplotlib is missing, and a later `import diffusers` then fails in
    # importlib.util.find_spec ("matplotlib.__spec__ is not set"). Importing diffusers before any
    # test module imports colour keeps every worker process working.
    try:
        import diffusers  # noqa: F401
    except ImportError:  # the core installs without the diffusion extra
        pass
