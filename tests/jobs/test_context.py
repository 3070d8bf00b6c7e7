"""JobContext implementations: LocalContext (no store) and StoreContext (throttled)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs import JobCancelled, JobContext, JobStore, LocalContext, StoreContext
from hdr_mcp.jobs.store import LeaseLost


def test_local_context_reports_to_callbacks(tmp_path: Path) -> None:
    calls: list[tuple] = []
    stop = threading.Event()
    ctx = LocalContext(tmp_path / "work", on_progress=lambda *a: calls.append(a), stop_event=stop)
    assert isinstance(ctx, JobContext)
    assert ctx.workdir.is_dir() and ctx.job_id == "local"
    for i in range(3):
        ctx.progress(i + 1, 3, f"step {i + 1}")
    assert calls == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    ctx.log("hello")
    ctx.log("careful", level="warning")
    assert ctx.messages == [("info", "hello"), ("warning", "careful")]
    with pytest.raises(InvalidArgument, match="^level='loud'"):
        ctx.log("x", level="loud")
    assert not ctx.should_stop()
    ctx.raise_if_stopped()
    stop.set()
    assert ctx.should_stop()
    with pytest.raises(JobCancelled) as info:
        ctx.raise_if_stopped()
    assert isinstance(info.value, HdrMcpError) and str(info.value) == "job cancelled"
    assert not LocalContext(tmp_path).should_stop()  # no event: never stops


def test_store_context_throttles_progress_but_keeps_the_last(store: JobStore) -> None:
    store.submit("echo", {})
    job = store.claim("w1")
    ctx = StoreContext(store, job, progress_interval_s=3600)
    assert ctx.workdir == store.home / "jobs" / job.id and ctx.workdir.is_dir()
    for i in range(1, 100):
        ctx.progress(i, 100, f"step {i}")
    # Only the first report of the interval was written; the rest wait.
    assert (store.get(job.id).progress, store.get(job.id).message) == (1, "step 1")
    ctx.flush()
    assert (store.get(job.id).progress, store.get(job.id).message) == (99, "step 99")
    ctx.flush()  # nothing pending: no write, no error
    ctx.progress(100, 100, "done")  # completion is always written at once
    assert (store.get(job.id).progress, store.get(job.id).total) == (100, 100)


def test_store_context_writes_at_most_every_interval(store: JobStore) -> None:
    store.submit("echo", {})
    job = store.claim("w1")
    ctx = StoreContext(store, job, progress_interval_s=0.05)
    written = []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 0.3:
        i += 1
        ctx.progress(i, None)
        p = store.get(job.id).progress
        if not written or written[-1] != p:
            written.append(p)
    assert i > 20  # many reports ...
    assert 3 <= len(written) <= 8  # ... about one write per 50 ms


def test_store_context_should_stop_polls_cancel_and_stop_event(store: JobStore) -> None:
    store.submit("echo", {})
    job = store.claim("w1")
    stop = threading.Event()
    ctx = StoreContext(store, job, stop_event=stop, stop_poll_s=0.5)
    assert not ctx.should_stop() and not ctx.stop_observed
    store.cancel(job.id)
    assert not ctx.should_stop()  # read at most every 0.5 s
    time.sleep(0.55)
    assert ctx.should_stop() and ctx.cancel_requested and ctx.stop_observed

    store.submit("echo", {})
    other = store.claim("w1")
    ctx2 = StoreContext(store, other, stop_event=stop, stop_poll_s=3600)
    assert not ctx2.should_stop()
    stop.set()  # the worker is shutting down: true at once
    assert ctx2.should_stop() and not ctx2.cancel_requested
    with pytest.raises(JobCancelled):
        ctx2.raise_if_stopped()
    ctx2.log("stopping", level="warning")
    assert store.logs(other.id)[-1].message == "stopping"
    assert store.logs(other.id)[-1].level == "warning"


def test_a_lost_lease_stops_the_handler_and_blocks_every_write(store: JobStore) -> None:
    store.submit("echo", {}, resumable=True)
    job = store.claim("w1")
    ctx = StoreContext(store, job, stop_poll_s=0.0)
    ctx.progress(1, 10, "one")
    store.register_worker("w1", pid=999_999_999)  # a pid that does not exist: w1 looks dead
    assert [j.id for j in store.reap()] == [job.id]  # requeued
    new = store.claim("w2")
    assert new.id == job.id and new.lease != job.lease and new.progress == 0  # fresh attempt
    assert ctx.should_stop() and ctx.lease_lost
    with pytest.raises(LeaseLost):
        ctx.progress(5, 10, "old attempt")
    with pytest.raises(LeaseLost):
        ctx.log("old attempt")
    assert not store.succeed(job.id, {"from": "old"}, lease=job.lease)
    after = store.get(job.id)
    assert after.progress == 0 and after.worker_id == "w2"
    assert all("old attempt" not in e.message for e in store.logs(job.id))


def test_timeout_stops_the_attempt(store: JobStore) -> None:
    store.submit("echo", {}, timeout_s=0.05)
    job = store.claim("w1")
    ctx = StoreContext(store, job, stop_poll_s=3600)
    assert not ctx.should_stop()
    time.sleep(0.06)
    assert ctx.should_stop() and ctx.timed_out


def test_paths_are_checked_against_the_roots_the_job_was_submitted_with(
    store: JobStore, tmp_path: Path
) -> None:
    inside = tmp_path / "root"
    inside.mkdir()
    (inside / "frame.png").write_bytes(b"x")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"y")
    store.submit("echo", {}, roots=[str(inside)])
    ctx = StoreContext(store, store.claim("w1"))
    assert ctx.check_path("input", inside / "frame.png") == (inside / "frame.png").resolve()
    (inside / "frame.png").unlink()
    (inside / "frame.png").symlink_to(outside)  # swapped after submit
    with pytest.raises(InvalidArgument, match="outside the allowed roots") as e:
        ctx.check_path("input", inside / "frame.png")
    assert e.value.argument == "input"
    assert LocalContext(tmp_path / "w").check_path("input", outside) == outside.resolve()
