#!/usr/bin/env python
"""The Ray backend against a local worker: per-job overhead, and scaling from one actor to two.

1. Overhead: the same tiny job submitted and waited for one at a time, run by a local worker
   (a thread of this process) and by one Ray actor (every store access a call to the store
   actor, about 1 ms each): a classical conversion of one 64x64 plate (~15 ms of work, where
   the fixed cost shows most) and a tiny-preset generate_hdr (the tiny models the tests use).
   Median of ``--repeats`` jobs each, after a warm-up job. Goal: Ray / local <= 1.2.
2. Throughput: a batch of classical conversions (``submit_batch``'s fan-out, one job per
   plate) drained by one CPU actor and by two, each given one core (``num_cpus=1``, so Ray
   sets one thread each). Goal: two / one >= 1.6. Beside it, the same batch converted by one
   and by two plain processes (the handler called directly): what this machine allows at all.

    OMP_NUM_THREADS=1 python tools/bench_ray.py [--repeats 15] [--plates 12] [--size 384]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _plates(folder: Path, count: int, size: int) -> list[str]:
    from hdr_mcp.io import write_sdr

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"plate{i:03d}.png"
        write_sdr(path, rng.random((size, size, 3), dtype=np.float32), bit_depth=8)
        paths.append(str(path))
    return paths


def _latency(store, kind_name: str, params: dict) -> float:
    """Seconds from submit to succeeded of one job."""
    from hdr_mcp.jobs.kinds import job_kind

    kind = job_kind(kind_name)
    start = time.perf_counter()
    job = kind.submit(store, kind.parse(params))
    done = store.wait(job.id, timeout_s=300, poll_s=0.002)
    if done.status.value != "succeeded":
        raise SystemExit(f"job failed: {done.error}")
    return time.perf_counter() - start


def overhead(scratch: Path, kind: str, params: dict, repeats: int) -> tuple[float, float]:
    """Median job latency on a local worker and on one Ray actor, both running meanwhile and
    given jobs in turn (a busy machine slows both alike); the first job of each is a warm-up."""
    from hdr_mcp.jobs.ray_backend import RayPool
    from hdr_mcp.jobs.store import JobStore
    from hdr_mcp.jobs.worker import Worker

    local_store = JobStore(scratch / f"home-local-{kind}")
    worker = Worker(local_store, "w_bench", poll_s=0.005, heartbeat_s=1.0)
    ray_store = JobStore(scratch / f"home-ray-{kind}")
    pool = RayPool(ray_store, actors=1, gpus_per_actor=0, poll_s=0.005)
    pool.start()
    threads = [threading.Thread(target=runner.run, daemon=True) for runner in (worker, pool)]
    for thread in threads:
        thread.start()
    local, remote = [], []
    for n in range(repeats + 1):
        local.append(_latency(local_store, kind, {**params, "output_dir": str(
            scratch / f"local-{kind}-{n}")}))
        remote.append(_latency(ray_store, kind, {**params, "output_dir": str(
            scratch / f"ray-{kind}-{n}")}))
    worker.stop()
    pool.stop()
    for thread in threads:
        thread.join(timeout=10)
    pool.close(kill_actors=True)
    return statistics.median(local[1:]), statistics.median(remote[1:])


def throughput(scratch: Path, actors: int, plates: list[str], run: int) -> float:
    """Seconds for ``actors`` actors to drain the batch (actors started beforehand)."""
    from hdr_mcp.jobs.kinds import job_kind
    from hdr_mcp.jobs.ray_backend import RayPool
    from hdr_mcp.jobs.store import JobStore

    store = JobStore(scratch / f"home-{actors}-{run}")
    pool = RayPool(store, actors=actors, gpus_per_actor=0, cpus_per_actor=1, poll_s=0.005)
    pool.start()
    kind = job_kind("sdr_to_hdr_video")
    batch = kind.fan_out(plates, {"preview": False}, scratch / f"out-{actors}-{run}")
    warm = kind.fan_out(plates[:actors], {"preview": False}, scratch / f"warm-{actors}-{run}")
    for params in warm:  # every actor imports the pipeline before the clock starts
        kind.submit(store, params)
    pool.run(burst=True)
    for params in batch:
        kind.submit(store, params)
    start = time.perf_counter()
    pool.run(burst=True)
    elapsed = time.perf_counter() - start
    pool.close(kill_actors=True)
    failed = [j.id for j in store.list(limit=500) if j.status.value != "succeeded"]
    if failed:
        raise SystemExit(f"jobs failed: {failed}")
    return elapsed


def _convert(job: tuple[str, str]) -> None:
    """One classical conversion in a plain process: the kind's handler, no store, no Ray."""
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.jobs.kinds import job_kind

    plate, out = job
    kind = job_kind("sdr_to_hdr_video")
    kind.handler()(kind.parse({"input": plate, "preview": False, "output_dir": out}),
                   LocalContext(Path(f"{out}-work")))


