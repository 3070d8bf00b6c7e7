"""HDR LoRA files: a metadata convention, reader, writer and a checked loader.

Metadata convention (format version 1)
--------------------------------------
An HDR LoRA is a diffusers-format LoRA ``.safetensors`` file whose safetensors header metadata
holds, *beside* diffusers' own ``format`` and ``lora_adapter_metadata`` keys (never inside the
latter: an unknown key there makes ``load_lora_weights`` fail, FACTS.md section 8):

======================  ===================================================================
``hdr_mcp.format_version``  ``"1"``
``hdr_mcp.encoding``        curve the LoRA generates in, as :func:`hdr_mcp.color.encodings`
                            spells it (``logc4``, ``logc3``, ``pq``, ``log_gamma``, ...)
``hdr_mcp.encoding_params`` JSON object of the curve's parameters (``{}`` for none), e.g.
                            ``{"gamma": 2.2, "max_value": 65536}``
``hdr_mcp.code_range``      JSON ``{"vae_min": -1.0, "vae_max": 1.0}``: curve code ``c`` in
                            [0, 1] was fed to the VAE as ``vae_min + c * (vae_max - vae_min)``
``hdr_mcp.base_model``      family name (:func:`hdr_mcp.models.registry.family`)
``hdr_mcp.trigger_words``   JSON list of strings
======================  ===================================================================

The same fields are written to a JSON sidecar ``<name>.json`` beside the file (safetensors
metadata is invisible to many tools; ComfyUI ignores it). The file itself stays the source of
truth: the reader never needs the sidecar.

Public HDR LoRAs are read too: the LTX-2 HDR IC-LoRA's keys ``hdr_transform`` (``logc3``; the
legacy ``use_hdr_transform="true"`` means LogC3) and ``reference_downscale_factor`` (integer),
as Lightricks' ``ltx_pipelines.hdr_ic_lora.read_hdr_lora_config`` reads them. Its code range is
the LTX-2 HDR processor's ``code = decode * 0.5 + 0.5``.

Key layouts recognised: ``diffusers`` (``transformer.<module>.lora_A.weight``), ``comfyui``
(``diffusion_model.<module>.lora_A.weight`` + ``.alpha``, or ``transformer.`` with ``.alpha``),
``peft`` (no prefix), ``kohya`` (``lora_unet_..lora_down``). diffusers' ``load_lora_weights``
converts ComfyUI layouts itself (its ``lora_conversion_utils``); :func:`to_comfyui_state_dict`
writes that layout for ComfyUI users.

:func:`load_hdr_lora` loads with the pipeline's ``load_lora_weights`` and then counts the peft
layers that received the adapter: wrongly named keys load silently into some pipelines (LTX-2,
FLUX.2), so zero matched modules is an error, as is a LoRA made for another family.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from hdr_mcp.errors import HdrMcpError, InvalidArgument, UnsupportedFile
from hdr_mcp.models.registry import ModelFamily, family

__all__ = [
    "FORMAT_VERSION",
    "HdrLoraInfo",
    "LoraMismatch",
    "count_adapter_modules",
    "detect_key_layout",
    "from_comfyui_state_dict",
    "load_hdr_lora",
    "read_hdr_lora_info",
    "resolve_lora_source",
    "save_hdr_lora",
    "save_hdr_lora_from_pipeline",
    "to_comfyui_state_dict",
]

FORMAT_VERSION = 1
PREFIX = "hdr_mcp."
DEFAULT_CODE_RANGE = {"vae_min": -1.0, "vae_max": 1.0}
KeyLayout = Literal["diffusers", "comfyui", "peft", "kohya", "unknown"]


class LoraMismatch(HdrMcpError):
    """A LoRA does not fit the pipeline: another family, or keys that match no module."""


@dataclass(frozen=True)
class HdrLoraInfo:
    """What an HDR LoRA file says about itself.

    ``source`` is ``hdr_mcp`` (this module's convention), ``ltx-hdr`` (Lightricks' keys) or
    ``none`` (a LoRA without HDR metadata: ``encoding`` is None). ``modules_matched`` is filled
    by :func:`load_hdr_lora` (peft layers that received the adapter).
    """

    encoding: str | None
    encoding_params: dict[str, float] = field(default_factory=dict)
    code_range: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CODE_RANGE))
    base_model: str | None = None
    trigger_words: tuple[str, ...] = ()
    format_version: int | None = FORMAT_VERSION
    source: str = "hdr_mcp"
    reference_downscale_factor: int | None = None
    key_layout: str = "unknown"
    lora_keys: int = 0
    """Number of distinct LoRA modules (``lora_A`` / ``lora_down`` tensors) in the file."""
    path: str | None = None
    modules_matched: int | None = None

    def to_metadata(self) -> dict[str, str]:
        """The ``hdr_mcp.*`` safetensors metadata entries (all strings)."""
        return {
            f"{PREFIX}format_version": str(FORMAT_VERSION),
            f"{PREFIX}encoding": str(self.encoding),
            f"{PREFIX}encoding_params": json.dumps(self.encoding_params, sort_keys=True),
            f"{PREFIX}code_range": json.dumps(self.code_range, sort_keys=True),
            f"{PREFIX}base_model": str(self.base_model),
            f"{PREFIX}trigger_words": json.dumps(list(self.trigger_words)),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validated(info: HdrLoraInfo) -> HdrLoraInfo:
    """Check encoding (and its parameters), code range and base model; raise InvalidArgument."""
    from hdr_mcp.color import encoding as curve

    entry = curve(info.encoding)
    for key in info.encoding_params:
        if key not in entry.defaults:
            raise InvalidArgument("encoding_params", info.encoding_params,
                                  f"{key!r} is not a parameter of {entry.name}")
    low, high = info.code_range.get("vae_min"), info.code_range.get("vae_max")
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high):
        raise InvalidArgument("code_range", info.code_range, "expected vae_min < vae_max")
    if info.base_model is not None:
        family(info.base_model, "base_model")
    return replace(info, encoding=entry.name)


# --------------------------------------------------------------------------- reading


def _open_metadata(path: Path) -> tuple[dict[str, str], list[str]]:
    from safetensors import safe_open

    if not path.is_file():
        raise InvalidArgument("lora", str(path), "no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {}), list(handle.keys())
    except Exception as error:
        raise UnsupportedFile("lora", str(path),
                              f"not a readable safetensors file ({error})") from error


def detect_key_layout(keys: list[str]) -> KeyLayout:
    """Which LoRA key layout ``keys`` use (see module docstring)."""
    lora_keys = [k for k in keys if ".lora_" in k or k.endswith(".alpha")]
    if any(k.startswith("lora_unet_") or ".lora_down." in k for k in keys):
        return "kohya"
    if not lora_keys:
        return "unknown"
    has_alpha = any(k.endswith(".alpha") for k in keys)
    if any(k.startswith("diffusion_model.") for k in lora_keys):
        return "comfyui"
    if all(k.startswith("transformer.") for k in lora_keys):
        return "comfyui" if has_alpha else "diffusers"
    return "peft"


def _lora_module_count(keys: list[str]) -> int:
    return sum(1 for k in keys if k.endswith((".lora_A.weight", ".lora_down.weight")))


def _json(metadata: dict[str, str], key: str, default: Any, path: Path) -> Any:
    raw = metadata.get(PREFIX + key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise UnsupportedFile("lora", str(path), f"metadata {PREFIX}{key} is not JSON") from error


def read_hdr_lora_info(path: str | os.PathLike[str]) -> HdrLoraInfo:
    """Read a LoRA file's HDR metadata (hdr-mcp convention or LTX-2 HDR IC-LoRA keys).

    Raises :class:`~hdr_mcp.errors.UnsupportedFile` naming the file when it is not a readable
    safetensors file or its hdr-mcp metadata is malformed, and
    :class:`~hdr_mcp.errors.InvalidArgument` for an unknown encoding or base model.
    """
    path = Path(path).expanduser()
    metadata, keys = _open_metadata(path)
    common = {"key_layout": detect_key_layout(keys), "lora_keys": _lora_module_count(keys),
              "path": str(path)}
    if PREFIX + "encoding" in metadata:
        version = metadata.get(PREFIX + "format_version", "1")
        info = HdrLoraInfo(
            encoding=metadata[PREFIX + "encoding"],
            encoding_params=_json(metadata, "encoding_params", {}, path),
            code_range=_json(metadata, "code_range", dict(DEFAULT_CODE_RANGE), path),
            base_model=_none_if_empty(metadata.get(PREFIX + "base_model")),
            trigger_words=tuple(_json(metadata, "trigger_words", [], path)),
            format_version=int(version) if version.isdigit() else None,
            source="hdr_mcp", **common)
        return _validated(info)
    transform = metadata.get("hdr_transform", "").strip().lower()
    if transform or metadata.get("use_hdr_transform"):
        factor = metadata.get("reference_downscale_factor", "1").strip()
        info = HdrLoraInfo(
            encoding="logc3" if transform in ("", "true") else transform,
            format_version=None, source="ltx-hdr",
            reference_downscale_factor=int(factor) if factor.isdigit() else None, **common)
        return _validated(info)
    return HdrLoraInfo(encoding=None, format_version=None, source="none", **common)


def _none_if_empty(value: str | None) -> str | None:
    return None if value in (None, "", "None") else value


# --------------------------------------------------------------------------- writing


def save_hdr_lora_from_pipeline(pipe: Any, path: str | os.PathLike[str], info: HdrLoraInfo, *,
                                adapter_name: str = "default") -> Path:
    """Write the transformer adapter ``adapter_name`` of ``pipe`` as an HDR LoRA file."""
    from peft.utils import get_peft_model_state_dict

    transformer = pipe.transformer
    if adapter_name not in getattr(transformer, "peft_config", {}):
        raise InvalidArgument("adapter_name", adapter_name, "the transformer has no such adapter")
    state_dict = get_peft_model_state_dict(transformer, adapter_name=adapter_name)
    config = transformer.peft_config[adapter_name].to_dict()
    return save_hdr_lora(state_dict, config, path, info, pipeline_class=type(pipe))


def save_hdr_lora(state_dict: dict[str, Any], lora_config: dict[str, Any],
                  path: str | os.PathLike[str], info: HdrLoraInfo, *,
                  pipeline_class: Any = None) -> Path:
    """Write a transformer LoRA ``state_dict`` (peft keys, no prefix) with its ``LoraConfig``
    dict as a diffusers LoRA file carrying the hdr-mcp metadata, plus the JSON sidecar.

    diffusers' own ``save_lora_weights`` writes the file (its ``lora_adapter_metadata`` keeps
    ``lora_alpha`` and the rank pattern); the header is then re-stamped with the ``hdr_mcp.*``
    keys and the file written atomically. Returns the path.
    """
    import diffusers
    from safetensors.torch import load_file, save_file

    from hdr_mcp.io.atomic import atomic_path, check_writable_path

    info = _validated(info)
    target = check_writable_path(path, "path")
    if pipeline_class is None:
        pipeline_class = getattr(diffusers, family(info.base_model).pipeline_class)
    config = {k: (sorted(v) if isinstance(v, set) else v) for k, v in lora_config.items()}
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".hdr_lora_") as scratch:
        pipeline_class.save_lora_weights(scratch, transformer_lora_layers=state_dict,
                                         transformer_lora_adapter_metadata=config)
        written = Path(scratch) / "pytorch_lora_weights.safetensors"
        metadata, _ = _open_metadata(written)
        tensors = load_file(str(written))
    with atomic_path(target) as temporary:
        save_file(tensors, str(temporary), metadata={**metadata, **info.to_metadata()})
    _write_sidecar(target, info)
    return target


def _write_sidecar(target: Path, info: HdrLoraInfo) -> None:
    from hdr_mcp.io.atomic import atomic_path

    fields = {k.removeprefix(PREFIX): v for k, v in info.to_metadata().items()}
    fields.update(encoding_params=info.encoding_params, code_range=info.code_range,
                  trigger_words=list(info.trigger_words), format_version=FORMAT_VERSION)
    with atomic_path(target.with_suffix(".json")) as temporary:
        temporary.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class ComfyLayout:
    """How ComfyUI expects one family's LoRA keys: a prefix, and whether the scale alpha/rank
    is a ``.alpha`` tensor per module or folded into ``lora_B`` (ComfyUI then uses scale 1)."""

    prefix: str
    alpha: Literal["key", "folded"]


#: ComfyUI layouts by architecture (FACTS.md section 8): Qwen-Image ``diffusion_model.`` with
#: ``.alpha`` (diffusers loads it too); FLUX.1 ``transformer.`` with ``.alpha``; FLUX.2 and
#: LTX-2 ``diffusion_model.`` with alpha folded; Wan ``transformer.`` with alpha folded.
COMFY_LAYOUTS = {
    "qwen-image": ComfyLayout("diffusion_model.", "key"),
    "flux.1": ComfyLayout("transformer.", "key"),
    "flux.2-klein-4b": ComfyLayout("diffusion_model.", "folded"),
    "ltx-2.3": ComfyLayout("diffusion_model.", "folded"),
    "wan2.1-vace-1.3b": ComfyLayout("transformer.", "folded"),
    "wan2.1-vace-14b": ComfyLayout("transformer.", "folded"),
}


def comfy_layout(family_name: str | None) -> ComfyLayout:
    """The ComfyUI layout of a family (tiny presets use their base's; default Qwen-Image's)."""
    if family_name is None:
        return COMFY_LAYOUTS["qwen-image"]
    architecture = family(family_name).architecture.removeprefix("tiny-")
    return COMFY_LAYOUTS.get(architecture, COMFY_LAYOUTS["qwen-image"])


def _rank_of(state_dict: dict[str, Any], module: str) -> int:
    return int(state_dict[f"{module}.lora_A.weight"].shape[0])


def to_comfyui_state_dict(state_dict: dict[str, Any], lora_alpha: float,
                          prefix: str | None = None, *, family: str | None = None
                          ) -> dict[str, Any]:
    """peft/diffusers LoRA keys -> the ComfyUI layout of ``family``: ``<prefix><module>.lora_A/
    B.weight`` plus a ``<module>.alpha`` scalar per module (ComfyUI scales by alpha / rank), or
    with alpha / rank folded into ``lora_B`` for families whose ComfyUI loader reads no alpha.
    ``prefix`` overrides the family's. :func:`from_comfyui_state_dict` is the inverse."""
    import torch

    layout = comfy_layout(family)
    prefix = layout.prefix if prefix is None else prefix
    plain = {re.sub(r"^transformer\.", "", k): v for k, v in state_dict.items()}
    out: dict[str, Any] = {}
    for key, tensor in plain.items():
        module = key.rsplit(".lora_", 1)[0]
        scale = float(lora_alpha) / _rank_of(plain, module)
        if layout.alpha == "folded" and ".lora_B." in key:
            tensor = tensor * scale
        out[prefix + key] = tensor
        if key.endswith(".lora_A.weight") and layout.alpha == "key":
            out[f"{prefix}{module}.alpha"] = torch.tensor(float(lora_alpha))
    return out


