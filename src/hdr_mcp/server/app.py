"""The MCP server: a thin protocol layer over the job store.

Every tool is built from its parameter model (:mod:`hdr_mcp.params`); every job kind
(:mod:`hdr_mcp.jobs.kinds`) becomes a tool that validates its arguments and paths, submits a
job and waits a bounded time (``wait_seconds``, at most 110 s) while relaying the job's progress
to the client. A job still running then comes back as a handle for ``get_job``; slow work is
never an error. Results carry structured content, a small tone-mapped PNG preview and resource
links to the files, never the EXRs themselves.

This module imports no torch, diffusers or peft: GPU work happens in the worker process.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    ImageContent,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel

from hdr_mcp import __version__
from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs.kinds import JobKind, job_kind, kinds
from hdr_mcp.jobs.store import Job, JobStatus, JobStore, UnknownJob
from hdr_mcp.jobs.view import JobList, JobView, job_view, worker_views
from hdr_mcp.outputs import output_name, refuse_nonempty
from hdr_mcp.params import path_role
from hdr_mcp.params.files import InspectParams
from hdr_mcp.params.jobs import (
    MAX_WAIT_SECONDS,
    CancelJobParams,
    GetJobParams,
    ListJobsParams,
    SubmitBatchParams,
)
from hdr_mcp.params.models import ListModelsParams
from hdr_mcp.server.config import ServerConfig
from hdr_mcp.server.previews import preview_png
from hdr_mcp.server.prompts import register_prompts
from hdr_mcp.server.resources import FileTemplate, mime_type
from hdr_mcp.server.schemas import InspectView, ModelList
from hdr_mcp.server.tools import ParamsTool

INSTRUCTIONS = """\
hdr-mcp makes and measures scene-referred linear HDR images (half-float OpenEXR, scene-linear
1.0 = diffuse white, highlights far above 1.0, nothing clamped).
- sdr_to_hdr_video converts SDR images, frame folders or videos to EXR frames: method
  classical (inverse tone mapping, any machine) or ltx2-hdr / wan-vace (a video diffusion model
  invents what the SDR clipped; GPU worker, minutes per shot, progress per window and step).
- evaluate measures an HDR result (PU21-PSNR/SSIM, Delta E ITP, peak_nits, dynamic range, ...)
  and gives a QA verdict (pass/review/fail) with reasons to act on (banding, clipping, fake HDR).
- inspect_hdr summarises one file. Long tools return a job handle after wait_seconds:
  call get_job(job_id, wait_seconds=60) until status is succeeded, failed or cancelled.
