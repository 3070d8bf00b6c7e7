"""Registry of job kinds: kind -> ``"module:function"``, imported only when a job runs.

Keeping targets as strings means the MCP server can list and validate kinds without
importing torch; only the worker imports a handler's module, the first time it runs one.

Three sources, later ones overriding earlier ones:

1. the built-in table :data:`BUILTIN_HANDLERS`;
2. ``$HDR_MCP_EXTRA_HANDLERS="kind=module:function,kind2=module:function"``, read at every
   lookup, so plugins (and tests) can add kinds to a worker started in another process;
3. :func:`register` calls in this process.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from hdr_mcp.errors import HdrMcpError, InvalidArgument

__all__ = [
    "BUILTIN_HANDLERS",
    "EXTRA_HANDLERS_ENV",
    "Handler",
    "handlers",
    "kinds",
    "register",
    "resolve",
    "target_of",
    "unregister",
]

#: ``handler(params, ctx) -> dict`` (JSON-able result).
Handler = Callable[[dict, Any], Any]

BUILTIN_HANDLERS: Mapping[str, str] = MappingProxyType({
    "evaluate": "hdr_mcp.metrics.evaluate:run",
    "sdr_to_hdr_video": "hdr_mcp.pipelines.sdr_to_hdr:run",
})

EXTRA_HANDLERS_ENV = "HDR_MCP_EXTRA_HANDLERS"

_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

# Registrations made by this process (tests, plugins); the built-ins stay immutable.
_registered: dict[str, str] = {}


def _check(argument: str, kind: str, target: str) -> None:
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise InvalidArgument(argument, kind, "a job kind is letters, digits, '_', '-', '.'")
    if not isinstance(target, str) or not _TARGET.match(target):
        raise InvalidArgument(
            argument, target, "a handler target looks like 'package.module:function'"
        )


def _from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    raw = (os.environ if environ is None else environ).get(EXTRA_HANDLERS_ENV, "")
    table: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kind, sep, target = item.partition("=")
        if not sep:
            raise InvalidArgument(
                EXTRA_HANDLERS_ENV, raw, f"entry {item!r} is not 'kind=module:function'"
            )
        kind, target = kind.strip(), target.strip()
        _check(EXTRA_HANDLERS_ENV, kind, target)
        table[kind] = target
    return table


def handlers(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The effective table kind -> target (built-ins, then the env var, then register())."""
    return {**BUILTIN_HANDLERS, **_from_env(environ), **_registered}


def kinds(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Known job kinds, sorted."""
    return tuple(sorted(handlers(environ)))


def register(kind: str, target: str) -> None:
    """Add or replace ``kind`` in this process; ``target`` is ``"module:function"``."""
    _check("target", kind, target)
    _registered[kind] = target


def unregister(kind: str) -> None:
    """Undo :func:`register` (built-ins and env-var entries stay)."""
    _registered.pop(kind, None)


def target_of(
    kind: str, environ: Mapping[str, str] | None = None, *, argument: str = "kind"
) -> str:
    """The ``"module:function"`` of ``kind``; :class:`InvalidArgument` (naming ``argument``)
    listing the known kinds if it is unknown."""
    table = handlers(environ)
    try:
        return table[kind]
    except (KeyError, TypeError):
        raise InvalidArgument(
            argument, kind, f"unknown job kind; known kinds: {', '.join(sorted(table))}"
        ) from None


def resolve(kind: str, environ: Mapping[str, str] | None = None) -> Handler:
    """Import and return the handler function of ``kind``.

    Raises :class:`InvalidArgument` for an unknown kind and :class:`HdrMcpError` when the
    handler's module cannot be imported (a missing optional dependency, usually), chained to
    the import error.
    """
    target = target_of(kind, environ)
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise HdrMcpError(
            f"handler {target!r} of job kind {kind!r} cannot be imported: "
            f"{type(e).__name__}: {e}"
        ) from e
    try:
        handler = getattr(module, attr)
    except AttributeError as e:
        raise HdrMcpError(f"handler {target!r} of job kind {kind!r}: module has no {attr!r}") from e
    if not callable(handler):
        raise HdrMcpError(f"handler {target!r} of job kind {kind!r} is not callable")
    return handler
