"""JobStore: submit/claim/cancel/progress/logs/reap/wait, across threads and processes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs import Job, JobFinished, JobStatus, JobStore, UnknownJob, default_home
from hdr_mcp.jobs.store import pid_alive


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_submit_then_get_returns_a_queued_job(store: JobStore) -> None:
    before = time.time()
    job = store.submit("echo", {"a": 1, "nested": {"b": [1.5, "x"]}})
    assert re.fullmatch(r"j_[a-z0-9]{12}", job.id)
    assert job.status is JobStatus.queued and job.status == "queued"
    assert job.params == {"a": 1, "nested": {"b": [1.5, "x"]}}
    assert before <= job.created_at <= time.time()
    assert (job.attempts, job.max_attempts, job.progress, job.total) == (0, 3, 0.0, None)
    assert job.worker_id is None and job.started_at is None and job.finished_at is None
    assert not job.finished and not job.resumable and not job.cancel_requested
    assert store.get(job.id) == job
    assert job.model_dump(mode="json")["status"] == "queued"


def test_submit_validates_its_arguments(store: JobStore) -> None:
    with pytest.raises(InvalidArgument, match=r"^params=.*JSON-serialisable"):
        store.submit("echo", {"x": object()})
    with pytest.raises(InvalidArgument, match=r"^params=.*JSON-serialisable"):
        store.submit("echo", {"x": float("nan")})
    with pytest.raises(InvalidArgument, match=r"^kind="):
        store.submit("", {})
    with pytest.raises(InvalidArgument, match=r"^max_attempts=0"):
        store.submit("echo", {}, max_attempts=0)
    assert store.list() == []


def test_unknown_job_id_raises_unknown_job_naming_job_id(store: JobStore) -> None:
    for call in (store.get, store.cancel, store.logs, lambda j: store.append_log(j, "x"),
                 lambda j: store.set_progress(j, 1, 2), store.cancel_requested):
        with pytest.raises(UnknownJob) as info:
            call("j_doesnotexist")
        assert str(info.value) == (
            "job_id='j_doesnotexist': no such job (list jobs to see valid ids)")
        assert info.value.argument == "job_id"
        assert isinstance(info.value, (InvalidArgument, HdrMcpError))


def test_list_is_newest_first_and_filters(store: JobStore) -> None:
    a1 = store.submit("a", {"i": 1})
    b = store.submit("b", {"i": 2})
    a2 = store.submit("a", {"i": 3})
    assert [j.id for j in store.list()] == [a2.id, b.id, a1.id]
    assert [j.id for j in store.list(kind="a")] == [a2.id, a1.id]
    assert [j.id for j in store.list(limit=1)] == [a2.id]
    claimed = store.claim("w1")
    assert claimed is not None and claimed.id == a1.id  # oldest first
    assert [j.id for j in store.list(status="running")] == [a1.id]
    assert [j.id for j in store.list(status=JobStatus.queued, kind="a")] == [a2.id]
    with pytest.raises(InvalidArgument, match="queued, running, succeeded, failed, cancelled"):
        store.list(status="done")


def test_status_transitions(store: JobStore) -> None:
    assert store.claim("w1") is None
    job = store.submit("echo", {})
    running = store.claim("w1")
    assert running is not None
    assert (running.id, running.status, running.attempts, running.worker_id) == (
        job.id, JobStatus.running, 1, "w1")
    assert running.started_at is not None and running.heartbeat_at is not None
    assert store.claim("w2") is None  # nothing else queued

    assert store.succeed(job.id, {"answer": 42, "path": "/x.exr"}, worker_id="w1")
    done = store.get(job.id)
    assert done.status is JobStatus.succeeded and done.finished
    assert done.result == {"answer": 42, "path": "/x.exr"}
    assert done.finished_at is not None and done.finished_at >= done.started_at

    # A finished job never changes again.
    for call in (lambda: store.fail(job.id, "late"), lambda: store.succeed(job.id, {}),
                 lambda: store.mark_cancelled(job.id)):
        with pytest.raises(JobFinished, match="already finished with status 'succeeded'"):
            call()
    # Only a running job owned by the caller can be finished.
    queued = store.submit("echo", {})
    assert store.fail(queued.id, "x") is False
    assert store.get(queued.id).status is JobStatus.queued
    store.claim("w1")
    assert store.fail(queued.id, "x", worker_id="someone-else") is False
    assert store.fail(queued.id, "ValueError: bad", worker_id="w1")
    failed = store.get(queued.id)
    assert (failed.status, failed.error) == (JobStatus.failed, "ValueError: bad")


def test_claim_takes_oldest_queued_of_the_requested_kinds(store: JobStore) -> None:
    first = store.submit("a", {})
    second = store.submit("b", {})
    third = store.submit("a", {})
    assert store.claim("w", kinds=["b"]).id == second.id
    assert store.claim("w", kinds=["a", "b"]).id == first.id
    assert store.claim("w", kinds=["c"]) is None
    assert store.claim("w", kinds=[]) is None
    assert store.claim("w").id == third.id


def test_cancel_queued_running_and_finished(store: JobStore) -> None:
    queued = store.submit("echo", {})
    cancelled = store.cancel(queued.id)
    assert cancelled.status is JobStatus.cancelled and cancelled.finished_at is not None
    assert store.claim("w1") is None  # a cancelled job is never claimed

    running = store.submit("echo", {})
    store.claim("w1")
    after = store.cancel(running.id)
    assert after.status is JobStatus.running and after.cancel_requested
    assert store.cancel_requested(running.id)
    assert store.cancel(running.id).status is JobStatus.running  # idempotent
    assert store.mark_cancelled(running.id, worker_id="w1")
    assert store.get(running.id).status is JobStatus.cancelled

    with pytest.raises(JobFinished) as info:
        store.cancel(running.id)
    assert str(info.value) == (
        f"job_id={running.id!r}: job already finished with status 'cancelled'")
    assert info.value.argument == "job_id" and info.value.status is JobStatus.cancelled
    messages = [e.message for e in store.logs(running.id)]
    assert messages == ["claimed by worker w1 (attempt 1 of 3)", "cancel requested", "cancelled"]


def test_progress_never_decreases(store: JobStore) -> None:
    job = store.submit("echo", {})
    assert store.set_progress(job.id, 1, 10, "early") is False  # not running yet: ignored
    store.claim("w1")
    seen = []
    for done, total, message in [(2, 10, "a"), (5, 10, "b"), (3, 10, "c"), (3, 20, None),
                                 (20, 20, "d")]:
        assert store.set_progress(job.id, done, total, message)
        j = store.get(job.id)
        seen.append((j.progress, j.total, j.message))
    assert seen == [(2, 10, "a"), (5, 10, "b"), (5, 10, "c"), (5, 20, "c"), (20, 20, "d")]
    for bad in (float("nan"), -1, float("inf"), "3"):
        with pytest.raises(InvalidArgument, match="^done="):
            store.set_progress(job.id, bad, 10)
    store.succeed(job.id, {})
    assert store.set_progress(job.id, 30, 30) is False
    assert store.get(job.id).progress == 20


def test_logs_are_append_only_and_follow_by_seq(store: JobStore) -> None:
    job = store.submit("echo", {})
    assert store.logs(job.id) == []
    seqs = [store.append_log(job.id, f"line {i}", level) for i, level in
            enumerate(["info", "warning", "error"])]
    assert seqs == [1, 2, 3]
    entries = store.logs(job.id)
    assert [(e.seq, e.level, e.message) for e in entries] == [
        (1, "info", "line 0"), (2, "warning", "line 1"), (3, "error", "line 2")]
    assert [e.seq for e in store.logs(job.id, since=1)] == [2, 3]
    assert [e.seq for e in store.logs(job.id, since=1, limit=1)] == [2]
    assert store.logs(job.id, since=3) == []
    with pytest.raises(InvalidArgument, match="^level='loud'"):
        store.append_log(job.id, "x", "loud")

    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE job_logs SET message = 'rewritten'")
    with pytest.raises(sqlite3.DatabaseError, match="unfinished job cannot be deleted"):
        conn.execute("DELETE FROM job_logs")  # the job is queued: its log is evidence
    conn.close()
    assert store.logs(job.id) == entries

    huge = "x" * 100_000
    seq = store.append_log(job.id, huge)
    kept = store.logs(job.id, since=seq - 1)[0].message
    assert kept.startswith("x" * 64_000) and kept.endswith("[36000 characters cut]")


def test_jobs_results_and_logs_survive_a_restart(home: Path) -> None:
    store = JobStore(home)
    done = store.submit("echo", {"k": "v"}, resumable=True, max_attempts=5)
    store.claim("w1")
    store.set_progress(done.id, 3, 3, "finished")
    store.append_log(done.id, "hello")
    store.succeed(done.id, {"exr": "/tmp/out.exr", "metrics": {"psnr": 41.25}})
    waiting = store.submit("echo", {"n": 2})
    before = {j.id: j for j in store.list()}
    logs_before = store.logs(done.id)
    store.close()
    with pytest.raises(HdrMcpError, match="closed"):
        store.get(done.id)

    reopened = JobStore(home)
    assert {j.id: j for j in reopened.list()} == before
    assert reopened.get(done.id).result == {"exr": "/tmp/out.exr", "metrics": {"psnr": 41.25}}
    assert reopened.get(done.id).max_attempts == 5 and reopened.get(done.id).resumable
    assert reopened.logs(done.id) == logs_before
    assert reopened.claim("w2").id == waiting.id
    assert reopened.path == home / "jobs.sqlite3"
    assert reopened.path.with_name("jobs.sqlite3-wal").exists()  # WAL mode
    reopened.close()


_CLAIMER = """
import json, sys, time
from pathlib import Path
from hdr_mcp.jobs.store import JobStore
home, wid, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = JobStore(home)
store.list(limit=1)  # connection opened before the start signal
while not go.exists():
    time.sleep(0.001)
