#!/usr/bin/env python
"""A warm worker vs a cold one, and the job overhead of a warm worker (one process, one run).

A worker keeps pipelines loaded between jobs (its model cache). This submits the same
generate_hdr job (tiny preset, LogC4 LoRA) to a worker three times and compares:

- the first job (cold: the pipeline and LoRA load) with the later ones (warm);
- a warm job (submit -> succeeded, through the SQLite store, claim, heartbeat, result) with a
  direct call of the same pipeline function on the same warm cache. Goal: <= 1.10.

    python tools/bench_worker.py [--model tiny-flux.1-dev] [--size 128] [--steps 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-flux.1-dev")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from bench_generate import _random_lora

    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.jobs.kinds import job_kind
    from hdr_mcp.jobs.store import JobStore
    from hdr_mcp.jobs.worker import Worker
    from hdr_mcp.pipelines.text_to_hdr import generate

    scratch = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    lora = _random_lora(args.model, scratch / "hdr.safetensors")
    store = JobStore(scratch / "home")
    worker = Worker(store, "w_bench", poll_s=0.005, heartbeat_s=1.0)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    kind = job_kind("generate_hdr")

    def params(n: int) -> dict:
        return {"prompt": "a sunset over the sea", "model": args.model, "lora": str(lora),
                "width": args.size, "height": args.size, "steps": args.steps, "seed": 1,
                "output_dir": str(scratch / f"out{n}")}

    def job(n: int) -> float:
        start = time.perf_counter()
        submitted = store.submit("generate_hdr", kind.parse(params(n)).model_dump(mode="json"))
        done = store.wait(submitted.id, timeout_s=600, poll_s=0.002)
        if done.status.value != "succeeded":
            raise SystemExit(f"job failed: {done.error}")
        return time.perf_counter() - start

    cold = job(0)
    warm = min(job(n) for n in range(1, args.repeats + 1))
    runs = iter(range(100, 10**6))

    def direct() -> float:
        n = next(runs)
        start = time.perf_counter()
        generate(params(n), LocalContext(scratch / f"direct{n}", models=worker.models))
        return time.perf_counter() - start

    bare = min(direct() for _ in range(args.repeats))
    worker.stop()
    thread.join(timeout=10)
    print(f"{args.model} {args.size}x{args.size}, {args.steps} steps, best of {args.repeats}")
    print(f"first job on a cold worker:   {cold * 1000:8.1f} ms")
    print(f"a job on the warm worker:     {warm * 1000:8.1f} ms   cold/warm {cold / warm:.2f}")
    print(f"direct call, same warm cache: {bare * 1000:8.1f} ms")
    print(f"warm job overhead ratio: {warm / bare:.3f}  (goal <= 1.10)")
    print(f"cache: {worker.models.stats()}")


if __name__ == "__main__":
    main()
