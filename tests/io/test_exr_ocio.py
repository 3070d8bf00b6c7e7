"""EXRs we write are understood by OpenColorIO: their colorInteropID names a colour space of the
ACES studio config, and OCIO's conversion of that space agrees with ours."""

from __future__ import annotations

import numpy as np
import OpenEXR
import pytest

PyOpenColorIO = pytest.importorskip("PyOpenColorIO")

from hdr_mcp.color import colorspaces, convert_colorspace
from hdr_mcp.io import write_exr


@pytest.fixture(scope="module")
def studio_config():
    config = PyOpenColorIO.Config.CreateFromFile("ocio://studio-config-latest")
    return {cs.getInteropID(): cs.getName() for cs in config.getColorSpaces() if cs.getInteropID()}, config


@pytest.mark.parametrize("name", colorspaces())
def test_interop_id_resolves_in_ocio_and_conversions_agree(tmp_path, studio_config, name):
    by_id, config = studio_config
    rng = np.random.default_rng(7)
    pixels = rng.lognormal(-1.0, 2.0, (8, 8, 3)).astype(np.float32)  # ~0.001 .. 100+
    path = write_exr(tmp_path / f"{name}.exr", pixels, colorspace=name, dtype="float")

    with OpenEXR.File(str(path)) as exr:
        header = dict(exr.header())
        stored = exr.channels()["RGB"].pixels.copy()
    assert OpenEXR.checkColorMetadata(header) == 0
    ocio_name = by_id[header["colorInteropID"]]

    processor = config.getProcessor(ocio_name, "ACES2065-1").getOptimizedCPUProcessor(
        PyOpenColorIO.OPTIMIZATION_LOSSLESS
    )
    theirs = stored.reshape(-1, 3).copy()
    processor.applyRGB(theirs)
    ours = convert_colorspace(stored.astype(np.float64), name, "aces2065_1").reshape(-1, 3)
    np.testing.assert_allclose(theirs, ours, rtol=2e-4, atol=1e-6)
