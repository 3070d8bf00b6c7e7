"""Pydantic models of what the MCP tools return (their ``outputSchema``).

Tool *inputs* are the tool functions' own annotated parameters in :mod:`hdr_mcp.server.app`
(flat arguments are what agents call most reliably); job handlers validate their parameters
again with their own models, so the worker never trusts the server blindly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

JobStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobView(BaseModel):
    """State of one job, as every long-running tool and ``get_job`` report it."""

    job_id: str = Field(description="Handle to pass to get_job / cancel_job.")
    kind: str = Field(description="Which tool created the job (evaluate, sdr_to_hdr_video, ...).")
    status: JobStatusName
    progress: float = Field(description="Units of work done so far (frames, steps).")
    total: float | None = Field(default=None, description="Units of work in all, when known.")
    message: str = Field(default="", description="Latest progress message.")
    result: dict[str, Any] | None = Field(
        default=None, description="The tool's result once status is 'succeeded'."
    )
    error: str | None = Field(default=None, description="Why the job failed, when it did.")
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    next_step: str = Field(default="", description="What to call next, in words.")


class JobList(BaseModel):
    """Newest jobs first."""

    jobs: list[JobView]


class InspectView(BaseModel):
    """Summary of one HDR or SDR image file (see ``hdr-mcp inspect``)."""

    path: str
    file_format: str
    width: int
    height: int
    channels: list[str]
    dtype: str
    colorspace: str | None
    compression: str | None
    stats: dict[str, Any] = Field(
        description="min/max/mean, peak luminance, dynamic range in stops, fraction above "
        "1.0, NaN/Inf counts; 'definitions' says how each is computed."
    )
    attributes: dict[str, Any] = Field(description="Header attributes (provenance, tagging).")