def from_comfyui_state_dict(state_dict: dict[str, Any], lora_alpha: float, *,
                            family: str | None = None) -> dict[str, Any]:
    """Inverse of :func:`to_comfyui_state_dict`: peft keys (no prefix), alpha unfolded."""
    layout = comfy_layout(family)
    plain = {k.removeprefix(layout.prefix): v for k, v in state_dict.items()
             if not k.endswith(".alpha")}
    out: dict[str, Any] = {}
    for key, tensor in plain.items():
        if layout.alpha == "folded" and ".lora_B." in key:
            module = key.rsplit(".lora_", 1)[0]
            tensor = tensor / (float(lora_alpha) / _rank_of(plain, module))
        out[key] = tensor
    return out


# --------------------------------------------------------------------------- loading


_HUB_SOURCE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+/(.+\.safetensors)$")


def resolve_lora_source(source: str | os.PathLike[str], *, revision: str | None = None,
                        local_files_only: bool | None = None) -> Path:
    """A local ``.safetensors`` file, or ``repo_id/filename.safetensors`` from the Hub
    (``hf_hub_download``; offline and cache settings as :mod:`hdr_mcp.models.loading`)."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    match = _HUB_SOURCE.match(str(source))
    if match is None:
        raise InvalidArgument("lora", str(source),
                              "no such file, and not 'owner/repo/filename.safetensors'")
    repo_id = str(source)[: -len(match.group(1)) - 1]
    return _hub_download(repo_id, match.group(1), revision, local_files_only)


def _hub_download(repo_id: str, filename: str, revision: str | None,
                  local_files_only: bool | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RevisionNotFoundError,
    )

    from hdr_mcp.models.loading import GatedModel, ModelNotCached, hub_cache_dir, hub_offline

    offline = hub_offline() if local_files_only is None else local_files_only
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision,
                                    cache_dir=str(hub_cache_dir()), local_files_only=offline))
    except GatedRepoError as error:
        raise GatedModel(f"{repo_id} is gated: accept its licence at https://huggingface.co/"
                         f"{repo_id} and give a token (`hf auth login` or HF_TOKEN)") from error
    except RevisionNotFoundError as error:
        raise InvalidArgument("revision", revision, f"no such revision in {repo_id}") from error
    except LocalEntryNotFoundError as error:
        raise ModelNotCached(f"LoRA {repo_id}/{filename} is not in the Hugging Face cache and "
                             f"downloads are off; run `hf download {repo_id} {filename}` "
                             "while online") from error
    except EntryNotFoundError as error:
        raise InvalidArgument("lora", f"{repo_id}/{filename}", "no such file") from error


def count_adapter_modules(pipe: Any, adapter_name: str) -> int:
    """peft tuner layers in any of ``pipe``'s modules that hold adapter ``adapter_name``."""
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer

    count = 0
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module):
            continue
        for module in component.modules():
            if isinstance(module, BaseTunerLayer) and adapter_name in _adapters_of(module):
                count += 1
    return count


