"""Typer commands built from parameter models (:mod:`hdr_mcp.params`).

A command's options are its model's fields: ``output_dir`` becomes ``--output-dir``, a field
marked ``Cli(argument=True)`` a positional argument, ``Cli(aliases=...)`` adds hidden old
spellings. The values go through the model, so the CLI validates exactly as the MCP tool and
the job handler do, and an error names the argument the way both of them do.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, Literal, Optional, get_args, get_origin

import typer
from pydantic import BaseModel

from hdr_mcp.errors import HdrMcpError
from hdr_mcp.params import cli_of, parse

__all__ = ["params_command", "user_errors"]

_KW = inspect.Parameter.KEYWORD_ONLY


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr (``error: argument=value: reason``) and
    exit status 2; Ctrl-C into status 130."""
    try:
        yield
    except HdrMcpError as e:
        sys.stderr.write(f"error: {e}\n")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None


def _is_optional(annotation: Any) -> tuple[bool, Any]:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(get_args(annotation)) == 2:
            return True, args[0]
    return False, annotation


def _cli_type(annotation: Any) -> tuple[Any, str | None]:
    """The type typer parses, and a metavar listing the choices of a list of literals (typer
    cannot parse those; the model validates the strings)."""
    optional, inner = _is_optional(annotation)
    if get_origin(inner) is dict:  # a JSON object on the command line; the model parses it
        return Optional[str], "JSON"  # noqa: UP045
    if get_origin(inner) is list:
        (item,) = get_args(inner)
        metavar = "{" + "|".join(map(str, get_args(item))) + "}" if get_origin(item) is Literal else None
        return Optional[list[str]], metavar  # noqa: UP045 (typer reads typing.Optional)
    return (Optional[inner] if optional else inner), None  # noqa: UP045


def _parameter(model: type[BaseModel], name: str) -> list[inspect.Parameter]:
    """The typer parameter of one field, plus one hidden parameter per old spelling."""
    field = model.model_fields[name]
    cli = cli_of(model, name)
    annotation, metavar = _cli_type(field.annotation)
    required = field.is_required()
    default = inspect.Parameter.empty if required else (
        None if field.default_factory is not None else field.default
    )
    if required and cli.aliases:  # given by its old spelling: the model checks it is there
        default, annotation = None, Optional[_is_optional(annotation)[1]]  # noqa: UP045
    help_text = field.description or ""
    if cli.argument:
        info = typer.Argument(help=help_text, metavar=name.upper(), show_default=False)
    else:
        flag = "--" + name.replace("_", "-")
        decls = [f"{flag}/--no-{flag[2:]}"] if annotation is bool and default is True else [flag]
        info = typer.Option(*decls, help=help_text, metavar=metavar,
                            show_default=not any(default is v for v in (None, inspect.Parameter.empty, False)))
    params = [inspect.Parameter(name, _KW, default=default, annotation=Annotated[annotation, info])]
    for i, alias in enumerate(cli.aliases):
        hidden_type = annotation if annotation is bool else Optional[_is_optional(annotation)[1]]  # noqa: UP045
        params.append(inspect.Parameter(
            f"{name}__alias{i}", _KW, default=None,
            annotation=Annotated[hidden_type, typer.Option(alias, hidden=True)],
        ))
    return params


def _collect(values: dict[str, Any]) -> dict[str, Any]:
    """Command-line values -> model input: an old spelling wins when given; unset optional
    values and empty lists are left to the model's defaults."""
    data: dict[str, Any] = {}
    spelled_old: dict[str, Any] = {}
    for key, value in values.items():
        field, old, _ = key.partition("__alias")
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        value = list(value) if isinstance(value, tuple) else value
        if old:
            spelled_old[field] = value
        else:
            data[field] = value
    return {**data, **spelled_old}


def params_command(
    app: typer.Typer,
    model: type[BaseModel],
    run: Callable[..., None],
    *,
    name: str,
    help: str,
    aliases: Sequence[str] = (),
    extra: Sequence[inspect.Parameter] = (),
) -> None:
    """Register ``name`` (and hidden ``aliases``) on ``app``.

    The options are ``model``'s fields followed by ``extra`` typer parameters (``--json``,
    ``--home``); ``run(params, **extra_values)`` gets the validated model.
    """
    fields = [p for n in model.model_fields if not cli_of(model, n).hidden for p in _parameter(model, n)]
    extra_names = {p.name for p in extra}

    def command(**values: Any) -> None:
        extras = {k: values.pop(k) for k in list(values) if k in extra_names}
        with user_errors():
            params = parse(model, _collect(values))
            run(params, **extras)

    command.__signature__ = inspect.Signature([*fields, *extra])  # type: ignore[attr-defined]
    command.__doc__ = help
    app.command(name, help=help)(command)
    for alias in aliases:
        app.command(alias, help=help, hidden=True)(command)