ids = []
while (job := store.claim(wid)) is not None:
    ids.append(job.id)
    time.sleep(0.0005)  # "work", so that the two claimers interleave instead of one draining
print(json.dumps(ids))
"""


def test_two_processes_racing_claim_each_job_exactly_once(store: JobStore, tmp_path: Path) -> None:
    submitted = {store.submit("echo", {"i": i}).id for i in range(200)}
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, str(store.home), wid, str(go)],
                              stdout=subprocess.PIPE, text=True) for wid in ("wa", "wb")]
    time.sleep(0.5)  # both interpreters up and connected
    go.touch()
    claimed = [json.loads(p.communicate(timeout=30)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    a, b = (set(c) for c in claimed)
    assert len(a) + len(b) == 200 and a | b == submitted and not a & b
    assert len(a) > 20 and len(b) > 20  # they really raced
    jobs = store.list(limit=500)
    assert all(j.status is JobStatus.running and j.attempts == 1 for j in jobs)
    assert {j.id for j in jobs if j.worker_id == "wa"} == a


def test_reap_fails_jobs_of_a_dead_worker_naming_it(store: JobStore) -> None:
    pid = _dead_pid()
    assert not pid_alive(pid) and pid_alive(os.getpid())
    store.register_worker("w_dead", pid=pid)
    job = store.submit("echo", {})
    store.claim("w_dead")
    reaped = store.reap(stale_after_s=3600)  # the heartbeat is fresh, the pid is gone
    assert [j.id for j in reaped] == [job.id]
    failed = store.get(job.id)
    assert failed.status is JobStatus.failed
    assert failed.error == f"worker w_dead (pid {pid}) died while running the job"
    assert store.worker("w_dead").stopped_at is not None
    assert store.reap(stale_after_s=3600) == []


def test_reap_requeues_resumable_jobs_until_attempts_run_out(store: JobStore) -> None:
    job = store.submit("slow", {}, resumable=True, max_attempts=2)
    # A requeued job forgets its worker; a failed one keeps the worker it died on.
    for attempt, expected, owner in ((1, JobStatus.queued, None), (2, JobStatus.failed, "w2")):
        pid = _dead_pid()
        store.register_worker(f"w{attempt}", pid=pid)
        assert store.claim(f"w{attempt}").attempts == attempt
        (after,) = store.reap(stale_after_s=3600)
        assert (after.status, after.worker_id) == (expected, owner)
    assert after.error == (f"worker w2 (pid {pid}) died while running the job "
                           "(attempt 2 of 2, no retries left)")
    assert any(e.message.startswith("requeued: worker w1") for e in store.logs(job.id))


def test_reap_uses_heartbeat_age(store: JobStore) -> None:
    store.register_worker("w_live")  # this process: alive
    job = store.submit("echo", {})
    store.claim("w_live")
    assert store.reap(stale_after_s=60) == []
    assert [w.id for w in store.workers(alive_only=True)] == ["w_live"]
    time.sleep(0.05)
    store.heartbeat("w_live", job.id)
    assert store.get(job.id).heartbeat_at == pytest.approx(time.time(), abs=1)
    time.sleep(0.05)
    assert store.workers(alive_only=True, stale_after_s=0.01) == []
    (reaped,) = store.reap(stale_after_s=0.01)
    assert reaped.status is JobStatus.failed
    assert reaped.error == f"worker w_live (pid {os.getpid()}) died while running the job"


def test_reap_judges_unregistered_claimers_by_the_job_heartbeat(store: JobStore) -> None:
    store.submit("echo", {})
    store.claim("never_registered")
    assert store.reap(stale_after_s=60) == []
    time.sleep(0.05)
    (reaped,) = store.reap(stale_after_s=0.01)
    assert reaped.error == "worker never_registered died while running the job"


def test_wait_reports_progress_from_a_thread(store: JobStore) -> None:
    job = store.submit("echo", {})
    timed_out = store.wait(job.id, timeout_s=0.1, poll_s=0.02)
    assert timed_out.status is JobStatus.queued and not timed_out.finished

    seen: list[Job] = []
    outcome: list[Job] = []
    reported = threading.Event()

    def on_progress(j: Job) -> None:
        seen.append(j)
        reported.set()

    waiter = threading.Thread(target=lambda: outcome.append(
        store.wait(job.id, timeout_s=30, poll_s=0.01, on_progress=on_progress)))
    waiter.start()
    store.claim("w1")
    for i in range(1, 4):
        # Each step waits until the waiter reported the previous state, so none is missed.
        assert reported.wait(timeout=60)
        reported.clear()
        store.set_progress(job.id, i, 3, f"step {i}")
    assert reported.wait(timeout=60)
    store.succeed(job.id, {"ok": True})
    waiter.join(timeout=10)
    assert outcome and outcome[0].status is JobStatus.succeeded
    assert outcome[0].result == {"ok": True}
    progress = [j.progress for j in seen]
    assert progress == sorted(progress) and {0.0, 1.0, 2.0, 3.0} <= set(progress)
    assert seen[-1].status is JobStatus.succeeded
    states = [(j.progress, j.message, j.status) for j in seen]
    assert len(states) == len(set(states))  # called on changes only


def test_concurrent_threads_share_one_store(store: JobStore) -> None:
    jobs = [store.submit("echo", {"i": i}).id for i in range(40)]
    claimed: list[str] = []
    lock = threading.Lock()

    def claim_all(wid: str) -> None:
        while (job := store.claim(wid)) is not None:
            store.set_progress(job.id, 1, 1, "done")
            store.succeed(job.id, {"by": wid}, worker_id=wid)
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(claimed) == sorted(jobs)
    assert all(j.status is JobStatus.succeeded for j in store.list(limit=100))


def test_workdir_and_default_home(store: JobStore, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    job = store.submit("echo", {})
    workdir = store.workdir(job.id)
    assert workdir == store.home / "jobs" / job.id and workdir.is_dir()
    with pytest.raises(InvalidArgument, match="^job_id='../escape'"):
        store.workdir("../escape")

    monkeypatch.setenv("HDR_MCP_HOME", str(tmp_path / "env-home"))
    assert default_home() == tmp_path / "env-home" and default_home().is_dir()
    monkeypatch.delenv("HDR_MCP_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    home = default_home()
    assert home.is_dir() and home.name == "hdr-mcp"
    assert home.is_relative_to(tmp_path)


def test_reap_cancels_a_job_whose_cancel_was_requested(store: JobStore) -> None:
    job = store.submit("slow", {}, resumable=True)
    store.register_worker("w_gone", pid=_dead_pid())
    store.claim("w_gone")
    store.cancel(job.id)
    (reaped,) = store.reap(stale_after_s=3600)
    assert reaped.status is JobStatus.cancelled  # not requeued: nobody wants it any more
    assert reaped.message.startswith("cancelled (worker w_gone (pid ")
