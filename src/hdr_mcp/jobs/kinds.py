"""Job kinds, each declared once: name, parameter model, handler, and how it may run.

A :class:`JobKind` is all the MCP server, the CLI and the worker know about a kind of work:

- ``params``: the pydantic model (:mod:`hdr_mcp.params`) that gives the MCP tool's schema,
  the CLI command's options and the handler's validation;
- ``run``: ``"module:function"``, imported only by the worker the first time it runs one, so the
  server lists and validates kinds without importing torch;
- ``resumable``, ``max_attempts``, ``timeout_s``, ``device``: what the job store and workers do
  when a worker dies, how long a job may run, and which workers can take it.

The handler is called as ``run(params, ctx)`` with ``params`` an instance of the model (a plain
dict for kinds declared without one) and ``ctx`` a :class:`hdr_mcp.jobs.context.JobContext`.

Three sources, later ones overriding earlier ones: :data:`BUILTIN_KINDS`;
``$HDR_MCP_EXTRA_HANDLERS="kind=module:function,..."`` (read at every lookup, so plugins and
tests can add kinds to a worker started in another process); :func:`register` in this process.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.params.evaluate import EvaluateParams
from hdr_mcp.params.generate import GenerateParams
from hdr_mcp.params.sdr_to_hdr import SdrToHdrParams
from hdr_mcp.params.training import PrecomputeParams, TrainLoraParams
from hdr_mcp.vocabulary import DIFFUSION_METHODS

__all__ = [
    "BUILTIN_KINDS",
    "EXTRA_HANDLERS_ENV",
    "Handler",
    "JobKind",
    "job_kind",
    "kinds",
    "register",
    "resolve",
    "unregister",
]

#: ``handler(params, ctx) -> dict`` (a JSON-able result).
Handler = Callable[[Any, Any], Any]
Device = Literal["any", "cuda"]

EXTRA_HANDLERS_ENV = "HDR_MCP_EXTRA_HANDLERS"

_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _check(kind: Any, target: Any, argument: str = "kind") -> None:
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise InvalidArgument(argument, kind, "a job kind is letters, digits, '_', '-', '.'")
    if not isinstance(target, str) or not _TARGET.match(target):
        raise InvalidArgument(
            argument, target, "a handler target looks like 'package.module:function'"
        )


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    Attributes
    ----------
    name
        The job kind, the MCP tool's name and (with dashes) the CLI command.
    run
        ``"module:function"`` of the handler.
    params
        Parameter model (``None``: a free-form dict, for test and plugin kinds).
    title, description
        The MCP tool's title and description (also the CLI command's help).
    resumable
        A retry continues from what the handler kept in ``ctx.workdir``; the store requeues the
        job when its worker dies (up to ``max_attempts`` claims in all).
    device
        ``"any"``: runs on any worker; ``"cuda"``: prefers a GPU worker (a CPU worker takes it
        only for tiny presets or when told to).
    timeout_s
        Longest a single attempt may run, or ``None``.
    gpu_methods
        Values of the parameters' ``method`` that make a job of an ``any`` kind behave like a
        ``cuda`` one (``sdr_to_hdr_video``: the diffusion methods; classical runs anywhere).
    split_by
        The argument a batch is fanned out over (:meth:`fan_out`: one job per value), or
        ``None``: a job of this kind is never split (``num_images``, frame windows and
        training runs stay on one worker).
    """

    name: str
    run: str
    params: type[BaseModel] | None = None
    title: str = ""
    description: str = ""
    resumable: bool = False
    max_attempts: int = 3
    timeout_s: float | None = None
    device: Device = "any"
    gpu_methods: frozenset[str] = frozenset()
    split_by: str | None = None

    def __post_init__(self) -> None:
        _check(self.name, self.run)

    @property
    def command(self) -> str:
        """The CLI command: the name with dashes."""
        return self.name.replace("_", "-")

    def handler(self) -> Handler:
        """Import and return the handler function.

        :class:`HdrMcpError` when its module cannot be imported (usually a missing optional
        dependency), chained to the import error.
        """
        module_name, _, attr = self.run.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise HdrMcpError(
                f"job kind {self.name!r} needs {module_name}, which cannot be imported: "
                f"{type(e).__name__}: {e}"
            ) from e
        handler = getattr(module, attr, None)
        if not callable(handler):
            raise HdrMcpError(f"handler {self.run!r} of job kind {self.name!r} is not a function")
        return handler

    def model_key(self, params: BaseModel) -> str | None:
        """What model the job loads (workers that hold it are preferred), from its ``model``
        (or its ``config`` file's, for the training kinds)."""
        (model,) = _fields(params, "model")
        return None if model is None else str(model)

    def needs_gpu(self, params: BaseModel) -> bool:
        """Whether only a GPU worker may take the job: a ``cuda`` kind (or a method in
        ``gpu_methods``) on a real (not tiny) model, unless the caller allowed the CPU
        (``allow_cpu``)."""
        gpu = self.device == "cuda" or getattr(params, "method", None) in self.gpu_methods
        if not gpu:
            return False
        model, allow_cpu = _fields(params, "model", "allow_cpu")
        return not str(model or "").startswith("tiny-") and not allow_cpu

    def parse(self, params: Mapping[str, Any] | BaseModel) -> Any:
        """Validate ``params`` with the kind's model (a dict passes through without one)."""
        if self.params is None:
            return dict(params) if isinstance(params, Mapping) else params
        from hdr_mcp.params import parse

        return parse(self.params, params)


    def fan_out(self, inputs: Sequence[str], params: Mapping[str, Any],
                output_root: Path | str) -> list[Any]:
        """One validated parameter set per input: ``params`` with ``split_by`` set to the
        input and ``output_dir`` to ``output_root/<input's name>``. All are validated before
        any is returned (nothing is submitted when one is wrong)."""
        if self.split_by is None:
            can = sorted(k.name for k in kinds().values() if k.split_by is not None)
            raise InvalidArgument("kind", self.name, "its jobs are not split; kinds that fan out "
                                  f"one job per input: {', '.join(can)}")
        for name in (self.split_by, "output_dir"):
            if name in params:
                raise InvalidArgument(f"params.{name}", params[name], "given per job by the "
                                      "batch (inputs, output_dir), not in params")
        folders = [_folder_name(item) for item in inputs]
        seen: dict[str, str] = {}
        for item, folder in zip(inputs, folders, strict=True):
            if folder in seen:
                raise InvalidArgument("inputs", item, f"writes to the same folder {folder!r} as "
                                      f"{seen[folder]!r}; give inputs distinct names")
            seen[folder] = item
        return [self.parse({**params, self.split_by: item, "output_dir":
                            str(Path(output_root) / folder)})
                for item, folder in zip(inputs, folders, strict=True)]

    def submit(self, store: Any, params: BaseModel, *, roots: Sequence[str] | None = None) -> Any:
        """Queue a job of this kind with validated ``params`` (paths already resolved) in
        ``store``, with the kind's retry, timeout, model and device settings."""
        return store.submit(
            self.name, params.model_dump(mode="json"), resumable=self.resumable,
            max_attempts=self.max_attempts, roots=None if roots is None else list(roots),
            timeout_s=self.timeout_s, model_key=self.model_key(params),
            needs_gpu=self.needs_gpu(params),
        )


