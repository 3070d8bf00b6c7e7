"""``hdr-mcp`` command line. With no command it serves MCP over stdio.

A tool's CLI command is its MCP name with dashes (``sdr_to_hdr_video`` -> ``hdr-mcp
sdr-to-hdr-video``) and its options are the tool's arguments with dashes, built from the same
parameter model (:mod:`hdr_mcp.params`). Every command that takes ``--json`` prints exactly
one JSON object on stdout and nothing else; progress bars and messages go to stderr. Errors a
user can cause print one line (``error: argument=value: reason``) and exit with status 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from hdr_mcp import __version__
from hdr_mcp.cli.build import params_command, user_errors
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.jobs.kinds import JobKind, kinds
from hdr_mcp.params.files import DecodeParams, EncodeParams, InspectParams
from hdr_mcp.params.jobs import (
    CancelJobParams,
    GetJobParams,
    ListJobsParams,
    PruneJobsParams,
    RayParams,
    SubmitBatchParams,
    WorkerParams,
)
from hdr_mcp.params.models import (
    ListModelsParams,
    ModelParams,
    PullModelParams,
    SelftestParams,
    WorkersParams,
)

app = typer.Typer(
    name="hdr-mcp",
    help="Scene-referred linear HDR (OpenEXR) from diffusion models, served over MCP. "
    "With no command, serves MCP over stdio (what an MCP client starts).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
jobs_app = typer.Typer(help="Old spelling of get-job / list-jobs / cancel-job.", hidden=True,
                       rich_markup_mode=None)
app.add_typer(jobs_app, name="jobs", hidden=True)

HomeOption = Annotated[
    Optional[Path],  # noqa: UP045 (typer reads typing.Optional)
    typer.Option("--home", help="Data folder of the job store. Default: $HDR_MCP_HOME or the "
                 "user data folder (~/.local/share/hdr-mcp on Linux)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]
OutputDirOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--output-dir", help="Output folder. Default: $HDR_MCP_OUTPUT or <home>/outputs."),
]

def _json_param() -> Any:
    import inspect

    return inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False,
                             annotation=JsonOption)


def _home_param() -> Any:
    import inspect

    return inspect.Parameter("home", inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=HomeOption)


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


def _stdout():
    """Where human-readable results go (``--json`` output bypasses rich)."""
    from rich.console import Console

    return Console()


def _emit(data: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, allow_nan=False) + "\n")
    else:
        render(data)


def _print_json(data: dict[str, Any]) -> None:
    _stdout().print_json(data=data, default=str)


@contextmanager
def _progress_context(description: str) -> Iterator[Any]:
    """A LocalContext (scratch workdir) whose progress drives a rich progress bar on stderr."""
    import tempfile

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from hdr_mcp.jobs.context import LocalContext

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=_stderr(),
        transient=True,  # the bar goes when the work ends; results and errors stay readable
    )
    task = progress.add_task(description, total=None, note="")

    def on_progress(done: float, total: float | None, message: str = "") -> None:
        if not progress.console.is_terminal:  # a log file or pipe gets no bar, no stray lines
            return
        if not progress.live.is_started:  # no bar until work starts: errors stay one line
            progress.start()
        progress.update(task, completed=done, total=total, note=message)

    try:
        with tempfile.TemporaryDirectory(prefix="hdr-mcp-") as scratch:
            yield LocalContext(scratch, on_progress=on_progress)
    finally:
        if progress.live.is_started:  # stopping a bar that never started prints a blank line
            progress.stop()


# -- serving -----------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"hdr-mcp {__version__}\n")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Run `hdr-mcp` with no command to serve MCP over stdio (what an MCP client starts)."""
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty():
            sys.stderr.write(
                "hdr-mcp: serving MCP over stdio, waiting for an MCP client on stdin (Ctrl-C to "
                "stop).\nMCP clients start this themselves; commands: hdr-mcp --help\n"
            )
        serve()


def _ray_help(name: str) -> str:
    return RayParams.model_fields[name].description or ""


def _backend_options(backend: str, ray_address: str | None, actors: int | None,
                     cpus_per_actor: float) -> dict[str, Any]:
    """Validated the way ``hdr-mcp worker`` validates them (one model: RayParams)."""
    from hdr_mcp.params import parse

    p = parse(RayParams, {"backend": backend, "ray_address": ray_address, "actors": actors,
                          "cpus_per_actor": cpus_per_actor})
    return {"backend": p.backend, "ray_address": p.ray_address, "ray_actors": p.actors,
            "cpus_per_actor": p.cpus_per_actor}


