"""Fixtures for hdr_mcp.jobs tests: a store in tmp_path, test handlers, worker subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hdr_mcp.jobs.store import JobStore, pid_alive

HERE = Path(__file__).resolve().parent

TEST_KINDS = ("echo", "boom", "hdr_error", "not_json", "slow", "frames", "warm")
EXTRA_HANDLERS = ",".join(f"{k}=jobs_test_handlers:{k}" for k in TEST_KINDS)

# Short intervals keep the suite fast; the production defaults are 0.5 s / 2 s.
FAST_WORKER_ARGS = ["--poll-seconds", "0.05", "--heartbeat-seconds", "0.2",
                    "--log-level", "DEBUG"]


def _wait_until(predicate: Callable[[], object], timeout_s: float = 60.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        time.sleep(0.02)


@pytest.fixture
def wait_until() -> Callable[..., object]:
    """``wait_until(predicate, timeout_s=60, what="")``: poll until truthy, else fail."""
    return _wait_until


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> Iterator[JobStore]:
    s = JobStore(home)
    yield s
    s.close()


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Test kinds registered in this process and in the environment of subprocesses."""
    monkeypatch.setenv("HDR_MCP_EXTRA_HANDLERS", EXTRA_HANDLERS)
    monkeypatch.syspath_prepend(str(HERE))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@pytest.fixture
def spawn_worker(
    home: Path, handler_env: dict[str, str]
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``python -m hdr_mcp.jobs.worker`` subprocesses; all are killed at teardown."""
    procs: list[subprocess.Popen] = []

    def spawn(*args: str, worker_id: str | None = None, env: dict[str, str] | None = None):
        cmd = [sys.executable, "-m", "hdr_mcp.jobs.worker", "--home", str(home),
               *FAST_WORKER_ARGS, *args]
        if worker_id:
            cmd += ["--worker-id", worker_id]
        proc = subprocess.Popen(cmd, env=env or handler_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


@pytest.fixture
def detached_pids() -> Iterator[list[int]]:
    """Pids of workers that are not our children (ensure_worker): SIGKILLed at teardown."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
