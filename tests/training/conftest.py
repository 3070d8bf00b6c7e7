"""Fixtures for hdr_mcp.training tests: small HDR datasets cut from the CC0 test HDRIs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hdr_mcp.io.exr import read_exr, write_exr
from hdr_mcp.jobs.context import LocalContext
from hdr_mcp.params.training import TrainConfig

DATA = Path(__file__).resolve().parents[1] / "data"
SCENES = ("city", "sunset", "forest", "night")
#: A tiny Qwen-Image run: 4 steps of 2 crops at 32 px, rank 4, no logs.
RUN: dict[str, Any] = {
    "model": "tiny-qwen-image", "resolution": 32, "rank": 4, "steps": 4, "batch_size": 2,
    "learning_rate": 1e-3, "checkpoint_every": 100, "validation_every": 100,
    "validation_steps": 2, "augment_variants": 1, "validation_fraction": 0.25, "logging": "none",
}


def hdr_crop(name: str, size: int = 64, left: int = 0) -> np.ndarray:
    pixels = read_exr(DATA / f"{name}.exr").pixels[..., :3]
    return np.ascontiguousarray(pixels[:size, left:left + size])


@pytest.fixture
def image_dataset(tmp_path: Path) -> Path:
    """Four 64x64 HDR crops with captions."""
    root = tmp_path / "images"
    root.mkdir()
    for name in SCENES:
        write_exr(root / f"{name}.exr", hdr_crop(name))
        (root / f"{name}.txt").write_text(f"a {name} scene")
    return root


@pytest.fixture
def video_dataset(tmp_path: Path) -> Path:
    """Three clips of six 40x40 HDR frames (a slow pan) with captions."""
    return write_clips(tmp_path / "clips", SCENES[:3], frames=6, size=40)


def write_clips(root: Path, names, *, frames: int, size: int) -> Path:
    """A clip folder per name: ``frames`` HDR crops panning right, and a caption."""
    for name in names:
        clip = root / name
        clip.mkdir(parents=True)
        for frame in range(frames):
            write_exr(clip / f"frame_{frame:04d}.exr", hdr_crop(name, size, 2 * frame))
        (clip / "caption.txt").write_text(f"a {name} scene")
    return root


@pytest.fixture
def config(image_dataset: Path, tmp_path: Path) -> Callable[..., TrainConfig]:
    """``config(**changes)``: a tiny Qwen-Image run on ``image_dataset`` (4 steps)."""

    def make(**changes: Any) -> TrainConfig:
        values = {**RUN, "dataset": str(image_dataset), "output_dir": str(tmp_path / "run")}
        return TrainConfig(**{**values, **changes})

    return make


@pytest.fixture
def ctx(tmp_path: Path) -> LocalContext:
    return LocalContext(tmp_path / "work")
