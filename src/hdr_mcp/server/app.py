"""The MCP server: a thin protocol layer over the job store.

Tools validate their arguments and paths here, submit a job, and wait a bounded time
(``wait_seconds``, at most 110 s) while relaying the job's progress to the client. A job still
running then comes back as a handle for ``get_job``; slow work is never an error. Results carry
structured content, a small tone-mapped PNG preview and resource links to the files, never the
EXRs themselves.

This module imports no torch, diffusers or peft: GPU work happens in the worker process.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import (
    CallToolResult,
    ImageContent,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import Field

from hdr_mcp import __version__
from hdr_mcp.errors import HdrMcpError
from hdr_mcp.jobs.store import Job, JobStatus, JobStore, UnknownJob
from hdr_mcp.server.config import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, ServerConfig
from hdr_mcp.server.previews import preview_png
from hdr_mcp.server.prompts import register_prompts
from hdr_mcp.server.schemas import InspectView, JobList, JobStatusName, JobView

INSTRUCTIONS = """\
hdr-mcp makes and measures scene-referred linear HDR images (half-float OpenEXR, scene-linear
1.0 = diffuse white, highlights far above 1.0, nothing clamped).
- sdr_to_hdr_video converts SDR images, frame folders or videos to EXR frames.
- evaluate measures an HDR result (PU21-PSNR/SSIM, Delta E ITP, peak, dynamic range, ...).
- inspect_hdr summarises one file. Long tools return a job handle after wait_seconds:
  call get_job(job_id, wait_seconds=60) until status is succeeded, failed or cancelled.
Paths are resolved inside the server's allowed roots."""

WaitSeconds = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="How long to wait for the result before returning a job handle "
        f"(seconds, at most {MAX_WAIT_SECONDS:g}).",
    ),
]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES_NEW_FILES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
STOPS_A_JOB = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def job_view(job: Job) -> JobView:
    status = job.status.value
    if status in ("queued", "running"):
        next_step = f"call get_job(job_id='{job.id}', wait_seconds=60) to wait for the result"
    elif status == "succeeded":
        next_step = "done: read result; files are linked as resources"
    else:
        next_step = "finished without a result"
    return JobView(
        job_id=job.id,
        kind=job.kind,
        status=status,
        progress=job.progress,
        total=job.total,
        message=job.message,
        result=job.result,
        error=job.error,
        created_at=_iso(job.created_at),
        started_at=_iso(job.started_at),
        finished_at=_iso(job.finished_at),
        next_step=next_step,
    )


#: How often a wait checks for dead workers while its job is running (seconds).
REAP_INTERVAL_S = 5.0


