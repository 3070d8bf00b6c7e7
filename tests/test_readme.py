"""The README is the front door: every command in it runs, so it cannot rot.

- The Quick start and the test command are what ``.ci/run`` executes, verbatim.
- The command-line examples run one after the other in a temporary folder, after the Quick
  start's ``hdr-mcp demo`` (long-running servers are started, checked and stopped).
- ``mcp.json`` (the file and the README's copy) and the ``claude mcp add`` line start a server
  that a real MCP client (the SDK's, over stdio, with the reduced environment it gives servers)
  can list and call.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def _commands(block: str) -> list[str]:
    """Command lines of a block, trailing comments removed."""
    out = []
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append(re.sub(r"\s+#\s.*$", "", line).strip())
    return out


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDR_MCP_")}
    env["HDR_MCP_HOME"] = str(tmp / "home")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ci_runs_the_quick_start_and_the_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    quick, tests = (_commands(block)[0] for block in _blocks("bash")[:2])
    assert quick.startswith("python3 -m venv .venv") and quick.endswith("hdr-mcp demo")
    assert "pip install -e ." in quick and "torch" not in quick  # the core needs no torch
    assert "python -m pytest" in tests and "ruff check" in tests
    # .ci/run takes both from the README at run time (readme_command 0 / 1)
    assert 'readme_command 0' in ci and 'readme_command 1' in ci and 'eval "$TESTS"' in ci


def _serve_http(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Start ``hdr-mcp serve --http`` (on a free port), check it says where and answers MCP."""
    port = _free_port()
    argv = shlex.split(re.sub(r"--port \d+", f"--port {port}", command))
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        said = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}/mcp" in said, said

        async def talk() -> list[str]:
            from mcp import Client

            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return [t.name for t in (await client.list_tools()).tools]

        assert "sdr_to_hdr_video" in anyio.run(talk)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_command_line_examples_run(tmp_path):
    env = _env(tmp_path)
    demo = _commands(_blocks("bash")[0])[0].split("&&")[-1].strip()
    assert demo == "hdr-mcp demo"
    examples = next(_commands(b) for b in _blocks("bash") if "hdr-mcp inspect-hdr" in b)
    assert len(examples) >= 10
    for command in [demo, *examples]:
        if command.startswith("hdr-mcp serve --http"):
            _serve_http(command, tmp_path, env)
            continue
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if "--json" in command:
            json.loads(proc.stdout)  # exactly one JSON object
    assert (tmp_path / "shot010" / "frame_00000.exr").is_file()
    assert (tmp_path / "back.exr").is_file()


#: This machine reaches PyPI through a TLS-intercepting proxy: uv needs its CA bundle, which a
#: client config on such a machine gives in its env block (the README says so).
PROXY_ENV = {k: os.environ[k] for k in ("SSL_CERT_FILE", "SSL_CERT_DIR") if k in os.environ}


async def _list_and_inspect(command: str, args: list[str], cwd: Path, sample: Path) -> None:
    from mcp import Client, StdioServerParameters

    # The SDK passes servers only HOME, PATH and a few more, as MCP clients do; the job store
    # goes to a folder of the test's instead of the user's data folder.
    env = {**PROXY_ENV, "HDR_MCP_HOME": str(sample.parent / "hdr-mcp-home")}
    params = StdioServerParameters(command=command, args=args, cwd=str(cwd), env=env)
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"sdr_to_hdr_video", "evaluate", "inspect_hdr"} <= tools
        result = await client.call_tool("inspect_hdr", {"path": str(sample)})
        assert not result.is_error, result
        assert result.structured_content["colorspace"] == "lin_rec709"


@pytest.mark.skipif(shutil.which("uvx", path=str(BIN)) is None, reason="uv is in the test extra")
def test_mcp_json_starts_a_working_server_from_the_checkout(tmp_path):
    (snippet,) = _blocks("json")
    assert json.loads(snippet) == json.loads((ROOT / "mcp.json").read_text(encoding="utf-8"))
    server = json.loads(snippet)["mcpServers"]["hdr-mcp"]
    assert not any("$" in part for part in [server["command"], *server["args"]])  # no variables
    command = str(BIN / server["command"])  # the client finds uvx on its PATH
    sample = tmp_path / "plate.exr"  # a plate in a second root, so the test leaves no file
    shutil.copy(ROOT / "tests/data/city.exr", sample)
    args = [*server["args"], "--root", str(tmp_path)]
    anyio.run(_list_and_inspect, command, args, ROOT, sample)


@pytest.mark.skipif(shutil.which("uvx", path=str(BIN)) is None, reason="uv is in the test extra")
def test_claude_mcp_add_line_starts_a_working_server(tmp_path):
    (line,) = [c for block in _blocks("bash") for c in _commands(block)
               if c.startswith("claude mcp add")]
    argv = shlex.split(line.split(" -- ", 1)[1].replace("$PWD", str(ROOT)))
    assert argv[0] == "uvx"
    sample = tmp_path / "plate.exr"
    shutil.copy(ROOT / "tests/data/city.exr", sample)
    argv[-1] = str(tmp_path)  # --root: where the plates are
    anyio.run(_list_and_inspect, str(BIN / "uvx"), argv[1:], tmp_path, sample)


def test_mcp_config_prints_absolute_paths_that_start(tmp_path):
    proc = subprocess.run([str(BIN / "hdr-mcp"), "mcp-config", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=True)
    server = json.loads(proc.stdout)["mcpServers"]["hdr-mcp"]
    assert Path(server["command"]).is_absolute()
    sample = tmp_path / "plate.exr"
    shutil.copy(ROOT / "tests/data/city.exr", sample)
    anyio.run(_list_and_inspect, server["command"], server["args"], Path("/"), sample)


def test_every_environment_variable_the_code_reads_is_documented():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    used = set(re.findall(r"\"(HDR_MCP_[A-Z_]+)\"", code))
    documented = set(re.findall(r"\| `(HDR_MCP_[A-Z_]+)` \|", README))
    assert used <= documented, used - documented


def test_bare_hdr_mcp_in_a_terminal_says_what_it_is_waiting_for(tmp_path):
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen([str(BIN / "hdr-mcp")], stdin=secondary, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env(tmp_path))
    try:
        line = proc.stderr.readline()
        assert "waiting for an MCP client on stdin" in line, line
    finally:
        proc.kill()
        proc.wait(timeout=10)
        os.close(primary)
        os.close(secondary)


def test_a_busy_http_port_is_one_error_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = time.monotonic()
        proc = subprocess.run([str(BIN / "hdr-mcp"), "serve", "--http", "--port", str(port)],
                              capture_output=True, text=True, timeout=60, env=_env(tmp_path),
                              check=False)
    assert proc.returncode == 2 and time.monotonic() - start < 30
    assert proc.stderr.startswith(f"error: port={port}: cannot listen"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
