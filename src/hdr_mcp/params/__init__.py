"""Parameters of every tool and command, declared once.

Each tool (and each job kind) has one pydantic model here. That model is

- the MCP tool's input schema (the server adds only ``wait_seconds``),
- the CLI command's options (an option is the argument with dashes: ``output_dir`` ->
  ``--output-dir``; fields marked :class:`Cli` ``(argument=True)`` are positional),
- the validation the job handler runs again in the worker (a job may wait in the store across
  versions).

Unknown arguments are refused, naming them (``extra="forbid"``). Field metadata says what a
string is: :data:`INPUT` (a file, folder or frame pattern to read, resolved inside the allowed
roots), :data:`INPUT_FILE` (one file), :data:`OUTPUT_DIR` (a folder to write, default a fresh
folder in the output directory). Nothing here imports numpy or torch: the MCP server reads
these models at start-up.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.vocabulary import HDR_SUFFIXES

__all__ = [
    "HDR_INPUT",
    "INPUT",
    "INPUT_FILE",
    "OUTPUT_DIR",
    "Cli",
    "Params",
    "PathRole",
    "cli_of",
    "parse",
    "path_role",
    "stop_after_start",
    "validation_error",
]


class Params(BaseModel):
    """Base of every parameter model: unknown arguments are an error, values are validated."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class Cli:
    """How a field appears on the command line.

    ``argument``: positional instead of ``--option``. ``aliases``: old spellings accepted but
    hidden from ``--help`` (kept for one release, see docs/vocabulary.md). ``hidden``: not
    offered on the command line at all (set by the CLI itself).
    """

    argument: bool = False
    aliases: tuple[str, ...] = ()
    hidden: bool = False


@dataclass(frozen=True)
class PathRole:
    """What a path argument is; the server resolves it inside the allowed roots. ``suffixes``:
    the file types a folder of frames is listed with (None: every image type)."""

    role: Literal["input", "input_file", "output_dir"]
    suffixes: frozenset[str] | None = None


INPUT = PathRole("input")
HDR_INPUT = PathRole("input", HDR_SUFFIXES)
INPUT_FILE = PathRole("input_file")
OUTPUT_DIR = PathRole("output_dir")

P = TypeVar("P", bound=BaseModel)


def _marker(model: type[BaseModel], name: str, cls: type) -> Any:
    return next((m for m in model.model_fields[name].metadata if isinstance(m, cls)), None)


def cli_of(model: type[BaseModel], name: str) -> Cli:
    """The :class:`Cli` marker of a field (default: a plain ``--option``)."""
    return _marker(model, name, Cli) or Cli()


def path_role(model: type[BaseModel], name: str) -> PathRole | None:
    """The :class:`PathRole` of a field of ``model`` (None: not a path)."""
    return _marker(model, name, PathRole)


def _closest(model: type[BaseModel], name: str, valid: list[str]) -> str | None:
    """The argument a caller most likely meant: an old spelling of it (``out`` ->
    ``output_dir``), one it starts, or the closest by spelling."""
    for field in valid:
        old = {alias.lstrip("-").replace("-", "_") for alias in cli_of(model, field).aliases}
        if name in old:
            return field
    starts = [field for field in valid if field.startswith(name) or name.startswith(field)]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(name, valid, n=1)
    return close[0] if close else None


def _reason(error: Mapping[str, Any], model: type[BaseModel], name: str) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        valid = sorted(model.model_fields)
        close = _closest(model, name, valid)
        hint = f"did you mean {close!r}? " if close else ""
        return f"unknown argument; {hint}valid arguments: {', '.join(valid)}"
    if kind == "missing":
        return "required argument is missing"
    return str(error.get("msg", "invalid value")).replace("Value error, ", "")


def validation_error(error: ValidationError, model: type[BaseModel]) -> InvalidArgument:
    """One readable :class:`InvalidArgument` for a pydantic error: the first problem, naming
    the argument as the caller spelled it (no pydantic URL, no multi-line dump)."""
    first = error.errors(include_url=False)[0]
    loc = [str(part) for part in first.get("loc", ())]
    name = loc[0] if loc else "arguments"
    argument = ".".join(loc) or "arguments"
    value = first.get("input")
    if first.get("type") == "missing":
        value = None
    reason = _reason(first, model, name)
    others = len(error.errors()) - 1
    if others:
        reason += f" (and {others} more problem{'s' if others > 1 else ''})"
    return InvalidArgument(argument, value, reason)


def stop_after_start(stop: int | None, info: ValidationInfo) -> int | None:
    """Field validator of ``stop`` (declared after ``start``): a frame range selects a frame."""
    start = info.data.get("start", 0)
    if stop is not None and stop <= start:
        raise ValueError(f"must be greater than start={start}")
    return stop


def parse(model: type[P], data: Mapping[str, Any] | BaseModel) -> P:
    """Validate ``data`` with ``model``; :class:`InvalidArgument` naming the first bad argument."""
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    if not isinstance(data, Mapping):
        raise InvalidArgument("arguments", data, "expected an object of named arguments")
    try:
        return model.model_validate(dict(data))
    except ValidationError as e:
        raise validation_error(e, model) from None
