"""The Ray backend on a local Ray cluster with two fake GPUs (no real GPU, no network).

One cluster for the module (starting Ray costs seconds); every test gets its own store, hence
its own actors (actor names derive from the store's folder), killed at teardown.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hdr_mcp.jobs.context import LocalContext
from hdr_mcp.jobs.store import JobStatus, JobStore, LeaseLost

from .conftest import EXTRA_HANDLERS, HERE, _wait_until

ray = pytest.importorskip("ray")

from hdr_mcp.jobs.ray_backend import RAY_NAMESPACE, RayPool, _Raised

pytestmark = pytest.mark.slow

FAST = {"poll_s": 0.02, "heartbeat_s": 0.2, "stale_after_s": 10.0}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster (2 fake GPUs) whose workers import the test handlers."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HDR_MCP_EXTRA_HANDLERS", EXTRA_HANDLERS)
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE),
                                                              os.environ.get("PYTHONPATH")])))
        mp.syspath_prepend(str(HERE))
        context = ray.init(num_cpus=4, num_gpus=2, include_dashboard=False,
                           namespace=RAY_NAMESPACE, log_to_driver=False)
        try:
            yield context.address_info["gcs_address"]
        finally:
            ray.shutdown()


class Running:
    """A pool supervising in a thread (what `hdr-mcp worker --backend ray` does)."""

    def __init__(self, store: JobStore, **options) -> None:
        self.pool = RayPool(store, **{"actors": 2, **FAST, **options})
        self.pool.start()
        self.thread = threading.Thread(target=self.pool.run, daemon=True)
        self.thread.start()

    def abandon(self) -> None:
        """The supervisor goes away (a server crash); its actors keep running."""
        self.pool.stop()
        self.thread.join(timeout=30)

    def close(self) -> None:
        self.abandon()
        self.pool.close(kill_actors=True)


@pytest.fixture
def pools(cluster: str) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(store: JobStore, **options) -> Running:
        started.append(Running(store, **options))
        return started[-1]

    yield start
    for running in reversed(started):
        running.close()


def finished(store: JobStore, job_id: str, timeout_s: float = 60.0):
    return _wait_until(lambda: store.get(job_id).finished and store.get(job_id), timeout_s,
                       f"job {job_id} to finish")


def test_an_error_raised_by_the_store_proxy_is_raised_again_as_itself() -> None:
    error = LeaseLost("j_abc")
    again = _Raised(type(error).__module__, type(error).__qualname__, str(error),
                    dict(error.__dict__)).rebuild()
    assert type(again) is LeaseLost and str(again) == str(error) and again.job_id == "j_abc"


def test_jobs_spread_over_both_actors_and_record_where_they_ran(
        store: JobStore, pools: Callable[..., Running]) -> None:
    running = pools(store)
    jobs = [store.submit("slow", {"steps": 6, "dt": 0.05}) for _ in range(4)]
    done = [finished(store, j.id) for j in jobs]
    assert all(j.status is JobStatus.succeeded for j in done)
    assert {j.worker_id for j in done} == {s.name for s in running.pool.slots}
    node = ray.get_runtime_context().get_node_id()
    assert {(j.backend, j.node) for j in done} == {("ray", node)}
    actors = {w.id: w for w in store.workers()}
    assert {w.backend for w in actors.values()} == {"ray"}
    assert sorted(w.device for w in actors.values()) == ["cpu (ray gpu 0)", "cpu (ray gpu 1)"]
    assert len({w.pid for w in actors.values()} | {os.getpid()}) == 3  # two actor processes


def test_a_job_goes_to_the_actor_that_holds_its_model(
        store: JobStore, pools: Callable[..., Running]) -> None:
    pools(store)
    first = finished(store, store.submit("warm", {"model": "tiny-a"}, model_key="tiny-a").id)
    holder = first.worker_id
    _wait_until(lambda: store.worker(holder).models == ["tiny-a"], 30, "models reported")
    # Least loaded first would pick the other actor; the one holding the model wins.
    again = store.submit("warm", {"model": "tiny-a"}, model_key="tiny-a")
    other = store.submit("warm", {"model": "tiny-b", "dt": 0.3}, model_key="tiny-b")
    assert finished(store, again.id).worker_id == holder
    assert finished(store, other.id).worker_id != holder


def test_an_actor_killed_mid_job_hands_the_job_to_the_other_with_identical_output(
        store: JobStore, pools: Callable[..., Running], tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    expected = __import__("jobs_test_handlers").frames(
        {"output_dir": str(reference), "frames": 10, "dt": 0.0}, LocalContext(tmp_path / "w"))
    pools(store)
    out = tmp_path / "ray"
    job = store.submit("frames", {"output_dir": str(out), "frames": 10, "dt": 0.15},
                       resumable=True)
    _wait_until(lambda: store.get(job.id).progress >= 3, 60, "three frames")
    victim = store.get(job.id).worker_id
    os.kill(store.worker(victim).pid, signal.SIGKILL)
    done = finished(store, job.id)
    assert done.status is JobStatus.succeeded, done.error
    assert done.worker_id != victim and done.attempts == 2
    assert done.result["sha256"] == expected["sha256"] and done.result["resumed_from"] >= 3
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    log = [e.message for e in store.logs(job.id)]
    assert any("died" in line and victim in line for line in log), log


def test_a_job_whose_actor_dies_on_its_last_attempt_fails_with_the_reason(
        store: JobStore, pools: Callable[..., Running], tmp_path: Path) -> None:
    pools(store)
    job = store.submit("frames", {"output_dir": str(tmp_path / "o"), "frames": 50, "dt": 0.1},
                       resumable=True, max_attempts=1)
    _wait_until(lambda: store.get(job.id).progress >= 1, 60, "a frame")
    victim = store.get(job.id).worker_id
    os.kill(store.worker(victim).pid, signal.SIGKILL)
    done = finished(store, job.id)
    assert done.status is JobStatus.failed and "died" in done.error and victim in done.error


def test_cancel_reaches_a_running_ray_job_within_one_step(
        store: JobStore, pools: Callable[..., Running]) -> None:
    pools(store)
    job = store.submit("slow", {"steps": 100, "dt": 0.3})
    _wait_until(lambda: store.get(job.id).progress >= 2, 60, "two steps")
    at_cancel = store.get(job.id).progress
    store.cancel(job.id)
    done = finished(store, job.id, 30)
    assert done.status is JobStatus.cancelled
    stopped = [e.message for e in store.logs(job.id) if e.message.startswith("stopping at")]
    # the step in flight finishes (and its report may race the read above), then it stops
    assert stopped and int(stopped[0].split()[-1]) <= at_cancel + 2


def test_a_restarted_supervisor_follows_a_job_in_flight_and_requeues_orphans(
        store: JobStore, pools: Callable[..., Running]) -> None:
    first = pools(store)
    job = store.submit("slow", {"steps": 15, "dt": 0.1}, resumable=True)
    _wait_until(lambda: store.get(job.id).progress >= 2, 60, "two steps")
    first.abandon()  # the server dies; the detached actors keep working
    # A job the store says an actor runs, but no actor does (claimed, then the actor lost it).
    orphan = store.submit("echo", {}, resumable=True)
    idle = next(s.name for s in first.pool.slots if s.name != store.get(job.id).worker_id)
    assert store.claim(idle).id == orphan.id
    second = pools(JobStore(store.home))
    done = finished(store, job.id)
    assert done.status is JobStatus.succeeded and done.attempts == 1  # never run twice
    log = [e.message for e in store.logs(job.id)]
    assert sum(line.startswith("claimed by") for line in log) == 1
    assert any("supervisor restarted" in line for line in log)
    requeued = finished(store, orphan.id)
    assert requeued.status is JobStatus.succeeded and requeued.attempts == 2
    assert any("pool restarted" in e.message for e in store.logs(orphan.id))
    assert second.pool.slots[0].name == first.pool.slots[0].name


def _plates(folder: Path, count: int) -> list[Path]:
    import numpy as np

    from hdr_mcp.io import write_sdr

    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 1, 16 * 16 * 3, dtype=np.float32).reshape(16, 16, 3)
    paths = [folder / f"plate{i}.png" for i in range(count)]
    for i, path in enumerate(paths):
        write_sdr(path, np.roll(ramp, i, axis=1), bit_depth=8)
    return paths


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_serve_backend_ray_fans_plates_out_over_the_actors(
        cluster: str, tmp_path: Path, anyio_backend: str) -> None:
    import json

    import numpy as np
    from mcp import Client

    from hdr_mcp.io import read_image
    from hdr_mcp.jobs.kinds import job_kind
    from hdr_mcp.server import build_server
    from hdr_mcp.server.config import ServerConfig

    plates = _plates(tmp_path / "plates", 3)
    config = ServerConfig(home=tmp_path / "home", output_dir=tmp_path / "out",
                          roots=[tmp_path / "plates"], backend="ray", ray_actors=2)
    server = build_server(config)
    try:
        async with Client(server) as client:
            batch = await client.call_tool("submit_batch", {
                "inputs": [str(p) for p in plates], "params": {"colorspace": "acescg"}})
            assert not batch.is_error, batch.content
            jobs = batch.structured_content["jobs"]
            done = [(await client.call_tool("get_job", {"job_id": j["job_id"],
                                                        "wait_seconds": 60})).structured_content
                    for j in jobs]
            resource = await client.read_resource("hdr://workers")
        workers = json.loads(resource.contents[0].text)["workers"]
    finally:
        server.hdr.close()
    assert [d["status"] for d in done] == ["succeeded"] * 3
    assert {d["backend"] for d in done} == {"ray"}
    assert {w["backend"] for w in workers} == {"ray"} and len(workers) == 2
    assert all(w["node"] and w["device"].startswith("cpu") for w in workers)
    # each plate into <output_dir>/<plate name>, the same pixels as a conversion in this process
    local = job_kind("sdr_to_hdr_video").handler()(
        job_kind("sdr_to_hdr_video").parse({"input": str(plates[1]), "colorspace": "acescg",
                                            "output_dir": str(tmp_path / "local")}),
        LocalContext(tmp_path / "scratch"))
    remote = Path(done[1]["result"]["exr_paths"][0])
    assert remote.parent.name == "plate1"
    np.testing.assert_array_equal(read_image(remote).pixels,
                                  read_image(local["exr_paths"][0]).pixels)


def test_the_readme_ray_commands_run(cluster: str, tmp_path: Path) -> None:
    import json
    import re
    import subprocess
    import sys

    readme = (HERE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Scale out with Ray", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    commands = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines()
                if line.startswith("hdr-mcp ") and not line.startswith("hdr-mcp serve")]
    assert [c.split()[1] for c in commands] == ["submit-batch", "worker", "workers"]
    _plates(tmp_path / "plates", 2)
    shared = tmp_path / "shared"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = []
    for command in commands:
        command = (command.replace("/mnt/shared", str(shared)).replace("*.mov", "*.png")
                   .replace("--ray-address auto", f"--ray-address {cluster}"))
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        outputs.append(json.loads(proc.stdout) if "--json" in command else None)
    queued, _, workers = outputs
    assert len(queued["jobs"]) == 2
    store = JobStore(shared / "hdr-mcp")
    assert all(store.get(j["job_id"]).status is JobStatus.succeeded for j in queued["jobs"])
    assert (shared / "hdr-out" / "show" / "plate0" / "frame_00000.exr").is_file()
    assert {w["backend"] for w in workers["workers"]} == {"ray"}
    assert not any(w["alive"] for w in workers["workers"])  # the burst pool ended its actors


def test_an_actor_that_lost_its_lease_stops_and_writes_nothing_more(
        store: JobStore, pools: Callable[..., Running]) -> None:
    pools(store, actors=1)
    job = store.submit("slow", {"steps": 100, "dt": 0.05}, resumable=True)
    _wait_until(lambda: store.get(job.id).progress >= 2, 60, "two steps")
    # what reap does when it presumes a worker dead, then another worker's claim
    assert store.requeue(job.id, "presumed dead (test)", lease=store.get(job.id).lease)
    assert store.claim("w_elsewhere").id == job.id
    # the only actor is free again once its attempt stopped: it runs the next job
    assert finished(store, store.submit("echo", {}).id).status is JobStatus.succeeded
    after = store.get(job.id)
    assert after.status is JobStatus.running and after.worker_id == "w_elsewhere"
    assert after.progress == 0  # the old attempt's reports were refused
    log = [e.message for e in store.logs(job.id)]
    assert log[-1].startswith("claimed by worker w_elsewhere"), log  # nothing after it


def test_a_second_pool_on_the_same_store_is_refused(
        store: JobStore, pools: Callable[..., Running]) -> None:
    from hdr_mcp.jobs.ray_backend import PoolBusy

    pools(store)
    with pytest.raises(PoolBusy, match="another Ray pool"):
        RayPool(JobStore(store.home), actors=1).start()


def test_a_supervisor_killed_mid_job_leaves_the_job_to_the_next_one(
        cluster: str, store: JobStore, pools: Callable[..., Running], tmp_path: Path) -> None:
    import subprocess
    import sys

    job = store.submit("frames", {"output_dir": str(tmp_path / "o"), "frames": 30, "dt": 0.1},
                       resumable=True)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "hdr_mcp", "worker", "--backend", "ray", "--ray-address", cluster,
         "--home", str(store.home), "--actors", "2", "--heartbeat-seconds", "0.2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: store.get(job.id).progress >= 3, 60, "three frames")
    finally:
        supervisor.kill()  # SIGKILL: no clean-up, its detached actors keep working
        supervisor.communicate(timeout=30)
    pools(JobStore(store.home))
    done = finished(store, job.id)
    assert done.status is JobStatus.succeeded and done.attempts == 1, done.error
    assert done.result["resumed_from"] == 0  # followed, not run again
    assert any("supervisor restarted" in e.message for e in store.logs(job.id))


def test_workers_stop_retires_an_actor_and_the_pool_ends_with_its_last(
        store: JobStore, pools: Callable[..., Running]) -> None:
    running = pools(store)
    first, second = (slot.name for slot in running.pool.slots)
    store.request_worker_stop(first)
    _wait_until(lambda: store.worker(first).stopped_at is not None, 30, "the actor to end")
    assert finished(store, store.submit("echo", {}).id).worker_id == second
    store.request_worker_stop(second)
    running.thread.join(timeout=30)
    assert not running.thread.is_alive() and running.pool.slots == []
    assert store.workers(alive_only=True) == []
