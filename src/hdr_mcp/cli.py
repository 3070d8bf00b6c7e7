"""``hdr-mcp`` command line. With no command it serves MCP over stdio.

Every command that takes ``--json`` prints exactly one JSON object on stdout and nothing else;
progress bars and messages go to stderr. Errors a user can cause print one line
(``error: argument=value: reason``) and exit with status 2, without a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from hdr_mcp.errors import HdrMcpError

app = typer.Typer(
    name="hdr-mcp",
    help="Scene-referred linear HDR (OpenEXR) from diffusion models, served over MCP. "
    "With no command, serves MCP over stdio (what `uvx hdr-mcp` runs).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
jobs_app = typer.Typer(help="List, show and cancel jobs in the durable job store.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

HomeOption = Annotated[
    Optional[Path], typer.Option("--home", help="Data directory (job store). Default: $HDR_MCP_HOME or the user data dir.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]


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


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit status 2."""
    try:
        yield
    except HdrMcpError as e:
        sys.stderr.write(f"error: {e}\n")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None


@contextmanager
def _progress_context(description: str):
    """A LocalContext (scratch workdir) whose progress drives a rich progress bar on stderr."""
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
        if not progress.live.is_started:  # no bar until work starts: errors stay one line
            progress.start()
        progress.update(task, completed=done, total=total, note=message)

    try:
        with tempfile.TemporaryDirectory(prefix="hdr-mcp-") as scratch:
            yield LocalContext(scratch, on_progress=on_progress)
    finally:
        progress.stop()


# -- serving -----------------------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    """Run `hdr-mcp` with no command to serve MCP over stdio (what `uvx hdr-mcp` does)."""
    if ctx.invoked_subcommand is None:
        serve()


@app.command()
def serve(
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="HTTP bind address. Non-loopback needs HDR_MCP_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    root: Annotated[
        Optional[list[Path]], typer.Option("--root", help="Allowed root for path arguments (repeatable). Default: cwd.")
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Default output directory.")] = None,
    home: HomeOption = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not start a local worker; only queue jobs.")] = False,
    worker: Annotated[str, typer.Option(help="How jobs run: spawn (detached process), thread or none.")] = "spawn",
) -> None:
    """Serve the MCP tools (stdio by default)."""
    with _user_errors():
        from hdr_mcp.server import run_server

        run_server(
            http=http,
            host=host,
            port=port,
            roots=root,
            output_dir=output,
            home=home,
            worker="none" if no_worker else worker,  # type: ignore[arg-type]
        )


@app.command("worker")
def worker_cmd(
    home: HomeOption = None,
    burst: Annotated[bool, typer.Option("--burst", help="Exit when the queue is empty.")] = False,
    worker_id: Annotated[Optional[str], typer.Option(help="Name of this worker (default: a fresh w_... id).")] = None,
) -> None:
    """Run a job worker (one per GPU: set CUDA_VISIBLE_DEVICES per worker)."""
    with _user_errors():
        import logging

        from hdr_mcp.jobs.worker import run_worker

        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
        run_worker(home=home, burst=burst, worker_id=worker_id)


# -- files -------------------------------------------------------------------------------------


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="EXR, Radiance .hdr, PNG, TIFF or JPEG file.")],
    as_json: JsonOption = False,
) -> None:
    """Resolution, channels, colour space, statistics and metadata of an image."""
    with _user_errors():
        from hdr_mcp.metrics.summary import render_summary, summarize

        summary = summarize(path)
        _emit(summary, as_json, lambda s: render_summary(s, _stdout()))


def _parse_params(values: list[str] | None) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise HdrMcpError(f"param={item!r}: expected NAME=VALUE, for example nits_per_unit=100")
        try:
            params[key.strip()] = float(raw)
        except ValueError:
            raise HdrMcpError(f"param={item!r}: value {raw!r} is not a number") from None
    return params


