"""Workers: burst runs, failures, SIGKILL/SIGTERM, cancellation, ensure_worker, no torch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.jobs import JobStatus, JobStore
from hdr_mcp.jobs.store import pid_alive
from hdr_mcp.jobs.worker import Worker, describe_exception, run_worker


def _running_with_progress(store: JobStore, job_id: str):
    job = store.get(job_id)
    return job.status is JobStatus.running and job.progress >= 2


def test_burst_worker_in_process_records_every_outcome(
    store: JobStore, handler_env: dict[str, str]
) -> None:
    ok = store.submit("echo", {"steps": 4, "tag": "x"})
    boom = store.submit("boom", {"message": "kaboom"})
    hdr = store.submit("hdr_error", {})
    not_json = store.submit("not_json", {})
    unknown = store.submit("no_such_kind", {})
    worker = Worker(store, "w_test", poll_s=0.01, heartbeat_s=0.05)
    assert worker.run(burst=True) == 5

    done = store.get(ok.id)
    assert done.status is JobStatus.succeeded
    assert done.result["echo"] == {"steps": 4, "tag": "x"}
    assert done.result["workdir"] == str(store.home / "jobs" / ok.id)
    assert (done.progress, done.total, done.message) == (4, 4, "done")
    assert done.worker_id == "w_test" and done.attempts == 1
    assert [e.message for e in store.logs(ok.id)][-2:] == ["echo done", "succeeded"]

    failed = store.get(boom.id)
    assert (failed.status, failed.error) == (JobStatus.failed, "ValueError: kaboom")
    tb = [e for e in store.logs(boom.id) if e.level == "error" and "Traceback" in e.message]
    assert len(tb) == 1 and "jobs_test_handlers.py" in tb[0].message
    assert tb[0].message.rstrip().endswith("ValueError: kaboom")

    assert store.get(hdr.id).error == "width=-1: must be positive"  # HdrMcpError verbatim
    assert store.get(not_json.id).error.startswith("handler returned a result that is not JSON")
    assert store.get(unknown.id).error.startswith("kind='no_such_kind': unknown job kind")
    assert store.worker("w_test").stopped_at is not None


def test_worker_validates_its_options(store: JobStore) -> None:
    with pytest.raises(InvalidArgument, match="^kinds='nope'"):
        Worker(store, kinds=["nope"])
    with pytest.raises(InvalidArgument, match="^poll_s=0"):
        Worker(store, poll_s=0)
    assert describe_exception(KeyError("k")) == "KeyError: 'k'"
    assert describe_exception(RuntimeError()) == "RuntimeError"


def test_burst_worker_subprocess_runs_a_job(store: JobStore, spawn_worker,
                                            handler_env: dict[str, str]) -> None:
    job = store.submit("echo", {"steps": 2})
    other = store.submit("slow", {"steps": 1})
    proc = spawn_worker("--burst", "--kinds", "echo", "--device", "cpu", worker_id="w_burst")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    done = store.get(job.id)
    assert done.status is JobStatus.succeeded and done.result["pid"] == proc.pid
    assert store.get(other.id).status is JobStatus.queued  # not one of its kinds
    info = store.worker("w_burst")
    assert info.pid == proc.pid and info.stopped_at is not None
    assert info.device == "cpu"
    # run_worker is what `hdr-mcp worker` calls; it takes the remaining job.
    assert run_worker(home=str(store.home), burst=True, poll_seconds=0.01,
                      heartbeat_seconds=0.05, device="cpu") == 1
    assert store.get(other.id).status is JobStatus.succeeded


def test_sigkill_mid_job_fails_it_naming_the_dead_worker(
    store: JobStore, spawn_worker, wait_until
) -> None:
    job = store.submit("slow", {"steps": 500})
    proc = spawn_worker(worker_id="w_victim")
    wait_until(lambda: _running_with_progress(store, job.id), what="job running")
    proc.kill()
    proc.wait(timeout=60)
    assert store.get(job.id).status is JobStatus.running  # nobody knows yet
    (reaped,) = store.reap(stale_after_s=60)
    assert reaped.status is JobStatus.failed
    assert reaped.error == f"worker w_victim (pid {proc.pid}) died while running the job"


def test_sigkill_resumable_job_is_requeued_and_finished_by_another_worker(
    store: JobStore, spawn_worker, wait_until
) -> None:
    job = store.submit("slow", {"steps": 60, "dt": 0.02}, resumable=True)
    first = spawn_worker(worker_id="w_first")
    wait_until(lambda: _running_with_progress(store, job.id), what="job running")
    first.kill()
    first.wait(timeout=60)
    # The second worker reaps the first at start, requeues the job and resumes it.
    second = spawn_worker("--burst", worker_id="w_second")
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out
    done = store.get(job.id)
    assert done.status is JobStatus.succeeded, (done, out)
    assert done.attempts == 2 and done.worker_id == "w_second"
    assert done.result["pid"] == second.pid and 2 <= done.result["resumed_from"] < 60
    assert done.progress == 60
    messages = [e.message for e in store.logs(job.id)]
    assert (f"requeued: worker w_first (pid {first.pid}) died while running the job"
            in messages)


@pytest.mark.parametrize("resumable", [False, True])
def test_sigterm_stops_the_running_job_gracefully(
    store: JobStore, spawn_worker, wait_until, resumable: bool
) -> None:
    job = store.submit("slow", {"steps": 500}, resumable=resumable)
    proc = spawn_worker(worker_id="w_term")
    wait_until(lambda: _running_with_progress(store, job.id), what="job running")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert time.monotonic() - t0 < 3
    after = store.get(job.id)
    if resumable:
        assert after.status is JobStatus.queued and after.worker_id is None
        assert after.message.startswith("requeued: worker stopped: worker w_term")
    else:
        assert after.status is JobStatus.failed
        assert after.error.startswith(
            f"worker stopped: worker w_term (pid {proc.pid}) was shut down before the job "
            "finished (stopped at step")
    assert store.worker("w_term").stopped_at is not None


def test_second_sigterm_interrupts_a_handler_that_ignores_should_stop(
    store: JobStore, spawn_worker, wait_until
) -> None:
    job = store.submit("slow", {"steps": 500, "ignore_stop": True})
    proc = spawn_worker(worker_id="w_stubborn")
    wait_until(lambda: _running_with_progress(store, job.id), what="job running")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert proc.poll() is None and store.get(job.id).status is JobStatus.running
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    after = store.get(job.id)
    assert after.status is JobStatus.failed
    assert after.error.endswith("(interrupted by a second stop signal)")


def test_cancelling_a_running_job_in_a_worker_process(
    store: JobStore, spawn_worker, wait_until
) -> None:
    job = store.submit("slow", {"steps": 500})
    waiting = store.submit("echo", {})
    proc = spawn_worker(worker_id="w_cancel")
    wait_until(lambda: _running_with_progress(store, job.id), what="job running")
    t0 = time.monotonic()
    assert store.cancel(job.id).status is JobStatus.running
    final = store.wait(job.id, timeout_s=5, poll_s=0.02)
    assert final.status is JobStatus.cancelled
    assert time.monotonic() - t0 < 2.5  # should_stop polls every 0.2 s, the step is 0.02 s
    assert final.progress < 500
    # The worker carries on with the next job.
    assert store.wait(waiting.id, timeout_s=60, poll_s=0.02).status is JobStatus.succeeded
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


_ENSURE = """
import json, sys, time
from pathlib import Path
from hdr_mcp.jobs.worker import ensure_worker
home, go = sys.argv[1], Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(json.dumps(ensure_worker(home, worker_args=["--poll-seconds", "0.05", "--heartbeat-seconds", "0.2"])))
"""


def test_ensure_worker_spawns_exactly_one_worker_that_runs_jobs(
    store: JobStore, handler_env: dict[str, str], tmp_path: Path, wait_until,
    detached_pids: list[int],
) -> None:
    from hdr_mcp.jobs.worker import ensure_worker

    go = tmp_path / "go"
    callers = [subprocess.Popen([sys.executable, "-c", _ENSURE, str(store.home), str(go)],
                                stdout=subprocess.PIPE, env=handler_env, text=True)
               for _ in range(2)]
    time.sleep(0.4)
    go.touch()
    results = [json.loads(c.communicate(timeout=60)[0]) for c in callers]
    pids = [r for r in results if r is not None]
    detached_pids.extend(pids)
    assert len(pids) == 1 and results.count(None) == 1, results
    (pid,) = pids
    assert pid_alive(pid)
    assert ensure_worker(store.home) is None  # still alive: no second one

    job = store.submit("echo", {"steps": 2})
    done = store.wait(job.id, timeout_s=20, poll_s=0.05)
    assert done.status is JobStatus.succeeded and done.result["pid"] == pid
    (worker,) = store.workers(alive_only=True)
    assert worker.pid == pid and worker.device == "cpu"  # auto: torch sees no GPU here
    logs = list((store.home / "logs").glob(f"worker-*-{worker.id}.log"))
    assert len(logs) == 1

    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive(pid), what="worker exit")
    assert store.worker(worker.id).stopped_at is not None
    assert f"worker {worker.id} stopped after 1 job(s)" in logs[0].read_text()


_IMPORTS = """
import sys
import hdr_mcp.jobs
from hdr_mcp.jobs import Worker, ensure_worker, run_worker
import hdr_mcp.jobs.store, hdr_mcp.jobs.context, hdr_mcp.jobs.kinds, hdr_mcp.jobs.view, hdr_mcp.jobs.worker
heavy = sorted(m for m in ("torch", "diffusers", "peft", "numpy") if m in sys.modules)
print(",".join(heavy))
"""


def test_importing_jobs_imports_no_torch() -> None:
    out = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == ""