Paths are resolved inside the server's allowed roots; outputs go to a new folder in the output
directory unless output_dir is given (an output_dir holding files needs overwrite=true)."""

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
#: Writes new files; replaces files only when the caller passes overwrite=true.
WRITES_FILES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
STOPS_A_JOB = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)

#: How often a wait checks for dead workers while its job is running (seconds).
REAP_INTERVAL_S = 5.0
#: A sequence is linked by its first frames, not thousands of links.
MAX_LINKS_PER_KEY = 8


class HdrServer:
    """Owns the configuration, the job store and (in thread mode) an in-process worker."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = JobStore(config.home)
        self._worker_thread: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._pool: Any = None

    # -- worker ------------------------------------------------------------------------------

    def ensure_worker(self) -> None:
        """Make sure something will run the queued jobs (see ``ServerConfig.worker``)."""
        if self.config.backend == "ray":
            self._ensure_pool()
            return
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

    def _ensure_pool(self) -> None:
        """Start the Ray pool (connecting to Ray, starting or adopting its actors) and
        supervise it in a thread of the server; again after its actors were all stopped."""
        with self._worker_lock:
            if self._pool is not None and self._worker_thread.is_alive():
                return
            if self._pool is not None:  # its actors were all stopped (hdr-mcp workers --stop)
                self._pool.close()
                self._pool = None
            from hdr_mcp.jobs.ray_backend import PoolBusy, RayPool

            c = self.config
            pool = RayPool(self.store, actors=c.ray_actors, address=c.ray_address,
                           cpus_per_actor=c.cpus_per_actor)
            try:
                pool.start()
            except PoolBusy:
                return  # another server's pool runs this store's jobs; try again next time
            self._pool = pool
            self._worker_thread = threading.Thread(target=pool.run, name="hdr-mcp-ray-pool",
                                                   daemon=True)
            self._worker_thread.start()

    def close(self) -> None:
        """End what the server started: the Ray pool's actors (their running jobs are
        requeued or failed, as after a crash); local workers run on."""
        with self._worker_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            if self._worker_thread is not None:
                self._worker_thread.join(timeout=30)
            pool.close(kill_actors=True)

    def gpu_worker_alive(self) -> bool:
        """Whether a live worker with a CUDA device serves this store."""
        return any((w.device or "").startswith("cuda") for w in self.store.workers(alive_only=True))

    # -- jobs --------------------------------------------------------------------------------

    def resolve_paths(self, kind: str, params: BaseModel) -> BaseModel:
        """Resolve every path argument inside the allowed roots; give ``output_dir`` its default
        (a new folder in the output directory) and refuse one holding files unless
        ``overwrite`` is true."""
        update: dict[str, Any] = {}
        for name in type(params).model_fields:
            value, marker = getattr(params, name), path_role(type(params), name)
            role = marker.role if marker else None
            if role == "output_dir":
                out = self.config.resolve_output(name, value, output_name(kind))
                if not getattr(params, "overwrite", False):
                    refuse_nonempty(name, out)
                update[name] = str(out)
            elif value is None or role is None:
                continue
            elif role == "input":
                update[name] = str(self.config.resolve_input(name, value, marker.suffixes))
            else:
                update[name] = str(self.config.resolve(name, value, kind="file"))
        return params.model_copy(update=update)

    async def submit(self, kind: JobKind, params: BaseModel) -> Job:
        """Resolve paths and queue a job off the event loop (both touch the file system)."""

        return (await self.submit_many(kind, [params]))[0]

    async def submit_many(self, kind: JobKind, batch: list[BaseModel]) -> list[Job]:
        """Resolve every job's paths first (nothing is queued when one is refused), then queue
        them all, off the event loop."""

        def submit_now() -> list[Job]:
            resolved = [self.resolve_paths(kind.name, params) for params in batch]
            roots = [str(root) for root in self.config.roots]
            jobs = [kind.submit(self.store, params, roots=roots) for params in resolved]
            self.ensure_worker()
            return jobs

        return await anyio.to_thread.run_sync(submit_now)

    async def submit_batch(self, params: SubmitBatchParams) -> list[Job]:
        """``submit_batch``: one job per input, each into ``<output_dir>/<input name>``."""
        kind = job_kind(params.kind)
        root = self.config.resolve_output("output_dir", params.output_dir,
                                          output_name("submit_batch"))
        return await self.submit_many(kind, kind.fan_out(params.inputs, params.params, root))

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
            if job.status is JobStatus.queued and job.needs_gpu and not self.gpu_worker_alive():
                return job  # nothing here can run it: say so now (next_step), do not wait
            # a thread-mode worker runs in burst mode and exits when the queue runs dry
            if job.status is JobStatus.queued and (not ensured or self.config.worker == "thread"):
                await anyio.to_thread.run_sync(self.ensure_worker)
                ensured = True
            await anyio.sleep(0.2)

    # -- results -----------------------------------------------------------------------------

    def file_uri(self, path: Path) -> str:
        """``hdr://files/<relative>`` inside the output directory, else ``file://``."""
        path = Path(path).resolve()
        if path.is_relative_to(self.config.output_dir):
            return "hdr://files/" + path.relative_to(self.config.output_dir).as_posix()
        return path.as_uri()

    def links(self, paths: list[tuple[str, str]]) -> list[ResourceLink]:
        """Resource links for (path, name) pairs that exist."""
        out = []
        for path, name in paths:
            p = Path(path)
            if p.is_file():
                out.append(ResourceLink(type="resource_link", uri=self.file_uri(p), name=name,
                                        mime_type=mime_type(p), size=p.stat().st_size))
        return out

    def job_result(self, job: Job) -> CallToolResult:
        """A tool result for a job: structured state, preview image and links when finished."""
        view = job_view(job)
        if view.status == "failed":
            raise ToolError(f"job {job.id} ({job.kind}) failed: {job.error}")
        if view.status == "cancelled":
            raise ToolError(f"job {job.id} ({job.kind}) was cancelled")
        content: list[Any] = [TextContent(type="text", text=_summary_text(view))]
        if view.status == "succeeded" and job.result:
            preview = job.result.get("preview_png")
            if preview and Path(preview).is_file():
                png = base64.b64encode(preview_png(Path(preview))).decode("ascii")
                content.append(ImageContent(type="image", data=png, mime_type="image/png"))
            content.extend(self.links(_result_files(job.result)))
        content.append(ResourceLink(type="resource_link", uri=f"hdr://jobs/{job.id}",
                                    name=f"job {job.id}", mime_type="application/json"))
        return CallToolResult(content=content, structured_content=view.model_dump(mode="json"))

    # -- files -------------------------------------------------------------------------------

    def output_file(self, path: str) -> Path:
        from mcp.shared.path_security import PathEscapeError, safe_join

        try:
            return safe_join(str(self.config.output_dir), path)
        except PathEscapeError as e:
            raise ResourceError(f"path={path!r}: outside the output directory") from e

    def root_file(self, path: str) -> Path:
        try:
            return self.config.resolve("path", "file:///" + path, kind="file")
        except InvalidArgument as e:
            raise ResourceError(str(e)) from e


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


