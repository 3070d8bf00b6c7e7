"""Durable job store: one SQLite database in WAL mode shared by every process.

The MCP server submits and polls, worker processes claim and report, the CLI inspects; all of
them open the same ``<home>/jobs.sqlite3``. SQLite in write-ahead-log mode lets readers run
while one writer commits, and ``BEGIN IMMEDIATE`` takes the write lock up front so a claim
(select the oldest queued job, mark it running) is atomic across processes.

A :class:`JobStore` keeps one connection per thread and per process (a connection is never
shared across ``fork`` or threads), so one store object may be used from the server's event
loop thread, from ``anyio.to_thread`` workers and from a worker's heartbeat thread at once.

Timestamps are POSIX seconds (UTC, ``time.time()``) stored as REAL.

Status transitions (arq/rq style)::

    queued --claim--> running --succeed--> succeeded
       |                 |-----fail------> failed
       |                 |--mark_cancelled-> cancelled   (after cancel() set cancel_requested)
       |                 '--reap/requeue--> queued        (resumable jobs whose worker died)
       '--cancel--> cancelled
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import socket
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from typing_extensions import Self

from hdr_mcp.errors import HdrMcpError, InvalidArgument

__all__ = [
    "DEFAULT_STALE_AFTER_S",
    "Heartbeat",
    "Job",
    "JobFinished",
    "JobStatus",
    "JobStore",
    "LeaseLost",
    "LogEntry",
    "UnknownJob",
    "WorkerInfo",
    "default_home",
    "install_identity",
    "pid_alive",
]

#: A worker whose last heartbeat is older than this (seconds) is presumed dead. Workers beat
#: every 2 s by default, so this tolerates long GC pauses and a busy disk.
DEFAULT_STALE_AFTER_S = 30.0

#: Longest log message kept (characters); tracebacks of deep stacks are cut, not refused.
MAX_LOG_MESSAGE_CHARS = 64_000

LOG_LEVELS = ("debug", "info", "warning", "error")

_ID_ALPHABET = string.ascii_lowercase + string.digits
_SCHEMA_VERSION = 3


class JobStatus(str, Enum):
    """Life-cycle state of a job."""

    #: Submitted, waiting for a worker.
    queued = "queued"
    #: Claimed by a worker, handler running.
    running = "running"
    #: Handler returned; ``result`` holds its JSON output.
    succeeded = "succeeded"
    #: Handler raised, or its worker died; ``error`` says why.
    failed = "failed"
    #: Cancelled before it ran, or its handler stopped after ``cancel``.
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class Job(BaseModel):
    """A snapshot of one row of the ``jobs`` table (it does not update itself)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    params: dict[str, Any]
    status: JobStatus
    #: Work done so far in the handler's own units; never decreases within a job.
    progress: float = 0.0
    #: Total work in the same units, ``None`` while unknown.
    total: float | None = None
    message: str = ""
    result: Any = None
    error: str | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float
    attempts: int = 0
    max_attempts: int = 3
    worker_id: str | None = None
    heartbeat_at: float | None = None
    resumable: bool = False
    cancel_requested: bool = False
    #: Token of the current claim; every write a worker makes for the job must carry it.
    lease: str | None = None
    #: hdr-mcp version that submitted the job; only workers of that version claim it.
    version: str | None = None
    #: Allowed roots the job's files must stay inside (None: unrestricted, e.g. the CLI).
    roots: list[str] | None = None
    #: What model the job loads (workers holding it are preferred), or None.
    model_key: str | None = None
    #: Needs a GPU worker (a CPU worker leaves it alone).
    needs_gpu: bool = False
    #: Longest one attempt may run (seconds), or None.
    timeout_s: float | None = None
    #: Where the latest attempt ran: ``local`` (a worker process) or ``ray`` (a Ray actor)...
    backend: str | None = None
    #: ... on which node (host name; a Ray node id for Ray actors) ...
    node: str | None = None
    #: ... and device (``cpu``, ``cuda``, ``cuda:N``).
    device: str | None = None

    @property
    def finished(self) -> bool:
        """True once the job reached succeeded, failed or cancelled (it never leaves them)."""
        return self.status.finished


class Heartbeat(BaseModel):
    """What a worker learns from its heartbeat."""

    model_config = ConfigDict(frozen=True)

    #: It still holds the job it reported (its lease was not taken over).
    holds_job: bool = True
    #: Another process found its heartbeat stale and marked it dead; it must stop.
    reaped: bool = False
    #: ``hdr-mcp workers --stop`` asked it to exit after its current job.
    stop_requested: bool = False


def install_identity() -> str:
    """``<version>@<package folder>``: two servers reuse each other's workers only when they
    run the same code from the same install."""
    from hdr_mcp import __version__

    return f"{__version__}@{Path(__file__).resolve().parents[1]}"


