#!/usr/bin/env python
"""Regenerate the small real HDR images in ``tests/data/`` and ``src/hdr_mcp/data/``.

Source: the CC0 HDRIs by Greg Zaal (HDRI Haven, https://hdrihaven.com) that Debian ships in
``blender-data`` 3.4.1 (``usr/share/blender/datafiles/studiolights/world/*.exr``: 1024x512
lat-long, float32, DWAB-compressed, linear Rec.709 primaries). Get them with::

    cd /tmp && apt-get download blender-data && mkdir -p bd && dpkg-deb -x blender-data*.deb bd

then run ``python tools/make_test_data.py [--source DIR]``.

Processing: an integer box filter (mean of k x k blocks, k = 4 for 256x128, k = 2 for 512x256)
computed in float64 on the scene-linear values, i.e. in linear light, then stored as half. Area
averaging lowers a small sun's peak (a 1-pixel sun of 33952 averaged with darker neighbours);
the original peak is kept in the ``hdr_mcp/original_peak`` header attribute. The originals' small
negative values (DWAB ringing, down to about -0.004) average away; none are clamped.

- ``tests/data/{interior,city,sunset}.exr``: 256x128, half, ZIP (lossless, so tests can compare
  write/read round trips exactly). Chosen for dynamic range: 25, 20 and 17 stops.
- ``tests/data/{courtyard,forest,night,studio}.exr``: the same processing, for the SDR harness
  (so it covers all eight studio lights with ``sunrise``).
- ``src/hdr_mcp/data/sunrise.exr``: 512x256, half, DWAB (lossy like its source; ZIP would be
  about 410 KB), the package sample behind ``hdr_mcp.data.sample_path()``; sunrise has the
  brightest sun of the set (33664 in the original).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import OpenEXR

from hdr_mcp.io import write_exr

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/tmp/bd/usr/share/blender/datafiles/studiolights/world")
DEBIAN_PACKAGE = "Debian blender-data 3.4.1+dfsg-2"
LICENSE = "CC0 1.0; created by Greg Zaal (HDRI Haven, https://hdrihaven.com)"

# (name, box factor, compression, destination directory)
OUTPUTS = (
    ("interior", 4, "zip", ROOT / "tests" / "data"),
    ("city", 4, "zip", ROOT / "tests" / "data"),
    ("sunset", 4, "zip", ROOT / "tests" / "data"),
    # Added for the SDR harness (tools/bench_sdr_harness.py): every studio light ships.
    ("courtyard", 4, "zip", ROOT / "tests" / "data"),
    ("forest", 4, "zip", ROOT / "tests" / "data"),
    ("night", 4, "zip", ROOT / "tests" / "data"),
    ("studio", 4, "zip", ROOT / "tests" / "data"),
    ("sunrise", 2, "dwab", ROOT / "src" / "hdr_mcp" / "data"),
)


def box_downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor x factor`` blocks in float64 (linear light); size must divide evenly."""
    height, width, channels = image.shape
    if height % factor or width % factor:
        raise ValueError(f"{width}x{height} is not divisible by {factor}")
    blocks = image.reshape(height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(1, 3), dtype=np.float64)


def make(source: Path, name: str, factor: int, compression: str, destination: Path) -> Path:
    original_path = source / f"{name}.exr"
    with OpenEXR.File(str(original_path)) as original:
        pixels = np.array(original.channels()["RGB"].pixels, dtype=np.float32)
    small = box_downscale(pixels, factor)
    height, width = small.shape[:2]
    relative = "usr/share/blender/datafiles/studiolights/world/" + original_path.name
    metadata = {
        "hdr_mcp/source": f"{DEBIAN_PACKAGE}: {relative}",
        "hdr_mcp/license": LICENSE,
        "hdr_mcp/original_size": f"{pixels.shape[1]}x{pixels.shape[0]}",
        "hdr_mcp/original_peak": f"{float(pixels.max()):g}",
        "hdr_mcp/processing": f"{factor}x{factor} box filter (mean, float64, linear light) to "
        f"{width}x{height}, stored as half with {compression} compression",
    }
    destination.mkdir(parents=True, exist_ok=True)
    out = write_exr(
        destination / f"{name}.exr",
        small.astype(np.float32),
        colorspace="lin_rec709",
        compression=compression,
        dtype="half",
        metadata=metadata,
    )
    print(
        f"{out.relative_to(ROOT)}: {width}x{height}, peak {small.max():.1f} "
        f"(original {pixels.max():.1f}), {out.stat().st_size / 1024:.0f} KiB"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="blender world/ folder")
    parser.add_argument("names", nargs="*", help="only these images (default: all)")
    args = parser.parse_args()
    for name, factor, compression, destination in OUTPUTS:
        if args.names and name not in args.names:
            continue
        make(args.source, name, factor, compression, destination)


if __name__ == "__main__":
    main()
