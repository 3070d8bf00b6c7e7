"""Seeded fuzzing: damaged files of every format give a named error, never a crash or a leak.

Each case flips bytes in the header, flips bytes anywhere, or truncates. The readers may succeed
(a flipped pixel is still an image) or raise an HdrMcpError naming ``path``; any other exception,
output on stdout (the MCP stdio channel) or a hard crash fails the test. 5000 such variants per
format were run while developing; this keeps a fast, deterministic sample as a regression test.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hdr_mcp.errors import HdrMcpError
from hdr_mcp.io import read_image, read_info, write_exr

VARIANTS = 60


def _source(tmp_path: Path, extension: str) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / f"source{extension}"
    if extension == ".exr":
        write_exr(path, rng.random((32, 48, 3), dtype=np.float32) * 10, metadata={"k": "v"})
    else:
        rgb = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
        image = {".hdr": rgb.astype(np.float32) * 3.1, ".tif": rgb.astype(np.uint16) * 200}.get(
            extension, rgb
        )
        assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize("extension", [".exr", ".png", ".jpg", ".tif", ".hdr"])
def test_damaged_files(tmp_path: Path, extension: str, capsys) -> None:
    data = _source(tmp_path, extension).read_bytes()
    target = tmp_path / f"damaged{extension}"
    for seed in range(VARIANTS):
        rng = np.random.default_rng(seed)
        damaged = bytearray(data)
        if seed % 3 == 0:
            for index in rng.integers(8, min(400, len(data)), rng.integers(1, 6)):
                damaged[index] = rng.integers(0, 256)
        elif seed % 3 == 1:
            for index in rng.integers(8, len(data), rng.integers(1, 50)):
                damaged[index] = rng.integers(0, 256)
        else:
            damaged = damaged[: rng.integers(5, len(data))]
        target.write_bytes(bytes(damaged))
        for reader in (read_info, read_image):
            try:
                reader(target)
            except HdrMcpError as error:
                assert getattr(error, "argument", "path") == "path", (seed, error)
    assert capsys.readouterr().out == ""
