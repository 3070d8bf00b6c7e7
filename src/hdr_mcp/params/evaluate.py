"""Parameters of ``evaluate`` (MCP tool, CLI command ``hdr-mcp evaluate``, job kind)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from hdr_mcp.params import HDR_INPUT, INPUT, OUTPUT_DIR, Cli, Params, stop_after_start
from hdr_mcp.vocabulary import EXTRA_METRICS

MAX_NITS_PER_UNIT = 10000.0

ExtraMetric = Literal[EXTRA_METRICS]


class EvaluateParams(Params):
    """Measure an HDR image or sequence (see :func:`hdr_mcp.metrics.evaluate.evaluate`)."""

    prediction: Annotated[str, HDR_INPUT, Cli(argument=True)] = Field(
        min_length=1,
        description="HDR result to measure: an EXR/.hdr file, or a folder / %04d pattern / glob of "
        "frames (a folder's EXR frames are used; previews beside them are ignored).",
    )
    reference: Annotated[str | None, HDR_INPUT, Cli(argument=True)] = Field(
        None,
        description="Ground truth with the same frame count and shapes; omit for no-reference "
        "metrics only.",
    )
    sdr: Annotated[str | None, INPUT] = Field(
        None,
        description="Optional: the SDR the prediction was made from (image, frame folder/pattern "
        "or video; same frame count and size). The QA fake-HDR check then compares against it "
        "(detail where the SDR clipped, a pure gain of it); without it the HDR is judged alone.",
    )
    nits_per_unit: float = Field(
        100.0,
        gt=0.0,
        le=MAX_NITS_PER_UNIT,
        description="Absolute scale: cd/m^2 of scene-linear 1.0 (PU21 and Delta E ITP depend on "
        "it; echoed in the result).",
    )
    output_dir: Annotated[str | None, OUTPUT_DIR, Cli(aliases=("--out",))] = Field(
        None,
        description="Folder for report.json, report.png and preview.png (default: a new folder "
        "in the output directory).",
    )
    overwrite: bool = Field(
        False, description="Replace the reports in an output_dir that already holds files."
    )
    start: int = Field(0, ge=0, description="First frame index (0-based, into the sorted frames).")
    stop: int | None = Field(
        None, ge=1, description="Stop before this frame index; omit for all frames."
    )
    extra_metrics: Annotated[list[ExtraMetric], Cli(aliases=("--metric",))] = Field(
        default_factory=list,
        description="Optional metrics: 'cvvdp' (ColorVideoVDP JOD; needs a reference and the "
        "optional pycvvdp package, the error says how to install it).",
    )

    _stop_after_start = field_validator("stop")(stop_after_start)
