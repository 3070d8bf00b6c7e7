"""Job handlers used by tests/jobs (importable by worker subprocesses via PYTHONPATH).

Not a test module (no ``test_`` prefix): workers import it by name through
``HDR_MCP_EXTRA_HANDLERS="kind=jobs_test_handlers:function"``.
"""

from __future__ import annotations

import os
import time

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.jobs.context import JobCancelled, JobContext

HANDLERS = {
    "echo": "jobs_test_handlers:echo",
    "boom": "jobs_test_handlers:boom",
    "hdr_error": "jobs_test_handlers:hdr_error",
    "not_json": "jobs_test_handlers:not_json",
    "slow": "jobs_test_handlers:slow",
    "frames": "jobs_test_handlers:frames",
    "warm": "jobs_test_handlers:warm",
}


def echo(params: dict, ctx: JobContext) -> dict:
    steps = int(params.get("steps", 3))
    for i in range(steps):
        ctx.progress(i + 1, steps, f"step {i + 1}")
    ctx.log("echo done")
    return {"echo": params, "workdir": str(ctx.workdir), "pid": os.getpid()}


def boom(params: dict, ctx: JobContext) -> dict:
    ctx.progress(1, 2, "about to fail")
    raise ValueError(params.get("message", "kaboom"))


def hdr_error(params: dict, ctx: JobContext) -> dict:
    raise InvalidArgument("width", -1, "must be positive")


def not_json(params: dict, ctx: JobContext) -> dict:
    return {"value": object()}


def slow(params: dict, ctx: JobContext) -> dict:
    """Steps of ``dt`` seconds with a checkpoint in the workdir, so a retry resumes.

    Writes ``attempt-<pid>`` on start so tests can wait until it runs; honours should_stop()
    unless ``ignore_stop``.
    """
    steps = int(params.get("steps", 200))
    dt = float(params.get("dt", 0.02))
    checkpoint = ctx.workdir / "checkpoint"
    start = int(checkpoint.read_text()) if checkpoint.exists() else 0
    (ctx.workdir / f"attempt-{os.getpid()}").write_text(str(start))
    for i in range(start, steps):
        if not params.get("ignore_stop") and ctx.should_stop():
            ctx.log(f"stopping at step {i}")
            raise JobCancelled(f"stopped at step {i}")
        time.sleep(dt)
        partial = checkpoint.with_suffix(".partial")  # atomic, as real handlers write:
        partial.write_text(str(i + 1))  # a SIGSTOP mid-write must not leave an empty file
        os.replace(partial, checkpoint)
        ctx.progress(i + 1, steps, f"step {i + 1}")
    return {"steps": steps, "resumed_from": start, "pid": os.getpid()}


def frames(params: dict, ctx: JobContext) -> dict:
    """Deterministic "frames" (seeded arrays) written one per step into ``output_dir``; a retry
    keeps the frames already written, as ``sdr_to_hdr_video`` does."""
    import hashlib
    from pathlib import Path

    import numpy as np

    out = Path(params["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    count, dt = int(params.get("frames", 8)), float(params.get("dt", 0.05))
    start = sum(1 for i in range(count) if (out / f"frame_{i:03d}.npy").exists())
    for i in range(start, count):
        ctx.raise_if_stopped()
        time.sleep(dt)
        pixels = np.random.default_rng(i).random((8, 8, 3), dtype=np.float32) * (i + 1)
        np.save(out / f"tmp_{i:03d}.npy", pixels)
        (out / f"tmp_{i:03d}.npy").replace(out / f"frame_{i:03d}.npy")
        ctx.progress(i + 1, count, f"frame {i + 1}")
    digest = hashlib.sha256(b"".join((out / f"frame_{i:03d}.npy").read_bytes()
                                     for i in range(count))).hexdigest()
    return {"frames": count, "sha256": digest, "resumed_from": start}


def warm(params: dict, ctx: JobContext) -> dict:
    """Loads ``model`` into the worker's model cache (a stand-in value, no torch model)."""
    from hdr_mcp.models.cache import CacheKey

    ctx.models.get_or_load(CacheKey.of(params["model"]), lambda: {"name": params["model"]})
    time.sleep(float(params.get("dt", 0.0)))
    return {"model": params["model"], "pid": os.getpid()}