def _adapters_of(layer: Any) -> set[str]:
    names: set[str] = set()
    for attribute in layer.adapter_layer_names:
        names.update(getattr(layer, attribute, {}).keys())
    return names


def check_family(info: HdrLoraInfo, entry: ModelFamily, *, allow_family_mismatch: bool) -> None:
    """Refuse a LoRA made for another family (always when the architecture differs)."""
    if info.base_model is None or info.base_model == entry.name:
        return
    other = family(info.base_model, "base_model")
    if other.architecture == entry.architecture and allow_family_mismatch:
        return
    hint = " (same architecture: pass allow_family_mismatch=True to use it anyway)" if (
        other.architecture == entry.architecture) else ""
    raise LoraMismatch(f"LoRA {info.path} was made for {other.name}, not {entry.name}{hint}")


def load_hdr_lora(pipe: Any, source: str | os.PathLike[str], *,
                  family: ModelFamily | str, adapter_name: str = "hdr", scale: float = 1.0,
                  revision: str | None = None, allow_family_mismatch: bool = False
                  ) -> HdrLoraInfo:
    """Load an HDR LoRA into ``pipe`` and make it active at ``scale``.

    Checks, in order: the file (local or ``repo/filename`` on the Hub) is readable safetensors;
    its ``hdr_mcp.base_model`` is ``family`` (:class:`LoraMismatch` naming both otherwise); the
    adapter name is free; after ``load_lora_weights``, at least one module received the adapter
    (:class:`LoraMismatch` otherwise, and the empty adapter is removed). Returns the file's
    :class:`HdrLoraInfo` with ``modules_matched`` filled in.
    """
    from hdr_mcp.models.registry import family as lookup

    entry = lookup(family) if isinstance(family, str) else family
    path = resolve_lora_source(source, revision=revision)
    info = read_hdr_lora_info(path)
    check_family(info, entry, allow_family_mismatch=allow_family_mismatch)
    if count_adapter_modules(pipe, adapter_name):
        raise InvalidArgument("adapter_name", adapter_name, "already loaded in this pipeline")
    try:
        pipe.load_lora_weights(str(path), adapter_name=adapter_name)
    except (ValueError, KeyError, RuntimeError, TypeError) as error:
        raise LoraMismatch(f"LoRA {path} does not load into {entry.name} "
                           f"({info.key_layout} layout): {error}") from error
    matched = count_adapter_modules(pipe, adapter_name)
    if matched == 0:
        _forget(pipe, adapter_name)
        raise LoraMismatch(f"LoRA {path}: none of its {info.lora_keys} LoRA modules "
                           f"({info.key_layout} layout) matched a module of {entry.name}; "
                           "it would have no effect")
    _activate(pipe, adapter_name, scale)
    return replace(info, modules_matched=matched)


def _forget(pipe: Any, adapter_name: str) -> None:
    try:
        pipe.delete_adapters(adapter_name)
    except (ValueError, KeyError, AttributeError):
        pass  # nothing was registered under that name


def _activate(pipe: Any, adapter_name: str, scale: float) -> None:
    active = [a for a in pipe.get_active_adapters() if a != adapter_name]
    weights = []
    for name in active:
        weights.append(_current_scale(pipe, name))
    pipe.set_adapters([*active, adapter_name], [*weights, float(scale)])


def _current_scale(pipe: Any, adapter_name: str) -> float:
    from peft.tuners.lora import LoraLayer

    for module in pipe.transformer.modules():
        if isinstance(module, LoraLayer) and adapter_name in module.scaling:
            rank = module.r[adapter_name]
            alpha = module.lora_alpha[adapter_name]
            return module.scaling[adapter_name] / (alpha / rank)
    return 1.0
