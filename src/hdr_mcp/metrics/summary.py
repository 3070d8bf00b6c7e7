"""One-file summary behind ``hdr-mcp inspect`` and the ``inspect_hdr`` tool.

The statistics are computed on linear light in the colour channels (alpha excluded):
scene-linear values as stored for EXR and Radiance files; for SDR files (PNG, TIFF, JPEG) the
code values decoded with their transfer (``transfer``, sRGB for these formats), so SDR white
is 1.0 and the dynamic range is that of the light the file describes, not of its code values.
Non-finite values are counted, then left out of every other statistic; with no finite value at
all the statistics are ``null``.

Scene-linear files (EXR, Radiance) also get the QA verdict of :mod:`hdr_mcp.metrics.qa` on the
image alone (``verdict``, ``reasons``; the figures behind them in ``qa``); SDR files get
``null`` there: they are not HDR results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hdr_mcp.metrics.range import (
    DEFAULT_HIGH_PERCENTILE,
    DEFAULT_LOW_PERCENTILE,
    dynamic_range_stops,
)

DEFINITIONS = {
    "min": "smallest finite value over the colour channels",
    "max": "largest finite value over the colour channels",
    "mean": "mean of the finite colour values",
    "peak_scene": (
        "largest luminance Y in linear units (from the file's colour space; BT.709 if untagged);"
        " SDR files: 1.0 = SDR white"
    ),
    "peak_nits": "peak_scene x 100 cd/m^2 (scene-linear 1.0, or SDR white, = 100 cd/m^2)",
    "dynamic_range_stops": (
        f"log2(P{DEFAULT_HIGH_PERCENTILE:g} / P{DEFAULT_LOW_PERCENTILE:g}) of the positive luminance values"
    ),
    "fraction_above_1": "fraction of pixels whose largest colour channel exceeds 1.0",
    "negative_count": "colour values below 0 (legal scene-linear, out of gamut)",
    "nan_count": "NaN colour values",
    "inf_count": "infinite colour values",
    "verdict": (
        "QA of an HDR file on its own: pass | review | fail (banding under -2/-4 EV pull-down,"
        " clipped plateau, fake HDR, peak); null for SDR files"
    ),
    "reasons": "why, one line each; the figures are in 'qa' beside the statistics",
}


def summarize(path: Path | str, *, keep_pixels: bool = False) -> dict[str, Any] | tuple[dict[str, Any], np.ndarray]:
    """Describe the image at ``path``: header facts, statistics and their definitions.

    Returns a JSON-safe dict; with ``keep_pixels`` also the float32 pixels (for a preview).
    """
    from hdr_mcp.color import decode, luminance
    from hdr_mcp.io import read_image

    image = read_image(path)
    info = image.info
    pixels = image.pixels
    if info.transfer != "linear":  # display code values -> the linear light they describe
        pixels = decode(pixels, info.transfer)
        if pixels.shape[-1] in (2, 4):  # alpha is coverage, not light: keep it as stored
            pixels[..., -1] = image.pixels[..., -1]
    color = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels[..., :1]
    finite = np.isfinite(color)
    nan_count = int(np.count_nonzero(np.isnan(color)))
    inf_count = int(color.size - np.count_nonzero(finite) - nan_count)
    clean = np.where(finite, color, 0.0).astype(np.float32, copy=False)
    colorspace = info.colorspace or "lin_rec709"
    lum = luminance(clean, colorspace) if clean.shape[-1] == 3 else clean[..., 0]
    values = color[finite]
    stats: dict[str, Any] = {
        "min": float(values.min()) if values.size else None,
        "max": float(values.max()) if values.size else None,
        "mean": float(values.mean(dtype=np.float64)) if values.size else None,
        "peak_scene": float(lum.max()) if values.size else None,
        "peak_nits": float(lum.max()) * 100.0 if values.size else None,
        "dynamic_range_stops": float(dynamic_range_stops(lum)) if values.size else None,
        "fraction_above_1": float(np.mean(clean.max(axis=-1) > 1.0)) if values.size else None,
        "negative_count": int(np.count_nonzero(values < 0)),
        "nan_count": nan_count,
        "inf_count": inf_count,
        "verdict": None,
        "reasons": None,
        "definitions": DEFINITIONS,
    }
    qa = None
    if info.transfer == "linear" and values.size:
        from hdr_mcp.metrics.qa import qa_block, verdict

        qa = qa_block(verdict(clean if clean.shape[-1] == 3 else clean[..., 0],
                              colorspace=colorspace))
        stats["verdict"], stats["reasons"] = qa["verdict"], qa["reasons"]
    summary = {
        "path": str(info.path),
        "file_format": info.file_format,
        "width": info.width,
        "height": info.height,
        "channels": list(info.channels),
        "dtype": info.dtype,
        "bit_depth": info.bit_depth,
        "colorspace": info.colorspace,
        "transfer": info.transfer,
        "compression": info.compression,
        "stats": stats,
        "attributes": info.attributes,
        "notes": list(info.notes),
        "qa": qa,
    }
    return (summary, pixels) if keep_pixels else summary


def render_summary(summary: dict[str, Any], console: Any) -> None:
    """Print a summary as a rich table (the CLI's human output)."""
    from rich.table import Table

    head = (
        f"{summary['path']}\n{summary['width']}x{summary['height']} {summary['file_format'].upper()} "
        f"{','.join(summary['channels'])} {summary['dtype']} ({summary['bit_depth']} bit)"
        f"  transfer: {summary['transfer']}  colour space: {summary['colorspace'] or 'untagged'}"
        f"  compression: {summary['compression'] or '-'}"
    )
    table = Table(title=head, title_justify="left")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_column("definition", style="dim")
    for key, definition in summary["stats"]["definitions"].items():
        value = summary["stats"][key]
        if isinstance(value, list):
            value = "; ".join(value)
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value), definition)
    console.print(table)
    if summary["attributes"]:
        attrs = Table(title="header attributes", title_justify="left")
        attrs.add_column("name")
        attrs.add_column("value")
        for name, value in summary["attributes"].items():
            attrs.add_row(name, str(value)[:120])
        console.print(attrs)
