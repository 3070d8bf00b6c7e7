"""Jobs that hold a GPU for hours: leases, paused workers, connections, schema migration,
retention, versions, model affinity, worker lifetimes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from hdr_mcp.jobs.store import JobStatus, JobStore
from hdr_mcp.jobs.worker import Worker


def _running(store: JobStore, job_id: str, steps: float = 3) -> bool:
    job = store.get(job_id)
    return job.status is JobStatus.running and job.progress >= steps


def test_a_paused_worker_that_was_reaped_never_touches_the_job_again(
    store: JobStore, spawn_worker, wait_until
) -> None:
    """SIGSTOP (laptop sleep, VM pause, a long weight load holding the GIL) makes a worker look
    dead; its job goes to another worker. When the first one is continued, the new owner's
    result stands."""
    job = store.submit("slow", {"steps": 150, "dt": 0.02}, resumable=True)
    paused = spawn_worker("--stale-after-seconds", "1", worker_id="w_paused")
    wait_until(lambda: _running(store, job.id), what="job running on w_paused")
    first_lease = store.get(job.id).lease
    os.kill(paused.pid, signal.SIGSTOP)
    time.sleep(1.5)  # its heartbeat goes stale
    taker = spawn_worker("--stale-after-seconds", "1", "--burst", worker_id="w_taker")
    wait_until(lambda: store.get(job.id).worker_id == "w_taker", what="job taken over")
    assert store.get(job.id).lease != first_lease
    os.kill(paused.pid, signal.SIGCONT)  # it wakes up mid-job, still believing it owns it
    out, _ = taker.communicate(timeout=60)
    assert taker.returncode == 0, out
    paused_out, _ = paused.communicate(timeout=30)  # it notices and exits
    done = store.get(job.id)
    assert done.status is JobStatus.succeeded and done.worker_id == "w_taker", paused_out
    assert done.result["pid"] == taker.pid
    assert "lost job" in paused_out or "presumed dead" in paused_out, paused_out
    lines = [e.message for e in store.logs(job.id)]
    assert not any("stopping at step" in m for m in lines[lines.index(
        next(m for m in lines if "claimed by worker w_taker" in m)):]), lines
    assert done.progress == 150  # nobody wrote the old attempt's progress over the new one


def test_connections_stay_flat_over_many_short_threads(store: JobStore) -> None:
    job = store.submit("echo", {})
    store.get(job.id)
    before_fds = len(os.listdir("/proc/self/fd"))

    def poll() -> None:
        store.get(job.id)
        store.list(limit=5)

    for _ in range(200):  # as anyio.to_thread does for every tool call
        thread = threading.Thread(target=poll)
        thread.start()
        thread.join()
    assert store.open_connections() <= 2
    assert len(os.listdir("/proc/self/fd")) - before_fds <= 4


V1_SCHEMA = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL,
  status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, total REAL,
  message TEXT NOT NULL DEFAULT '', result TEXT, error TEXT, created_at REAL NOT NULL,
  started_at REAL, finished_at REAL, updated_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 3,
  worker_id TEXT, heartbeat_at REAL, resumable INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0);
CREATE TABLE job_logs (job_id TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL,
  level TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (job_id, seq));
CREATE TRIGGER job_logs_no_delete BEFORE DELETE ON job_logs
BEGIN SELECT RAISE(ABORT, 'job_logs is append-only'); END;
CREATE TABLE workers (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, hostname TEXT NOT NULL,
  started_at REAL NOT NULL, heartbeat_at REAL NOT NULL, stopped_at REAL, device TEXT,
  job_id TEXT);
PRAGMA user_version = 1;
"""


def test_a_version_1_store_is_migrated_keeping_its_jobs(tmp_path: Path) -> None:
    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / "jobs.sqlite3")
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO jobs (id, kind, params, status, created_at, updated_at, "
                 "finished_at) VALUES ('j_old', 'evaluate', '{}', 'succeeded', 1, 1, 1)")
    conn.execute("INSERT INTO job_logs VALUES ('j_old', 1, 1, 'info', 'done')")
    conn.commit()
    conn.close()
    with JobStore(home) as store:
        old = store.get("j_old")
        assert old.status is JobStatus.succeeded and old.lease is None and old.version is None
        assert [e.message for e in store.logs("j_old")] == ["done"]
        fresh = store.submit("echo", {})
        assert store.claim("w").id == fresh.id  # new columns work
        assert store.prune(0) == ["j_old"]  # the old delete trigger is gone
    version = sqlite3.connect(home / "jobs.sqlite3").execute("PRAGMA user_version").fetchone()
    assert version[0] == 3


