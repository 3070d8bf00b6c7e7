"""Worker process: claims queued jobs from the store and runs their handlers.

Run one worker per GPU (``CUDA_VISIBLE_DEVICES=1 hdr-mcp worker``); each claims the oldest
queued job, runs ``handler(params, ctx)`` in its main thread (so signals reach it) while a
daemon thread keeps its heartbeat fresh, and records the outcome:

- handler returns a JSON-able value -> ``succeeded`` with that result;
- handler raises -> ``failed`` with ``"ExceptionType: message"`` (an :class:`HdrMcpError`'s
  message verbatim) and the traceback in the job log;
- handler raises :class:`JobCancelled` (after ``ctx.should_stop()``) -> ``cancelled`` when a
  client cancelled it; when the worker itself is stopping (SIGTERM/SIGINT) -> requeued if
  resumable with attempts left, else ``failed`` ("worker stopped: ...").

SIGTERM or SIGINT asks for a graceful stop: ``ctx.should_stop()`` turns true and the worker
exits after the current job. A second signal interrupts a handler that does not cooperate.
A worker killed outright (SIGKILL, OOM killer, power) is detected by :meth:`JobStore.reap`,
which every worker runs at start and while idle.

``python -m hdr_mcp.jobs.worker --home H [--burst]`` runs one; ``hdr-mcp worker`` calls
:func:`run_worker`; :func:`ensure_worker` starts a detached one for the MCP server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import string
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs.context import JobCancelled, StoreContext
from hdr_mcp.jobs.kinds import job_kind
from hdr_mcp.jobs.store import (
    DEFAULT_STALE_AFTER_S,
    Job,
    JobFinished,
    JobStore,
    LeaseLost,
    default_home,
    install_identity,
)
from hdr_mcp.params.jobs import WorkerParams

__all__ = ["Worker", "ensure_worker", "main", "new_worker_id", "run_worker"]

_log = logging.getLogger("hdr_mcp.jobs.worker")


class _WorkerInterrupted(BaseException):
    """Raised inside a handler by a second stop signal. A BaseException, like
    KeyboardInterrupt, so that a handler's ``except Exception`` does not swallow it."""


