"""What a job handler sees of the world: progress, log, cancellation, a working directory,
the allowed roots, the device and the worker's model cache.

Every long operation is ``run(params, ctx: JobContext) -> dict``. The same handler runs in a
worker (:class:`StoreContext`, backed by the job store), from the CLI or a test
(:class:`LocalContext`), so handlers never touch the store or know where they run.

Handlers report with ``ctx.progress(done, total, message)`` as often as they like (writes are
throttled), call ``ctx.should_stop()`` between steps (diffusers' ``callback_on_step_end``,
each training step, each video frame) and, when it is true, clean up and raise
:class:`JobCancelled` (``ctx.raise_if_stopped()`` does both checks in one line). Every file a
handler opens or writes goes through ``ctx.check_path(argument, path)`` first: a worker refuses
paths outside the roots the job was submitted with, whatever happened on disk since.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs.store import LOG_LEVELS, LeaseLost
from hdr_mcp.paths import PathPolicy

if TYPE_CHECKING:
    from hdr_mcp.jobs.store import Job, JobStore

__all__ = ["JobCancelled", "JobContext", "JobTimedOut", "LocalContext", "StoreContext"]

_log = logging.getLogger("hdr_mcp.jobs")

#: The job log's levels (the store's) -> the ``logging`` levels they are echoed at.
_LEVELS = {level: getattr(logging, level.upper()) for level in LOG_LEVELS}


class JobCancelled(HdrMcpError):
    """Raised by a handler that stopped because ``ctx.should_stop()`` became true."""

    def __init__(self, message: str = "job cancelled") -> None:
        super().__init__(message)


class JobTimedOut(HdrMcpError):
    """The attempt ran past its kind's ``timeout_s``."""


