"""How every surface shows a job: :class:`JobView` (``job_id``, ISO 8601 UTC times).

The MCP tools (``get_job``, ``list_jobs``, long-running tools), the ``hdr://jobs/{job_id}``
resource and the CLI (``hdr-mcp jobs ... --json``) all print this one model.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from hdr_mcp.jobs.store import Job, JobStore
from hdr_mcp.vocabulary import JOB_STATUSES

__all__ = ["JobList", "JobStatusName", "JobView", "iso_time", "job_view", "worker_views"]

JobStatusName = Literal[JOB_STATUSES]


class JobView(BaseModel):
    """State of one job, as every long-running tool, ``get_job`` and ``hdr-mcp jobs`` report it."""

    job_id: str = Field(description="Handle to pass to get_job / cancel_job.")
    kind: str = Field(description="Which tool created the job (evaluate, sdr_to_hdr_video, ...).")
    status: JobStatusName
    params: dict[str, Any] = Field(default_factory=dict, description="What was asked: the "
                                   "validated arguments, paths resolved.")
    progress: float = Field(description="Units of work done so far (frames, steps).")
    total: float | None = Field(default=None, description="Units of work in all, when known.")
    message: str = Field(default="", description="Latest progress message.")
    result: dict[str, Any] | None = Field(
        default=None, description="The tool's result once status is 'succeeded'."
    )
    error: str | None = Field(default=None, description="Why the job failed, when it did.")
    attempts: int = Field(default=0, description="Times a worker started the job.")
    worker_id: str | None = Field(default=None, description="Worker running or last running it.")
    backend: str | None = Field(default=None, description="Where it ran: local (a worker "
                                "process) or ray (an actor of a Ray pool).")
    node: str | None = Field(default=None, description="Host name, or Ray node id, it ran on.")
    device: str | None = Field(default=None, description="Device it ran on: cpu, cuda, cuda:N.")
    created_at: str | None = Field(default=None, description="ISO 8601 UTC.")
    started_at: str | None = Field(default=None, description="ISO 8601 UTC.")
    finished_at: str | None = Field(default=None, description="ISO 8601 UTC.")
    next_step: str = Field(default="", description="What to call next, in words.")


class JobList(BaseModel):
    """Newest jobs first."""

    jobs: list[JobView]


def iso_time(ts: float | None) -> str | None:
    """POSIX seconds -> ``2026-12-01T10:26:11Z`` (None stays None)."""
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def worker_views(store: JobStore, *, all_history: bool = True) -> list[dict[str, Any]]:
    """Workers as ``hdr-mcp workers --json`` and the ``hdr://workers`` resource show them:
    ``worker_id``, ``alive``, device, version, job, models held, ISO times."""
    alive = {w.id for w in store.workers(alive_only=True)}
    return [
        {**w.model_dump(exclude={"id"}), "worker_id": w.id, "alive": w.id in alive,
         "started_at": iso_time(w.started_at), "heartbeat_at": iso_time(w.heartbeat_at),
         "stopped_at": iso_time(w.stopped_at)}
        for w in store.workers() if all_history or w.id in alive
    ]


def _next_step(job: Job) -> str:
    status = job.status.value
    if status == "queued" and job.needs_gpu:
        return ("waiting for a GPU worker: start `hdr-mcp worker --device cuda` on a machine with "
                "a GPU and the same home (tiny- presets, or allow_cpu=true, run on a CPU); "
                f"get_job(job_id='{job.id}') follows it")
    if status in ("queued", "running"):
        return f"call get_job(job_id='{job.id}', wait_seconds=60) to wait for the result"
    if status == "succeeded":
        return "done: read result; files are linked as resources"
    return "finished without a result"


def job_view(job: Job) -> JobView:
    """The public view of a store row."""
    return JobView(
        job_id=job.id,
        kind=job.kind,
        status=job.status.value,
        params=job.params,
        progress=job.progress,
        total=job.total,
        message=job.message,
        result=job.result,
        error=job.error,
        attempts=job.attempts,
        worker_id=job.worker_id,
        backend=job.backend,
        node=job.node,
        device=job.device,
        created_at=iso_time(job.created_at),
        started_at=iso_time(job.started_at),
        finished_at=iso_time(job.finished_at),
        next_step=_next_step(job),
    )