def new_worker_id() -> str:
    """A fresh worker id such as ``"w_k3x9q0bz2m"``."""
    return "w_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def describe_exception(e: BaseException) -> str:
    """One line for a job's ``error``: an HdrMcpError's own message, else ``"Type: message"``."""
    if isinstance(e, HdrMcpError):
        return str(e)
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class Worker:
    """Claims and runs jobs from ``store`` until stopped (or, in burst mode, until idle).

    Parameters
    ----------
    store
        The job store.
    worker_id
        Id recorded in the ``workers`` table and on claimed jobs (default: a fresh one).
    kinds
        Only claim jobs of these kinds (default: any kind).
    poll_s
        Seconds between claims while the queue is empty.
    heartbeat_s
        Seconds between heartbeats (a thread, timed on the monotonic clock); keep it well below
        ``stale_after_s``.
    device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (checked at start): handlers load models there; a
        CPU worker leaves jobs that need a GPU alone. Default ``"auto"``: CUDA when torch sees
        a GPU, else CPU.
    stale_after_s
        Heartbeat age after which other workers are presumed dead when this one reaps.
    idle_exit_s
        Exit after this long without a job (spawned workers use it; None: never).
    retention_days
        On start, prune jobs finished longer ago than this (None: keep everything).
    progress_interval_s, stop_poll_s
        Throttles of :class:`StoreContext`.
    models
        The model cache handed to handlers (default: one created on first use, kept for the
        worker's lifetime, with ``memory_budget_bytes``).
    offload
        ``"model"`` or ``"sequential"``: how handlers load pipelines on a small GPU.
    """

    def __init__(
        self,
        store: JobStore,
        worker_id: str | None = None,
        kinds: Sequence[str] | None = None,
        poll_s: float = 0.1,
        heartbeat_s: float = 2.0,
        *,
        device: str | None = "cpu",
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        idle_exit_s: float | None = None,
        retention_days: float | None = None,
        progress_interval_s: float = 0.1,
        stop_poll_s: float = 0.2,
        models: Any = None,
        offload: str | None = None,
        memory_budget_bytes: int | None = None,
    ) -> None:
        if kinds is not None:
            kinds = tuple(kinds)
            for kind in kinds:
                job_kind(kind, argument="kinds")
        for name, value in (("poll_s", poll_s), ("heartbeat_s", heartbeat_s),
                            ("stale_after_s", stale_after_s), ("idle_exit_s", idle_exit_s or 1),
                            ("retention_days", retention_days or 1)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise InvalidArgument(name, value, "must be a positive number")
        self.store = store
        self.worker_id = worker_id or new_worker_id()
        self.kinds = kinds
        self.poll_s = float(poll_s)
        self.heartbeat_s = float(heartbeat_s)
        self.device = resolve_device(device or "cpu")
        self.stale_after_s = float(stale_after_s)
        self.idle_exit_s = idle_exit_s
        self.retention_days = retention_days
        self.progress_interval_s = progress_interval_s
        self.stop_poll_s = stop_poll_s
        self.models = models
        self.offload = offload
        self.memory_budget_bytes = memory_budget_bytes
        self._stop = threading.Event()
        self._current: tuple[str, StoreContext] | None = None
        self._in_handler = False

    @property
    def has_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def held_models(self) -> list[str]:
        """Names of the models this worker holds loaded (what a job's ``model_key`` says)."""
        if self.models is None:
            return []
        return sorted({str(getattr(k, "model", k)) for k in self.models.loaded_keys()})

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to stop after (or, if the handler cooperates, during) the current job."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._stop.is_set() and self._in_handler:
            _log.warning("worker %s: second %s, interrupting the running handler",
                         self.worker_id, name)
            raise _WorkerInterrupted(name)
        _log.info("worker %s: %s, stopping after the current job", self.worker_id, name)
        self._stop.set()

    def _signals(self) -> contextlib.AbstractContextManager[None]:
        return _stop_signals(self._on_signal)

    # -- main loop ---------------------------------------------------------------------------

    def run(self, burst: bool = False) -> int:
        """Claim and run jobs; returns how many jobs this worker ran.

        ``burst=True`` returns as soon as the queue is empty (tests, batch scripts); otherwise
        runs until :meth:`stop`, SIGTERM/SIGINT, ``hdr-mcp workers --stop``, ``idle_exit_s``
        without work, or the store's folder disappearing.
        """
        from hdr_mcp import __version__

        self.store.register_worker(self.worker_id, device=self.device, kinds=self.kinds)
        _log.info("worker %s (pid %d, %s, hdr-mcp %s) started on %s", self.worker_id,
                  os.getpid(), self.device, __version__, self.store.home)
        if self.retention_days is not None:
            pruned = self.store.prune(self.retention_days * 86400.0)
            if pruned:
                _log.info("pruned %d job(s) finished over %g days ago", len(pruned),
                          self.retention_days)
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat_loop, args=(beat_stop,),
                                name=f"heartbeat-{self.worker_id}", daemon=True)
        ran = 0
        try:
            with self._signals():
                beat.start()
                self._reap()
                ran = self._loop(burst)
        finally:
            beat_stop.set()
            if beat.is_alive():
                beat.join(timeout=self.heartbeat_s + 5)
            if self.store.path.exists():
                self.store.stop_worker(self.worker_id)
            _log.info("worker %s stopped after %d job(s)", self.worker_id, ran)
        return ran

    def _loop(self, burst: bool) -> int:
        from hdr_mcp import __version__

        ran = 0
        last_reap = idle_since = time.monotonic()
        while not self._stop.is_set():
            if not self.store.path.exists():
                _log.warning("worker %s: job store %s is gone; exiting", self.worker_id,
                             self.store.path)
                break
            job = self.store.claim(self.worker_id, self.kinds, version=__version__,
                                   gpu=self.has_gpu, models=self.held_models(),
                                   stale_after_s=self.stale_after_s)
            if job is None:
                if burst:
                    break
                if self.idle_exit_s is not None and time.monotonic() - idle_since > self.idle_exit_s:
                    _log.info("worker %s: idle for %g s; exiting", self.worker_id,
                              self.idle_exit_s)
                    break
                if time.monotonic() - last_reap > self.stale_after_s / 2:
                    self._reap()
                    last_reap = time.monotonic()
                self._stop.wait(self.poll_s)
                continue
            self.run_job(job)
            ran += 1
            idle_since = time.monotonic()
        return ran

    def _reap(self) -> None:
        for job in self.store.reap(self.stale_after_s):
            _log.warning("reaped job %s of a dead worker: now %s", job.id, job.status.value)

    def _heartbeat_loop(self, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_s):  # Event.wait times on the monotonic clock
            current = self._current
            try:
                if current is not None:
                    current[1].flush()
                beat = self.store.heartbeat(
                    self.worker_id,
                    current[0] if current else None,
                    lease=current[1].lease if current else None,
                    models=self.held_models(),
                )
            except Exception:  # noqa: BLE001 (a locked or vanished store must not kill the beat)
                _log.exception("worker %s: heartbeat failed", self.worker_id)
                continue
            if current is not None and not beat.holds_job:
                _log.warning("worker %s: lost job %s to another worker (this one was presumed "
                             "dead); stopping it", self.worker_id, current[0])
                current[1].lease_lost = True
            if beat.reaped or beat.stop_requested:
                why = "was presumed dead by another process" if beat.reaped else "was asked to stop"
                _log.warning("worker %s %s; exiting after the current job", self.worker_id, why)
                self._stop.set()

    # -- one job -----------------------------------------------------------------------------

    def run_job(self, job: Job) -> None:
        """Run a job this worker has claimed and record its outcome in the store."""
        if self.models is None and self.memory_budget_bytes is not None:
            from hdr_mcp.models.cache import ModelCache

            self.models = ModelCache(self.memory_budget_bytes)
        ctx = StoreContext(
            self.store, job, stop_event=self._stop, progress_interval_s=self.progress_interval_s,
            stop_poll_s=self.stop_poll_s, models=self.models, device=self.device,
            offload=self.offload,
        )
        if self.models is None:
            self.models = ctx.models  # created on first use; kept for the next jobs
        self._current = (job.id, ctx)
        try:
            self._run_handler(job, ctx)
        finally:
            self._current = None
            if ctx._models is not None:
                self.models = ctx._models

    def _run_handler(self, job: Job, ctx: StoreContext) -> None:
        try:
            kind = job_kind(job.kind)
            handler = kind.handler()
            params = kind.parse(job.params)
            ctx.log(f"running on worker {self.worker_id} (pid {os.getpid()}, {self.device})")
            self._in_handler = True
            try:
                result = handler(params, ctx)
            finally:
                self._in_handler = False
            ctx.flush()
        except LeaseLost:
            _log.warning("job %s: claim taken over; leaving it to its new worker", job.id)
            return
        except JobCancelled as e:
            self._stopped(job, ctx, str(e))
        except _WorkerInterrupted:
            self._stopped(job, ctx, "interrupted by a second stop signal")
        except Exception as e:  # noqa: BLE001 (any handler failure is the job's, not the worker's)
            self._record(job, ctx, self.store.fail, describe_exception(e),
                         tb=traceback.format_exc())
        else:
            if ctx.lease_lost:
                return
            if ctx.stop_observed:
                self._stopped(job, ctx, "handler returned after should_stop()")
                return
            try:
                json.dumps(result, allow_nan=False, sort_keys=True)
            except (TypeError, ValueError) as e:
                self._record(job, ctx, self.store.fail,
                             f"handler returned a result that is not JSON: {e}")
                return
            self._record(job, ctx, self.store.succeed, result)

    def _stopped(self, job: Job, ctx: StoreContext, why: str) -> None:
        """The handler stopped early: cancelled, timed out, lost, or its worker is stopping."""
        if ctx.lease_lost:
            return
        if ctx.timed_out:
            self._record(job, ctx, self.store.fail,
                         f"timed out after {ctx.timeout_s:g} s (the {job.kind} limit)")
            return
        if self.store.cancel_requested(job.id) or not self._stop.is_set():
            self._record(job, ctx, self.store.mark_cancelled)
            return
        reason = (f"worker stopped: worker {self.worker_id} (pid {os.getpid()}) was shut down "
                  f"before the job finished ({why})")
        if job.resumable and job.attempts < job.max_attempts:
            self._record(job, ctx, self.store.requeue, reason)
        else:
            self._record(job, ctx, self.store.fail, reason)

    def _record(
        self, job: Job, ctx: StoreContext, write: Callable[..., bool], *value: Any,
        tb: str | None = None,
    ) -> None:
        """Record the outcome with ``write(job.id, *value, lease=...)``, a store method
        (succeed, fail, mark_cancelled, requeue) that refuses a job this worker lost."""
        try:
            if tb is not None:
                self.store.append_log(job.id, tb.rstrip(), "error", lease=ctx.lease)
            applied = write(job.id, *value, worker_id=self.worker_id, lease=ctx.lease)
        except (JobFinished, LeaseLost) as e:
            applied = False
            _log.warning("job %s: %s", job.id, e)
        if not applied:
            # Reaped while we ran (our heartbeat looked stale) and handed to someone else:
            # their record wins.
            _log.warning("job %s: not recorded as %s, worker %s no longer owns it",
                         job.id, write.__name__, self.worker_id)
        else:
            _log.info("job %s (%s): %s", job.id, job.kind, write.__name__)


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver is present (Linux: its /proc entry; elsewhere nvidia-smi)."""
    import shutil

    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` checked against what torch sees; ``auto``: CUDA when
    available. :class:`InvalidArgument` naming ``device`` otherwise."""
    if device == "cpu":
        return "cpu"
    if device != "auto" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise InvalidArgument("device", device, "expected cpu, cuda, cuda:N or auto")
    if device == "auto" and not _nvidia_driver():
        return "cpu"  # no driver, no GPU: do not pay a torch import to find out
    try:
        import torch
    except ImportError:
        if device == "auto":
            return "cpu"
        raise InvalidArgument("device", device, "needs torch (pip install 'hdr-mcp[diffusion]' "
                              "after a CUDA torch)") from None
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        return "cuda" if count else "cpu"
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        raise InvalidArgument("device", device, f"this machine has {count} CUDA device(s)"
                              + ("" if count else " (torch sees no GPU)"))
    return device


