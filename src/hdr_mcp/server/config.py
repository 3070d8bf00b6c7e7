"""Server configuration: data folder, output directory, allowed roots, how jobs run.

A tool may only read and write inside its *allowed roots*: by default the working directory
the server was started in and the output directory. Every path argument goes through the path
policy (:mod:`hdr_mcp.paths`); the error names the argument, so an agent knows which value to
change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.jobs import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS
from hdr_mcp.paths import PathPolicy

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
    #: ``local`` (workers as ``worker`` says) or ``ray``: a Ray pool supervised by the server.
    backend: str = "local"
    #: Ray cluster address (``None``: a local cluster); ``ray_actors``, ``cpus_per_actor``:
    #: see :class:`hdr_mcp.jobs.ray_backend.RayPool`.
    ray_address: str | None = None
    ray_actors: int | None = None
    cpus_per_actor: float = 1.0

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
        if self.backend not in ("local", "ray"):
            raise InvalidArgument("backend", self.backend, "expected 'local' or 'ray'")
        if self.backend != "ray" and self.ray_address is not None:
            raise InvalidArgument("ray_address", self.ray_address, "only with backend='ray'")
        if self.backend == "ray" and self.worker != "spawn":
            raise InvalidArgument("worker", self.worker, "only with backend='local' (with "
                                  "backend='ray' the server supervises a pool of Ray actors)")

    @classmethod
    def from_env(
        cls,
        *,
        home: Path | None = None,
        roots: list[Path] | None = None,
        output_dir: Path | None = None,
        worker: WorkerMode = "spawn",
        **backend: Any,
    ) -> ServerConfig:
        """Build a configuration from arguments, falling back to ``HDR_MCP_*`` variables;
        ``backend`` holds ``backend``, ``ray_address``, ``ray_actors``, ``cpus_per_actor``."""
        from hdr_mcp.jobs.store import default_home
        from hdr_mcp.outputs import default_output_root

        home = Path(home) if home else default_home()
        output = output_dir or default_output_root(home)
        roots = list(roots or []) or _split_roots(os.environ.get("HDR_MCP_ROOTS"))
        return cls(home=home, output_dir=Path(output), roots=roots, worker=worker, **backend)

    # -- path policy (hdr_mcp.paths) ----------------------------------------------------------

    @property
    def policy(self) -> PathPolicy:
        return PathPolicy(self.roots)

    def resolve(self, argument: str, value: str, **kwargs: Any) -> Path:
        return self.policy.resolve(argument, value, **kwargs)

    def resolve_input(self, argument: str, value: str, suffixes: frozenset[str] | None = None) -> Path:
        return self.policy.resolve_input(argument, value, suffixes)

    def resolve_output(self, argument: str, value: str | None, default_name: str) -> Path:
        """Resolve an output folder argument; ``None`` gives a fresh folder in output_dir."""
        if value is None:
            return self.output_dir / default_name
        return self.policy.resolve_output(argument, value)
