"""Named exceptions shared by every layer.

Every user-facing failure is an :class:`HdrMcpError`. :class:`InvalidArgument` names the
argument and the offending value, so the CLI can print one line and the MCP server can return a
tool error that tells an agent exactly what to change.
"""

from __future__ import annotations

from typing import Any


class HdrMcpError(Exception):
    """Base class of the errors hdr-mcp raises on purpose (never a bug).

    Every subclass pickles as it is, whatever its constructor takes, so an error raised in
    another process (a multiprocessing pool, a Ray actor) arrives whole.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[HdrMcpError], args: tuple, state: dict[str, Any]) -> HdrMcpError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


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

    @classmethod
    def from_validation_error(cls, error: Any) -> InvalidArgument:
        """The first error of a pydantic ``ValidationError``, naming its field (dotted for
        nested ones; ``params`` when the whole object is wrong), its input and pydantic's reason.

        Job handlers validate their ``params`` dict with a pydantic model and raise this.
        """
        first = error.errors()[0]
        argument = ".".join(str(part) for part in first.get("loc", ())) or "params"
        return cls(argument, first.get("input"), first.get("msg", "invalid"))


class UnsupportedFile(InvalidArgument):
    """A file exists but cannot be read as the kind of image or video expected."""
