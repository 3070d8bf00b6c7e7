"""MCP tools built from parameter models (:mod:`hdr_mcp.params`).

A :class:`ParamsTool` takes its input schema from one pydantic model, validates a call with the
same model (unknown arguments refused, naming them), and answers every expected failure (a bad
argument, a path outside the roots, a failed job) as one readable line in a tool error, the
way the CLI prints it, without the SDK's "Error executing tool" prefix or pydantic's URLs.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.params import parse
from hdr_mcp.params.jobs import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS

__all__ = ["WAIT_SECONDS_SCHEMA", "ParamsTool", "error_result"]

#: Body of a tool: ``(params, ctx, wait_seconds) -> result``; ``wait_seconds`` is None for
#: tools that do not wait.
Body = Callable[[Any, "Context | None", "float | None"], Awaitable[Any]]

WAIT_SECONDS_SCHEMA: dict[str, Any] = {
    "type": "number",
    "minimum": 0,
    "maximum": MAX_WAIT_SECONDS,
    "default": DEFAULT_WAIT_SECONDS,
    "description": "How long to wait for the result before returning a job handle "
    f"(seconds, at most {MAX_WAIT_SECONDS:g}); slow work is never an error.",
}


def error_result(message: str) -> CallToolResult:
    """A tool error carrying one readable line."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _input_schema(model: type[BaseModel], waits: bool) -> dict[str, Any]:
    schema = copy.deepcopy(model.model_json_schema())
    schema.pop("title", None)
    schema.pop("description", None)
    schema["additionalProperties"] = False
    if waits:
        schema.setdefault("properties", {})["wait_seconds"] = dict(WAIT_SECONDS_SCHEMA)
    return schema


def _wait_seconds(arguments: dict[str, Any]) -> float:
    value = arguments.pop("wait_seconds", DEFAULT_WAIT_SECONDS)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument("wait_seconds", value, "must be a number of seconds")
    if not 0 <= value <= MAX_WAIT_SECONDS:
        raise InvalidArgument("wait_seconds", value, f"must be between 0 and {MAX_WAIT_SECONDS:g}")
    return float(value)


class ParamsTool(Tool):
    """A tool whose arguments are one parameter model."""

    params_model: Any = Field(exclude=True)
    body: Any = Field(exclude=True)
    waits: bool = Field(default=False, exclude=True)

    @classmethod
    def build(
        cls,
        *,
        name: str,
        title: str,
        description: str,
        params: type[BaseModel],
        body: Body,
        annotations: ToolAnnotations,
        output: type[BaseModel] | None = None,
        waits: bool = False,
    ) -> ParamsTool:
        """A tool called ``name`` whose input schema is ``params`` (plus ``wait_seconds`` when it
        ``waits``) and whose structured output follows ``output``."""
        metadata = FuncMetadata(arg_model=ArgModelBase, output_model=output)
        return cls(
            fn=body,
            name=name,
            title=title,
            description=description,
            parameters=_input_schema(params, waits),
            fn_metadata=metadata,
            is_async=True,
            annotations=annotations,
            params_model=params,
            body=body,
            waits=waits,
        )

    async def run(
        self, arguments: dict[str, Any], context: Context, convert_result: bool = False
    ) -> Any:
        try:
            arguments = dict(arguments or {})
            wait = _wait_seconds(arguments) if self.waits else None
            params = parse(self.params_model, arguments)
            result = await self.body(params, context, wait)
        except ToolError as e:
            return error_result(str(e))
        except HdrMcpError as e:
            return error_result(str(e))
        if isinstance(result, BaseModel) and not isinstance(result, CallToolResult):
            data = result.model_dump(mode="json")
            return CallToolResult(
                content=[TextContent(type="text", text=result.model_dump_json(indent=1))],
                structured_content=data,
            )
        return result