def run_worker(params: WorkerParams | None = None, **overrides: Any) -> int:
    """Run a worker in this process (what ``hdr-mcp worker`` calls); returns the jobs it ran.

    ``params`` (or keyword overrides of its fields) is :class:`hdr_mcp.params.jobs.WorkerParams`.
    """
    from hdr_mcp.params import parse

    p = parse(WorkerParams, {**(params.model_dump() if params else {}), **overrides})
    store = JobStore(Path(p.home).expanduser() if p.home else default_home())
    try:
        if p.backend == "ray":
            return _run_ray_pool(p, store)
        worker = Worker(
            store, p.worker_id, p.kinds, p.poll_seconds, p.heartbeat_seconds,
            device=p.device, stale_after_s=p.stale_after_seconds,
            idle_exit_s=p.idle_exit_seconds, retention_days=p.retention_days,
            offload=p.offload,
            memory_budget_bytes=None if p.memory_budget_gb is None else int(p.memory_budget_gb * 1e9),
        )
        return worker.run(burst=p.burst)
    finally:
        store.close()


def ray_pool(p: WorkerParams, store: JobStore) -> Any:
    """A :class:`hdr_mcp.jobs.ray_backend.RayPool` on ``store`` configured by ``hdr-mcp
    worker --backend ray``'s parameters."""
    from hdr_mcp.jobs.ray_backend import RayPool

    budget = p.memory_budget_gb
    return RayPool(
        store, actors=p.actors, address=p.ray_address, cpus_per_actor=p.cpus_per_actor,
        kinds=p.kinds, poll_s=p.poll_seconds, heartbeat_s=p.heartbeat_seconds,
        stale_after_s=p.stale_after_seconds, offload=p.offload,
        memory_budget_bytes=None if budget is None else int(budget * 1e9),
    )