class LogEntry(BaseModel):
    """One line of a job's append-only log; ``seq`` counts from 1 within the job."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    seq: int
    ts: float
    level: str
    message: str


class WorkerInfo(BaseModel):
    """One row of the ``workers`` table."""

    model_config = ConfigDict(frozen=True)

    id: str
    pid: int
    hostname: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None = None
    device: str | None = None
    job_id: str | None = None
    version: str | None = None
    #: Where the worker's code lives (a server reuses only workers of its own install).
    install: str | None = None
    #: Job kinds it claims (None: any).
    kinds: list[str] | None = None
    #: Model cache keys it holds loaded, as of its last heartbeat.
    models: list[str] = []
    stop_requested: bool = False
    #: ``local`` (an ``hdr-mcp worker`` process) or ``ray`` (a Ray actor of a pool).
    backend: str = "local"
    #: Node it runs on: the host name, or the Ray node id for an actor.
    node: str | None = None
    #: Ray actor id (None for local workers).
    actor: str | None = None


class UnknownJob(InvalidArgument):
    """No job has this id (in this store's home)."""

    def __init__(self, job_id: str) -> None:
        super().__init__("job_id", job_id, "no such job (list jobs to see valid ids)")
        self.job_id = job_id


class LeaseLost(HdrMcpError):
    """The claim a worker holds on a job is gone: the job was reaped (its worker looked dead)
    and may run elsewhere now. The worker must stop and write nothing more for it."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id}: this worker's claim was taken over (it was presumed "
                         "dead); stopping without touching the job again")
        self.job_id = job_id


class JobFinished(InvalidArgument):
    """The job already reached a final status, so it can no longer be changed."""

    def __init__(self, job_id: str, status: JobStatus) -> None:
        super().__init__("job_id", job_id, f"job already finished with status {status.value!r}")
        self.job_id = job_id
        self.status = status


def default_home() -> Path:
    """Directory holding the job database, job working dirs and worker logs.

    ``$HDR_MCP_HOME`` when set, else ``platformdirs.user_data_dir("hdr-mcp")``
    (``~/.local/share/hdr-mcp`` on Linux). Created if missing.
    """
    configured = os.environ.get("HDR_MCP_HOME")
    if configured:
        home = Path(configured).expanduser()
    else:
        import platformdirs

        home = Path(platformdirs.user_data_dir("hdr-mcp", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # A killed child that nobody has waited for still answers kill(0): look at its state.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state not in (["Z"], ["X"])


def _new_job_id() -> str:
    # 36**12 ~ 4.7e18 ids: collisions are not a practical concern, and the primary key
    # would reject one anyway.
    return "j_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _to_json(argument: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(argument, value, f"must be JSON-serialisable: {e}") from e


def _check_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not job_id:
        raise InvalidArgument("job_id", job_id, "must be a non-empty string such as 'j_...'")
    return job_id


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    total REAL,
    message TEXT NOT NULL DEFAULT '',
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    worker_id TEXT,
    heartbeat_at REAL,
    resumable INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease TEXT,
    version TEXT,
    roots TEXT,
    model_key TEXT,
    needs_gpu INTEGER NOT NULL DEFAULT 0,
    timeout_s REAL,
    backend TEXT,
    node TEXT,
    device TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_worker ON jobs (worker_id, status);

CREATE TABLE IF NOT EXISTS job_logs (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
-- The log is evidence of what happened: refuse edits even from code that forgets. Lines of a
-- finished job may be deleted with the job (retention, JobStore.prune), never those of a
-- queued or running one.
CREATE TRIGGER IF NOT EXISTS job_logs_no_update BEFORE UPDATE ON job_logs
BEGIN SELECT RAISE(ABORT, 'job_logs is append-only'); END;
CREATE TRIGGER IF NOT EXISTS job_logs_delete_finished_only BEFORE DELETE ON job_logs
WHEN (SELECT status FROM jobs WHERE id = OLD.job_id) IN ('queued', 'running')
BEGIN SELECT RAISE(ABORT, 'job_logs of an unfinished job cannot be deleted'); END;

CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stopped_at REAL,
    device TEXT,
    job_id TEXT,
    version TEXT,
    install TEXT,
    kinds TEXT,
    models TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    backend TEXT NOT NULL DEFAULT 'local',
    node TEXT,
    actor TEXT
);
"""

#: Statements that take a store from schema version N to N + 1 (version 0 is a new, empty
#: store: it gets :data:`_SCHEMA` directly). Never edit a released step; add the next one.
_MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE jobs ADD COLUMN lease TEXT;
ALTER TABLE jobs ADD COLUMN version TEXT;
ALTER TABLE jobs ADD COLUMN roots TEXT;
ALTER TABLE jobs ADD COLUMN model_key TEXT;
ALTER TABLE jobs ADD COLUMN needs_gpu INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN timeout_s REAL;
ALTER TABLE workers ADD COLUMN version TEXT;
ALTER TABLE workers ADD COLUMN install TEXT;
ALTER TABLE workers ADD COLUMN kinds TEXT;
ALTER TABLE workers ADD COLUMN models TEXT;
ALTER TABLE workers ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER IF EXISTS job_logs_no_delete;
CREATE TRIGGER IF NOT EXISTS job_logs_delete_finished_only BEFORE DELETE ON job_logs
WHEN (SELECT status FROM jobs WHERE id = OLD.job_id) IN ('queued', 'running')
BEGIN SELECT RAISE(ABORT, 'job_logs of an unfinished job cannot be deleted'); END;
""",
    # Placement: where a job ran (copied from its worker at claim) and what a worker is.
    2: """
ALTER TABLE jobs ADD COLUMN backend TEXT;
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN device TEXT;
ALTER TABLE workers ADD COLUMN backend TEXT NOT NULL DEFAULT 'local';
ALTER TABLE workers ADD COLUMN node TEXT;
ALTER TABLE workers ADD COLUMN actor TEXT;
""",
}


class JobStore:
    """Jobs, their logs and the workers running them, in ``home/jobs.sqlite3``.

    Parameters
    ----------
    home
        Directory of the store (created if missing); job working directories live in
        ``home/jobs/<id>/``.
    busy_timeout_s
        How long a write waits for another process's write lock before raising
        ``sqlite3.OperationalError: database is locked``.
    """

    def __init__(self, home: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.home = Path(home).expanduser()
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "jobs.sqlite3"
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        # Idle connections, reused by any thread (a connection is used by one thread at a time):
        # short-lived threads (anyio.to_thread) do not leave one open connection each behind.
        self._idle: list[sqlite3.Connection] = []
        self._opened: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False
        self._init_schema()

    # -- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so every write transaction is an
        # explicit BEGIN IMMEDIATE and reads never hold a transaction open.
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,  # handed from thread to thread, one at a time
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across process crashes in WAL mode (only an OS crash can lose
        # the last commits), and much faster than FULL for progress updates.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for this thread until the block ends, then back to the idle pool."""
        with self._lock:
            if self._closed:
                raise HdrMcpError(f"job store {self.path} is closed")
            if self._pid != os.getpid():  # forked: the parent's connections are not ours
                self._idle, self._opened, self._pid = [], [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
            with self._lock:
                self._opened.append(conn)
        try:
            yield conn
        finally:
            with self._lock:
                if self._closed:
                    conn.close()
                else:
                    self._idle.append(conn)

    def open_connections(self) -> int:
        """How many SQLite connections this store holds open (idle or in use)."""
        with self._lock:
            return len(self._opened)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding SQLite's write lock from its first statement."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _read(self, query: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._connection() as conn:
            return conn.execute(query, args).fetchall()

    def _init_schema(self) -> None:
        """Create the schema, or migrate an older store step by step (never a newer one)."""
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise HdrMcpError(
                    f"job store {self.path} has schema version {version}, newer than this "
                    f"hdr-mcp understands ({_SCHEMA_VERSION}); upgrade hdr-mcp"
                )
            steps = [_SCHEMA] if version == 0 else [
                _MIGRATIONS[step] for step in range(version, _SCHEMA_VERSION)]
            for script in steps:
                for statement in _split_sql(script):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def close(self) -> None:
        """Close every connection this store opened (in this process)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
            mine = self._pid == os.getpid()
        for conn in idle if mine else ():  # inherited through fork: the parent owns those
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JobStore({str(self.home)!r})"

    # -- jobs --------------------------------------------------------------------------------

    def workdir(self, job_id: str) -> Path:
        """The job's working directory ``home/jobs/<id>/`` (created if missing)."""
        job_id = _check_job_id(job_id)
        if not all(c in _ID_ALPHABET + "_" for c in job_id):
            raise InvalidArgument("job_id", job_id, "not a job id")
        path = self.home / "jobs" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def submit(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        resumable: bool = False,
        max_attempts: int = 3,
        roots: Sequence[str] | None = None,
        version: str | None = None,
        model_key: str | None = None,
        needs_gpu: bool = False,
        timeout_s: float | None = None,
    ) -> Job:
        """Queue a job of ``kind`` with JSON ``params``; returns it with status ``queued``.

        ``resumable`` jobs are requeued (up to ``max_attempts`` claims in all) when their worker
        dies; the handler must then continue from what it left in its working directory.
        ``roots``: folders the job's files must stay inside (checked again by the worker).
        ``version`` (default: this hdr-mcp's): only workers of that version claim it.
        ``model_key``: the model it loads (a worker holding it is preferred). ``needs_gpu``:
        only GPU workers claim it. ``timeout_s``: longest one attempt may run.
        The kind is not checked against the handler registry here: the server does that,
        and a worker with the handler installed may run in another environment.
        """
        from hdr_mcp import __version__

        if not isinstance(kind, str) or not kind.strip():
            raise InvalidArgument("kind", kind, "must be a non-empty string")
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise InvalidArgument("params", params, "must be a JSON object (a dict)")
        params_json = _to_json("params", dict(params))
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidArgument("max_attempts", max_attempts, "must be an integer >= 1")
        now = time.time()
        job_id = _new_job_id()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO jobs (id, kind, params, status, created_at, updated_at, "
                "max_attempts, resumable, roots, version, model_key, needs_gpu, timeout_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, kind, params_json, JobStatus.queued.value, now, now, max_attempts,
                 int(bool(resumable)), None if roots is None else json.dumps(list(roots)),
                 version or __version__, model_key, int(bool(needs_gpu)), timeout_s),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """The job's current state; :class:`UnknownJob` if there is none with this id."""
        with self._connection() as conn:
            return self._get_in(conn, job_id)

    def list(
        self,
        status: JobStatus | str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Jobs newest first, optionally only those with ``status`` and/or ``kind``."""
        clauses, args = [], []
        if status is not None:
            clauses.append("status = ?")
            args.append(_parse_status(status).value)
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument("limit", limit, "must be an integer >= 1")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT * FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*args, limit),
        )
        return [_job_from_row(r) for r in rows]

    def cancel(self, job_id: str) -> Job:
        """Cancel a job.

        A queued job becomes ``cancelled`` at once. A running job gets ``cancel_requested``;
        it stays ``running`` until its handler notices (``ctx.should_stop()``) and the worker
        marks it cancelled. Cancelling twice is harmless. A finished job raises
        :class:`JobFinished`.
        """
        now = time.time()
        with self._write() as conn:
            job = self._get_in(conn, job_id)
            if job.finished:
                raise JobFinished(job.id, job.status)
            if job.status is JobStatus.queued:
                conn.execute(
                    "UPDATE jobs SET status = ?, cancel_requested = 1, finished_at = ?, "
                    "updated_at = ?, message = 'cancelled before it started' WHERE id = ?",
                    (JobStatus.cancelled.value, now, now, job.id),
                )
                self._log_in(conn, job.id, "cancelled before it started", "info", now)
            elif not job.cancel_requested:
                conn.execute(
                    "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?",
                    (now, job.id),
                )
                self._log_in(conn, job.id, "cancel requested", "info", now)
        return self.get(job.id)

    def claim(
        self,
        worker_id: str,
        kinds: tuple[str, ...] | list[str] | None = None,
        *,
        version: str | None = None,
        gpu: bool = True,
        models: Sequence[str] = (),
        affinity_grace_s: float = 2.0,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
    ) -> Job | None:
        """Atomically take a queued job for ``worker_id``, with a fresh ``lease``.

        Only jobs of ``kinds`` (None: any), of ``version`` (None: any) and, unless ``gpu``, not
        needing a GPU. Among them: the oldest whose model the worker already holds
        (``models``), else the oldest that no other idle worker holds the model of (such a job
        waits ``affinity_grace_s`` for that worker before anyone takes it). Returns the job, now
        ``running`` with ``attempts`` incremented, or ``None``. Two processes claiming at once
        never receive the same job.
        """
        if not isinstance(worker_id, str) or not worker_id:
            raise InvalidArgument("worker_id", worker_id, "must be a non-empty string")
        query, args = "SELECT * FROM jobs WHERE status = ?", [JobStatus.queued.value]
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return None
            query += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args.extend(kinds)
        if version is not None:
            query += " AND (version IS NULL OR version = ?)"
            args.append(version)
        if not gpu:
            query += " AND needs_gpu = 0"
        query += " ORDER BY created_at, rowid LIMIT 64"
        # An idle worker polls often; a plain read (no write lock) answers "nothing queued".
        if not self._read(query, args):
            return None
        now = time.time()
        with self._write() as conn:
            candidates = [_job_from_row(r) for r in conn.execute(query, args).fetchall()]
            held_elsewhere = self._idle_models_in(conn, worker_id, now, stale_after_s)
            job = _pick(candidates, set(models), held_elsewhere, now, affinity_grace_s)
            if job is None:
                return None
            lease = secrets.token_hex(8)
            conn.execute(
                "UPDATE jobs SET status = ?, worker_id = ?, started_at = ?, heartbeat_at = ?, "
                "updated_at = ?, attempts = attempts + 1, lease = ?, progress = 0, "
                "total = NULL WHERE id = ?",
                (JobStatus.running.value, worker_id, now, now, now, lease, job.id),
            )
            conn.execute(  # where it runs, from its worker's row (none: unknown)
                "UPDATE jobs SET backend = (SELECT backend FROM workers WHERE id = ?1), "
                "node = (SELECT node FROM workers WHERE id = ?1), "
                "device = (SELECT device FROM workers WHERE id = ?1) WHERE id = ?2",
                (worker_id, job.id),
            )
            conn.execute(
                "UPDATE workers SET job_id = ?, heartbeat_at = ? WHERE id = ?",
                (job.id, now, worker_id),
            )
            job = self._get_in(conn, job.id)
            self._log_in(
                conn, job.id, f"claimed by worker {worker_id}{_placement(job)} (attempt "
                f"{job.attempts} of {job.max_attempts})", "info", now,
            )
        return job

    def _idle_models_in(
        self, conn: sqlite3.Connection, worker_id: str, now: float, stale_after_s: float
    ) -> set[str]:
        """Model keys held by the other live workers that are idle right now."""
        rows = conn.execute(
            "SELECT * FROM workers WHERE id != ? AND job_id IS NULL AND stopped_at IS NULL",
            (worker_id,),
        ).fetchall()
        held: set[str] = set()
        for row in rows:
            worker = _worker_from_row(row)
            if not self._presumed_dead(worker, now, stale_after_s):
                held.update(worker.models)
        return held

    def set_progress(
        self,
        job_id: str,
        done: float,
        total: float | None = None,
        message: str | None = None,
        *,
        lease: str | None = None,
    ) -> bool:
        """Record progress of a running job.

        ``progress`` never decreases within an attempt: a smaller ``done`` keeps the old value
        (``total`` and ``message`` still update), so clients may forward it as MCP progress,
        which must increase. ``message=None`` keeps the previous message. Returns ``False``
        (and writes nothing) when the job is not running any more, e.g. it was reaped, or when
        ``lease`` is given and is not the job's current claim.
        """
        done = _finite("done", done, minimum=0.0)
        if total is not None:
            total = _finite("total", total, minimum=0.0)
        now = time.time()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET progress = MAX(progress, ?), total = ?, "
                "message = COALESCE(?, message), updated_at = ? WHERE id = ? AND status = ? "
                "AND (? IS NULL OR lease = ?)",
                (done, total, message, now, job_id, JobStatus.running.value, lease, lease),
            )
            if cur.rowcount == 0:
                self._get_in(conn, job_id)  # UnknownJob for a wrong id
                return False
        return True

    # -- logs --------------------------------------------------------------------------------

    def append_log(
        self, job_id: str, message: str, level: str = "info", *, lease: str | None = None
    ) -> int:
        """Append a line to the job's log; returns its ``seq`` (1, 2, ... per job).

        With ``lease``, only while that claim still holds the job (:class:`LeaseLost` else).
        """
        if level not in LOG_LEVELS:
            raise InvalidArgument("level", level, f"must be one of {', '.join(LOG_LEVELS)}")
        with self._write() as conn:
            job = self._get_in(conn, job_id)
            if lease is not None and job.lease != lease:
                raise LeaseLost(job_id)
            return self._log_in(conn, job_id, str(message), level, time.time())

    def logs(self, job_id: str, since: int = 0, limit: int | None = None) -> list[LogEntry]:
        """Log lines with ``seq > since``, oldest first (pass the last seen seq to follow)."""
        job_id = _check_job_id(job_id)
        if not self._read("SELECT 1 FROM jobs WHERE id = ?", (job_id,)):
            raise UnknownJob(job_id)
        query = "SELECT * FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (job_id, int(since))
        if limit is not None:
            query += " LIMIT ?"
            args += (int(limit),)
        return [LogEntry(**dict(r)) for r in self._read(query, args)]

    @staticmethod
    def _log_in(conn: sqlite3.Connection, job_id: str, message: str, level: str, ts: float) -> int:
        if len(message) > MAX_LOG_MESSAGE_CHARS:
            cut = len(message) - MAX_LOG_MESSAGE_CHARS
            message = message[:MAX_LOG_MESSAGE_CHARS] + f"\n... [{cut} characters cut]"
        seq = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM job_logs WHERE job_id = ?", (job_id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO job_logs (job_id, seq, ts, level, message) VALUES (?, ?, ?, ?, ?)",
            (job_id, seq, ts, level, message),
        )
        return seq

    # -- finishing ---------------------------------------------------------------------------

    def succeed(self, job_id: str, result: Any = None, *, worker_id: str | None = None,
                lease: str | None = None) -> bool:
        """Mark a running job succeeded with its JSON ``result``.

        With ``worker_id`` / ``lease``, only if that worker / claim still owns the job (a worker
        that was presumed dead and whose job went to another worker must not overwrite it). Returns whether the
        job was changed; :class:`JobFinished` if it had already finished.
        """
        result_json = _to_json("result", result)
        return self._finish(job_id, JobStatus.succeeded, worker_id, lease, result=result_json,
                            message="done")

    def fail(self, job_id: str, error: str, *, worker_id: str | None = None,
                lease: str | None = None) -> bool:
        """Mark a running job failed with the human-readable ``error``; see :meth:`succeed`."""
        return self._finish(job_id, JobStatus.failed, worker_id, lease, error=str(error),
                            message="failed")

    def mark_cancelled(self, job_id: str, *, worker_id: str | None = None,
                lease: str | None = None) -> bool:
        """Mark a running job cancelled (its handler stopped); see :meth:`succeed`."""
        return self._finish(job_id, JobStatus.cancelled, worker_id, lease,
                            message="cancelled")

    def requeue(self, job_id: str, reason: str, *, worker_id: str | None = None,
                lease: str | None = None) -> bool:
        """Put a running job back in the queue (a resumable job whose worker is stopping)."""
        now = time.time()
        with self._write() as conn:
            job = self._running_in(conn, job_id, worker_id, lease)
            if job is None:
                return False
            self._requeue_in(conn, job, reason, now)
        return True

    def _finish(
        self,
        job_id: str,
        status: JobStatus,
        worker_id: str | None,
        lease: str | None,
        *,
        result: str | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> bool:
        now = time.time()
        with self._write() as conn:
            job = self._running_in(conn, job_id, worker_id, lease)
            if job is None:
                return False
            conn.execute(
                "UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = ?, "
                "updated_at = ?, message = COALESCE(?, message), lease = NULL WHERE id = ?",
                (status.value, result, error, now, now, message, job.id),
            )
            conn.execute("UPDATE workers SET job_id = NULL WHERE job_id = ?", (job.id,))
            line = f"{status.value}" + (f": {error}" if error else "")
            self._log_in(conn, job.id, line, "error" if error else "info", now)
        return True

    def _running_in(
        self, conn: sqlite3.Connection, job_id: str, worker_id: str | None, lease: str | None
    ) -> Job | None:
        """The job if it is running (on ``worker_id`` / under ``lease``, when given), else
        ``None``;
        :class:`JobFinished` once it reached a final status."""
        job = self._get_in(conn, job_id)
        if job.finished:
            raise JobFinished(job.id, job.status)
        if job.status is not JobStatus.running:
            return None
        if worker_id is not None and job.worker_id != worker_id:
            return None
        return job if lease is None or job.lease == lease else None

    def _requeue_in(self, conn: sqlite3.Connection, job: Job, reason: str, now: float) -> None:
        conn.execute(
            "UPDATE jobs SET status = ?, worker_id = NULL, heartbeat_at = NULL, updated_at = ?, "
            "lease = NULL, progress = 0, total = NULL, "
            "message = ? WHERE id = ?",
            (JobStatus.queued.value, now, f"requeued: {reason}", job.id),
        )
        conn.execute("UPDATE workers SET job_id = NULL WHERE job_id = ?", (job.id,))
        self._log_in(conn, job.id, f"requeued: {reason}", "warning", now)

    @staticmethod
    def _get_in(conn: sqlite3.Connection, job_id: str) -> Job:
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (_check_job_id(job_id),)).fetchone()
        if row is None:
            raise UnknownJob(job_id)
        return _job_from_row(row)

    # -- workers -----------------------------------------------------------------------------

    def register_worker(
        self,
        worker_id: str,
        *,
        pid: int | None = None,
        hostname: str | None = None,
        device: str | None = None,
        version: str | None = None,
        install: str | None = None,
        kinds: Sequence[str] | None = None,
        backend: str = "local",
        node: str | None = None,
        actor: str | None = None,
    ) -> WorkerInfo:
        """Insert or refresh a worker row (a fresh heartbeat, not stopped).

        ``version`` and ``install`` (default: this hdr-mcp's :func:`install_identity`) say
        which code the worker runs; ``kinds`` what it claims (None: any); ``backend``,
        ``node`` (default: the host name) and ``actor`` where it runs (copied onto the jobs it
        claims).
        """
        from hdr_mcp import __version__

        now = time.time()
        pid = os.getpid() if pid is None else pid
        hostname = socket.gethostname() if hostname is None else hostname
        kinds_json = None if kinds is None else json.dumps(list(kinds))
        with self._write() as conn:
            conn.execute(
                "INSERT INTO workers (id, pid, hostname, started_at, heartbeat_at, device, "
                "version, install, kinds, stop_requested, backend, node, actor) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, "
                "hostname = excluded.hostname, started_at = excluded.started_at, "
                "heartbeat_at = excluded.heartbeat_at, device = excluded.device, "
                "version = excluded.version, install = excluded.install, "
                "kinds = excluded.kinds, stopped_at = NULL, stop_requested = 0, "
                "backend = excluded.backend, node = excluded.node, actor = excluded.actor",
                (worker_id, pid, hostname, now, now, device, version or __version__,
                 install or install_identity(), kinds_json, backend, node or hostname, actor),
            )
        return self.worker(worker_id)

    def request_worker_stop(self, worker_id: str) -> WorkerInfo:
        """Ask a worker to exit after its current job (it polls this; works across hosts)."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE workers SET stop_requested = 1 WHERE id = ?", (worker_id,))
            if cur.rowcount == 0:
                raise InvalidArgument("worker_id", worker_id, "no such worker")
        return self.worker(worker_id)

    def stop_worker(self, worker_id: str) -> None:
        """Mark a worker as cleanly stopped (it stays in the table as history)."""
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "UPDATE workers SET stopped_at = ?, job_id = NULL WHERE id = ? "
                "AND stopped_at IS NULL", (now, worker_id),
            )

    def worker(self, worker_id: str) -> WorkerInfo:
        rows = self._read("SELECT * FROM workers WHERE id = ?", (worker_id,))
        if not rows:
            raise InvalidArgument("worker_id", worker_id, "no such worker")
        return _worker_from_row(rows[0])

    def workers(self, *, alive_only: bool = False,
                stale_after_s: float = DEFAULT_STALE_AFTER_S) -> list[WorkerInfo]:
        """Workers, newest first; ``alive_only`` keeps those not stopped, with a heartbeat
        fresher than ``stale_after_s`` and (on this host) a live pid."""
        rows = self._read("SELECT * FROM workers ORDER BY started_at DESC")
        infos = [_worker_from_row(r) for r in rows]
        if alive_only:
            now = time.time()
            infos = [w for w in infos if not self._presumed_dead(w, now, stale_after_s)]
        return infos

    def heartbeat(
        self,
        worker_id: str,
        job_id: str | None = None,
        *,
        lease: str | None = None,
        models: Sequence[str] | None = None,
    ) -> Heartbeat:
        """Refresh the worker's heartbeat (and the models it holds), and its running job's when
        ``job_id`` is given. Returns what the worker must know: whether it still holds the job
        (``lease``), was reaped (presumed dead: its row was marked stopped) or asked to stop."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute("SELECT stopped_at, stop_requested FROM workers WHERE id = ?",
                               (worker_id,)).fetchone()
            reaped = row is not None and row["stopped_at"] is not None
            if not reaped:
                conn.execute(
                    "UPDATE workers SET heartbeat_at = ?, models = COALESCE(?, models) "
                    "WHERE id = ?",
                    (now, None if models is None else json.dumps(sorted(models)), worker_id),
                )
            held = True
            if job_id is not None:
                cur = conn.execute(
                    "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND worker_id = ? "
                    "AND status = ? AND (? IS NULL OR lease = ?)",
                    (now, job_id, worker_id, JobStatus.running.value, lease, lease),
                )
                held = cur.rowcount == 1
        return Heartbeat(holds_job=held, reaped=reaped,
                         stop_requested=bool(row["stop_requested"]) if row else False)

    def job_signals(self, job_id: str, lease: str | None = None) -> tuple[bool, bool]:
        """``(cancel_requested, claim_held)`` of a job in one cheap read (what
        ``ctx.should_stop()`` polls); ``claim_held`` is always True without ``lease``."""
        rows = self._read("SELECT cancel_requested, lease, status FROM jobs WHERE id = ?",
                          (job_id,))
        if not rows:
            raise UnknownJob(job_id)
        row = rows[0]
        held = lease is None or (row["lease"] == lease and row["status"] == "running")
        return bool(row["cancel_requested"]), held

    def cancel_requested(self, job_id: str) -> bool:
        """Cheap read of the job's cancel flag."""
        return self.job_signals(job_id)[0]

    def prune(self, older_than_s: float, *, now: float | None = None) -> list[str]:
        """Delete finished jobs (their rows, logs and working folders) finished more than
        ``older_than_s`` seconds ago; never a queued or running job. Returns their ids.

        Worker rows stopped that long ago go too. Output folders a job wrote elsewhere stay:
        they are the user's results.
        """
        older_than_s = _finite("older_than_s", older_than_s, minimum=0.0)
        cutoff = (time.time() if now is None else now) - older_than_s
        finished = [s.value for s in _FINISHED]
        with self._write() as conn:
            ids = [r["id"] for r in conn.execute(
                f"SELECT id FROM jobs WHERE status IN ({', '.join('?' * len(finished))}) "
                "AND finished_at < ?", (*finished, cutoff)).fetchall()]
            for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
                marks = ", ".join("?" * len(chunk))
                conn.execute(f"DELETE FROM job_logs WHERE job_id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk)
            conn.execute("DELETE FROM workers WHERE stopped_at IS NOT NULL AND stopped_at < ?",
                         (cutoff,))
        for job_id in ids:
            shutil.rmtree(self.home / "jobs" / job_id, ignore_errors=True)
        return ids

    @staticmethod
    def _presumed_dead(w: WorkerInfo, now: float, stale_after_s: float) -> bool:
        if w.stopped_at is not None:
            return True
        if now - w.heartbeat_at > stale_after_s:
            return True
        return w.hostname == socket.gethostname() and not pid_alive(w.pid)

    def reap(self, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> list[Job]:
        """Recover the jobs of workers that died without saying so.

        A worker is dead when its heartbeat is older than ``stale_after_s`` or, on this
        host, its pid no longer exists. Each of its running jobs is requeued if resumable and
        ``attempts < max_attempts``, else failed with ``"worker <id> (pid N) died while running
        the job"``. Running jobs whose worker row is missing or stopped are treated the same.
        A job whose cancellation was requested becomes ``cancelled`` instead.
        Returns the jobs changed (their new state).
        """
        stale_after_s = _finite("stale_after_s", stale_after_s, minimum=0.0)
        now = time.time()
        changed: list[str] = []
        with self._write() as conn:
            workers = {r["id"]: _worker_from_row(r)
                       for r in conn.execute("SELECT * FROM workers").fetchall()}
            dead = {wid for wid, w in workers.items() if self._presumed_dead(w, now, stale_after_s)}
            for wid in dead:
                if workers[wid].stopped_at is None:
                    conn.execute("UPDATE workers SET stopped_at = ?, job_id = NULL WHERE id = ?",
                                 (now, wid))
            running = conn.execute(
                "SELECT * FROM jobs WHERE status = ?", (JobStatus.running.value,)
            ).fetchall()
            for row in running:
                job = _job_from_row(row)
                if job.worker_id in workers:
                    if job.worker_id not in dead:
                        continue
                else:
                    # No worker row (claimed by code that never registered): judge by the
                    # job's own heartbeat, which claim() and heartbeat() keep fresh.
                    beat = job.heartbeat_at or job.started_at or job.updated_at
                    if now - beat <= stale_after_s:
                        continue
                w = workers.get(job.worker_id or "")
                who = f"worker {job.worker_id}" + (f" (pid {w.pid})" if w else "")
                if job.cancel_requested:
                    # The client no longer wants it: a retry would be wasted work.
                    conn.execute(
                        "UPDATE jobs SET status = ?, finished_at = ?, updated_at = ?, "
                        "message = ?, lease = NULL WHERE id = ?",
                        (JobStatus.cancelled.value, now, now, f"cancelled ({who} died)", job.id),
                    )
                    self._log_in(conn, job.id, f"cancelled ({who} died)", "warning", now)
                elif job.resumable and job.attempts < job.max_attempts:
                    self._requeue_in(conn, job, f"{who} died while running the job", now)
                else:
                    error = f"{who} died while running the job"
                    if job.resumable:
                        error += f" (attempt {job.attempts} of {job.max_attempts}, no retries left)"
                    conn.execute(
                        "UPDATE jobs SET status = ?, error = ?, finished_at = ?, updated_at = ?, "
                        "message = 'failed', lease = NULL WHERE id = ?",
                        (JobStatus.failed.value, error, now, now, job.id),
                    )
                    self._log_in(conn, job.id, f"failed: {error}", "error", now)
                changed.append(job.id)
        return [self.get(j) for j in changed]

    # -- waiting -----------------------------------------------------------------------------

    def wait(
        self,
        job_id: str,
        timeout_s: float,
        poll_s: float = 0.2,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job finishes or ``timeout_s`` passes; return its latest state.

        ``on_progress(job)`` is called (in the calling thread) whenever progress, total,
        message or status changed since the last call, including once at the start. Blocking;
        from async code run it in a thread (``anyio.to_thread.run_sync``), which is safe since
        every thread gets its own connection. A timeout is not an error: check ``job.finished``.
        """
        timeout_s = _finite("timeout_s", timeout_s, minimum=0.0)
        poll_s = _finite("poll_s", poll_s, minimum=0.001)
        deadline = time.monotonic() + timeout_s
        seen: tuple[Any, ...] | None = None
        while True:
            job = self.get(job_id)
            state = (job.progress, job.total, job.message, job.status)
            if on_progress is not None and state != seen:
                on_progress(job)
            seen = state
            remaining = deadline - time.monotonic()
            if job.finished or remaining <= 0:
                return job
            time.sleep(min(poll_s, remaining))


def _split_sql(script: str) -> list[str]:
    """Statements of ``script`` (a trigger body's inner ``;`` stays inside its statement)."""
    statements, current = [], ""
    for line in script.splitlines():
        if not line.strip() or line.strip().startswith("--"):
            continue
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def _parse_status(status: JobStatus | str) -> JobStatus:
    try:
        return JobStatus(status)
    except ValueError as e:
        valid = ", ".join(s.value for s in JobStatus)
        raise InvalidArgument("status", status, f"must be one of {valid}") from e


def _finite(argument: str, value: Any, *, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(argument, value, "must be a number")
    value = float(value)
    if not math.isfinite(value) or value < minimum:
        raise InvalidArgument(argument, value, f"must be finite and >= {minimum:g}")
    return value


def _pick(
    candidates: list[Job], mine: set[str], others: set[str], now: float, grace_s: float
) -> Job | None:
    """The job a worker holding ``mine`` takes while idle workers hold ``others`` (see claim)."""
    for job in candidates:
        if job.model_key is not None and job.model_key in mine:
            return job
    for job in candidates:
        if job.model_key is None or job.model_key not in others or now - job.created_at > grace_s:
            return job
    return None


def _placement(job: Job) -> str:
    """`` (ray on node N, cuda:0)`` for a claim's log line; empty when unknown."""
    where = [p for p in (job.backend and f"{job.backend} on node {job.node}", job.device) if p]
    return f" ({', '.join(where)})" if where else ""


def _worker_from_row(row: sqlite3.Row) -> WorkerInfo:
    data = dict(row)
    data["kinds"] = None if data.get("kinds") is None else json.loads(data["kinds"])
    data["models"] = json.loads(data["models"]) if data.get("models") else []
    data["stop_requested"] = bool(data.get("stop_requested") or 0)
    return WorkerInfo(**data)


def _job_from_row(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    data["result"] = None if data["result"] is None else json.loads(data["result"])
    data["resumable"] = bool(data["resumable"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    data["needs_gpu"] = bool(data.get("needs_gpu") or 0)
    data["roots"] = None if data.get("roots") is None else json.loads(data["roots"])
    return Job(**data)
