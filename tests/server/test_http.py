"""Streamable HTTP transport: loopback by default, bearer token enforced when set."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server(tmp_path: Path, token: str | None = None):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDR_MCP_")}
    env["HDR_MCP_HOME"] = str(tmp_path / "home")
    if token:
        env["HDR_MCP_TOKEN"] = token
    proc = subprocess.Popen(
        [sys.executable, "-m", "hdr_mcp.cli", "serve", "--http", "--port", str(port), "--no-worker",
         "--root", str(tmp_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode())
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_sdk_client_over_streamable_http(tmp_path):
    from mcp import Client

    with http_server(tmp_path) as url:
        async with Client(url) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "inspect_hdr" in tools
            jobs = await client.call_tool("list_jobs", {})
            assert not jobs.is_error


def test_bearer_token_is_required_when_set(tmp_path):
    with http_server(tmp_path, token="s3cret") as url:
        denied = httpx.post(url, json=INITIALIZE, headers=HEADERS, timeout=10)
        assert denied.status_code == 401
        wrong = httpx.post(url, json=INITIALIZE, headers={**HEADERS, "authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        ok = httpx.post(url, json=INITIALIZE, headers={**HEADERS, "authorization": "Bearer s3cret"}, timeout=10)
        assert ok.status_code == 200, ok.text
        body = ok.text
        payload = json.loads(body[body.index("{"):].splitlines()[0]) if "data:" in body else ok.json()
        assert payload["result"]["serverInfo"]["name"] == "hdr-mcp"


def test_non_loopback_bind_needs_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDR_MCP_")}
    env["HDR_MCP_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(  # noqa: PLW1510 (exit codes are asserted)
        [sys.executable, "-m", "hdr_mcp.cli", "serve", "--http", "--host", "0.0.0.0", "--no-worker"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: host='0.0.0.0'") and "HDR_MCP_TOKEN" in proc.stderr