class HdrServer:
    """Owns the configuration, the job store and (in thread mode) an in-process worker."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = JobStore(config.home)
        self._worker_thread: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    # -- worker ------------------------------------------------------------------------------

    def ensure_worker(self) -> None:
        """Make sure something will run the queued jobs (see ``ServerConfig.worker``)."""
        if self.config.worker == "none":
            return
        if self.config.worker == "spawn":
            from hdr_mcp.jobs.worker import ensure_worker

            ensure_worker(self.config.home)
            return
        with self._worker_lock:
            if self._worker_thread is None or not self._worker_thread.is_alive():
                from hdr_mcp.jobs.worker import Worker

                worker = Worker(self.store, worker_id=f"inproc-{id(self):x}", poll_s=0.1)
                self._worker_thread = threading.Thread(
                    target=worker.run, kwargs={"burst": True}, name="hdr-mcp-worker", daemon=True
                )
                self._worker_thread.start()

    # -- jobs --------------------------------------------------------------------------------

    async def submit(self, kind: str, make_params: Callable[[], dict[str, Any]]) -> Job:
        """Queue a job and see that a worker will run it, off the event loop.

        ``make_params`` validates the arguments and resolves their paths (file-system work),
        so it runs in the same worker thread as the store write.
        """

        def submit_now() -> Job:
            job = self.store.submit(kind, make_params())
            self.ensure_worker()
            return job

        return await anyio.to_thread.run_sync(submit_now)

    async def result(self, job_id: str, wait_seconds: float, ctx: Context | None) -> CallToolResult:
        """Wait (bounded) for the job, then build its tool result in a thread (it reads files)."""
        job = await self.wait(job_id, wait_seconds, ctx)
        return await anyio.to_thread.run_sync(self.job_result, job)

    async def wait(self, job_id: str, wait_seconds: float, ctx: Context | None) -> Job:
        """Poll the store until the job finishes or ``wait_seconds`` pass, relaying progress.

        A queued job gets a worker: jobs queued by an earlier session (or with ``--no-worker``
        lifted) start as soon as someone asks for them.
        """
        deadline = time.monotonic() + min(max(wait_seconds, 0.0), MAX_WAIT_SECONDS)
        last_reported = -1.0
        ensured = False
        last_reap = -REAP_INTERVAL_S
        while True:
            job = await anyio.to_thread.run_sync(self.store.get, job_id)
            if job.status is JobStatus.running and time.monotonic() - last_reap >= REAP_INTERVAL_S:
                # A worker killed mid-job (SIGKILL, OOM) never reports: find it out here, so the
                # caller sees the job failed with the reason (or requeued) instead of "running".
                last_reap = time.monotonic()
                if any(j.id == job_id for j in await anyio.to_thread.run_sync(self.store.reap)):
                    continue
            if ctx is not None and job.progress > last_reported:
                # MCP progress must increase strictly; the store keeps it monotone per job.
                await ctx.report_progress(job.progress, job.total, job.message or job.status.value)
                last_reported = job.progress
            if job.finished or time.monotonic() >= deadline:
                return job
            # a thread-mode worker runs in burst mode and exits when the queue runs dry
            if job.status is JobStatus.queued and (not ensured or self.config.worker == "thread"):
                await anyio.to_thread.run_sync(self.ensure_worker)
                ensured = True
            await anyio.sleep(0.2)

    # -- results -----------------------------------------------------------------------------

    def file_uri(self, path: Path) -> str:
        path = Path(path).resolve()
        if path.is_relative_to(self.config.output_dir):
            return "hdr://files/" + path.relative_to(self.config.output_dir).as_posix()
        return path.as_uri()

    def links(self, paths: list[tuple[str, str, str]]) -> list[ResourceLink]:
        """Resource links for (path, name, mime type) triples that exist."""
        out = []
        for path, name, mime in paths:
            p = Path(path)
            if p.exists():
                out.append(
                    ResourceLink(
                        type="resource_link",
                        uri=self.file_uri(p),
                        name=name,
                        mime_type=mime,
                        size=p.stat().st_size if p.is_file() else None,
                    )
                )
        return out

    def job_result(self, job: Job) -> CallToolResult:
        """A tool result for a job: structured state, preview image and links when finished."""
        view = job_view(job)
        status = view.status
        if status == "failed":
            raise ToolError(f"job {job.id} ({job.kind}) failed: {job.error}")
        if status == "cancelled":
            raise ToolError(f"job {job.id} ({job.kind}) was cancelled")
        content: list[Any] = [TextContent(type="text", text=_summary_text(view))]
        if status == "succeeded" and job.result:
            preview = job.result.get("preview_png") or job.result.get("report_png")
            if preview and Path(preview).exists():
                content.append(
                    ImageContent(
                        type="image",
                        data=base64.b64encode(preview_png(Path(preview))).decode("ascii"),
                        mime_type="image/png",
                    )
                )
            content.extend(self.links(_result_files(job.result)))
        content.append(
            ResourceLink(type="resource_link", uri=f"hdr://jobs/{job.id}", name=f"job {job.id}",
                         mime_type="application/json")
        )
        return CallToolResult(content=content, structured_content=view.model_dump(mode="json"))


def _summary_text(view: JobView) -> str:
    if view.status == "succeeded" and view.result is not None:
        metrics = view.result.get("metrics")
        body = json.dumps(metrics if metrics is not None else view.result, indent=1, default=str)
        if len(body) > 4000:
            body = body[:4000] + " ..."
        return f"job {view.job_id} ({view.kind}) succeeded.\n{body}"
    total = f"/{view.total:g}" if view.total else ""
    return (
        f"job {view.job_id} ({view.kind}) is {view.status}: {view.progress:g}{total} "
        f"{view.message}. Next: {view.next_step}."
    )


_MIME = {".exr": "image/x-exr", ".png": "image/png", ".json": "application/json", ".mp4": "video/mp4"}


def _result_files(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Files a handler result points at, as (path, name, mime) for resource links."""
    found: list[tuple[str, str, str]] = []
    for key, value in result.items():
        values = value if isinstance(value, list) else [value]
        for v in values[:8]:  # a sequence is linked by its first frames, not thousands of links
            if isinstance(v, str) and Path(v).suffix.lower() in _MIME and Path(v).is_absolute():
                found.append((v, f"{key}: {Path(v).name}", _MIME[Path(v).suffix.lower()]))
    return found


