"""The real ``hdr-mcp`` process: SDK stdio client, MCP Inspector CLI, cold imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


#: Pinned: older Inspector CLIs lack --tool-args-json and --format.
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


def _server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDR_MCP_")}
    env["HDR_MCP_HOME"] = str(tmp_path / "home")
    env["HDR_MCP_OUTPUT"] = str(tmp_path / "out")
    return env


def _stop_workers(home: Path) -> None:
    """SIGTERM the detached workers the server spawned for this test."""
    from hdr_mcp.jobs.store import JobStore

    if not (home / "jobs.sqlite3").exists():
        return
    for worker in JobStore(home).workers(alive_only=True):
        try:
            os.kill(worker.pid, 15)
        except ProcessLookupError:
            pass


async def test_stdio_subprocess_with_detached_worker(tmp_path, workspace):
    from mcp import Client, StdioServerParameters

    env = _server_env(tmp_path)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hdr_mcp.cli", "serve", "--root", str(workspace)],
        env=env,
        cwd=str(workspace),
    )
    try:
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "evaluate" in tools
            result = await client.call_tool(
                "evaluate", {"prediction": "pred.exr", "reference": "ref.exr", "wait_seconds": 100}
            )
            assert not result.is_error, result.content
            assert result.structured_content["status"] == "succeeded"
            assert result.structured_content["result"]["metrics"]["pu21_psnr"] > 20
    finally:
        _stop_workers(tmp_path / "home")


@pytest.mark.node
@pytest.mark.skipif(shutil.which("npx") is None, reason="Node.js/npx not installed")
def test_mcp_inspector_cli_lists_tools_and_calls_evaluate(tmp_path, workspace):
    env = _server_env(tmp_path)
    server = [sys.executable, "-m", "hdr_mcp.cli", "serve", "--root", str(workspace), "--worker", "thread"]
    pass_env = [arg for k in ("HDR_MCP_HOME", "HDR_MCP_OUTPUT") for arg in ("-e", f"{k}={env[k]}")]
    base = ["npx", "--yes", INSPECTOR, "--cli", *pass_env, "--cwd", str(workspace), "--format", "json", *server]
    try:
        listed = subprocess.run(  # noqa: PLW1510 (exit codes are asserted)
            [*base, "--method", "tools/list"], capture_output=True, text=True, env=env, cwd=workspace, timeout=240
        )
        if listed.returncode != 0 and "ENOTFOUND" in listed.stderr + listed.stdout:
            pytest.skip("MCP Inspector package not in the npm cache and no registry access")
        assert listed.returncode == 0, listed.stderr
        names = {t["name"] for t in json.loads(listed.stdout)["result"]["tools"]}
        assert {"evaluate", "sdr_to_hdr_video", "inspect_hdr", "get_job", "list_jobs", "cancel_job"} <= names

        args = json.dumps({"prediction": "pred.exr", "reference": "ref.exr", "wait_seconds": 100})
        called = subprocess.run(  # noqa: PLW1510 (exit codes are asserted)
            [*base, "--method", "tools/call", "--tool-name", "evaluate", "--tool-args-json", args],
            capture_output=True, text=True, env=env, cwd=workspace, timeout=240,
        )
        assert called.returncode == 0, called.stdout + called.stderr
        payload = json.loads(called.stdout)["result"]
        assert payload["structuredContent"]["result"]["metrics"]["pu21_psnr"] > 20

        bad = subprocess.run(  # noqa: PLW1510 (exit codes are asserted)
            [*base, "--method", "tools/call", "--tool-name", "inspect_hdr", "--tool-args-json",
             json.dumps({"path": "/etc/passwd"})],
            capture_output=True, text=True, env=env, cwd=workspace, timeout=240,
        )
        assert bad.returncode == 5, bad.stdout  # Inspector: the result has isError
    finally:
        _stop_workers(tmp_path / "home")


def test_server_import_does_not_import_torch():
    code = (
        "import sys, hdr_mcp.server.app, hdr_mcp.cli, hdr_mcp.jobs.worker;"
        "bad=[m for m in ('torch','diffusers','peft','transformers') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
