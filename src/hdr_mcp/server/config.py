"""Server configuration and the path policy every tool argument goes through.

A tool may only read and write inside its *allowed roots*: by default the working directory
the server was started in and the output directory. Every path argument is resolved (``~``,
``..`` and symlinks included) and refused when the resolved path leaves all roots. The error
names the argument, so an agent knows which value to change.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.jobs import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS

WorkerMode = Literal["spawn", "thread", "none"]

__all__ = ["DEFAULT_WAIT_SECONDS", "MAX_WAIT_SECONDS", "ServerConfig", "WorkerMode"]


def _split_roots(value: str | None) -> list[Path]:
    if not value:
        return []
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


@dataclass
class ServerConfig:
    """Everything the MCP server needs to know at start.

    Attributes
    ----------
    home
        Data directory of the job store (``$HDR_MCP_HOME`` or the platform's user data dir).
    output_dir
        Where tools write results when the caller gives no ``output_dir``
        (``$HDR_MCP_OUTPUT`` or ``<home>/outputs``).
    roots
        Directories tool arguments may point into; the output directory is always added.
    worker
        ``"spawn"`` starts a detached worker process when none is alive (jobs outlive the MCP
        session), ``"thread"`` runs jobs in a thread of the server process (tests, ``demo``),
        ``"none"`` only queues jobs for workers started elsewhere.
    """

    home: Path
    output_dir: Path
    roots: list[Path] = field(default_factory=list)
    worker: WorkerMode = "spawn"

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser().resolve()
        self.output_dir = Path(self.output_dir).expanduser().resolve()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        roots = [Path(r).expanduser().resolve() for r in self.roots] or [Path.cwd().resolve()]
        if self.output_dir not in roots:
            roots.append(self.output_dir)
        self.roots = roots
        if self.worker not in ("spawn", "thread", "none"):
            raise InvalidArgument("worker", self.worker, "expected 'spawn', 'thread' or 'none'")

    @classmethod
    def from_env(
        cls,
        *,
        home: Path | None = None,
        roots: list[Path] | None = None,
        output_dir: Path | None = None,
        worker: WorkerMode = "spawn",
    ) -> ServerConfig:
        """Build a configuration from arguments, falling back to ``HDR_MCP_*`` variables."""
        from hdr_mcp.jobs.store import default_home
        from hdr_mcp.outputs import default_output_root

        home = Path(home) if home else default_home()
        output = output_dir or default_output_root(home)
        roots = list(roots or []) or _split_roots(os.environ.get("HDR_MCP_ROOTS"))
        return cls(home=home, output_dir=Path(output), roots=roots, worker=worker)

    # -- path policy -------------------------------------------------------------------------

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
                candidate = self.roots[0] / candidate
            resolved = candidate.resolve()
            if not any(resolved.is_relative_to(root) for root in self.roots):
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

    def resolve_output(self, argument: str, value: str | None, default_name: str) -> Path:
        """Resolve an output directory argument; ``None`` gives a fresh folder in output_dir."""
        if value is None:
            return self.output_dir / default_name
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