CurveOption = Annotated[str, typer.Option("--curve", help="Transfer function (see `hdr-mcp encode --help`).")]
ParamOption = Annotated[
    Optional[list[str]], typer.Option("--param", "-p", help="Curve parameter NAME=VALUE, e.g. nits_per_unit=100.")
]


@app.command()
def encode(
    src: Annotated[Path, typer.Argument(metavar="IN", help="Scene-linear EXR (or .hdr).")],
    dst: Annotated[Path, typer.Argument(metavar="OUT", help="16-bit .png/.tif, or .exr (float code values).")],
    curve: CurveOption,
    param: ParamOption = None,
    as_json: JsonOption = False,
) -> None:
    """Encode scene-linear light with a transfer curve into code values."""
    with _user_errors():
        from hdr_mcp.io.convert import encode_file

        info = encode_file(src, dst, curve, **_parse_params(param))
        _emit(info, as_json, lambda d: _stderr().print(f"wrote {d['output']} ({d['curve']}, {d['format']})"))


@app.command()
def decode(
    src: Annotated[Path, typer.Argument(metavar="IN", help="Curve-encoded .png/.tif or .exr.")],
    dst: Annotated[Path, typer.Argument(metavar="OUT", help="Scene-linear .exr.")],
    curve: CurveOption,
    param: ParamOption = None,
    dtype: Annotated[str, typer.Option(help="EXR pixel type: half or float.")] = "half",
    as_json: JsonOption = False,
) -> None:
    """Decode curve code values back to scene-linear EXR."""
    with _user_errors():
        from hdr_mcp.io.convert import decode_file

        info = decode_file(src, dst, curve, dtype=dtype, **_parse_params(param))
        _emit(info, as_json, lambda d: _stderr().print(f"wrote {d['output']} (linear, {d['dtype']})"))


# -- tools -------------------------------------------------------------------------------------