def build_server(config: ServerConfig) -> MCPServer:
    """Create the MCP server with all tools, resources and prompts."""
    hdr = HdrServer(config)
    mcp = MCPServer(
        name="hdr-mcp",
        title="hdr-mcp: scene-linear HDR for VFX",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",  # stderr stays readable; job progress travels as MCP progress
    )

    def tool(title: str, annotations: ToolAnnotations):
        """``mcp.tool`` with the docstring dedented into the tool description, and every
        :class:`HdrMcpError` (a bad argument, an unknown job) turned into a tool error that
        keeps its message (any other exception would reach the client as a bare
        "Error executing tool")."""

        def register(fn):
            @functools.wraps(fn)
            async def call(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except HdrMcpError as e:
                    raise ToolError(str(e)) from e

            description = inspect.cleandoc(fn.__doc__ or "")
            return mcp.tool(title=title, annotations=annotations, description=description)(call)

        return register

    # -- tools -------------------------------------------------------------------------------

    @tool("Evaluate an HDR result", WRITES_NEW_FILES)
    async def evaluate(
        prediction: Annotated[str, Field(description="HDR image (EXR/.hdr) or frame folder/pattern to measure.")],
        reference: Annotated[
            str | None, Field(description="Ground-truth image or frame sequence; omit for no-reference metrics.")
        ] = None,
        nits_per_unit: Annotated[
            float, Field(gt=0, le=10000, description="Absolute scale: cd/m^2 of scene-linear 1.0 (echoed in the result).")
        ] = 100.0,
        output_dir: Annotated[str | None, Field(description="Folder for the JSON and PNG report.")] = None,
        extra_metrics: Annotated[
            list[Literal["cvvdp"]],
            Field(description="Optional metrics: 'cvvdp' (ColorVideoVDP JOD; needs a reference and the "
                  "optional pycvvdp package, the error says how to install it)."),
        ] = [],  # noqa: B006 (pydantic copies defaults)
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, JobView]:
        """Measure an HDR image or sequence: PU21-PSNR/SSIM, Delta E ITP, peak, dynamic range,
        clipped fraction (and flicker, frame-to-frame PSNR for sequences). Writes a JSON and a
        PNG report."""
        job = await hdr.submit(
            "evaluate",
            lambda: {
                "prediction": str(config.resolve_input("prediction", prediction)),
                "reference": str(config.resolve_input("reference", reference)) if reference else None,
                "nits_per_unit": nits_per_unit,
                "output_dir": str(config.resolve_output("output_dir", output_dir, f"evaluate-{_stamp()}")),
                "extra_metrics": list(extra_metrics),
            },
        )
        return await hdr.result(job.id, wait_seconds, ctx)

    @tool("Convert SDR images or video to HDR EXR frames", WRITES_NEW_FILES)
    async def sdr_to_hdr_video(
        input: Annotated[str, Field(description="SDR image (PNG/JPEG/TIFF), folder or pattern of frames, or a video file.")],
        method: Annotated[Literal["classical"], Field(description="Conversion method. 'classical': inverse tone mapping, no model weights.")] = "classical",
        output_dir: Annotated[str | None, Field(description="Folder for EXR frames and previews (default: a new folder in the output directory).")] = None,
        start: Annotated[int, Field(ge=0, description="First frame index (0-based).")] = 0,
        stop: Annotated[int | None, Field(ge=1, description="Stop before this frame index; omit for all frames.")] = None,
        colorspace: Annotated[
            Literal["lin_rec709", "lin_rec2020", "acescg", "aces2065_1", "lin_awg3", "lin_awg4", "lin_p3d65"],
            Field(description="Scene-linear colour space of the EXRs."),
        ] = "lin_rec709",
        compression: Annotated[
            Literal["none", "zip", "zips", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab", "rle"],
            Field(description="EXR compression (zip/piz are lossless)."),
        ] = "zip",
        target_peak: Annotated[float, Field(gt=0, le=10000, description="cd/m^2 that SDR white expands to; above diffuse_white * nits_per_unit.")] = 1000.0,
        diffuse_white: Annotated[float, Field(gt=0, le=100, description="Scene-linear value where reference (diffuse) white lands.")] = 1.0,
        nits_per_unit: Annotated[float, Field(gt=0, le=10000, description="cd/m^2 per scene-linear 1.0.")] = 100.0,
        transfer: Annotated[Literal["srgb", "bt1886"], Field(description="SDR EOTF of the input.")] = "srgb",
        operator: Annotated[
            Literal["bt2446c", "power"],
            Field(description="Inverse tone mapping: bt2446c (Report ITU-R BT.2446-1 Method C) or power."),
        ] = "bt2446c",
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, JobView]:
        """Convert SDR footage to scene-linear half-float EXR frames plus a tone-mapped preview
        MP4/PNG. Parameters are fixed per shot (no per-frame pumping)."""
        if stop is not None and stop <= start:
            raise ToolError(f"stop={stop!r}: must be greater than start={start}")
        job = await hdr.submit(
            "sdr_to_hdr_video",
            lambda: {
                "input": str(config.resolve_input("input", input)),
                "method": method,
                "output_dir": str(config.resolve_output("output_dir", output_dir, f"sdr_to_hdr-{_stamp()}")),
                "start": start,
                "stop": stop,
                "colorspace": colorspace,
                "compression": compression,
                "target_peak": target_peak,
                "diffuse_white": diffuse_white,
                "nits_per_unit": nits_per_unit,
                "transfer": transfer,
                "operator": operator,
            },
        )
        return await hdr.result(job.id, wait_seconds, ctx)

    @tool("Inspect an HDR image", READ_ONLY)
    async def inspect_hdr(
        path: Annotated[str, Field(description="EXR, Radiance .hdr, PNG, TIFF or JPEG file.")],
    ) -> Annotated[CallToolResult, InspectView]:
        """Resolution, channels, colour space, compression, min/max/mean, peak luminance,
        dynamic range in stops, fraction above 1.0, NaN/Inf counts, metadata, and a preview."""

        def read() -> tuple[InspectView, bytes]:
            from hdr_mcp.metrics.summary import summarize  # numpy & co: imported off the event loop

            summary, pixels = summarize(config.resolve("path", path, kind="file"), keep_pixels=True)
            return InspectView.model_validate(summary), preview_png(pixels)

        view, png = await anyio.to_thread.run_sync(read)
        return CallToolResult(
            content=[
                TextContent(type="text", text=json.dumps(view.stats, indent=1)),
                ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png"),
            ],
            structured_content=view.model_dump(mode="json"),
        )

    @tool("Get a job's state (long-poll)", READ_ONLY)
    async def get_job(
        job_id: Annotated[str, Field(description="Handle returned by a long-running tool.")],
        wait_seconds: Annotated[
            float, Field(ge=0, le=MAX_WAIT_SECONDS, description="Wait up to this long for the job to finish.")
        ] = 0.0,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, JobView]:
        """State, progress and (when finished) the result of a job; waits up to wait_seconds
        while sending progress."""
        return await hdr.result(job_id, wait_seconds, ctx)

    @tool("List jobs", READ_ONLY)
    async def list_jobs(
        status: Annotated[JobStatusName | None, Field(description="Only jobs in this state.")] = None,
        kind: Annotated[str | None, Field(description="Only jobs of this tool (e.g. 'evaluate').")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many, newest first.")] = 20,
    ) -> JobList:
        """Recent jobs, newest first."""
        jobs = await anyio.to_thread.run_sync(lambda: hdr.store.list(status=status, kind=kind, limit=limit))
        return JobList(jobs=[job_view(j) for j in jobs])

    @tool("Cancel a job", STOPS_A_JOB)
    async def cancel_job(
        job_id: Annotated[str, Field(description="Handle of a queued or running job.")],
    ) -> JobView:
        """Cancel a queued job at once, or ask a running one to stop at its next step.
        Frames already written stay on disk."""
        return job_view(await anyio.to_thread.run_sync(hdr.store.cancel, job_id))

    # -- resources ---------------------------------------------------------------------------

    @mcp.resource("hdr://jobs/{job_id}", mime_type="application/json", description="A job's state, result and log.")
    def job_resource(job_id: str) -> str:
        try:
            data = job_view(hdr.store.get(job_id)).model_dump(mode="json")
            data["log"] = [entry.model_dump() for entry in hdr.store.logs(job_id)]
        except UnknownJob as e:
            raise ResourceNotFoundError(str(e)) from e
        except HdrMcpError as e:
            raise ResourceError(str(e)) from e
        return json.dumps(data, indent=1, default=str)

    @mcp.resource("hdr://files/{+path}", description="A file in the output directory (EXR, PNG, JSON, MP4).")
    def file_resource(path: str) -> bytes:
        from mcp.shared.path_security import PathEscapeError, safe_join

        try:
            resolved = safe_join(str(config.output_dir), path)
        except PathEscapeError as e:
            raise ResourceError(f"path={path!r}: outside the output directory") from e
        if not resolved.is_file():
            raise ResourceNotFoundError(f"path={path!r}: no such file in the output directory")
        return resolved.read_bytes()

    register_prompts(mcp)
    mcp.hdr = hdr  # type: ignore[attr-defined]  # tests and the demo reach the store through it
    return mcp


def _stamp() -> str:
    import secrets

    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
