"""What a job handler sees of the world: progress, log, cancellation, a working directory.

Every long operation is ``run(params: dict, ctx: JobContext) -> dict``. The same handler runs
in a worker (:class:`StoreContext`, backed by the job store), from the CLI or a test
(:class:`LocalContext`), so handlers never touch the store or know where they run.

Handlers report with ``ctx.progress(done, total, message)`` as often as they like (writes are
throttled), call ``ctx.should_stop()`` between steps (diffusers' ``callback_on_step_end``,
each training step, each video frame) and, when it is true, clean up and raise
:class:`JobCancelled` (``ctx.raise_if_stopped()`` does both checks in one line).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs.store import LOG_LEVELS

if TYPE_CHECKING:
    from hdr_mcp.jobs.store import JobStore

__all__ = ["JobCancelled", "JobContext", "LocalContext", "StoreContext"]

_log = logging.getLogger("hdr_mcp.jobs")

#: The job log's levels (the store's) -> the ``logging`` levels they are echoed at.
_LEVELS = {level: getattr(logging, level.upper()) for level in LOG_LEVELS}


class JobCancelled(HdrMcpError):
    """Raised by a handler that stopped because ``ctx.should_stop()`` became true."""

    def __init__(self, message: str = "job cancelled") -> None:
        super().__init__(message)


class JobContext:
    """Base class of job contexts; subclasses implement the four reporting methods.

    Attributes
    ----------
    job_id
        Id of the job (``"local"`` outside a job store).
    workdir
        Directory the handler may write to; it exists. Resumable handlers keep their
        checkpoints here, since a retry gets the same directory.
    """

    job_id: str
    workdir: Path

    def progress(self, done: float, total: float | None, message: str = "") -> None:
        """Report ``done`` of ``total`` units of work (any unit: steps, frames, images)."""
        raise NotImplementedError

    def log(self, message: str, level: str = "info") -> None:
        """Append a line to the job's log (``level``: debug, info, warning, error)."""
        raise NotImplementedError

    def should_stop(self) -> bool:
        """True once the job was cancelled or its worker is shutting down."""
        raise NotImplementedError

    def raise_if_stopped(self) -> None:
        """Raise :class:`JobCancelled` if :meth:`should_stop` is true."""
        if self.should_stop():
            raise JobCancelled()


def _check_level(level: str) -> None:
    if level not in _LEVELS:
        raise InvalidArgument("level", level, f"must be one of {', '.join(_LEVELS)}")


class LocalContext(JobContext):
    """A context for the CLI and tests: no store, progress goes to a callback.

    Parameters
    ----------
    workdir
        Working directory (created if missing).
    on_progress
        Called as ``on_progress(done, total, message)`` on every progress report, unthrottled.
    stop_event
        When set, :meth:`should_stop` is true (e.g. set it from a Ctrl-C handler).
    job_id
        Name shown in log records.
    """

    def __init__(
        self,
        workdir: Path | str,
        on_progress: Callable[[float, float | None, str], None] | None = None,
        stop_event: threading.Event | None = None,
        *,
        job_id: str = "local",
    ) -> None:
        self.job_id = job_id
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._on_progress = on_progress
        self._stop_event = stop_event
        #: Every ``(level, message)`` logged, for tests and for the CLI to print at the end.
        self.messages: list[tuple[str, str]] = []

    def progress(self, done: float, total: float | None, message: str = "") -> None:
        if self._on_progress is not None:
            self._on_progress(done, total, message)

    def log(self, message: str, level: str = "info") -> None:
        _check_level(level)
        self.messages.append((level, str(message)))
        _log.log(_LEVELS[level], "[%s] %s", self.job_id, message)

    def should_stop(self) -> bool:
        return self._stop_event is not None and self._stop_event.is_set()


class StoreContext(JobContext):
    """The context a worker gives a handler: reports go to the job store.

    Progress writes are throttled to one per ``progress_interval_s`` (a diffusion loop may
    report hundreds of times a second); the latest report is written when it completes the
    job (``done >= total``), on :meth:`flush` and at the next report after the interval, so
    the final value is never lost. ``should_stop`` reads the job's ``cancel_requested`` at
    most every ``stop_poll_s`` and is true at once when ``stop_event`` (the worker's shutdown
    flag) is set.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        *,
        workdir: Path | None = None,
        stop_event: threading.Event | None = None,
        progress_interval_s: float = 0.1,
        stop_poll_s: float = 0.2,
    ) -> None:
        self.job_id = job_id
        self.workdir = Path(workdir) if workdir is not None else store.workdir(job_id)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._store = store
        self._stop_event = stop_event
        self._progress_interval_s = progress_interval_s
        self._stop_poll_s = stop_poll_s
        self._last_write = float("-inf")
        self._pending: tuple[float, float | None, str] | None = None
        self._lock = threading.Lock()
        self._last_stop_check = float("-inf")
        self._cancel_requested = False
        #: True once should_stop() returned true (the worker uses it to tell a handler that
        #: stopped on request from one that failed on its own).
        self.stop_observed = False

    def progress(self, done: float, total: float | None, message: str = "") -> None:
        with self._lock:
            self._pending = (done, total, message)
            now = time.monotonic()
            complete = total is not None and done >= total
            if complete or now - self._last_write >= self._progress_interval_s:
                self._flush_locked()

    def flush(self) -> None:
        """Write the latest unwritten progress report, if any.

        Thread-safe: the worker's heartbeat thread calls it so a report made just before a
        long silent step still reaches the store.
        """
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending is None:
            return
        done, total, message = self._pending
        self._pending = None
        self._last_write = time.monotonic()
        self._store.set_progress(self.job_id, done, total, message)

    def log(self, message: str, level: str = "info") -> None:
        _check_level(level)
        _log.log(_LEVELS[level], "[%s] %s", self.job_id, message)
        self._store.append_log(self.job_id, str(message), level)

    @property
    def cancel_requested(self) -> bool:
        """Whether a client asked to cancel (as of the last poll), as opposed to a shutdown."""
        return self._cancel_requested

    def should_stop(self) -> bool:
        stop = self._stop_event is not None and self._stop_event.is_set()
        now = time.monotonic()
        if not self._cancel_requested and now - self._last_stop_check >= self._stop_poll_s:
            self._last_stop_check = now
            self._cancel_requested = self._store.cancel_requested(self.job_id)
        stop = stop or self._cancel_requested
        self.stop_observed = self.stop_observed or stop
        return stop
