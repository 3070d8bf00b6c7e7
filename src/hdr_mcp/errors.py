"""Named exceptions shared by every layer.

Every user-facing failure is an :class:`HdrMcpError`. :class:`InvalidArgument` names the
argument and the offending value, so the CLI can print one line and the MCP server can return a
tool error that tells an agent exactly what to change.
"""

from __future__ import annotations

from typing import Any


class HdrMcpError(Exception):
    """Base class of the errors hdr-mcp raises on purpose (never a bug)."""


class InvalidArgument(HdrMcpError, ValueError):
    """An argument has a value that cannot be used.

    Parameters
    ----------
    argument
        Name of the argument as the caller spelled it (``"path"``, ``"curve"``, ...).
    value
        The offending value; it is shown with ``repr`` (long values are shortened).
    reason
        What is wrong and, where possible, what would be accepted.
    """

    def __init__(self, argument: str, value: Any, reason: str) -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        super().__init__(f"{argument}={shown}: {reason}")


class UnsupportedFile(InvalidArgument):
    """A file exists but cannot be read as the kind of image or video expected."""