def _run_ray_pool(p: WorkerParams, store: JobStore) -> int:
    """``hdr-mcp worker --backend ray``: supervise a pool until SIGTERM/SIGINT (``--burst``:
    until nothing is queued or running), then end its actors (a crash leaves them running
    for the next supervisor to adopt)."""
    pool = ray_pool(p, store)
    with _stop_signals(lambda *_: pool.stop()):
        try:
            pool.start()
            _log.info("ray pool on %s: %d actor(s): %s", store.home, len(pool.slots),
                      ", ".join(f"{s.name} ({'gpu' if s.gpu else 'cpu'}, node {s.node})"
                                for s in pool.slots))
            return pool.run(burst=p.burst)
        finally:
            pool.close(kill_actors=True)


@contextlib.contextmanager
def _stop_signals(handler: Callable[[int, Any], Any]) -> Iterator[None]:
    """``handler`` answers SIGTERM and SIGINT inside the block, then the previous handlers
    again. signal.signal only works in the main thread: elsewhere (a worker or pool run from
    a test thread) nothing is installed and ``.stop()`` ends the loop instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


# -- detached workers for the MCP server ------------------------------------------------------

#: A worker an MCP server spawns exits after this long without work (a new one is spawned on
#: demand), so sessions leave no process behind for long.
SPAWNED_IDLE_EXIT_S = 600.0

# A throw-away interpreter starts the worker and exits at once, so the worker is not our
# child: the server never leaves a zombie behind or warns about a still-running Popen, and
# the worker (in its own session) outlives the server.
_LAUNCHER = """\
import json, subprocess, sys
a = json.loads(sys.argv[1])
with open(a["log"], "ab") as err:
    p = subprocess.Popen(a["cmd"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=err, start_new_session=True, close_fds=True)
print(p.pid)
"""


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; a duplicate worker is harmless, just wasteful
        yield
        return
    with open(path, "a+b") as f:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HdrMcpError(f"timed out after {timeout_s} s waiting for {path}") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def ensure_worker(
    home: Path | str | None = None,
    *,
    python: str = sys.executable,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    worker_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    lock_timeout_s: float = 30.0,
    idle_exit_s: float = SPAWNED_IDLE_EXIT_S,
) -> int | None:
    """Start a detached worker on ``home`` unless one is alive; returns its pid, or ``None``.

    Alive means not stopped, heartbeat fresher than ``stale_after_s`` and, on this host, a
    live pid; only workers of this very install count (:func:`install_identity`: the same
    version from the same folder), so a server never hands jobs to an older install's worker.
    The new worker exits after ``idle_exit_s`` without work. An exclusive ``flock`` on ``home/worker.lock`` plus registering the new worker
    before the lock is released make concurrent calls (two MCP servers starting together)
    spawn exactly one. The worker's stderr goes to ``home/logs/worker-<time>-<id>.log``.
    ``worker_args`` are extra command-line options (e.g. ``["--heartbeat-seconds", "0.5"]``);
    ``env`` replaces the environment passed to the worker.
    """
    home = Path(home).expanduser() if home is not None else default_home()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with _file_lock(home / "worker.lock", lock_timeout_s):
        store = JobStore(home)
        try:
            mine = install_identity()
            alive = store.workers(alive_only=True, stale_after_s=stale_after_s)
            if any(w.install == mine for w in alive):
                return None  # another install's or version's workers do not count
            worker_id = new_worker_id()
            log_path = logs / f"worker-{time.strftime('%Y%m%d-%H%M%S')}-{worker_id}.log"
            cmd = [python, "-m", "hdr_mcp", "worker", "--home", str(home),
                   "--worker-id", worker_id, "--stale-after-seconds", str(stale_after_s),
                   "--idle-exit-seconds", str(idle_exit_s), *worker_args]
            launched = subprocess.run(
                [python, "-I", "-S", "-c", _LAUNCHER,
                 json.dumps({"cmd": cmd, "log": str(log_path)})],
                capture_output=True, text=True, timeout=60,
                env=None if env is None else dict(env), check=False,
            )
            if launched.returncode != 0:
                raise HdrMcpError(
                    f"could not start a worker with {python}: {launched.stderr.strip()}"
                )
            pid = int(launched.stdout.strip())
            # Registered now (the worker refreshes the row when it starts), so a concurrent
            # caller that gets the lock next sees a live worker.
            store.register_worker(worker_id, pid=pid)
            _log.info("started worker %s (pid %d), log %s", worker_id, pid, log_path)
            return pid
        finally:
            store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hdr_mcp.jobs.worker ...`` is ``hdr-mcp worker ...``."""
    from hdr_mcp.cli import main as cli_main

    cli_main(["worker", *(sys.argv[1:] if argv is None else argv)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
