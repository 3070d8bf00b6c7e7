"""Parameters of the file commands: ``inspect_hdr``, ``encode`` and ``decode``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hdr_mcp.params import INPUT_FILE, Cli, Params
from hdr_mcp.vocabulary import ENCODINGS, OUT_OF_RANGE_POLICIES


class InspectParams(Params):
    """Summarise one image file (see :func:`hdr_mcp.metrics.summary.summarize`)."""

    path: Annotated[str, INPUT_FILE, Cli(argument=True)] = Field(
        min_length=1, description="EXR, Radiance .hdr, PNG, TIFF or JPEG file."
    )


class _CurveParams(Params):
    src: Annotated[str, INPUT_FILE, Cli(argument=True)] = Field(
        min_length=1, description="File to read."
    )
    dst: Annotated[str, Cli(argument=True)] = Field(min_length=1, description="File to write.")
    encoding: Annotated[Literal[ENCODINGS], Cli(aliases=("--curve",))] = Field(
        description="Transfer curve (docs/vocabulary.md lists them)."
    )
    nits_per_unit: float | None = Field(
        None, gt=0, description="pq only: cd/m^2 of scene-linear 1.0 (default 100)."
    )
    gamma: float | None = Field(None, gt=0, description="log_gamma only: gamma (default 2.2).")
    max_value: float | None = Field(
        None, gt=0, description="log_gamma only: scene-linear value of code 1.0 (default 65536)."
    )
    exposure: float = Field(
        0.0,
        ge=-32,
        le=32,
        description="Stops applied to scene-linear light: encode multiplies by 2**exposure before "
        "the curve, decode divides after it (use the same value both ways).",
    )
    overwrite: bool = Field(False, description="Replace dst if it exists.")


class EncodeParams(_CurveParams):
    """Scene-linear EXR -> curve code values in a 16-bit PNG/TIFF or a float EXR."""

    out_of_range: Literal[OUT_OF_RANGE_POLICIES] = Field(
        "error",
        description="Code values outside [0, 1] in a 16-bit file: 'error' (say how many and the "
        "exposure that would fit) or 'clip' them.",
    )


class DecodeParams(_CurveParams):
    """Curve code values (PNG/TIFF/EXR) -> scene-linear EXR."""

    dtype: Literal["half", "float"] = Field("half", description="EXR pixel type of dst.")
