"""Fixtures for protocol tests: a configured server with an in-process worker thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An allowed root holding one HDR EXR, a reference, an SDR PNG and a text file."""
    from hdr_mcp.io import read_image, write_exr, write_sdr

    root = tmp_path / "work"
    root.mkdir()
    source = min(DATA.glob("*.exr"))
    hdr = read_image(source).pixels[..., :3]
    write_exr(root / "ref.exr", hdr)
    write_exr(root / "pred.exr", hdr * np.float32(1.05))
    sdr = np.clip(hdr / (1.0 + hdr), 0, 1) ** (1 / 2.2)
    write_sdr(root / "plate.png", sdr.astype(np.float32), bit_depth=8)
    # small enough for the tiny video presets (diffusion methods)
    write_sdr(root / "plate_small.png", sdr[::4, ::4].astype(np.float32), bit_depth=8)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def server_config(tmp_path: Path, workspace: Path):
    from hdr_mcp.server.config import ServerConfig

    return ServerConfig(
        home=tmp_path / "home", output_dir=tmp_path / "out", roots=[workspace], worker="thread"
    )


@pytest.fixture
def server(server_config):
    from hdr_mcp.server import build_server

    return build_server(server_config)
