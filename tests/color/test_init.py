"""hdr_mcp.color's public surface and import cost."""

from __future__ import annotations

import subprocess
import sys

from hdr_mcp import color


def test_public_api():
    for name in (
        "encode",
        "decode",
        "encodings",
        "colorspaces",
        "colorspace",
        "ColorSpace",
        "colorspace_from_chromaticities",
        "colorspace_from_interop_id",
        "rgb_to_rgb_matrix",
        "convert_colorspace",
        "luminance",
        "ocio_convert",
        "preview",
        "exposure_strip",
        "exposure",
        "reinhard",
        "reinhard_extended",
        "srgb_display_8bit",
    ):
        assert callable(getattr(color, name)), name
    assert set(color.__all__) <= set(dir(color))


def test_import_and_numpy_use_do_not_load_heavy_modules():
    code = (
        "import sys, numpy as np, hdr_mcp.color as c\n"
        "x = np.ones((4, 4, 3), np.float32)\n"
        "for n in c.encodings(): c.decode(c.encode(x, n), n)\n"
        "c.convert_colorspace(x, 'acescg', 'lin_rec709'); c.luminance(x); c.preview(x)\n"
        "heavy = ('torch', 'PyOpenColorIO', 'PIL', 'cv2', 'colour')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
