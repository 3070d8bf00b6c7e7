"""The path policy: every path a tool reads or writes lies inside the allowed roots.

The MCP server resolves path arguments with it when a job is submitted, and the worker checks
every file again where it is opened or written (a frame swapped for a symlink to a file outside
the roots between submit and run is refused). Paths are resolved (``~``, ``..`` and symlinks
included) before the containment check; errors name the argument. Light: no numpy at import.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from hdr_mcp.errors import InvalidArgument

__all__ = ["PathPolicy"]


class PathPolicy:
    """Paths allowed inside ``roots`` (resolved; the first root anchors relative paths).

    ``roots=None`` allows everything (the CLI and library calls: a local user's own files).
    """

    def __init__(self, roots: Sequence[Path | str] | None) -> None:
        self.roots = None if roots is None else [Path(r).expanduser().resolve() for r in roots]

    def check(self, argument: str, path: Path | str) -> Path:
        """``path`` resolved, or :class:`InvalidArgument` when it leaves the roots (a file a
        job is about to open or write)."""
        return self.resolve(argument, str(path), must_exist=False)

    def resolve(
        self,
        argument: str,
        value: str,
        *,
        must_exist: bool = True,
        kind: Literal["file", "dir", "any"] = "any",
    ) -> Path:
        """Resolve a path argument inside the allowed roots.

        Relative paths are taken from the first root (the working directory by default).
        ``file://`` URIs naming this machine are accepted; any other URI scheme or host is
        refused. Symlinks are followed before the containment check, so a link that points
        outside the roots is refused.
        """
        with _os_errors(argument, value):
            candidate = Path(_local_text(argument, value)).expanduser()
            if not candidate.is_absolute():
                candidate = (self.roots[0] if self.roots else Path.cwd()) / candidate
            resolved = candidate.resolve()
            if self.roots is not None and not any(
                resolved.is_relative_to(root) for root in self.roots
            ):
                allowed = ", ".join(str(r) for r in self.roots)
                raise InvalidArgument(
                    argument,
                    value,
                    f"resolves to {resolved}, outside the allowed roots ({allowed}); "
                    "start the server with --root to allow another directory",
                )
            if must_exist and not resolved.exists():
                raise InvalidArgument(argument, value, f"no such file or directory: {resolved}")
            if must_exist and kind == "file" and not resolved.is_file():
                raise InvalidArgument(argument, value, f"{resolved} is not a file")
            if must_exist and kind == "dir" and not resolved.is_dir():
                raise InvalidArgument(argument, value, f"{resolved} is not a directory")
        return resolved

    def resolve_input(
        self, argument: str, value: str, suffixes: frozenset[str] | None = None
    ) -> Path:
        """An input that is a file, a folder of frames, or a printf/hash/glob frame pattern.

        A pattern's folder is resolved like any path. For a folder or a pattern every frame it
        names must resolve inside the roots too: a frame may be a symlink to anywhere.
        """
        text = Path(_local_text(argument, value))
        if any(ch in text.name for ch in "%#*?["):
            try:
                folder = self.resolve(argument, str(text.parent), kind="dir")
            except InvalidArgument as e:
                raise InvalidArgument(argument, value, e.reason) from e
            path = folder / text.name
        else:
            path = self.resolve(argument, value)
            if path.is_file():
                return path
        from hdr_mcp.io.sequence import list_frames  # numpy: at call time, never at start-up

        with _os_errors(argument, value):
            try:
                frames = list_frames(path, suffixes) if suffixes else list_frames(path)
            except InvalidArgument as e:
                raise InvalidArgument(argument, value, e.reason) from e
        for frame in frames:
            self.resolve(argument, str(frame), kind="file")
        return path

    def resolve_output(self, argument: str, value: str) -> Path:
        """Resolve an output folder argument (it need not exist; a file there is refused)."""
        path = self.resolve(argument, value, must_exist=False)
        with _os_errors(argument, value):
            if path.exists() and not path.is_dir():
                raise InvalidArgument(argument, value, f"{path} exists and is not a directory")
        return path


@contextmanager
def _os_errors(argument: str, value: str) -> Iterator[None]:
    """A path the OS refuses (name too long, symlink loop, no permission) names its argument."""
    try:
        yield
    except OSError as e:
        raise InvalidArgument(argument, value, f"cannot be resolved: {e.strerror or e}") from e


def _local_text(argument: str, value: str) -> str:
    """The local path a path argument names: ``file://`` URIs decoded, other URIs refused."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(argument, value, "expected a non-empty path")
    text = value.strip()
    parsed = urlparse(text)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidArgument(argument, value, "file:// URIs must name a file on this machine")
        text = unquote(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
        raise InvalidArgument(argument, value, "only local paths and file:// URIs are accepted")
    if "\0" in text:  # checked after decoding: file:///a%00b
        raise InvalidArgument(argument, value, "path contains a NUL byte")
    return text
