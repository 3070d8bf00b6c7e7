"""Durable jobs: a SQLite job store, worker processes and the context handlers report to.

The MCP server submits jobs and waits on them (bounded, with progress); workers, one per GPU,
claim and run them with ``handler(params, ctx)``. See :mod:`hdr_mcp.jobs.store`,
:mod:`hdr_mcp.jobs.worker`, :mod:`hdr_mcp.jobs.context`, :mod:`hdr_mcp.jobs.kinds`
(every job kind, declared once), :mod:`hdr_mcp.jobs.view` (how surfaces show a job).

Nothing here imports torch: handlers are imported by the worker when it runs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hdr_mcp.jobs.context import JobCancelled, JobContext, LocalContext, StoreContext
from hdr_mcp.jobs.kinds import JobKind, job_kind, register, resolve
from hdr_mcp.jobs.store import (
    Job,
    JobFinished,
    JobStatus,
    JobStore,
    LogEntry,
    UnknownJob,
    WorkerInfo,
    default_home,
)

if TYPE_CHECKING:
    from hdr_mcp.jobs.worker import Worker, ensure_worker, run_worker

__all__ = [
    "Job",
    "JobCancelled",
    "JobContext",
    "JobFinished",
    "JobKind",
    "JobStatus",
    "JobStore",
    "LocalContext",
    "LogEntry",
    "StoreContext",
    "UnknownJob",
    "Worker",
    "WorkerInfo",
    "default_home",
    "ensure_worker",
    "job_kind",
    "register",
    "resolve",
    "run_worker",
]

_WORKER_NAMES = frozenset({"Worker", "ensure_worker", "run_worker"})


def __getattr__(name: str) -> Any:
    # Imported on first use so that `python -m hdr_mcp.jobs.worker` does not find the module
    # already imported by its own package (runpy warns and runs it twice).
    if name in _WORKER_NAMES:
        from hdr_mcp.jobs import worker

        return getattr(worker, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
