"""Loading pipelines: Hugging Face Hub snapshots, local diffusers folders and tiny presets.

Weights come through huggingface-hub only (``snapshot_download`` with a pinned revision and the
family's allow patterns, so single-file checkpoints beside the diffusers folders are skipped).
The cache location and offline mode are read from the environment *at call time*
(``HF_HUB_CACHE``, else ``HF_HOME/hub``; ``HF_HUB_OFFLINE``), so a worker started with other
settings than the process that imported huggingface_hub still obeys them.

Failures are one readable line each:

* :class:`ModelNotCached`: offline (or ``local_files_only``) and the snapshot is missing; names
  the repository, its size and ``hdr-mcp models pull NAME``.
* :class:`GatedModel`: the repository needs an accepted licence and a token
  (``hf auth login`` or ``HF_TOKEN``).
* :class:`~hdr_mcp.errors.InvalidArgument` for ``revision`` (no such revision), ``model``
  (unknown name / not a diffusers folder), ``device`` (no such device), ``dtype``, ``offload``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.models.registry import FAMILIES, ModelFamily, family

__all__ = [
    "GatedModel",
    "LoadedPipeline",
    "ModelDownloadError",
    "ModelNotCached",
    "check_device",
    "detect_family",
    "hub_cache_dir",
    "hub_offline",
    "load_pipeline",
    "resolve_dtype",
    "resolve_model",
    "snapshot",
]

Offload = Literal["model", "sequential"]
_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}


class ModelNotCached(HdrMcpError):
    """The weights are not in the local Hugging Face cache and downloading is not allowed."""


class GatedModel(HdrMcpError):
    """The repository is gated: its licence must be accepted and a token given."""


class ModelDownloadError(HdrMcpError):
    """Any other Hub failure (network, missing repository), named with the repository."""


@dataclass
class LoadedPipeline:
    """A loaded pipeline and what it was loaded from."""

    pipe: Any
    family: ModelFamily
    path: Path
    revision: str | None
    device: str
    dtype: str
    offload: str | None


def hub_cache_dir() -> Path:
    """The Hub cache directory per the environment now: ``HF_HUB_CACHE``, ``HF_HOME/hub``,
    else huggingface_hub's default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value (read now, not at import)."""
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value in ("1", "true", "yes", "on")


def _gb(entry: ModelFamily) -> str:
    return f"about {entry.size_gb:g} GB"


def snapshot(entry: ModelFamily, revision: str | None = None, *,
             local_files_only: bool | None = None, progress: Any = None) -> Path:
    """Local folder of ``entry``'s snapshot at ``revision`` (default: the registry's), from
    the cache or downloaded. ``local_files_only=None`` follows ``HF_HUB_OFFLINE``."""
    from huggingface_hub import snapshot_download

    if entry.repository is None:
        raise InvalidArgument("model", entry.name, "has no Hub repository (tiny preset)")
    revision = revision or entry.revision
    offline = hub_offline() if local_files_only is None else local_files_only
    kwargs: dict[str, Any] = {}
    if progress is not None:
        kwargs["tqdm_class"] = progress
    try:
        path = snapshot_download(entry.repository, revision=revision,
                                 allow_patterns=entry.allow_patterns,
                                 cache_dir=str(hub_cache_dir()), local_files_only=offline,
                                 **kwargs)
    except Exception as error:
        raise translate_hub_error(error, entry, revision) from error
    return Path(path)


