"""Pydantic models of what the MCP tools return (their ``outputSchema``).

Tool *inputs* are the parameter models of :mod:`hdr_mcp.params`; a job's state is
:class:`hdr_mcp.jobs.view.JobView` on every surface.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hdr_mcp.jobs.view import JobList, JobStatusName, JobView

__all__ = ["InspectView", "JobList", "JobStatusName", "JobView", "ModelList"]


class ModelList(BaseModel):
    """Model families hdr-mcp can load (``hdr-mcp models list``)."""

    models: list[dict[str, Any]] = Field(description="One row per family: name, task, "
                                         "repository, revision, cached, size_gb, vram_gb, "
                                         "gated, licence, tiny.")


class InspectView(BaseModel):
    """Summary of one HDR or SDR image file (see ``hdr-mcp inspect-hdr``)."""

    path: str
    file_format: str
    width: int
    height: int
    channels: list[str]
    dtype: str
    bit_depth: int | None = Field(description="Bits per channel as stored (16 for half).")
    transfer: str = Field(
        description="'linear' for scene-linear files (EXR, .hdr); the SDR EOTF (e.g. 'srgb') "
        "used to linearise display code values before the statistics."
    )
    colorspace: str | None
    compression: str | None
    stats: dict[str, Any] = Field(
        description="min/max/mean, peak_scene, peak_nits, dynamic range in stops, fraction "
        "above 1.0, NaN/Inf counts (on linear light), and for HDR files the QA verdict "
        "(pass/review/fail) with its reasons; 'definitions' says how each is computed."
    )
    attributes: dict[str, Any] = Field(description="Header attributes (provenance, tagging).")
    notes: list[str] = Field(default_factory=list, description="What the reader assumed or "
                             "noticed (untagged primaries, library warnings).")
    qa: dict[str, Any] | None = Field(
        None, description="HDR files: the QA verdict, reasons and the figures behind them "
        "(banding at -2/-4 EV, clipped plateau, fake HDR); null for SDR files."
    )