@app.command()
def evaluate(
    prediction: Annotated[str, typer.Argument(help="HDR image, frame folder or pattern to measure.")],
    reference: Annotated[Optional[str], typer.Argument(help="Ground truth (same shape); omit for no-reference metrics.")] = None,
    nits_per_unit: Annotated[float, typer.Option(help="cd/m^2 of scene-linear 1.0 (absolute scale of PU21 metrics).")] = 100.0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the JSON and PNG report.")] = None,
    metric: Annotated[
        Optional[list[str]], typer.Option("--metric", help="Optional metric (repeatable): cvvdp (ColorVideoVDP JOD).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """PU21-PSNR/SSIM, Delta E ITP, peak, dynamic range, clipping (and flicker for sequences)."""
    with _user_errors():
        from hdr_mcp.metrics.evaluate import evaluate as run_evaluate

        with _progress_context("evaluate") as ctx:
            result = run_evaluate(
                prediction, reference, nits_per_unit=nits_per_unit, output_dir=out, extra_metrics=metric or (), ctx=ctx
            )
        _emit(result, as_json, _render_evaluation)


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
    for key in ("report_json", "report_png"):
        if result.get(key):
            console.print(f"{key}: {result[key]}")


@app.command("sdr-to-hdr")
def sdr_to_hdr(
    input: Annotated[str, typer.Argument(help="SDR image, folder/pattern of frames, or video file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for EXR frames and previews.")],
    method: Annotated[str, typer.Option(help="Conversion method (classical: no model weights).")] = "classical",
    start: Annotated[int, typer.Option(help="First frame index.")] = 0,
    stop: Annotated[Optional[int], typer.Option(help="Stop before this frame index.")] = None,
    colorspace: Annotated[str, typer.Option(help="Output scene-linear colour space.")] = "lin_rec709",
    compression: Annotated[str, typer.Option(help="EXR compression.")] = "zip",
    target_peak: Annotated[float, typer.Option(help="cd/m^2 that SDR white expands to.")] = 1000.0,
    diffuse_white: Annotated[float, typer.Option(help="Scene-linear value of reference (diffuse) white.")] = 1.0,
    nits_per_unit: Annotated[float, typer.Option(help="cd/m^2 per scene-linear 1.0.")] = 100.0,
    transfer: Annotated[str, typer.Option(help="SDR EOTF of the input: srgb or bt1886.")] = "srgb",
    operator: Annotated[str, typer.Option(help="Inverse tone-mapping operator: bt2446c or power.")] = "bt2446c",
    as_json: JsonOption = False,
) -> None:
    """Convert SDR footage to scene-linear EXR frames (plus preview MP4/PNG)."""
    with _user_errors():
        from hdr_mcp.pipelines.sdr_to_hdr import convert

        with _progress_context(f"sdr-to-hdr ({method})") as ctx:
            result = convert(
                input,
                method=method,
                output_dir=out,
                start=start,
                stop=stop,
                colorspace=colorspace,
                compression=compression,
                target_peak=target_peak,
                diffuse_white=diffuse_white,
                nits_per_unit=nits_per_unit,
                transfer=transfer,
                operator=operator,
                ctx=ctx,
            )
        _emit(result, as_json, lambda r: _stdout().print_json(data=r))


# -- jobs --------------------------------------------------------------------------------------


def _store(home: Path | None):
    from hdr_mcp.jobs.store import JobStore, default_home

    return JobStore(home or default_home())


@jobs_app.command("list")
def jobs_list(
    home: HomeOption = None,
    status: Annotated[Optional[str], typer.Option(help="Only jobs in this state.")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Newest jobs first."""
    with _user_errors():
        jobs = _store(home).list(status=status, kind=kind, limit=limit)
        data = {"jobs": [j.model_dump(mode="json") for j in jobs]}

        def render(d: dict[str, Any]) -> None:
            from rich.table import Table

            table = Table()
            for col in ("id", "kind", "status", "progress", "message"):
                table.add_column(col)
            for j in d["jobs"]:
                total = f"/{j['total']:g}" if j.get("total") else ""
                table.add_row(j["id"], j["kind"], j["status"], f"{j['progress']:g}{total}", j.get("message") or "")
            _stdout().print(table)

        _emit(data, as_json, render)


@jobs_app.command("show")
def jobs_show(job_id: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """One job with its result and log."""
    with _user_errors():
        store = _store(home)
        data = store.get(job_id).model_dump(mode="json")
        data["log"] = [e.model_dump() for e in store.logs(job_id)]
        _emit(data, as_json, lambda d: _stdout().print_json(data=d, default=str))


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    with _user_errors():
        job = _store(home).cancel(job_id)
        data = job.model_dump(mode="json")
        _emit(data, as_json, lambda d: _stderr().print(f"job {d['id']}: {d['status']}"
                                                      + (" (stop requested)" if d.get("cancel_requested") else "")))


# -- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's files.")] = Path("hdr-mcp-demo"),
    as_json: JsonOption = False,
) -> None:
    """Run the whole loop with no GPU and no downloads: MCP client -> SDR->HDR -> evaluate."""
    with _user_errors():
        from hdr_mcp.server.demo import run_demo

        result = run_demo(out, log=_stderr())
        _emit(result, as_json, _render_demo)


def _render_demo(result: dict[str, Any]) -> None:
    console = _stdout()
    evaluation = result["evaluation"]
    _render_evaluation(evaluation)
    truth = (evaluation.get("reference_metrics") or {}).get("peak")
    if truth is not None:
        console.print(
            f"ground truth peak {truth:.4g} cd/m^2, recovered peak {evaluation['metrics']['peak']:.4g} cd/m^2: "
            "the SDR plate clipped everything above SDR white, which no inverse tone map can bring back."
        )
    console.print(f"ground truth: {result['ground_truth']}")
    console.print(f"SDR plate:   {result['sdr_plate']}")
    console.print(f"HDR frames:  {result['exr']}")
    console.print(f"preview:     {result['preview']}")
    console.print(f"report:      {result['evaluation']['report_png']}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="hdr-mcp")


if __name__ == "__main__":
    main()
