"""hdr_mcp.data: the bundled sample and the committed test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from hdr_mcp.data import sample_path, samples
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io import read_image

TEST_DATA = Path(__file__).resolve().parent


def test_sample_path() -> None:
    assert samples() == ("sunrise",)
    path = sample_path()
    assert path == sample_path("sunrise") and path.is_file()
    assert path.stat().st_size < 300_000
    image = read_image(path)
    assert image.pixels.shape == (256, 512, 3)
    assert image.info.colorspace == "lin_rec709" and image.info.compression == "dwab"
    assert image.pixels.max() > 10_000  # the sun survives the 2x2 box filter
    assert float(image.info.attributes["hdr_mcp/original_peak"]) == 33664.0
    assert "CC0" in image.info.attributes["hdr_mcp/license"]
    assert (path.parent / "LICENSE.md").is_file()


def test_unknown_sample() -> None:
    with pytest.raises(InvalidArgument, match="sunrise") as info:
        sample_path("moon")
    assert info.value.argument == "name"


@pytest.mark.parametrize("name", ["interior", "city", "sunset"])
def test_committed_test_images(name: str) -> None:
    path = TEST_DATA / f"{name}.exr"
    assert path.stat().st_size < 300_000
    with OpenEXR.File(str(path)) as f:
        header = dict(f.header())
        pixels = np.array(f.channels()["RGB"].pixels)
    assert pixels.shape == (128, 256, 3) and pixels.dtype == np.float16
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    assert OpenEXR.checkColorMetadata(header) == 0
    assert header["colorInteropID"] == "lin_rec709_scene"
    assert "blender-data" in header["hdr_mcp/source"]
    # Real scene-referred range: a bright source many stops above the median.
    luminance = pixels.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert np.log2(luminance.max() / np.median(luminance)) > 9
    assert float(header["hdr_mcp/original_peak"]) >= pixels.max()