class JobContext:
    """Base class of job contexts; subclasses implement the reporting methods.

    Attributes
    ----------
    job_id
        Id of the job (``"local"`` outside a job store).
    workdir
        Directory the handler may write to; it exists. Resumable handlers keep their
        checkpoints here, since a retry gets the same directory.
    attempt
        1 for the first run of a job, 2 for its first retry, ...
    device
        Where heavy work runs: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (the worker's device).
    offload
        ``None``, ``"model"`` or ``"sequential"``: how to load pipelines on a small GPU.
    """

    job_id: str
    workdir: Path
    attempt: int = 1
    device: str = "cpu"
    offload: str | None = None
    _policy: PathPolicy = PathPolicy(None)
    _models: Any = None

    def progress(self, done: float, total: float | None, message: str = "") -> None:
        """Report ``done`` of ``total`` units of work (any unit: steps, frames, images)."""
        raise NotImplementedError

    def log(self, message: str, level: str = "info") -> None:
        """Append a line to the job's log (``level``: debug, info, warning, error)."""
        raise NotImplementedError

    def should_stop(self) -> bool:
        """True once the job was cancelled, timed out or its worker is shutting down."""
        raise NotImplementedError

    def raise_if_stopped(self) -> None:
        """Raise :class:`JobCancelled` if :meth:`should_stop` is true."""
        if self.should_stop():
            raise JobCancelled()

    def check_path(self, argument: str, path: Path | str) -> Path:
        """``path`` resolved; :class:`InvalidArgument` naming ``argument`` when it leaves the
        roots the job was submitted with (no roots: anything goes)."""
        return self._policy.check(argument, path)

    @property
    def models(self) -> Any:
        """The model cache (:class:`hdr_mcp.models.cache.ModelCache`): pipelines stay loaded
        from one job to the next on a worker; created on first use (it imports torch)."""
        if self._models is None:
            from hdr_mcp.models.cache import ModelCache

            self._models = ModelCache()
        return self._models


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
    roots
        Allowed roots for :meth:`check_path` (None: unrestricted).
    models
        A model cache to share (default: one created on first use).
    device
        Where heavy work runs.
    """

    def __init__(
        self,
        workdir: Path | str,
        on_progress: Callable[[float, float | None, str], None] | None = None,
        stop_event: threading.Event | None = None,
        *,
        job_id: str = "local",
        roots: list[str] | None = None,
        models: Any = None,
        device: str = "cpu",
    ) -> None:
        self.job_id = job_id
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._on_progress = on_progress
        self._stop_event = stop_event
        self._policy = PathPolicy(roots)
        self._models = models
        self.device = device
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
    """The context a worker gives a handler: reports go to the job store under the job's lease.

    Progress writes are throttled to one per ``progress_interval_s`` (a diffusion loop may
    report hundreds of times a second); the latest report is written when it completes the
    job (``done >= total``), on :meth:`flush` and at the next report after the interval, so
    the final value is never lost. ``should_stop`` reads the job's cancel flag and lease at
    most every ``stop_poll_s``, and is true at once when ``stop_event`` (the worker's shutdown
    flag) is set or the attempt's deadline has passed.

    Every write carries the claim's lease: once another worker took the job over (this one
    was presumed dead), :meth:`progress` and :meth:`log` raise :class:`LeaseLost` and
    :meth:`should_stop` is true, so a paused-then-resumed worker never touches the job again.
    """

    def __init__(
        self,
        store: JobStore,
        job: Job,
        *,
        workdir: Path | None = None,
        stop_event: threading.Event | None = None,
        progress_interval_s: float = 0.1,
        stop_poll_s: float = 0.2,
        models: Any = None,
        device: str = "cpu",
        offload: str | None = None,
    ) -> None:
        self.job_id = job.id
        self.offload = offload
        self.lease = job.lease
        self.attempt = job.attempts
        self.device = device
        self.workdir = Path(workdir) if workdir is not None else store.workdir(job.id)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.timeout_s = job.timeout_s
        self._deadline = None if job.timeout_s is None else time.monotonic() + job.timeout_s
        self._policy = PathPolicy(job.roots)
        self._models = models
        self._store = store
        self._stop_event = stop_event
        self._progress_interval_s = progress_interval_s
        self._stop_poll_s = stop_poll_s
        self._last_write = float("-inf")
        self._pending: tuple[float, float | None, str] | None = None
        self._lock = threading.Lock()
        # The claim just read the job (not cancelled, lease held): the first poll is due one
        # interval later, so a job shorter than that costs no read (a round trip on Ray).
        self._last_stop_check = time.monotonic()
        self._cancel_requested = False
        #: True once the job's claim was found taken over (set by any thread).
        self.lease_lost = False
        #: True once the attempt ran past ``timeout_s``.
        self.timed_out = False
        #: True once should_stop() returned true (the worker uses it to tell a handler that
        #: stopped on request from one that failed on its own).
        self.stop_observed = False

    def progress(self, done: float, total: float | None, message: str = "") -> None:
        if self.lease_lost:
            raise LeaseLost(self.job_id)
        with self._lock:
            self._pending = (done, total, message)
            now = time.monotonic()
            complete = total is not None and done >= total
            if complete or now - self._last_write >= self._progress_interval_s:
                self._flush_locked()
        if self.lease_lost:
            raise LeaseLost(self.job_id)

    def flush(self) -> None:
        """Write the latest unwritten progress report, if any.

        Thread-safe: the worker's heartbeat thread calls it so a report made just before a
        long silent step still reaches the store. Never raises for a lost lease (it sets
        :attr:`lease_lost`; the handler's thread raises).
        """
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending is None or self.lease_lost:
            return
        done, total, message = self._pending
        self._pending = None
        self._last_write = time.monotonic()
        if not self._store.set_progress(self.job_id, done, total, message, lease=self.lease):
            self.lease_lost = True

    def log(self, message: str, level: str = "info") -> None:
        _check_level(level)
        if self.lease_lost:
            raise LeaseLost(self.job_id)
        _log.log(_LEVELS[level], "[%s] %s", self.job_id, message)
        try:
            self._store.append_log(self.job_id, str(message), level, lease=self.lease)
        except LeaseLost:
            self.lease_lost = True
            raise

    @property
    def cancel_requested(self) -> bool:
        """Whether a client asked to cancel (as of the last poll), as opposed to a shutdown."""
        return self._cancel_requested

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline:
            self.timed_out = True
        if not (self._cancel_requested or self.lease_lost) and (
            now - self._last_stop_check >= self._stop_poll_s
        ):
            self._last_stop_check = now
            self._cancel_requested, held = self._store.job_signals(self.job_id, self.lease)
            self.lease_lost = self.lease_lost or not held
        stop = (
            (self._stop_event is not None and self._stop_event.is_set())
            or self._cancel_requested
            or self.lease_lost
            or self.timed_out
        )
        self.stop_observed = self.stop_observed or stop
        return stop
