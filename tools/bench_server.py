"""Server benchmarks, reported as ratios against baselines measured in the same run.

1. Cold start: time from launching ``hdr-mcp serve`` (stdio) to its ``initialize`` answer, over
   the same for a bare ``MCPServer`` with one trivial tool (goal <= 1.5).
2. Job latency: time from ``JobStore.submit`` to the job's ``started_at`` on an idle worker
   process, for a no-op handler (reported in ms; bounded by the worker's poll interval).

Usage: ``python tools/bench_server.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_SERVER = """
from mcp.server.mcpserver import MCPServer
mcp = MCPServer("bare")
@mcp.tool()
def echo(text: str) -> str:
    return text
mcp.run()
"""

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}


def noop(params: dict, ctx) -> dict:
    """Job handler for the latency benchmark."""
    return {}


def time_initialize(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    if b'"result"' not in line:
        raise SystemExit(f"no initialize answer from {cmd}: {line[:200]!r}")
    return elapsed


def bench_cold_start(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HDR_MCP_HOME=str(Path(tmp) / "home"))
        ours = [sys.executable, "-m", "hdr_mcp.cli", "serve", "--no-worker"]
        bare = [sys.executable, "-c", BARE_SERVER]
        time_initialize(bare, env), time_initialize(ours, env)  # warm the file cache
        bare_t, ours_t = [], []
        for _ in range(runs):  # interleave so drift hits both equally
            bare_t.append(time_initialize(bare, env))
            ours_t.append(time_initialize(ours, env))
    b, o = statistics.median(bare_t), statistics.median(ours_t)
    print(f"cold start to initialize: hdr-mcp {o * 1000:.0f} ms, bare MCPServer {b * 1000:.0f} ms, "
          f"ratio {o / b:.2f} (goal <= 1.5)")


def bench_submit_to_claim(runs: int) -> None:
    from hdr_mcp.jobs.store import JobStore

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        store = JobStore(home)
        env = dict(
            os.environ,
            HDR_MCP_EXTRA_HANDLERS="noop=bench_server:noop",
            PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "hdr_mcp.jobs.worker", "--home", str(home)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            latencies = []
            for _ in range(runs):
                job = store.submit("noop", {})
                done = store.wait(job.id, 30)
                latencies.append(done.started_at - done.created_at)
        finally:
            worker.terminate()
            worker.wait(10)
    print(f"submit-to-claim latency: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms over {runs} jobs (worker poll interval 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bench_cold_start(args.runs)
    bench_submit_to_claim(args.runs)


if __name__ == "__main__":
    main()
