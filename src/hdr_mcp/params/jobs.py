"""Parameters of the job tools: ``get_job``, ``list_jobs``, ``cancel_job``, ``prune_jobs``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hdr_mcp.params import Cli, Params
from hdr_mcp.vocabulary import JOB_STATUSES

#: Longest a tool call blocks before it hands back a job handle (seconds). Clients such as
#: Claude Code give up on a call after about two minutes, so stay well below that.
MAX_WAIT_SECONDS = 110.0
DEFAULT_WAIT_SECONDS = 60.0

JobId = Annotated[str, Cli(argument=True)]


class GetJobParams(Params):
    """A job's state, progress and (when finished) result."""

    job_id: JobId = Field(min_length=1, description="Handle returned by a long-running tool.")
    wait_seconds: float = Field(
        0.0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Wait up to this long for the job to finish, sending progress.",
    )


class ListJobsParams(Params):
    """Recent jobs, newest first."""

    status: Literal[JOB_STATUSES] | None = Field(None, description="Only jobs in this state.")
    kind: str | None = Field(None, description="Only jobs of this tool (e.g. 'evaluate').")
    limit: int = Field(20, ge=1, le=500, description="At most this many, newest first.")


class CancelJobParams(Params):
    """Cancel a queued job at once, or ask a running one to stop at its next step."""

    job_id: JobId = Field(min_length=1, description="Handle of a queued or running job.")
