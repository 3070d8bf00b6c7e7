"""Image input/output: OpenEXR, Radiance HDR, SDR PNG/TIFF/JPEG, synthetic test images.

Everything here is numpy + OpenEXR + OpenCV; no torch is imported (tensors passed to the
writers are converted with ``.detach().cpu().numpy()``). Video (:mod:`hdr_mcp.io.video`) and
frame sequences (:mod:`hdr_mcp.io.sequence`) are separate modules, imported on their own.
"""

from __future__ import annotations

from hdr_mcp.io.atomic import atomic_path
from hdr_mcp.io.exr import COMPRESSIONS, ExrSequenceWriter, read_exr, read_exr_info, write_exr
from hdr_mcp.io.image import (
    DEFAULT_MAX_PIXELS,
    Image,
    ImageInfo,
    read_image,
    read_info,
    sniff_format,
    write_png,
    write_sdr,
)

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_MAX_PIXELS",
    "ExrSequenceWriter",
    "Image",
    "ImageInfo",
    "atomic_path",
    "read_exr",
    "read_exr_info",
    "read_image",
    "read_info",
    "sniff_format",
    "write_exr",
    "write_png",
    "write_sdr",
]