def _v2_schema() -> str:
    """Version 2 as released: version 3's schema without the placement columns."""
    from hdr_mcp.jobs import store as store_module

    schema = store_module._SCHEMA
    for column in ("    backend TEXT,\n    node TEXT,\n    device TEXT\n",
                   "    backend TEXT NOT NULL DEFAULT 'local',\n    node TEXT,\n    actor TEXT\n"):
        assert column in schema
        schema = schema.replace(column, "")
    schema = schema.replace("timeout_s REAL,\n);", "timeout_s REAL\n);").replace(
        "stop_requested INTEGER NOT NULL DEFAULT 0,\n);",
        "stop_requested INTEGER NOT NULL DEFAULT 0\n);")
    return schema + "PRAGMA user_version = 2;\n"


def test_a_version_2_store_gains_placement_columns(tmp_path: Path) -> None:
    home = tmp_path / "v2"
    home.mkdir()
    conn = sqlite3.connect(home / "jobs.sqlite3")
    conn.executescript(_v2_schema())
    assert "backend" not in {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
    conn.execute("INSERT INTO jobs (id, kind, params, status, created_at, updated_at) "
                 "VALUES ('j_v2', 'echo', '{}', 'queued', 1, 1)")
    conn.execute("INSERT INTO workers (id, pid, hostname, started_at, heartbeat_at) "
                 "VALUES ('w_v2', 1, 'h', 1, 1)")
    conn.commit()
    conn.close()
    with JobStore(home) as store:
        old = store.get("j_v2")
        assert (old.backend, old.node, old.device) == (None, None, None)
        assert store.worker("w_v2").backend == "local"
        store.register_worker("actor-0", device="cuda:0", backend="ray", node="n1", actor="a1")
        job = store.claim("actor-0")
        assert job.id == "j_v2"
        assert (job.backend, job.node, job.device) == ("ray", "n1", "cuda:0")
        assert "(ray on node n1, cuda:0)" in store.logs(job.id)[-1].message
    version = sqlite3.connect(home / "jobs.sqlite3").execute("PRAGMA user_version").fetchone()
    assert version[0] == 3


def test_a_claim_records_where_the_job_runs(store: JobStore) -> None:
    import socket

    store.register_worker("w_local", device="cpu")
    job = store.submit("echo", {})
    claimed = store.claim("w_local")
    assert (claimed.backend, claimed.node, claimed.device) == ("local", socket.gethostname(),
                                                               "cpu")
    store.succeed(job.id, {})
    again = store.submit("echo", {})
    assert store.claim("unregistered").backend is None  # no worker row: unknown, not a guess
    assert store.get(again.id).node is None


def test_prune_removes_old_finished_jobs_only(store: JobStore) -> None:
    done = store.submit("echo", {})
    store.claim("w")
    store.succeed(done.id, {"ok": 1})
    (store.home / "jobs" / done.id).mkdir(parents=True, exist_ok=True)
    running = store.submit("echo", {})
    store.claim("w2")
    queued = store.submit("echo", {})
    later = time.time() + 10 * 86400
    assert store.prune(86400, now=later) == [done.id]
    assert not (store.home / "jobs" / done.id).exists()
    assert {j.id for j in store.list()} == {queued.id, running.id}
    with pytest.raises(sqlite3.DatabaseError, match="unfinished"):
        conn = sqlite3.connect(store.path)
        conn.execute("DELETE FROM job_logs WHERE job_id = ?", (running.id,))


def test_workers_claim_only_jobs_of_their_version_and_device(store: JobStore) -> None:
    old = store.submit("echo", {}, version="0.0.1")
    gpu = store.submit("echo", {}, needs_gpu=True)
    cpu = store.submit("echo", {})
    assert store.claim("w_cpu", version="0.1.0", gpu=False).id == cpu.id
    assert store.claim("w_cpu", version="0.1.0", gpu=False) is None  # gpu: not for it
    assert store.claim("w_gpu", version="0.1.0", gpu=True).id == gpu.id
    assert store.claim("w_gpu", version="0.1.0") is None  # 0.0.1: another version's job
    assert store.get(old.id).status is JobStatus.queued


def test_a_job_goes_to_the_worker_that_holds_its_model(store: JobStore) -> None:
    store.register_worker("w_warm")
    store.register_worker("w_cold")
    store.heartbeat("w_warm", models=["tiny-flux.1-dev|float32"])
    warm_job = store.submit("echo", {}, model_key="tiny-flux.1-dev|float32")
    other = store.submit("echo", {}, model_key="tiny-qwen-image|float32")
    # The cold worker leaves the warm worker's model alone while that worker is idle ...
    assert store.claim("w_cold", models=[]).id == other.id
    # ... and the warm worker takes its own.
    assert store.claim("w_warm", models=["tiny-flux.1-dev|float32"]).id == warm_job.id
    # Nobody idle holds it: the first free worker takes it.
    third = store.submit("echo", {}, model_key="tiny-flux.1-dev|float32")
    assert store.claim("w_cold", models=[]).id == third.id


def test_an_idle_worker_exits_and_one_without_its_store_too(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "home")
    worker = Worker(store, "w_idle", poll_s=0.01, heartbeat_s=0.05, idle_exit_s=0.2)
    start = time.monotonic()
    assert worker.run() == 0 and time.monotonic() - start < 5
    gone = JobStore(tmp_path / "gone")
    lonely = Worker(gone, "w_lonely", poll_s=0.01, heartbeat_s=0.05)
    thread = threading.Thread(target=lonely.run)
    thread.start()
    time.sleep(0.2)
    for path in sorted((tmp_path / "gone").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_worker_asked_to_stop_exits(store: JobStore) -> None:
    worker = Worker(store, "w_asked", poll_s=0.01, heartbeat_s=0.05)
    thread = threading.Thread(target=worker.run)
    thread.start()
    time.sleep(0.2)
    store.request_worker_stop("w_asked")
    thread.join(timeout=5)
    assert not thread.is_alive() and store.worker("w_asked").stopped_at is not None


def test_worker_records_version_install_and_held_models(store: JobStore) -> None:
    from hdr_mcp import __version__
    from hdr_mcp.jobs.store import install_identity

    info = store.register_worker("w_info", device="cuda:1", kinds=["evaluate"])
    assert (info.version, info.install, info.kinds) == (__version__, install_identity(),
                                                       ["evaluate"])
    store.heartbeat("w_info", models=["b", "a"])
    assert store.worker("w_info").models == ["a", "b"]
    assert json.loads(json.dumps(store.worker("w_info").model_dump()))["device"] == "cuda:1"


def test_a_killed_conversion_resumes_and_ends_identical_to_an_uninterrupted_run(
    store: JobStore, spawn_worker, wait_until, tmp_path: Path
) -> None:
    import numpy as np

    from hdr_mcp.io import read_image, write_sdr
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    frames = tmp_path / "plate"
    frames.mkdir()
    rng = np.random.default_rng(7)
    for i in range(60):
        write_sdr(frames / f"f_{i:03d}.png", rng.random((192, 384, 3), np.float32), bit_depth=8)
    reference = convert(str(frames), output_dir=tmp_path / "uninterrupted")
    out = tmp_path / "resumed"
    job = store.submit("sdr_to_hdr_video", {"input": str(frames), "output_dir": str(out)},
                       resumable=True)
    first = spawn_worker(worker_id="w_killed")
    wait_until(lambda: len(list(out.glob("frame_*.exr"))) >= 5, timeout_s=60,
               what="some frames written")
    first.kill()
    first.wait(timeout=60)
    kept = len(list(out.glob("frame_*.exr")))
    assert kept < 60, "the run finished before the kill: make the frames bigger"
    second = spawn_worker("--burst", worker_id="w_resumer")
    log, _ = second.communicate(timeout=120)
    done = store.get(job.id)
    assert done.status is JobStatus.succeeded, (done, log)
    assert done.attempts == 2 and done.result["resumed_frames"] >= kept - 1
    assert {k: v for k, v in done.result.items() if k not in ("output_dir", "exr_paths",
            "exr_pattern", "preview_png", "preview_mp4", "resumed_frames")} == {
        k: v for k, v in reference.items() if k not in ("output_dir", "exr_paths",
            "exr_pattern", "preview_png", "preview_mp4", "resumed_frames")}
    for i in range(60):
        name = f"frame_{i:05d}.exr"
        np.testing.assert_array_equal(read_image(out / name).pixels,
                                      read_image(tmp_path / "uninterrupted" / name).pixels)
    np.testing.assert_array_equal(read_image(out / "preview.png").pixels,
                                  read_image(tmp_path / "uninterrupted" / "preview.png").pixels)