def _folder_name(item: str) -> str:
    """Output folder of one input of a batch: a file's stem, a folder's name, a frame
    pattern's folder (``shot/frame_%04d.png`` -> ``shot``)."""
    path = Path(item)
    pattern = any(c in path.name for c in "%#*?[")
    return (path.parent.name if pattern else path.stem) or "input"


def _fields(params: BaseModel, *names: str) -> list[Any]:
    """``params``' values of ``names``, those unset taken from its ``config`` file (read once)."""
    values = [getattr(params, name, None) for name in names]
    path = getattr(params, "config", None)
    if None in values and path is not None and hasattr(type(params), "config_class"):
        from hdr_mcp.params.training import load_config_file

        try:
            file = load_config_file(path, type(params).config_class)
        except InvalidArgument:
            return values  # the handler reports the bad file
        values = [file.get(name) if value is None else value
                  for name, value in zip(names, values, strict=True)]
    return values


BUILTIN_KINDS: Mapping[str, JobKind] = MappingProxyType({
    kind.name: kind
    for kind in (
        JobKind(
            name="evaluate",
            run="hdr_mcp.metrics.evaluate:run",
            params=EvaluateParams,
            title="Evaluate an HDR result",
            description="Measure an HDR image or sequence: PU21-PSNR/SSIM and Delta E ITP against "
            "a reference; peak_nits, dynamic_range_stops, clipped_fraction (and flicker, "
            "f2f_psnr for sequences) on its own; a QA verdict (pass/review/fail) with reasons: "
            "highlight banding at -2/-4 EV, clipped plateaus, fake HDR (optionally against the "
            "sdr it was made from). Writes report.json, report.png and a preview.",
        ),
        JobKind(
            name="sdr_to_hdr_video",
            run="hdr_mcp.pipelines.sdr_to_hdr:run",
            params=SdrToHdrParams,
            title="Convert SDR images or video to HDR EXR frames",
            description="Convert SDR footage (an image, a frame folder or pattern, a video) to "
            "scene-linear half-float EXR frames plus a tone-mapped preview PNG/MP4. The default "
            "operator 'auto' measures the shot once and expands only what was compressed or "
            "clipped (no pumping); the SDR transfer and primaries come from the video's tags "
            "(reported as transfer_used, primaries_used). method='ltx2-hdr' (LTX-2.3 HDR "
            "IC-LoRA) or 'wan-vace' (Wan VACE + log-gamma HDR LoRA, exposure masks and "
            "captions) let a video diffusion model invent what was clipped, in overlapping "
            "temporal windows; they run on a GPU worker. Resumable: a retried job keeps "
            "finished frames (diffusion: finished windows).",
            resumable=True,
            gpu_methods=frozenset(DIFFUSION_METHODS),
            split_by="input",
        ),
        JobKind(
            name="generate_hdr",
            run="hdr_mcp.pipelines.text_to_hdr:run",
            params=GenerateParams,
            title="Generate scene-linear HDR EXRs from text",
            description="Text -> half-float scene-linear EXR (ACEScg by default) with a preview "
            "and an exposure strip. method='logc-lora': an HDR LoRA (LogC4, LogC3, PQ, "
            "log-gamma, PU21) makes the model generate curve-encoded HDR, decoded without "
            "clamping; method='two-stage': public weights, the SDR picture is expanded by "
            "sdr_to_hdr. layout='latlong' makes a seamless 2:1 HDRI for lighting. Each image "
            "reports peak_nits, dynamic_range_stops and a verdict that says when it is not HDR. "
            "Slow on real models: returns a job handle; get_job(job_id) follows it.",
            resumable=True,
            device="cuda",
        ),
        JobKind(
            name="train_lora",
            run="hdr_mcp.training.tools:run_train_lora",
            params=TrainLoraParams,
            title="Train an HDR LoRA",
            description="Train a LoRA that makes a diffusion model generate HDR in a log "
            "encoding (logc4, logc3, pq, log_gamma, ...) from a folder of HDR images (text-to-"
            "image: Qwen-Image, FLUX.1, FLUX.2 Klein) or HDR frame sequences (video: Wan-VACE, "
            "LTX-2 IC-LoRA; SDR references made by camera-like degradations). Give a YAML config "
            "(trainers/configs/) and/or the arguments. Rectified flow matching, optional "
            "highlight-weighted loss, checkpoints with exact resume (resume='latest'), "
            "validation renders, TensorBoard logs; writes the LoRA in diffusers and ComfyUI "
            "layouts with its encoding in the metadata (generate_hdr reads it). Returns a job "
            "handle; get_job shows step, loss, learning rate, ETA and the latest preview; "
            "cancel_job saves a checkpoint.",
            resumable=True,
            device="cuda",
        ),
        JobKind(
            name="precompute_latents",
            run="hdr_mcp.training.tools:run_precompute_latents",
            params=PrecomputeParams,
            title="Precompute the latent cache of a training set",
            description="Encode a training set once: HDR targets -> curve -> float32 VAE -> "
            "safetensors shards plus latent_config.json (family, revision, curve, resolution, "
            "frames, augmentation). train_lora with latents_dir then skips the VAE and text "
            "encoder (a cache made for another config is refused, naming the field). "
            "Resumable by shard.",
            resumable=True,
            device="cuda",
        ),
    )
})