def plain(scratch: Path, processes: int, plates: list[str], run: int) -> float:
    """Seconds for ``processes`` plain processes (warmed up) to convert the batch: the
    machine's own ceiling, with nothing of the job system in the way."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_convert, [(plates[i], str(scratch / f"plain-warm-{processes}-{run}-{i}"))
                            for i in range(processes)], chunksize=1)
        start = time.perf_counter()
        pool.map(_convert, [(plate, str(scratch / f"plain-{processes}-{run}-{i}"))
                            for i, plate in enumerate(plates)], chunksize=1)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--plates", type=int, default=12)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs; best is kept")
    args = parser.parse_args()

    import ray

    from hdr_mcp.jobs.ray_backend import RAY_NAMESPACE

    ray.init(num_cpus=2, include_dashboard=False, namespace=RAY_NAMESPACE, log_to_driver=False)
    scratch = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        (tiny_plate,) = _plates(scratch / "tiny", 1, 64)
        jobs = {
            "classical sdr_to_hdr_video, one 64x64 plate": (
                "sdr_to_hdr_video", {"input": tiny_plate, "preview": False}),
            "generate_hdr, tiny-flux.1-dev two-stage, 64x64, 2 steps": (
                "generate_hdr", {"prompt": "a sunset over the sea", "model": "tiny-flux.1-dev",
                                 "method": "two-stage", "width": 64, "height": 64, "steps": 2,
                                 "seed": 1}),
        }
        print(f"tiny jobs, submit -> succeeded, median of {args.repeats} after a warm-up job, "
              "local and Ray in turn:")
        for title, (kind, params) in jobs.items():
            local, remote = overhead(scratch, kind, params, args.repeats)
            print(f"  {title}:")
            print(f"    local worker {local * 1000:7.1f} ms, Ray actor {remote * 1000:7.1f} ms "
                  f"(+{(remote - local) * 1000:.1f} ms): Ray / local {remote / local:.2f} "
                  "(goal <= 1.2)")
        plates = _plates(scratch / "plates", args.plates, args.size)
        one, two, plain_one, plain_two = [], [], [], []
        for run in range(args.runs):
            one.append(throughput(scratch, 1, plates, run))
            two.append(throughput(scratch, 2, plates, run))
            plain_one.append(plain(scratch, 1, plates, run))
            plain_two.append(plain(scratch, 2, plates, run))
        print(f"batch of {args.plates} classical conversions ({args.size}x{args.size}), best of "
              f"{args.runs}:")
        print(f"  one actor:  {min(one):6.2f} s  ({args.plates / min(one):.2f} jobs/s)")
        print(f"  two actors: {min(two):6.2f} s  ({args.plates / min(two):.2f} jobs/s)")
        print(f"  throughput two / one: {min(one) / min(two):.2f}  (goal >= 1.6)")
        ceiling = min(plain_one) / min(plain_two)
        print(f"  the machine's ceiling, two plain processes over one (no store, no Ray): "
              f"{ceiling:.2f}; Ray reaches {min(one) / min(two) / ceiling:.0%} of it")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