@app.command()
def serve(
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP at /mcp instead of "
                                       "stdio.")] = False,
    host: Annotated[str, typer.Option(help="HTTP bind address. Non-loopback needs "
                                      "HDR_MCP_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    root: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option("--root", help="Allowed root for path arguments (repeatable). Default: "
                     "$HDR_MCP_ROOTS or the working folder."),
    ] = None,
    output_dir: OutputDirOption = None,
    output_old: Annotated[Optional[Path], typer.Option("--output", hidden=True)] = None,  # noqa: UP045
    home: HomeOption = None,
    worker: Annotated[str, typer.Option(help="How jobs run: spawn (a detached worker process), "
                                        "thread (inside the server) or none (queue only).")] = "spawn",
    no_worker: Annotated[bool, typer.Option("--no-worker", hidden=True)] = False,
    backend: Annotated[str, typer.Option(help=_ray_help("backend"))] = "local",
    ray_address: Annotated[Optional[str], typer.Option(help=_ray_help("ray_address"))] = None,  # noqa: UP045
    actors: Annotated[Optional[int], typer.Option(help=_ray_help("actors"))] = None,  # noqa: UP045
    cpus_per_actor: Annotated[float, typer.Option(help=_ray_help("cpus_per_actor"))] = 1.0,
) -> None:
    """Serve the MCP tools (stdio by default)."""
    with user_errors():
        from hdr_mcp.server import run_server

        run_server(
            http=http,
            host=host,
            port=port,
            roots=root,
            output_dir=output_old or output_dir,
            home=home,
            worker="none" if no_worker else worker,  # type: ignore[arg-type]
            **_backend_options(backend, ray_address, actors, cpus_per_actor),
        )


def _worker(params: WorkerParams) -> None:
    import logging

    from hdr_mcp.jobs.worker import run_worker

    logging.basicConfig(level=params.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(params)


params_command(app, WorkerParams, _worker, name="worker",
               help="Run a job worker: one per GPU (--device cuda:1), or on the CPU; with "
               "--backend ray, a supervised pool of Ray actors (one per GPU of the cluster).")


@app.command("mcp-config")
def mcp_config(
    root: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--root", help="Allowed root (repeatable). Default: the working folder.")] = None,
    output_dir: OutputDirOption = None,
    launcher: Annotated[str, typer.Option(help="this-install: this install's hdr-mcp by "
                                          "absolute path; uvx: uvx from the package index.")]
    = "this-install",
) -> None:
    """Print an `mcpServers` JSON block (Cursor, Claude Desktop, .mcp.json) for this machine,
    with absolute paths only: MCP clients start servers with a reduced environment."""
    with user_errors():
        from hdr_mcp.server.client_config import client_config

        data = client_config(roots=root, output_dir=output_dir, launcher=launcher)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")


# -- files -------------------------------------------------------------------------------------


def _inspect(params: InspectParams, as_json: bool) -> None:
    from hdr_mcp.metrics.summary import render_summary, summarize

    summary = summarize(params.path)
    _emit(summary, as_json, lambda s: render_summary(s, _stdout()))


params_command(app, InspectParams, _inspect, name="inspect-hdr", aliases=("inspect",),
               help="Resolution, channels, transfer, colour space, statistics (on linear light) "
               "and metadata of an image.", extra=[_json_param()])


def _param_option() -> Any:
    import inspect

    return inspect.Parameter(
        "param", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Optional[list[str]], typer.Option("--param", "-p", hidden=True)],  # noqa: UP045
    )


def _with_old_params(params: Any, values: list[str] | None) -> Any:
    """The old ``-p NAME=VALUE`` spelling of the curve parameters (hidden, one release)."""
    from hdr_mcp.params import parse

    update: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise InvalidArgument("param", item, "expected NAME=VALUE, e.g. nits_per_unit=100")
        update[key.strip()] = raw.strip()
    return parse(type(params), {**params.model_dump(), **update}) if update else params


