"""Parameters of the job tools: ``get_job``, ``list_jobs``, ``cancel_job``, ``prune_jobs``."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from hdr_mcp.params import OUTPUT_DIR, Cli, Params
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


Backend = Literal["local", "ray"]


class RayParams(Params):
    """How jobs run: local worker processes, or actors on a Ray cluster."""

    backend: Backend = Field("local", description="local: worker processes on this machine "
                             "(hdr-mcp worker); ray: long-lived actors on a Ray cluster, one "
                             "per GPU (pip install 'hdr-mcp[ray]').")
    ray_address: str | None = Field(None, description="Ray cluster to join (what `ray start "
                                    "--head` prints, or auto); default: a new local cluster. "
                                    "Backend ray only.")
    actors: int | None = Field(None, ge=1, description="Ray actors to run (default: one per GPU "
                               "of the cluster, else one CPU actor). Backend ray only.")
    cpus_per_actor: float = Field(1.0, gt=0, description="CPU cores each Ray actor reserves.")

    @field_validator("ray_address", "actors")
    @classmethod
    def _needs_ray(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and info.data.get("backend") != "ray":
            raise ValueError("only with backend='ray'")
        return value


class WorkerParams(RayParams):
    """Run a job worker: one per GPU (``--device cuda:1``), or on the CPU; or, with
    ``--backend ray``, a supervised pool of Ray actors."""

    home: str | None = Field(None, description="Data folder of the job store (default: "
                             "$HDR_MCP_HOME or the user data folder).")
    device: str = Field("auto", description="cpu, cuda, cuda:N, or auto (CUDA when torch sees a "
                        "GPU). A CPU worker leaves jobs that need a GPU alone.")
    offload: Literal["model", "sequential"] | None = Field(
        None, description="For GPUs too small for a whole pipeline: model (diffusers' model CPU "
        "offload, one component on the GPU at a time) or sequential (layer by layer, slowest); "
        "the VAE always stays on the GPU in float32.")
    memory_budget_gb: float | None = Field(
        None, gt=0, description="Memory the worker's model cache may fill before it evicts the "
        "least recently used pipeline (default: 90% of the GPU, half the RAM on a CPU).")
    burst: bool = Field(False, description="Exit when the queue is empty.")
    worker_id: str | None = Field(None, description="Name of this worker (default: a fresh "
                                  "w_... id).")
    kinds: list[str] | None = Field(None, description="Only claim jobs of these kinds "
                                    "(repeatable; default: every kind).")
    idle_exit_seconds: float | None = Field(None, gt=0, description="Exit after this long "
                                            "without work (workers a server spawns: 600).")
    retention_days: float | None = Field(30.0, gt=0, description="On start, prune jobs "
                                         "finished longer ago than this, with their logs and "
                                         "working folders (never queued or running ones).")
    poll_seconds: float = Field(0.1, gt=0, description="Seconds between claims while idle.")
    heartbeat_seconds: float = Field(2.0, gt=0, description="Seconds between heartbeats.")
    stale_after_seconds: float = Field(30.0, gt=0, description="Heartbeat age after which a "
                                       "worker is presumed dead (its job is requeued or failed).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level (stderr).")


class PruneJobsParams(Params):
    """Delete finished jobs older than a retention period (never queued or running ones)."""

    home: str | None = Field(None, description="Data folder of the job store.")
    older_than_days: float = Field(30.0, ge=0, description="Prune jobs finished longer ago "
                                   "than this many days (0: every finished job).")


class SubmitBatchParams(Params):
    """Fan a batch out: one job per input (plate), run by whichever workers or Ray actors are
    free; returns the jobs at once."""

    inputs: Annotated[list[str], Cli(argument=True)] = Field(
        min_length=1, max_length=10_000, description="One job per input: SDR images, frame "
        "folders or patterns, or videos (plates).")
    kind: str = Field("sdr_to_hdr_video", description="Job kind to fan out; only kinds whose "
                      "jobs can be split per input (sdr_to_hdr_video).")
    output_dir: Annotated[str | None, OUTPUT_DIR] = Field(
        None, description="Parent folder: each job writes into <output_dir>/<input name> "
        "(default: a new folder in the output directory).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The kind's other arguments, the same for every job, "
        "as a JSON object (e.g. {\"colorspace\": \"acescg\", \"overwrite\": true}); "
        "validated by the kind.")

    @field_validator("params", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        """The CLI passes ``--params`` as JSON text."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)  # anything but an object: the dict check says so
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e.msg}") from None