# Registrations made by this process (tests, plugins); the built-ins stay immutable.
_registered: dict[str, JobKind] = {}


def _from_env(environ: Mapping[str, str] | None = None) -> dict[str, JobKind]:
    raw = (os.environ if environ is None else environ).get(EXTRA_HANDLERS_ENV, "")
    table: dict[str, JobKind] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kind, sep, target = item.partition("=")
        if not sep:
            raise InvalidArgument(
                EXTRA_HANDLERS_ENV, raw, f"entry {item!r} is not 'kind=module:function'"
            )
        _check(kind.strip(), target.strip(), EXTRA_HANDLERS_ENV)
        table[kind.strip()] = JobKind(name=kind.strip(), run=target.strip())
    return table


def kinds(environ: Mapping[str, str] | None = None) -> dict[str, JobKind]:
    """The effective kinds by name (built-ins, then the env var, then :func:`register`)."""
    return {**BUILTIN_KINDS, **_from_env(environ), **_registered}


def register(kind: str | JobKind, target: str | None = None) -> None:
    """Add or replace a kind in this process: a :class:`JobKind`, or a name and a target."""
    if not isinstance(kind, JobKind):
        _check(kind, target, "target")
        kind = JobKind(name=kind, run=target)  # type: ignore[arg-type]
    _registered[kind.name] = kind


def unregister(name: str) -> None:
    """Undo :func:`register` (built-ins and env-var entries stay)."""
    _registered.pop(name, None)


def job_kind(
    name: str, environ: Mapping[str, str] | None = None, *, argument: str = "kind"
) -> JobKind:
    """The kind called ``name``; :class:`InvalidArgument` naming ``argument`` and listing the
    known kinds if there is none."""
    table = kinds(environ)
    try:
        return table[name]
    except (KeyError, TypeError):
        raise InvalidArgument(
            argument, name, f"unknown job kind; known kinds: {', '.join(sorted(table))}"
        ) from None


def resolve(name: str, environ: Mapping[str, str] | None = None) -> Handler:
    """Import and return the handler of the kind called ``name``."""
    return job_kind(name, environ).handler()