def _encode(params: EncodeParams, as_json: bool, param: list[str] | None) -> None:
    from hdr_mcp.io.convert import encode_file

    info = encode_file(_with_old_params(params, param))
    _emit(info, as_json, lambda d: _stderr().print(
        f"wrote {d['output']} ({d['encoding']}, {d['format']}, codes {d['code_min']:.4g}.."
        f"{d['code_max']:.4g})"))


def _decode(params: DecodeParams, as_json: bool, param: list[str] | None) -> None:
    from hdr_mcp.io.convert import decode_file

    info = decode_file(_with_old_params(params, param))
    _emit(info, as_json, lambda d: _stderr().print(
        f"wrote {d['output']} (scene-linear, {d['dtype']}, max {d['max']:.4g})"))


params_command(app, EncodeParams, _encode, name="encode", extra=[_json_param(), _param_option()],
               help="Encode scene-linear light (EXR/.hdr) with a transfer curve into code values "
               "(16-bit PNG/TIFF, or a float EXR tagged with its encoding).")
params_command(app, DecodeParams, _decode, name="decode", extra=[_json_param(), _param_option()],
               help="Decode curve code values back to a scene-linear EXR.")


# -- job kinds: each is an MCP tool and a command ------------------------------------------------

#: Old spellings of commands, kept hidden for one release (docs/vocabulary.md).
COMMAND_ALIASES = {"sdr_to_hdr_video": ("sdr-to-hdr",), "generate_hdr": ("generate",),
                   "train_lora": ("train",), "precompute_latents": ("precompute",)}