def _result_files(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Files a handler result points at, as (path, name) for resource links."""
    found: list[tuple[str, str]] = []
    for key, value in result.items():
        values = value if isinstance(value, list) else [value]
        for v in values[:MAX_LINKS_PER_KEY]:
            if isinstance(v, str) and Path(v).is_absolute() and Path(v).suffix:
                found.append((v, f"{key}: {Path(v).name}"))
    return found


class HdrMCPServer(MCPServer):
    """``MCPServer`` whose prompts answer a wrong name or missing arguments with a readable
    ``invalid params`` error (the SDK answers "Internal server error" and logs a traceback)."""

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None,
                         context: Any = None) -> Any:
        prompts = {p.name: p for p in await self.list_prompts()}
        if name not in prompts:
            known = ", ".join(sorted(prompts))
            raise MCPError(INVALID_PARAMS, f"prompt={name!r}: unknown prompt; known prompts: {known}")
        given = arguments or {}
        names = [a.name for a in prompts[name].arguments or []]
        for arg in prompts[name].arguments or []:
            if arg.required and not given.get(arg.name):
                raise MCPError(INVALID_PARAMS, f"{arg.name}: required argument of prompt "
                               f"{name!r} is missing (arguments: {', '.join(names)})")
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise MCPError(INVALID_PARAMS, f"{unknown[0]}: not an argument of prompt {name!r} "
                           f"(arguments: {', '.join(names)})")
        return await super().get_prompt(name, arguments, context)


def build_server(config: ServerConfig) -> MCPServer:
    """Create the MCP server with all tools, resources and prompts."""
    hdr = HdrServer(config)
    mcp = HdrMCPServer(
        name="hdr-mcp",
        title="hdr-mcp: scene-linear HDR for VFX",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",  # stderr stays readable; job progress travels as MCP progress
        tools=[*(_job_tool(hdr, kind) for kind in kinds().values() if kind.params is not None),
               *_other_tools(hdr)],
    )
    _register_resources(mcp, hdr)
    register_prompts(mcp)
    mcp.hdr = hdr  # type: ignore[attr-defined]  # tests and the demo reach the store through it
    return mcp


def _job_tool(hdr: HdrServer, kind: JobKind) -> ParamsTool:
    async def body(params: BaseModel, ctx: Context | None, wait: float | None) -> CallToolResult:
        job = await hdr.submit(kind, params)
        return await hdr.result(job.id, wait or 0.0, ctx)

    return ParamsTool.build(
        name=kind.name, title=kind.title, description=kind.description, params=kind.params,
        body=body, annotations=WRITES_FILES, output=JobView, waits=True,
    )


def _other_tools(hdr: HdrServer) -> list[ParamsTool]:
    async def inspect_hdr(params: InspectParams, ctx: Any, wait: Any) -> CallToolResult:
        def read() -> tuple[InspectView, bytes]:
            from hdr_mcp.metrics.summary import summarize  # numpy & co: off the event loop

            path = hdr.config.resolve("path", params.path, kind="file")
            summary, pixels = summarize(path, keep_pixels=True)
            sdr = summary["transfer"] != "linear" and summary["file_format"] != "exr"
            return InspectView.model_validate(summary), preview_png(pixels, display=sdr)

        view, png = await anyio.to_thread.run_sync(read)
        return CallToolResult(
            content=[
                TextContent(type="text", text=json.dumps(view.stats, indent=1)),
                ImageContent(type="image", data=base64.b64encode(png).decode("ascii"),
                             mime_type="image/png"),
            ],
            structured_content=view.model_dump(mode="json"),
        )

    async def get_job(params: GetJobParams, ctx: Context | None, wait: Any) -> CallToolResult:
        return await hdr.result(params.job_id, params.wait_seconds, ctx)

    async def list_jobs(params: ListJobsParams, ctx: Any, wait: Any) -> JobList:
        jobs = await anyio.to_thread.run_sync(
            lambda: hdr.store.list(status=params.status, kind=params.kind, limit=params.limit))
        return JobList(jobs=[job_view(j) for j in jobs])

    async def cancel_job(params: CancelJobParams, ctx: Any, wait: Any) -> JobView:
        return job_view(await anyio.to_thread.run_sync(hdr.store.cancel, params.job_id))

    async def submit_batch(params: SubmitBatchParams, ctx: Any, wait: Any) -> JobList:
        return JobList(jobs=[job_view(j) for j in await hdr.submit_batch(params)])

    async def list_models(params: ListModelsParams, ctx: Any, wait: Any) -> ModelList:
        from hdr_mcp.models.catalog import list_models as rows  # huggingface_hub: off the loop

        found = await anyio.to_thread.run_sync(lambda: rows(include_tiny=params.include_tiny))
        return ModelList(models=found)

    return [
        ParamsTool.build(name="inspect_hdr", title="Inspect an HDR or SDR image",
                         description="Resolution, channels, colour space, transfer, bit depth, "
                         "min/max/mean, peak_scene and peak_nits, dynamic range in stops, fraction "
                         "above 1.0, NaN/Inf counts, metadata, and a preview; for HDR files the "
                         "QA verdict (pass/review/fail) with reasons. SDR files are measured "
                         "after linearising their transfer.",
                         params=InspectParams, body=inspect_hdr, annotations=READ_ONLY,
                         output=InspectView),
        ParamsTool.build(name="get_job", title="Get a job's state (long-poll)",
                         description="State, progress and (when finished) the result of a job; "
                         "waits up to wait_seconds while sending progress.",
                         params=GetJobParams, body=get_job, annotations=READ_ONLY, output=JobView),
        ParamsTool.build(name="list_jobs", title="List jobs", description="Recent jobs, newest "
                         "first.", params=ListJobsParams, body=list_jobs, annotations=READ_ONLY,
                         output=JobList),
        ParamsTool.build(name="list_models", title="List model families",
                         description="Model families hdr-mcp knows (Qwen-Image, FLUX, Wan VACE, "
                         "LTX-2, and tiny-<name> CPU presets): repository, revision, whether "
                         "the weights are cached here, size, VRAM guidance, gating, licence. "
                         "Weights not cached need `hdr-mcp models pull NAME` on the server.",
                         params=ListModelsParams, body=list_models, annotations=READ_ONLY,
                         output=ModelList),
        ParamsTool.build(name="submit_batch", title="Fan a batch of plates out as jobs",
                         description="Queue one job per input (e.g. 400 plates to convert with "
                         "sdr_to_hdr_video), each writing into <output_dir>/<input name>, and "
                         "return their job handles at once; free workers or Ray actors run "
                         "them in parallel. params holds the kind's other arguments, the same "
                         "for every job. Follow them with get_job / list_jobs.",
                         params=SubmitBatchParams, body=submit_batch, annotations=WRITES_FILES,
                         output=JobList),
        ParamsTool.build(name="cancel_job", title="Cancel a job",
                         description="Cancel a queued job at once, or ask a running one to stop "
                         "at its next step. Frames already written stay on disk.",
                         params=CancelJobParams, body=cancel_job, annotations=STOPS_A_JOB,
                         output=JobView),
    ]


def _register_resources(mcp: MCPServer, hdr: HdrServer) -> None:
    @mcp.resource("hdr://jobs/{job_id}", mime_type="application/json",
                  description="A job's state, result and log.")
    def job_resource(job_id: str) -> str:
        try:
            data = job_view(hdr.store.get(job_id)).model_dump(mode="json")
            data["log"] = [entry.model_dump() for entry in hdr.store.logs(job_id)]
        except UnknownJob as e:
            raise ResourceNotFoundError(str(e)) from e
        except HdrMcpError as e:
            raise ResourceError(str(e)) from e
        return json.dumps(data, indent=1, default=str)

    @mcp.resource("hdr://workers", mime_type="application/json",
                  description="Workers of the job store, local processes and Ray actors: "
                  "backend, node, device, version, current job, models held loaded, heartbeat.")
    def workers_resource() -> str:
        return json.dumps({"workers": worker_views(hdr.store)}, indent=1)

    templates = (
        FileTemplate.for_files("hdr://files/{+path}", "output_file",
                               "A file in the output directory (EXR, PNG, JSON, MP4).",
                               hdr.output_file),
        FileTemplate.for_files("file:///{+path}", "root_file",
                               "A file inside the server's allowed roots.", hdr.root_file),
    )
    for template in templates:
        # The SDK registers templates only from functions, with one fixed MIME type; ours
        # give each file its own.
        mcp._resource_manager._templates[template.uri_template] = template
