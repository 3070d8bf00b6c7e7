"""Parameters of ``sdr_to_hdr_video`` (MCP tool, ``hdr-mcp sdr-to-hdr-video``, job kind)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from hdr_mcp.params import INPUT, OUTPUT_DIR, Cli, Params, stop_after_start
from hdr_mcp.vocabulary import (
    AUTO,
    COLORSPACES,
    COMPRESSIONS,
    OPERATORS,
    SDR_PRIMARIES,
    SDR_TO_HDR_METHODS,
    SDR_TRANSFERS,
)

#: Largest display luminance BT.2100 PQ can signal, cd/m^2.
MAX_PEAK_NITS = 10000.0


class SdrToHdrParams(Params):
    """Convert SDR footage to scene-linear EXR frames (see :mod:`hdr_mcp.pipelines.sdr_to_hdr`)."""

    input: Annotated[str, INPUT, Cli(argument=True)] = Field(
        min_length=1,
        description="SDR image (PNG/JPEG/TIFF), folder or %04d/####/glob pattern of frames, or a "
        "video file.",
    )
    method: Literal[SDR_TO_HDR_METHODS] = Field(
        "classical", description="Conversion method. 'classical': inverse tone mapping, no weights."
    )
    output_dir: Annotated[str | None, OUTPUT_DIR, Cli(aliases=("--out",))] = Field(
        None,
        description="Folder for frame_%05d.exr, preview.png and preview.mp4 (default: a new folder "
        "in the output directory).",
    )
    overwrite: bool = Field(
        False,
        description="Replace the frames and previews in an output_dir that already holds files "
        "(frames of an earlier, longer run are removed too).",
    )
    start: int = Field(0, ge=0, description="First frame index (0-based).")
    stop: int | None = Field(
        None, ge=1, description="Stop before this frame index; omit for all frames."
    )
    colorspace: Literal[COLORSPACES] = Field(
        "lin_rec709", description="Scene-linear colour space of the EXR frames."
    )
    compression: Literal[COMPRESSIONS] = Field(
        "zip", description="EXR compression (zip, zips, piz, rle, none are lossless)."
    )
    target_peak_nits: Annotated[float, Cli(aliases=("--target-peak",))] = Field(
        1000.0,
        gt=0,
        le=MAX_PEAK_NITS,
        description="cd/m^2 that SDR white expands to (bt2446c, power); the ceiling for auto, "
        "which expands at most to 1000/203 x the reference white. Above diffuse_white * "
        "nits_per_unit.",
    )
    diffuse_white: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Scene-linear value where reference (diffuse) white lands; with operator "
        "auto SDR mid-tones are linear up to it (SDR 18% grey -> 0.18 x diffuse_white).",
    )
    nits_per_unit: float = Field(
        100.0, gt=0, le=10000, description="cd/m^2 of scene-linear 1.0."
    )
    transfer: Literal[(AUTO, *SDR_TRANSFERS)] = Field(
        AUTO,
        description="SDR EOTF used to linearise code values: auto (a video's color_trc tag: "
        "BT.709/BT.1886 -> bt1886, sRGB -> srgb; images and untagged video -> srgb), srgb, or "
        "bt1886 (gamma 2.4). Reported as transfer_used.",
    )
    primaries: Literal[(AUTO, *SDR_PRIMARIES)] = Field(
        AUTO,
        description="Primaries of the SDR: auto (a video's color_primaries tag, e.g. BT.2020 -> "
        "lin_rec2020; images and untagged video -> lin_rec709), or one of them. Reported as "
        "primaries_used.",
    )
    operator: Literal[OPERATORS] = Field(
        AUTO,
        description="Inverse tone mapping: auto (blind: measures the shot once, keeps mid-tones "
        "linear, expands only what was compressed or clipped), bt2446c (Report ITU-R BT.2446-1 "
        "Method C) or power.",
    )
    preview: bool = Field(True, description="Write preview.png and, for sequences, preview.mp4.")
    fps: float | None = Field(
        None, gt=0, description="Preview MP4 frame rate; default: the video's, 24 for frames."
    )

    _stop_after_start = field_validator("stop")(stop_after_start)
