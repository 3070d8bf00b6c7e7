"""Ray backend: jobs run on long-lived Ray actors, the SQLite job store stays the record.

A :class:`RayPool` (in ``hdr-mcp worker --backend ray`` or inside ``hdr-mcp serve --backend
ray``) is a supervisor on the store's machine. It starts one actor per GPU of the cluster
(``num_gpus=1``; CPU actors where there is none), claims queued jobs for them and hands each
claimed job to its actor. An actor is a :class:`hdr_mcp.jobs.worker.Worker` whose store is a
:class:`RemoteStore`: every read and write goes to one :class:`StoreProxy` actor pinned to the
store's node, so the handler runs with the very ``run(params, ctx)`` contract, progress
throttling, log, cancellation, leases and timeouts of a local worker, on any node, while the
truth stays in one SQLite file (SQLite is not safe on a network file system; the proxy keeps
it on one disk).

Scheduling: idle actors claim least-loaded first, through :meth:`JobStore.claim`, which gives
an actor the jobs whose model it holds and keeps a job whose model another idle actor holds
for that actor (``affinity_grace_s``). A job is never split: fan-out happens at submission
(:meth:`hdr_mcp.jobs.kinds.JobKind.fan_out`, one job per plate).

Faults: an actor (or its node) that dies mid-job makes its call raise; the pool requeues the
job (resumable, attempts left: it continues from its working folder on the next free actor)
or fails it, the reason in its log, and Ray restarts the actor. Actors are named and detached
from the pool: a pool started again on the same store (a server restart) finds them, adopts
the jobs they are still running (same lease, so nothing runs twice at once) and requeues the
running jobs no actor owns any more.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs.store import (
    DEFAULT_STALE_AFTER_S,
    Job,
    JobFinished,
    JobStatus,
    JobStore,
    LeaseLost,
)

__all__ = [
    "RAY_NAMESPACE",
    "PoolBusy",
    "RayPool",
    "RemoteStore",
    "StoreProxy",
    "pool_key",
    "require_ray",
]

_log = logging.getLogger("hdr_mcp.jobs.ray")

#: Ray namespace of every hdr-mcp actor (named actors are found again after a restart).
RAY_NAMESPACE = "hdr-mcp"

#: The store methods an actor may call through the proxy (what Worker and StoreContext use).
_REMOTE_METHODS = frozenset({
    "get", "set_progress", "append_log", "job_signals", "cancel_requested", "succeed", "fail",
    "mark_cancelled", "requeue", "heartbeat", "register_worker", "stop_worker", "worker",
})


def require_ray() -> Any:
    """The ``ray`` module; :class:`HdrMcpError` saying how to install it when missing."""
    try:
        import ray
    except ImportError as e:
        raise HdrMcpError("the Ray backend needs Ray: pip install 'hdr-mcp[ray]'") from e
    return ray


def pool_key(home: Path | str) -> str:
    """Short stable name of a store (its resolved folder): actors of one store share it."""
    return hashlib.sha256(str(Path(home).expanduser().resolve()).encode()).hexdigest()[:10]


# -- the store, reached from any node ---------------------------------------------------------


@dataclass(frozen=True)
class _Raised:
    """An :class:`HdrMcpError` raised in the proxy, carried back as a value (its class, its
    attributes and its message), so it is raised again as the same class in the actor."""

    module: str
    name: str
    message: str
    attributes: dict[str, Any]

    def rebuild(self) -> HdrMcpError:
        import importlib

        cls = getattr(importlib.import_module(self.module), self.name)
        error = cls.__new__(cls)
        Exception.__init__(error, self.message)
        error.__dict__.update(self.attributes)
        return error


class StoreProxy:
    """Ray actor owning the :class:`JobStore` on the store's node; it runs one call at a time,
    in the order each caller sent them (SQLite has one writer anyway)."""

    def __init__(self, home: str) -> None:
        self.store = JobStore(home)

    def call(self, method: str, args: tuple, kwargs: dict) -> Any:
        if method not in _REMOTE_METHODS:
            raise InvalidArgument("method", method, "not a job store method actors may call")
        try:
            return getattr(self.store, method)(*args, **kwargs)
        except HdrMcpError as e:
            return _Raised(type(e).__module__, type(e).__qualname__, str(e), dict(e.__dict__))


class RemoteStore:
    """The part of :class:`JobStore` a worker uses, answered by a :class:`StoreProxy`.

    Progress reports and log lines are sent without waiting (a round trip is about 1 ms); the
    proxy runs one call at a time in the order they were sent, so they land before the job's
    next synchronous call (``job_signals``, ``succeed``, ...), whose answer settles them: a
    report or line refused for a lost lease makes the next ones for that job fail as they
    would have (:class:`LeaseLost`), and ``should_stop()`` sees the lost lease anyway.

    Working folders (``home/jobs/<id>``) are opened at the same path on every node: put
    ``home`` on a folder every node mounts (the README's "Scale out with Ray").
    """

    _DEFERRED = frozenset({"set_progress", "append_log"})

    def __init__(self, proxy: Any, home: str | Path) -> None:
        self._proxy = proxy
        self.home = Path(home)
        self.path = self.home / "jobs.sqlite3"
        self._sent: list[tuple[str, Any]] = []  # (job_id, ref) of calls not yet settled
        self._lost: set[str] = set()
        self._lock = threading.Lock()

    workdir = JobStore.workdir  # home/jobs/<id>, the same folder as on the store's node

    def __getattr__(self, method: str) -> Any:
        if method not in _REMOTE_METHODS:
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            if method in self._DEFERRED:
                return self._send(method, args, kwargs)
            value = require_ray().get(self._proxy.call.remote(method, args, kwargs))
            self._settle()
            if isinstance(value, _Raised):
                raise value.rebuild()
            return value

        call.__name__ = method
        return call

    def _send(self, method: str, args: tuple, kwargs: dict) -> Any:
        job_id = args[0]
        if job_id in self._lost and kwargs.get("lease") is not None:
            if method == "append_log":
                raise LeaseLost(job_id)
            return False
        ref = self._proxy.call.remote(method, args, kwargs)
        with self._lock:
            self._sent.append((job_id, ref))
        return True if method == "set_progress" else 0

    def _settle(self) -> None:
        """Collect the answers of calls sent without waiting (they ran before this one)."""
        ray = require_ray()
        with self._lock:
            sent, self._sent = self._sent, []
        for job_id, ref in sent:
            value = ray.get(ref)
            if value is False or (isinstance(value, _Raised) and value.name == "LeaseLost"):
                self._lost.add(job_id)


# -- the actor --------------------------------------------------------------------------------


class PoolActor:
    """Ray actor (threaded): a :class:`Worker` on a :class:`RemoteStore`, its model cache kept
    across jobs; :meth:`run_job` runs one claimed job, the other methods answer meanwhile."""

    def __init__(self, worker_id: str, home: str, proxy: Any, options: dict[str, Any]) -> None:
        import ray

        from hdr_mcp.jobs.worker import Worker

        self.store = RemoteStore(proxy, home)
        self.worker = Worker(self.store, worker_id, options.get("kinds"), device="auto",
                             heartbeat_s=options.get("heartbeat_s", 2.0),
                             stale_after_s=options.get("stale_after_s", DEFAULT_STALE_AFTER_S),
                             offload=options.get("offload"),
                             memory_budget_bytes=options.get("memory_budget_bytes"))
        context = ray.get_runtime_context()
        self.node = context.get_node_id()
        self.actor_id = context.get_actor_id()
        self.gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        self.kinds = options.get("kinds")
        self._register()
        self._job: tuple[str, str | None] | None = None
        self._idle = threading.Condition()
        threading.Thread(target=self.worker._heartbeat_loop, args=(threading.Event(),),
                         name="heartbeat", daemon=True).start()

    def _register(self) -> None:
        self.store.register_worker(
            self.worker.worker_id, pid=os.getpid(), hostname=socket.gethostname(),
            device=self._device(), kinds=self.kinds, backend="ray", node=self.node,
            actor=self.actor_id)

    def _rejoin(self) -> None:
        """A reap (a heartbeat that looked stale) stops the job running; the actor itself
        keeps serving its pool, registered afresh. A stop request (``hdr-mcp workers
        --stop``) stays: the pool retires the actor."""
        if self.worker.stopping and not self.store.worker(self.worker.worker_id).stop_requested:
            self.worker._stop.clear()
            self._register()

    def _device(self) -> str:
        """The worker's device, and the Ray GPU it was given when torch cannot use it here."""
        gpus = ",".join(self.gpu_ids)
        if gpus and not self.worker.has_gpu:
            return f"{self.worker.device} (ray gpu {gpus})"
        return self.worker.device

    def describe(self) -> dict[str, Any]:
        """Who and where: worker id, pid, node, device, models held, the job running."""
        job = self._job
        return {"worker_id": self.worker.worker_id, "pid": os.getpid(), "node": self.node,
                "device": self.worker.device, "gpu": self.worker.has_gpu,
                "models": self.worker.held_models(), "job_id": job and job[0],
                "lease": job and job[1]}

    def run_job(self, job: Job) -> dict[str, Any]:
        """Run a job the pool claimed for this actor; returns :meth:`describe` afterwards."""
        self._rejoin()
        if self.worker.stopping:  # asked to stop just as the pool claimed the job for it
            self.store.requeue(job.id, f"actor {self.worker.worker_id} was asked to stop "
                               "before it started the job", lease=job.lease)
            return self.describe()
        with self._idle:
            self._job = (job.id, job.lease)
        try:
            self.worker.run_job(job)
        finally:
            with self._idle:
                self._job = None
                self._idle.notify_all()
            self._rejoin()
        return self.describe()

    def wait_job(self, job_id: str) -> dict[str, Any]:
        """Block until this actor is not running ``job_id`` (a restarted pool adopting it)."""
        with self._idle:
            self._idle.wait_for(lambda: self._job is None or self._job[0] != job_id)
        return self.describe()


# -- the pool ---------------------------------------------------------------------------------


class PoolBusy(HdrMcpError):
    """Another Ray pool supervises this store (two would hand one actor two jobs)."""


class _PoolLock:
    """An exclusive ``flock`` on ``path`` for as long as a pool supervises its store (the OS
    drops it when the process dies, so a crashed supervisor never blocks the next one)."""

    def __init__(self, path: Path) -> None:
        import fcntl

        self._file = open(path, "a+")  # noqa: SIM115 (held open for the pool's lifetime)
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "another process"
            self._file.close()
            raise PoolBusy(f"another Ray pool supervises the job store in {path.parent} "
                           f"({holder}); its actors run the jobs queued there") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self._file.flush()

    def release(self) -> None:
        self._file.close()  # closing the file drops the flock



@dataclass
class _Slot:
    """The pool's view of one actor."""

    name: str
    handle: Any
    gpu: bool = False
    node: str | None = None
    models: list[str] = field(default_factory=list)
    #: The call in flight: run_job / wait_job (busy) or describe (starting), or None (idle).
    ref: Any = None
    starting: bool = True
    job: Job | None = None
    jobs_run: int = 0


class RayPool:
    """Actors on a Ray cluster that run the jobs of ``store``; see the module docstring.

    Parameters
    ----------
    store
        The job store (on this machine).
    actors
        How many actors (default: one per GPU of the cluster, else one CPU actor).
    address
        Ray cluster to join (``ray start --head`` prints it; ``auto``: the local one);
        None: the one this process is connected to, or a new local cluster.
    cpus_per_actor, gpus_per_actor
        Ray resources each actor reserves (``gpus_per_actor`` 0 makes CPU actors).
    kinds
        Job kinds the actors claim (None: any).
    poll_s
        Seconds between claims while nothing changes.
    heartbeat_s, stale_after_s
        As for local workers.
    offload, memory_budget_bytes
        Passed to each actor's worker (see :class:`hdr_mcp.jobs.worker.Worker`).
    """

    def __init__(
        self,
        store: JobStore,
        *,
        actors: int | None = None,
        address: str | None = None,
        cpus_per_actor: float = 1.0,
        gpus_per_actor: float | None = None,
        kinds: Sequence[str] | None = None,
        poll_s: float = 0.05,
        heartbeat_s: float = 2.0,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        offload: str | None = None,
        memory_budget_bytes: int | None = None,
    ) -> None:
        if actors is not None and (isinstance(actors, bool) or not isinstance(actors, int)
                                   or actors < 1):
            raise InvalidArgument("actors", actors, "must be an integer >= 1")
        if not cpus_per_actor > 0:
            raise InvalidArgument("cpus_per_actor", cpus_per_actor, "must be > 0")
        self.store = store
        self.actors = actors
        self.address = address
        self.cpus_per_actor = float(cpus_per_actor)
        self.gpus_per_actor = gpus_per_actor
        self.kinds = None if kinds is None else tuple(kinds)
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.options = {"kinds": self.kinds, "heartbeat_s": heartbeat_s,
                        "stale_after_s": stale_after_s, "offload": offload,
                        "memory_budget_bytes": memory_budget_bytes}
        self.key = pool_key(store.home)
        self.slots: list[_Slot] = []
        self._stop = threading.Event()
        self._proxy: Any = None
        self._lock: _PoolLock | None = None
        self.finished = 0

    # -- start -------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to Ray, start (or find again) the store proxy and the actors, and adopt the
        jobs they are still running; requeue running jobs no actor owns any more.

        One pool supervises a store at a time (``home/ray-pool.lock``, held until :meth:`run`
        returns): :class:`PoolBusy` when another one does.
        """
        ray = require_ray()
        self._lock = _PoolLock(self.store.home / "ray-pool.lock")
        try:
            self._start(ray)
        except BaseException:
            self._release()
            raise

    def _start(self, ray: Any) -> None:
        if not ray.is_initialized():
            ray.init(address=self.address, namespace=RAY_NAMESPACE, log_to_driver=False)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self._proxy = ray.remote(StoreProxy).options(
            name=f"store-{self.key}", namespace=RAY_NAMESPACE, lifetime="detached",
            get_if_exists=True, num_cpus=0, scheduling_strategy=here,
        ).remote(str(self.store.home))
        gpus = self._gpus_per_actor(ray)
        count = self.actors or max(1, int(ray.cluster_resources().get("GPU", 0) // (gpus or 1)))
        actor_class = ray.remote(PoolActor)
        for i in range(count):
            name = f"worker-{self.key}-{i}"
            handle = actor_class.options(
                name=name, namespace=RAY_NAMESPACE, lifetime="detached", get_if_exists=True,
                num_cpus=self.cpus_per_actor, num_gpus=gpus, max_concurrency=4,
                max_restarts=-1, max_task_retries=0,
            ).remote(name, str(self.store.home), self._proxy, self.options)
            self.slots.append(_Slot(name=name, handle=handle, gpu=gpus > 0,
                                    ref=handle.describe.remote()))
        self._adopt(ray)

    def _gpus_per_actor(self, ray: Any) -> float:
        if self.gpus_per_actor is not None:
            return float(self.gpus_per_actor)
        return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0

    def _adopt(self, ray: Any) -> None:
        """After a restart: follow the jobs actors still run; requeue the orphans."""
        owned: set[str] = set()
        for slot in self.slots:
            info = ray.get(slot.ref)
            self._started(slot, info)
            job_id = info["job_id"]
            if job_id is None:
                continue
            # Busy until it ends, whoever's claim it is: an actor runs one job at a time.
            slot.ref = slot.handle.wait_job.remote(job_id)
            job = self.store.get(job_id)
            if job.status is JobStatus.running and job.lease == info["lease"]:
                slot.job = job
                owned.add(job_id)
                self.store.append_log(job_id, f"supervisor restarted: actor {slot.name} still "
                                      "runs this attempt; following it", "info")
        names = {slot.name for slot in self.slots}
        for job in self.store.list(JobStatus.running, limit=500):
            if job.worker_id in names and job.id not in owned:
                self._recover(job, f"the Ray pool restarted and actor {job.worker_id} no "
                              "longer runs the job")

    def _started(self, slot: _Slot, info: dict[str, Any]) -> None:
        slot.starting, slot.ref = False, None
        slot.node, slot.models, slot.gpu = info["node"], info["models"], info["gpu"]

    # -- loop --------------------------------------------------------------------------------

    def run(self, burst: bool = False) -> int:
        """Start and supervise until :meth:`stop` (``burst``: until nothing is queued or
        running); returns how many jobs finished meanwhile."""
        if not self.slots:
            self.start()
        last_reap = time.monotonic()
        try:
            while not self._stop.is_set():
                changed = self.step()
                if burst and self._drained():
                    break
                if time.monotonic() - last_reap > self.stale_after_s / 2:
                    self.store.reap(self.stale_after_s)
                    last_reap = time.monotonic()
                if not changed and not self._all_busy():
                    self._stop.wait(self.poll_s)
        finally:
            self._release()
        return self.finished

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _drained(self) -> bool:
        busy = any(slot.ref is not None for slot in self.slots)
        return not busy and not self.store.list(JobStatus.queued, limit=1)

    def stop(self) -> None:
        """Ask :meth:`run` to return (actors keep running what they run)."""
        self._stop.set()

    def _all_busy(self) -> bool:
        return bool(self.slots) and all(slot.ref is not None for slot in self.slots)

    def step(self) -> bool:
        """Collect finished calls, then claim jobs for idle actors; whether anything changed.
        With every actor busy it waits up to ``poll_s`` for one to finish (no spinning: the
        supervisor's core is the actors' too)."""
        ray = require_ray()
        pending = [slot.ref for slot in self.slots if slot.ref is not None]
        if pending and self._all_busy():
            ray.wait(pending, num_returns=1, timeout=self.poll_s)
        done = ray.wait(pending, num_returns=len(pending), timeout=0)[0] if pending else []
        by_ref = {slot.ref: slot for slot in self.slots if slot.ref is not None}
        for ref in done:
            self._collect(ray, by_ref[ref], ref)
        claimed = self._dispatch()
        return bool(done) or claimed

    def _collect(self, ray: Any, slot: _Slot, ref: Any) -> None:
        try:
            info = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            self._actor_died(slot, e)
            return
        except ray.exceptions.RayError as e:  # our own code failed in the actor
            if slot.job is not None:
                self._recover(slot.job, f"actor {slot.name} failed: {type(e).__name__}: {e}",
                              retry=False)
            slot.job, slot.ref = None, None
            return
        if slot.job is not None:
            self.finished += 1
        slot.job = None
        self._started(slot, info)
        self.store.heartbeat(slot.name, models=slot.models)

    def _actor_died(self, slot: _Slot, error: Exception) -> None:
        why = f"Ray actor {slot.name} (node {slot.node}) died ({type(error).__name__})"
        if slot.job is None and slot.starting:
            _log.error("%s and did not come back; running without it", why)
            slot.ref = None  # starting and without a call: never dispatched to again
            return
        if slot.job is not None:
            self._recover(slot.job, f"{why} while running the job")
        _log.warning("%s; Ray restarts it", why)
        slot.job, slot.starting, slot.models = None, True, []
        slot.ref = slot.handle.describe.remote()

    def _recover(self, job: Job, reason: str, *, retry: bool = True) -> None:
        """The attempt ``job`` is dead: requeue it (resumable, attempts left) or fail it."""
        try:
            current = self.store.get(job.id)
            if current.status is not JobStatus.running or current.lease != job.lease:
                return  # finished, or another claim took it over: theirs is the record
            if retry and current.resumable and current.attempts < current.max_attempts:
                self.store.requeue(job.id, reason, lease=job.lease)
            else:
                self.store.fail(job.id, f"{reason} (attempt {current.attempts} of "
                                f"{current.max_attempts})", lease=job.lease)
        except JobFinished:
            pass

    def _retire_asked(self) -> None:
        """End the idle actors ``hdr-mcp workers --stop`` asked to stop; with none left the
        pool stops too."""
        asked = {w.id for w in self.store.workers() if w.stop_requested and w.stopped_at is None}
        for slot in [s for s in self.slots if s.name in asked and s.ref is None]:
            require_ray().kill(slot.handle, no_restart=True)
            self.store.stop_worker(slot.name)
            self.slots.remove(slot)
            _log.info("actor %s was asked to stop: ended", slot.name)
        if not self.slots:
            _log.info("every actor of the pool was asked to stop; the pool stops")
            self.stop()

    def _dispatch(self) -> bool:
        from hdr_mcp import __version__

        if any(slot.ref is None for slot in self.slots):
            self._retire_asked()
        idle = [slot for slot in self.slots if slot.ref is None and not slot.starting]
        claimed = False
        for slot in sorted(idle, key=lambda s: s.jobs_run):  # least loaded first
            job = self.store.claim(slot.name, self.kinds, version=__version__, gpu=slot.gpu,
                                   models=slot.models, stale_after_s=self.stale_after_s)
            if job is None:
                continue
            slot.job, slot.jobs_run, claimed = job, slot.jobs_run + 1, True
            slot.ref = slot.handle.run_job.remote(job)
        return claimed

    # -- end ---------------------------------------------------------------------------------

    def close(self, *, kill_actors: bool = False) -> None:
        """Stop supervising; ``kill_actors`` also ends the actors and the store proxy (their
        running jobs are recovered as after a crash: requeued or failed)."""
        self.stop()
        self._release()
        if not kill_actors:
            return
        ray = require_ray()
        for slot in self.slots:
            if slot.job is not None:
                self._recover(slot.job, f"the Ray pool stopped actor {slot.name}")
            ray.kill(slot.handle, no_restart=True)
            self.store.stop_worker(slot.name)
        if self._proxy is not None:
            ray.kill(self._proxy, no_restart=True)
        self.slots = []