def translate_hub_error(error: BaseException, entry: ModelFamily, revision: str) -> Exception:
    """Map a huggingface_hub exception to an hdr-mcp error naming what to do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = entry.repository
    if isinstance(error, GatedRepoError):
        return GatedModel(
            f"{repo} is gated: accept its licence at https://huggingface.co/{repo} and give a "
            "token with `hf auth login` or the HF_TOKEN environment variable")
    if isinstance(error, RevisionNotFoundError):
        return InvalidArgument("revision", revision, f"no such revision in {repo}")
    if isinstance(error, RepositoryNotFoundError):
        return ModelDownloadError(
            f"{repo} was not found or needs a token (`hf auth login` or HF_TOKEN)")
    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        return ModelNotCached(
            f"{entry.name}: {repo} at revision {revision} ({_gb(entry)}) is not in the Hugging "
            f"Face cache {hub_cache_dir()} and downloads are off (HF_HUB_OFFLINE or "
            f"local_files_only); run `hdr-mcp models pull {entry.name}` while online")
    return ModelDownloadError(f"{repo} at revision {revision}: {type(error).__name__}: {error}")


def detect_family(folder: str | os.PathLike[str]) -> ModelFamily:
    """The family of a local diffusers folder: the tiny-preset marker, else ``model_index.json``
    ``_class_name`` (Wan VACE 1.3B / 14B told apart by the transformer's layer count)."""
    from hdr_mcp.models.tiny import read_marker

    folder = Path(folder)
    marker = read_marker(folder)
    if marker is not None:
        return family(marker["name"])
    index = folder / "model_index.json"
    if not index.is_file():
        raise InvalidArgument("model", str(folder), "not a diffusers folder (no model_index.json)")
    class_name = json.loads(index.read_text()).get("_class_name")
    candidates = [e for e in FAMILIES.values() if e.pipeline_class == class_name and not e.tiny]
    if not candidates:
        known = sorted({e.pipeline_class for e in FAMILIES.values()})
        raise InvalidArgument("model", str(folder),
                              f"pipeline {class_name!r} is not supported; known: {', '.join(known)}")
    if len(candidates) > 1 and class_name == "WanVACEPipeline":
        return _wan_by_size(folder)
    return candidates[0]


def _wan_by_size(folder: Path) -> ModelFamily:
    config_path = folder / "transformer" / "config.json"
    layers = json.loads(config_path.read_text()).get("num_layers", 0) if config_path.is_file() else 0
    return family("wan2.1-vace-14b" if layers >= 40 else "wan2.1-vace-1.3b")


def resolve_model(model: str | os.PathLike[str], *, revision: str | None = None,
                  family_name: str | None = None, local_files_only: bool | None = None,
                  tiny_cache_dir: Any = None) -> tuple[ModelFamily, Path, str | None]:
    """(family, local folder, revision) for a registry name, tiny preset or local folder."""
    from hdr_mcp.models.tiny import ensure_tiny

    key = str(model).strip().lower()
    if key in FAMILIES:
        entry = FAMILIES[key]
        if entry.tiny:
            return entry, ensure_tiny(entry.name, cache_dir=tiny_cache_dir), None
        revision = revision or entry.revision
        return entry, snapshot(entry, revision, local_files_only=local_files_only), revision
    folder = Path(model).expanduser()
    if folder.is_dir():
        entry = family(family_name, "family") if family_name else detect_family(folder)
        return entry, folder, None
    raise InvalidArgument("model", str(model),
                          f"unknown model and not a folder; known: {', '.join(FAMILIES)}")


def check_device(device: str) -> str:
    """Validate ``device`` ('cpu', 'cuda', 'cuda:N', 'mps'); return it normalised."""
    import torch

    text = str(device).strip().lower()
    if text == "cpu":
        return text
    if text == "mps":
        if torch.backends.mps.is_available():
            return text
        raise InvalidArgument("device", device, "MPS is not available on this machine")
    if text == "cuda" or text.startswith("cuda:"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = text.partition(":")[2] or "0"
        if not index.isdigit():
            raise InvalidArgument("device", device, "expected cuda:N with N an integer")
        if int(index) >= count:
            found = f"{count} CUDA device(s)" if count else "no CUDA device"
            raise InvalidArgument("device", device, f"this machine has {found}")
        return f"cuda:{index}"
    raise InvalidArgument("device", device, "expected 'cpu', 'cuda', 'cuda:N' or 'mps'")


def resolve_dtype(dtype: Any, entry: ModelFamily, device: str):
    """torch dtype to load with: given, else the family's on an accelerator, float32 on CPU."""
    import torch

    if dtype is None:
        name = entry.torch_dtype if device != "cpu" else "float32"
    elif isinstance(dtype, torch.dtype):
        return dtype
    else:
        name = _DTYPES.get(str(dtype).strip().lower())
        if name is None:
            raise InvalidArgument("dtype", dtype, f"expected one of {', '.join(sorted(_DTYPES))}")
    return getattr(torch, name)


def quiet_libraries() -> None:
    """Silence diffusers' and transformers' own progress bars and chatter ("Loading pipeline
    components...", "cannot be saved"): hdr-mcp reports progress itself (CLI bar, MCP progress,
    the job log), and an MCP stdio server or a worker log must not fill with tqdm lines."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_pipeline(model: str | os.PathLike[str], *, revision: str | None = None,
                  dtype: Any = None, device: str = "cpu", offload: Offload | None = None,
                  allow_large_on_cpu: bool = False, local_files_only: bool | None = None,
                  family_name: str | None = None, tiny_cache_dir: Any = None,
                  without: tuple[str, ...] = ()) -> LoadedPipeline:
    """Load ``model`` (registry name, ``tiny-`` preset or local diffusers folder).

    The pipeline class's ``from_pretrained`` loads the folder; the VAE is kept in float32
    (decoding HDR in bf16 bands smooth gradients); ``offload`` ``"model"`` or ``"sequential"``
    uses diffusers' CPU offload onto ``device`` (an accelerator) with the VAE excluded, else the
    pipeline is moved to ``device``. Without CUDA a non-tiny model is refused unless
    ``allow_large_on_cpu``. Everything is validated before any weight is read. ``without``
    names components not to load at all (``("transformer",)`` for latent precomputation).
    """
    quiet_libraries()
    device = check_device(device)
    if offload not in (None, "model", "sequential"):
        raise InvalidArgument("offload", offload, "expected None, 'model' or 'sequential'")
    if offload is not None and device == "cpu":
        raise InvalidArgument("offload", offload, "offloading needs an accelerator device")
    preview = _preview_family(model, family_name)
    if preview is not None and not preview.tiny and device == "cpu" and not allow_large_on_cpu:
        raise InvalidArgument(
            "device", device,
            f"{preview.name} ({preview.size_gb:g} GB) on CPU would take hours; use a CUDA device "
            "or pass allow_large_on_cpu=True")
    entry, path, revision = resolve_model(model, revision=revision, family_name=family_name,
                                          local_files_only=local_files_only,
                                          tiny_cache_dir=tiny_cache_dir)
    torch_dtype = resolve_dtype(dtype, entry, device)
    pipe = _from_pretrained(entry, path, torch_dtype, without)
    _place(pipe, device, offload)
    return LoadedPipeline(pipe, entry, path, revision, device, str(torch_dtype).rsplit(".")[-1],
                          offload)


def _preview_family(model: Any, family_name: str | None) -> ModelFamily | None:
    key = str(model).strip().lower()
    if key in FAMILIES:
        return FAMILIES[key]
    if family_name:
        return family(family_name, "family")
    folder = Path(model).expanduser()
    return detect_family(folder) if folder.is_dir() else None


def _from_pretrained(entry: ModelFamily, path: Path, torch_dtype,
                     without: tuple[str, ...] = ()) -> Any:
    import diffusers
    import torch

    from hdr_mcp.models.tiny import tiny_preset

    pipeline_class = getattr(diffusers, entry.pipeline_class)
    extra = dict(tiny_preset(entry.name).from_pretrained_kwargs) if entry.tiny else {}
    extra.update(dict.fromkeys(without))
    try:
        pipe = pipeline_class.from_pretrained(str(path), dtype=torch_dtype, **extra)
    except (OSError, ValueError, KeyError) as error:
        raise HdrMcpError(f"cannot load {entry.name} from {path}: {error}") from error
    if pipe.vae.dtype != torch.float32:
        pipe.vae.to(torch.float32)
    return pipe


def _place(pipe: Any, device: str, offload: str | None) -> None:
    if offload is None:
        pipe.to(device)
        return
    pipe._exclude_from_cpu_offload = [*getattr(pipe, "_exclude_from_cpu_offload", []), "vae"]
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)
    pipe.vae.to(device)
