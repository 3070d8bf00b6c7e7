#!/usr/bin/env python
"""Print the SDR harness table (markdown) for every forward path and inverse method.

Real HDR photographs (the eight CC0 studio lights the repository ships: ``tests/data/*.exr``
and ``src/hdr_mcp/data/sunrise.exr``, or the files given) -> SDR through every forward path
of :data:`hdr_mcp.metrics.sdr_harness.FORWARD_PATHS` (10 renderings x float / 8-bit / JPEG
q90) -> each inverse method -> PU21-PSNR after exposure alignment, Delta E ITP, gain over
``identity``. Definitions: :mod:`hdr_mcp.metrics.sdr_harness`. The methods are the operators
at ``--peak`` over BT.2408's 203 cd/m^2 reference white, and ``pipeline``: what
``sdr_to_hdr_video`` does with its defaults, end to end through PNG and EXR files
(:func:`hdr_mcp.metrics.sdr_harness.pipeline_method`). About 30 s on one core.

    python tools/bench_sdr_harness.py [--peak 1000] [--json rows.json] [IMAGES...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from hdr_mcp.metrics import sdr_harness as h

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", type=Path, help="scene-linear HDR files")
    parser.add_argument("--peak", type=float, default=1000.0, help="target peak, cd/m^2")
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--fast", action="store_true", help="8-bit paths only (the test subset)")
    args = parser.parse_args()
    files = args.images or sorted((ROOT / "tests" / "data").glob("*.exr")) + [
        ROOT / "src" / "hdr_mcp" / "data" / "sunrise.exr"
    ]
    images = h.load_images(files)
    paths = h.FAST_PATHS if args.fast else h.FORWARD_PATHS
    methods = h.default_methods(args.peak)
    with tempfile.TemporaryDirectory(prefix="harness_pipeline_") as scratch:
        methods["pipeline"] = h.pipeline_method(scratch)
        rows = h.run_harness(images, paths, methods)
    summary = h.summarise(rows)
    print(f"SDR harness: {len(images)} images ({', '.join(images)}), {len(paths)} forward paths,")
    print(f"target peak {args.peak:g} cd/m^2, reference white 203 cd/m^2.\n")
    print(h.markdown_table(summary))
    print("\nPer method over all paths: mean gain / worst single (image, path) gain / worst path")
    for method, per_path in summary.items():
        a = per_path["all"]
        print(
            f"- {method}: mean PU21-PSNR {a['pu21_psnr']:.2f} dB, dE ITP {a['delta_e_itp']:.1f}, "
            f"gain {a['gain_db']:+.2f} dB, worst {a['worst_gain_db']:+.2f} dB, "
            f"worst path {a['worst_path_gain_db']:+.2f} dB"
        )
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=1) + "\n")


if __name__ == "__main__":
    main()