def _render_evaluation(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"evaluate (nits_per_unit={result.get('nits_per_unit')})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    non_finite = result.get("non_finite") or {}
    for name, value in result["metrics"].items():
        if value is None:
            shown = non_finite.get(f"metrics.{name}", "n/a")
        else:
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        table.add_row(name, shown)
    console = _stdout()
    console.print(table)
    qa = result.get("qa")
    if qa:
        colour = {"pass": "green", "review": "yellow", "fail": "red"}.get(qa["verdict"], "white")
        console.print(f"[bold {colour}]QA: {qa['verdict'].upper()}[/]")
        for reason in qa["reasons"]:
            console.print(f"  - {reason}", markup=False)
    for key in ("report_json", "report_png", "preview_png"):
        if result.get(key):
            console.print(f"{key}: {result[key]}")


RENDERERS: dict[str, Callable[[dict[str, Any]], None]] = {"evaluate": _render_evaluation}


def _config_file_sets(params: Any, name: str) -> bool:
    """Whether the job's ``config`` file (train_lora, precompute_latents) gives ``name``."""
    path = getattr(params, "config", None)
    if path is None:
        return False
    from hdr_mcp.params.training import load_config_file

    return name in load_config_file(path, type(params).config_class)


def _run_kind(kind: JobKind) -> Callable[..., None]:
    """Run a job kind in this process, with a progress bar; outputs default to a new folder in
    the output directory, as on the MCP server."""

    def run(params: Any, as_json: bool) -> None:
        from hdr_mcp.outputs import default_output_root, output_name

        if "output_dir" in type(params).model_fields and params.output_dir is None and (
                not _config_file_sets(params, "output_dir")):
            folder = default_output_root() / output_name(kind.name)
            params = params.model_copy(update={"output_dir": str(folder)})
        with _progress_context(kind.command) as ctx:
            result = kind.handler()(params, ctx)
        _emit(result, as_json, RENDERERS.get(kind.name, _print_json))

    return run


def _add_kind_commands() -> None:
    for kind in kinds().values():
        if kind.params is not None:
            params_command(app, kind.params, _run_kind(kind), name=kind.command,
                           aliases=COMMAND_ALIASES.get(kind.name, ()), help=kind.description,
                           extra=[_json_param()])


_add_kind_commands()


# -- jobs --------------------------------------------------------------------------------------


def _store(home: Path | None):
    """The job store in ``home``; an error naming ``home`` when none exists there (a typo must
    not create a new, empty store)."""
    from hdr_mcp.jobs.store import JobStore, default_home

    folder = Path(home).expanduser() if home is not None else default_home()
    if not (folder / "jobs.sqlite3").is_file():
        raise InvalidArgument("home", str(folder), "holds no job store (jobs.sqlite3); give the "
                              "folder the server uses (its --home or $HDR_MCP_HOME)")
    return JobStore(folder)


def _view(job: Any) -> dict[str, Any]:
    from hdr_mcp.jobs.view import job_view

    return job_view(job).model_dump(mode="json")


def _list_jobs(params: ListJobsParams, as_json: bool, home: Path | None) -> None:
    jobs = _store(home).list(status=params.status, kind=params.kind, limit=params.limit)
    data = {"jobs": [_view(j) for j in jobs]}

    def render(d: dict[str, Any]) -> None:
        from rich.table import Table

        table = Table()
        for col in ("job_id", "kind", "status", "progress", "created_at", "message"):
            table.add_column(col)
        for j in d["jobs"]:
            total = f"/{j['total']:g}" if j.get("total") else ""
            table.add_row(j["job_id"], j["kind"], j["status"], f"{j['progress']:g}{total}",
                          j["created_at"], j.get("message") or "")
        _stdout().print(table)

    _emit(data, as_json, render)


def _get_job(params: GetJobParams, as_json: bool, home: Path | None) -> None:
    store = _store(home)
    if params.wait_seconds > 0:
        store.wait(params.job_id, params.wait_seconds)
    data = _view(store.get(params.job_id))
    data["log"] = [e.model_dump() for e in store.logs(params.job_id)]
    _emit(data, as_json, _print_json)


def _cancel_job(params: CancelJobParams, as_json: bool, home: Path | None) -> None:
    job = _store(home).cancel(params.job_id)
    data = _view(job)
    _emit(data, as_json, lambda d: _stderr().print(
        f"job {d['job_id']}: {d['status']}"
        + (" (stop requested)" if job.cancel_requested and not job.finished else "")))


for _app, _names in ((app, {"list": "list-jobs", "get": "get-job", "cancel": "cancel-job"}),
                     (jobs_app, {"list": "list", "get": "show", "cancel": "cancel"})):
    _hidden = _app is jobs_app
    params_command(_app, ListJobsParams, _list_jobs, name=_names["list"], help="Recent jobs, "
                   "newest first.", extra=[_json_param(), _home_param()])
    params_command(_app, GetJobParams, _get_job, name=_names["get"], help="One job with its "
                   "result and log (waits up to --wait-seconds).",
                   extra=[_json_param(), _home_param()])
    params_command(_app, CancelJobParams, _cancel_job, name=_names["cancel"],
                   help="Cancel a queued job, or ask a running one to stop.",
                   extra=[_json_param(), _home_param()])


def _submit_batch(params: SubmitBatchParams, as_json: bool, home: Path | None) -> None:
    """Queue one job per input in the store (paths made absolute: workers run elsewhere)."""
    from hdr_mcp.jobs.kinds import job_kind
    from hdr_mcp.jobs.store import JobStore, default_home
    from hdr_mcp.outputs import default_output_root, output_name

    kind = job_kind(params.kind)
    root = Path(params.output_dir or default_output_root() / output_name("submit_batch"))
    inputs = [str(Path(item).expanduser().absolute()) for item in params.inputs]
    batch = kind.fan_out(inputs, params.params, root.expanduser().absolute())
    store = JobStore(Path(home).expanduser() if home is not None else default_home())
    data = {"jobs": [_view(kind.submit(store, p)) for p in batch]}
    _emit(data, as_json, lambda d: _stderr().print(
        f"queued {len(d['jobs'])} {kind.name} job(s) into {root}: "
        + " ".join(j["job_id"] for j in d["jobs"])))


params_command(app, SubmitBatchParams, _submit_batch, name="submit-batch",
               extra=[_json_param(), _home_param()],
               help="Queue one job per input (plates), each into <output-dir>/<input name>; "
               "workers or Ray actors (hdr-mcp worker [--backend ray]) run them.")


def _prune_jobs(params: PruneJobsParams, as_json: bool) -> None:
    store = _store(params.home)
    pruned = store.prune(params.older_than_days * 86400.0)
    data = {"pruned": pruned, "count": len(pruned), "older_than_days": params.older_than_days}
    _emit(data, as_json, lambda d: _stderr().print(
        f"pruned {d['count']} job(s) finished over {d['older_than_days']:g} days ago"))


params_command(app, PruneJobsParams, _prune_jobs, name="prune-jobs", extra=[_json_param()],
               help="Delete finished jobs older than --older-than-days (their logs and working "
               "folders too); never a queued or running job. Workers do it on start.")


def _workers(params: WorkersParams, as_json: bool) -> None:
    from hdr_mcp.jobs.view import worker_views

    store = _store(params.home)
    if params.stop is not None:
        alive = store.workers(alive_only=True)
        targets = [w.id for w in alive] if params.stop == "all" else [params.stop]
        for worker_id in targets:
            store.request_worker_stop(worker_id)
    rows = worker_views(store, all_history=params.all_history)

    def render(d: dict[str, Any]) -> None:
        from rich.table import Table

        table = Table()
        for col in ("worker_id", "backend", "node", "pid", "device", "version", "job_id",
                    "models", "alive"):
            table.add_column(col)
        for w in d["workers"]:
            table.add_row(w["worker_id"], w["backend"], (w["node"] or "")[:12], str(w["pid"]),
                          w["device"] or "", w["version"] or "", w["job_id"] or "",
                          ", ".join(w["models"]), str(w["alive"]))
        _stdout().print(table)

    _emit({"workers": rows}, as_json, render)


params_command(app, WorkersParams, _workers, name="workers", extra=[_json_param()],
               help="Workers of the job store (device, version, job, models held); --stop ID "
               "or --stop all asks them to exit after their current job.")


# -- models ------------------------------------------------------------------------------------

models_app = typer.Typer(help="Model families: list, info, pull (download into the Hugging "
                         "Face cache).", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(models_app, name="models")


def _list_models(params: ListModelsParams, as_json: bool) -> None:
    from hdr_mcp.models.catalog import list_models

    rows = list_models(include_tiny=params.include_tiny)

    def render(d: dict[str, Any]) -> None:
        from rich.table import Table

        table = Table()
        for col in ("name", "task", "repository", "cached", "size_gb", "vram_gb", "gated"):
            table.add_column(col)
        for m in d["models"]:
            table.add_row(m["name"], m["task"], m["repository"] or "(built here)",
                          str(m["cached"]), f"{m['size_gb']:g}" if m["size_gb"] else "",
                          f"{m['vram_gb']:g}" if m["vram_gb"] else "", str(m["gated"]))
        _stdout().print(table)

    _emit({"models": rows}, as_json, render)


def _model_info(params: ModelParams, as_json: bool) -> None:
    from hdr_mcp.models.catalog import model_info

    _emit(model_info(params.model), as_json, _print_json)


def _pull_model(params: PullModelParams, as_json: bool) -> None:
    from hdr_mcp.models.catalog import pull_model

    folder = pull_model(params.model, revision=params.revision)
    _emit({"model": params.model, "path": str(folder)}, as_json,
          lambda d: _stderr().print(f"{d['model']}: {d['path']}"))


params_command(models_app, ListModelsParams, _list_models, name="list", extra=[_json_param()],
               help="Model families with repository, revision, cached or not, size, gating.")
params_command(app, ListModelsParams, _list_models, name="list-models", extra=[_json_param()],
               help="Same as `hdr-mcp models list` (the MCP tool list_models).")
app.registered_commands[-1].hidden = True
params_command(models_app, ModelParams, _model_info, name="info", extra=[_json_param()],
               help="Everything the registry knows about one family.")
params_command(models_app, PullModelParams, _pull_model, name="pull", extra=[_json_param()],
               help="Download a family (and its public HDR LoRA) into the Hugging Face cache; "
               "gated repositories need a token (hf auth login or HF_TOKEN).")


def _selftest(params: SelftestParams, as_json: bool) -> None:
    from hdr_mcp.models.selftest import selftest
    from hdr_mcp.outputs import default_output_root, output_name

    out = params.output_dir or str(default_output_root() / output_name("selftest"))
    report = selftest(params.models, out, overwrite=params.overwrite,
                      progress=lambda name: _stderr().print(f"  {name}: ok"))

    def render(d: dict[str, Any]) -> None:
        from rich.table import Table

        env = d["environment"]
        _stdout().print(f"python {env['python']}  torch {env['torch']}  diffusers "
                        f"{env['diffusers']}  peft {env['peft']}  transformers "
                        f"{env['transformers']}  CUDA: {env['cuda_available']} "
                        f"{', '.join(env['devices'])}")
        table = Table()
        for col in ("model", "status", "pipeline", "load_s", "denoise_s", "min", "max", "exr"):
            table.add_column(col)
        for r in d["results"]:
            table.add_row(r["model"], r["status"], r.get("pipeline", r.get("error", "")),
                          str(r.get("load_s", "")), str(r.get("denoise_s", "")),
                          f"{r['min']:.3g}" if "min" in r else "",
                          f"{r['max']:.3g}" if "max" in r else "", r.get("exr", ""))
        _stdout().print(table)
        for r in d.get("methods", []):
            detail = (f"{r['frames']} frames, {r['windows']} windows, peak {r['peak_scene']:.3g}"
                      if r["status"] == "ok" else r["error"])
            _stdout().print(f"sdr_to_hdr_video --method {r['method']} --model {r['model']}: "
                            f"{r['status']} ({detail})")

    _emit(report, as_json, render)
    if not report["ok"]:
        raise typer.Exit(1)


params_command(app, SelftestParams, _selftest, name="selftest", extra=[_json_param()],
               help="Run every tiny preset on this machine: load, 2 denoising steps, unclamped "
               "decode, tagged EXR; then sdr_to_hdr_video's ltx2-hdr and wan-vace methods on the "
               "tiny LTX-2.3 and Wan VACE presets; prints torch/diffusers/CUDA details. Run it "
               "first on a new GPU box.")


# -- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Folder for the demo's files.")]
    = Path("hdr-mcp-demo"),
    out_old: Annotated[Optional[Path], typer.Option("--out", hidden=True)] = None,  # noqa: UP045
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the files of an "
                                            "earlier demo in --output-dir.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the whole loop with no GPU and no downloads: MCP client -> SDR->HDR -> evaluate."""
    with user_errors():
        from hdr_mcp.server.demo import run_demo

        result = run_demo(out_old or output_dir, overwrite=overwrite, log=_stderr())
        _emit(result, as_json, _render_demo)


def _render_demo(result: dict[str, Any]) -> None:
    from rich.table import Table

    console = _stdout()
    identity, classical = result["identity_evaluation"], result["evaluation"]
    table = Table(title="against the ground truth (nits_per_unit=100): plain sRGB decode vs "
                  "classical SDR->HDR (operator auto)")
    for column in ("metric", "identity", "classical", "better"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    higher_is_better = {"pu21_psnr": True, "pu21_ssim": True, "delta_e_itp": False}
    for name, higher in higher_is_better.items():
        a, b = identity["metrics"].get(name), classical["metrics"].get(name)
        if a is None or b is None:
            continue
        better = "classical" if (b > a) == higher else "identity"
        table.add_row(name, f"{a:.4f}", f"{b:.4f}", better)
    for name in ("peak_nits", "dynamic_range_stops"):
        table.add_row(name, f"{identity['metrics'][name]:.4g}", f"{classical['metrics'][name]:.4g}",
                      "")
    console.print(table)
    gain = result.get("pu21_psnr_gain_db")
    if gain is not None:
        console.print(f"PU21-PSNR gain of the classical method over the identity: {gain:+.2f} dB")
    truth = (classical.get("reference_metrics") or {}).get("peak_nits")
    if truth is not None:
        console.print(
            f"ground truth peak {truth:.4g} cd/m^2, recovered peak "
            f"{classical['metrics']['peak_nits']:.4g} cd/m^2: what the plate clipped (the sun) "
            "no inverse tone map can bring back."
        )
    qa = classical["qa"]
    colour = {"pass": "green", "review": "yellow", "fail": "red"}.get(qa["verdict"], "white")
    console.print(f"[bold {colour}]QA of the classical result: {qa['verdict'].upper()}[/]")
    for reason in qa["reasons"]:
        console.print(f"  - {reason}", markup=False)
    for key in ("ground_truth", "sdr_plate", "identity_exr", "exr", "preview"):
        console.print(f"{key + ':':14}{result[key]}")
    console.print(f"{'report:':14}{classical['report_png']}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors (unknown option, bad value) are one line too."""
    try:
        from typer._click.exceptions import ClickException  # typer >= 0.24 vendors click
    except ImportError:
        from click.exceptions import ClickException
    from typer import Abort

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="hdr-mcp", standalone_mode=False)
    except ClickException as e:
        where = getattr(getattr(e, "ctx", None), "command_path", "hdr-mcp")
        sys.stderr.write(f"error: {e.format_message()} (see {where} --help)\n")
        sys.exit(e.exit_code)
    except Abort:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
