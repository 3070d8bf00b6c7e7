"""The MCP server through the SDK's real client, in-process, in both connection modes."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]

EXPECTED_TOOLS = {
    "cancel_job": {"read_only_hint": False, "destructive_hint": True},
    # writes new files; replaces earlier ones only with overwrite=true
    "evaluate": {"read_only_hint": False, "destructive_hint": True},
    "generate_hdr": {"read_only_hint": False, "destructive_hint": True},
    "get_job": {"read_only_hint": True},
    "inspect_hdr": {"read_only_hint": True},
    "list_jobs": {"read_only_hint": True},
    "list_models": {"read_only_hint": True},
    "precompute_latents": {"read_only_hint": False, "destructive_hint": True},
    "sdr_to_hdr_video": {"read_only_hint": False, "destructive_hint": True},
    "submit_batch": {"read_only_hint": False, "destructive_hint": True},
    "train_lora": {"read_only_hint": False, "destructive_hint": True},
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


@pytest.mark.parametrize("mode", MODES)
async def test_tool_list_snapshot(server, mode):
    async with Client(server, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == set(EXPECTED_TOOLS)
    for name, hints in EXPECTED_TOOLS.items():
        tool = tools[name]
        assert tool.description and tool.title
        assert tool.output_schema is not None, name
        annotations = tool.annotations.model_dump()
        for key, value in hints.items():
            assert annotations[key] == value, (name, key)
        assert annotations["open_world_hint"] is False
        for prop in tool.input_schema["properties"].values():
            assert prop.get("description"), (name, prop)
    evaluate = tools["evaluate"].input_schema
    assert evaluate["required"] == ["prediction"]
    assert evaluate["properties"]["nits_per_unit"]["default"] == 100.0
    assert evaluate["properties"]["wait_seconds"]["maximum"] == 110


@pytest.mark.parametrize("mode", MODES)
async def test_inspect_hdr_returns_stats_and_small_preview(server, workspace, mode):
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("inspect_hdr", {"path": str(workspace / "ref.exr")})
    assert not result.is_error, _text(result)
    data = result.structured_content
    assert data["file_format"] == "exr" and data["colorspace"] == "lin_rec709"
    assert data["stats"]["max"] > 1.0  # real HDR: nothing clamped at 1.0
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1
    png = base64.b64decode(images[0].data)
    assert len(png) < 400_000
    from PIL import Image

    assert max(Image.open(io.BytesIO(png)).size) <= 512


@pytest.mark.parametrize("mode", MODES)
async def test_evaluate_against_reference(server, workspace, mode):
    async with Client(server, mode=mode) as client:
        result = await client.call_tool(
            "evaluate",
            {"prediction": "pred.exr", "reference": str(workspace / "ref.exr"), "wait_seconds": 100},
        )
    assert not result.is_error, _text(result)
    view = result.structured_content
    assert view["status"] == "succeeded"
    metrics = view["result"]["metrics"]
    assert {"pu21_psnr", "pu21_ssim", "delta_e_itp", "peak_nits", "dynamic_range_stops", "clipped_fraction"} <= set(metrics)
    assert view["result"]["nits_per_unit"] == 100.0
    assert 20 < metrics["pu21_psnr"] < 80
    links = [c for c in result.content if c.type == "resource_link"]
    assert any(link.uri.startswith("hdr://jobs/") for link in links)
    assert any(c.type == "image" for c in result.content)


@pytest.mark.parametrize("mode", MODES)
async def test_sdr_to_hdr_then_get_job_and_resources(server, workspace, mode):
    progress: list[float] = []

    async def on_progress(p, total, message):
        progress.append(p)

    async with Client(server, mode=mode) as client:
        result = await client.call_tool(
            "sdr_to_hdr_video",
            {"input": "plate.png", "wait_seconds": 100},
            progress_callback=on_progress,
        )
        assert not result.is_error, _text(result)
        view = result.structured_content
        assert view["status"] == "succeeded"
        exr_links = [c for c in result.content if c.type == "resource_link" and c.uri.endswith(".exr")]
        assert exr_links
        contents = await client.read_resource(exr_links[0].uri)
        blob = base64.b64decode(contents.contents[0].blob)
        assert blob[:4] == b"\x76\x2f\x31\x01"  # OpenEXR magic

        again = await client.call_tool("get_job", {"job_id": view["job_id"]})
        assert again.structured_content["result"] == view["result"]
        job_json = await client.read_resource(f"hdr://jobs/{view['job_id']}")
        assert json.loads(job_json.contents[0].text)["status"] == "succeeded"

        listed = await client.call_tool("list_jobs", {"kind": "sdr_to_hdr_video"})
        assert view["job_id"] in [j["job_id"] for j in listed.structured_content["jobs"]]

        finished = await client.call_tool("cancel_job", {"job_id": view["job_id"]})
        assert finished.is_error and "job_id" in _text(finished)
    assert progress == sorted(progress)


async def test_long_job_returns_handle_then_long_poll(server, workspace):
    async with Client(server) as client:
        result = await client.call_tool("sdr_to_hdr_video", {"input": "plate.png", "wait_seconds": 0})
        assert not result.is_error, _text(result)
        view = result.structured_content
        assert view["status"] in ("queued", "running", "succeeded")
        assert "get_job" in view["next_step"] or view["status"] == "succeeded"
        done = await client.call_tool("get_job", {"job_id": view["job_id"], "wait_seconds": 100})
        assert done.structured_content["status"] == "succeeded"


async def test_cancel_queued_job(server_config, workspace):
    from hdr_mcp.server import build_server

    server_config.worker = "none"  # nothing runs the job, so it stays queued
    server = build_server(server_config)
    async with Client(server) as client:
        submitted = await client.call_tool("evaluate", {"prediction": "pred.exr", "wait_seconds": 0})
        job_id = submitted.structured_content["job_id"]
        assert submitted.structured_content["status"] == "queued"
        cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
        assert cancelled.structured_content["status"] == "cancelled"
        polled = await client.call_tool("get_job", {"job_id": job_id})
        assert polled.is_error and "cancelled" in _text(polled)


BAD_CALLS = [
    ("inspect_hdr", {"path": "missing.exr"}, "path"),
    ("inspect_hdr", {"path": "notes.txt"}, "path"),
    ("inspect_hdr", {"path": "../../etc/passwd"}, "path"),
    ("inspect_hdr", {"path": "/etc/passwd"}, "path"),
    ("inspect_hdr", {"path": "%2e%2e/%2e%2e/etc/passwd"}, "path"),
    ("inspect_hdr", {"path": "file:///etc/passwd"}, "path"),
    ("inspect_hdr", {"path": "https://example.com/x.exr"}, "path"),
    ("inspect_hdr", {"path": "file://fileserver/etc/passwd"}, "path"),
    ("inspect_hdr", {"path": "a" * 5000}, "path"),  # the OS refuses the name: still a tool error
    ("evaluate", {"prediction": "pred.exr", "reference": "../outside.exr"}, "reference"),
    ("evaluate", {"prediction": "pred.exr", "nits_per_unit": -1}, "nits_per_unit"),
    ("evaluate", {"prediction": "pred.exr", "output_dir": "/tmp/elsewhere"}, "output_dir"),
    ("evaluate", {"prediction": "pred.exr", "output_dir": "b" * 5000}, "output_dir"),
    ("evaluate", {"prediction": "pred.exr", "reference": "plate.png", "wait_seconds": 100}, "reference"),
    ("sdr_to_hdr_video", {"input": "notes.txt", "wait_seconds": 100}, "input"),
    ("sdr_to_hdr_video", {"input": "plate.png", "method": "magic"}, "method"),
    ("sdr_to_hdr_video", {"input": "plate.png", "start": 5, "stop": 2}, "stop"),
    ("sdr_to_hdr_video", {"input": "plate.png", "target_peak_nits": 1e9}, "target_peak_nits"),
    ("sdr_to_hdr_video", {"input": "plate.png", "out": "shot"}, "out"),  # a typo is not ignored
    ("sdr_to_hdr_video", {"input": "plate.png", "target_peak_nits": "bright"}, "target_peak_nits"),
    ("sdr_to_hdr_video", {}, "input"),
    ("evaluate", {"prediction": "pred.exr", "wait_seconds": "soon"}, "wait_seconds"),
    ("get_job", {"job_id": "j_doesnotexist"}, "job_id"),
    ("cancel_job", {"job_id": "j_doesnotexist"}, "job_id"),
    ("get_job", {"job_id": "x", "wait_seconds": 1000}, "wait_seconds"),
]


@pytest.mark.parametrize(("tool", "args", "argument"), BAD_CALLS)
async def test_bad_input_is_a_tool_error_naming_the_argument(server, workspace, tool, args, argument):
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
        assert result.is_error, (tool, args)
        text = _text(result)
        # one readable line naming the argument: no SDK prefix, no pydantic dump or URL
        assert f"{argument}=" in text and "\n" not in text, text
        assert "pydantic" not in text and "Error executing tool" not in text, text
        # the server keeps serving
        ok = await client.call_tool("list_jobs", {})
        assert not ok.is_error
    leftovers = [p for p in Path(server.hdr.config.output_dir).rglob("*") if p.suffix in (".exr", ".tmp")]
    assert not [p for p in leftovers if ".tmp" in p.name]


async def test_symlink_escaping_the_root_is_refused(server, workspace, tmp_path):
    outside = tmp_path / "secret.exr"
    outside.write_bytes((workspace / "ref.exr").read_bytes())
    os.symlink(outside, workspace / "link.exr")
    async with Client(server) as client:
        result = await client.call_tool("inspect_hdr", {"path": "link.exr"})
    assert result.is_error and "outside the allowed roots" in _text(result)


async def test_file_resource_refuses_traversal(server):
    async with Client(server) as client:
        with pytest.raises(MCPError):
            await client.read_resource("hdr://files/../../etc/passwd")


@pytest.mark.parametrize(
    ("uri", "says"),
    [("hdr://jobs/j_doesnotexist", "job_id='j_doesnotexist'"), ("hdr://files/nope.exr", "path='nope.exr'")],
)
async def test_resource_errors_keep_their_message(server, uri, says):
    # a plain exception reaches the client as "Error creating resource from template ..."
    async with Client(server) as client:
        with pytest.raises(Exception, match=says):
            await client.read_resource(uri)


async def test_prompts_are_served(server):
    async with Client(server) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"convert_plate_to_hdr", "evaluate_against_reference"} <= set(prompts)
        rendered = await client.get_prompt(
            "evaluate_against_reference",
            {"prediction": "a.exr", "reference": "b.exr", "nits_per_unit": "100"},
        )
    text = rendered.messages[0].content.text
    assert "a.exr" in text and "b.exr" in text and "{" not in text


async def test_jobs_survive_a_server_restart(server_config, workspace):
    from hdr_mcp.server import build_server

    server_config.worker = "none"
    async with Client(build_server(server_config)) as client:
        submitted = await client.call_tool("evaluate", {"prediction": "pred.exr", "wait_seconds": 0})
    job_id = submitted.structured_content["job_id"]

    server_config.worker = "thread"  # a new server process on the same home runs the queued job
    async with Client(build_server(server_config)) as client:
        listed = await client.call_tool("list_jobs", {})
        assert job_id in [j["job_id"] for j in listed.structured_content["jobs"]]
        # asking for a queued job starts a worker for it
        done = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 100})
    assert done.structured_content["status"] == "succeeded"
    assert done.structured_content["result"]["metrics"]["peak_nits"] > 100


async def test_identical_images_give_infinite_psnr_as_strict_json(server, workspace):
    async with Client(server) as client:
        result = await client.call_tool(
            "evaluate", {"prediction": "ref.exr", "reference": "ref.exr", "wait_seconds": 100}
        )
    assert not result.is_error
    out = result.structured_content["result"]
    assert out["metrics"]["pu21_psnr"] is None
    assert out["non_finite"]["metrics.pu21_psnr"] == "+inf"
    assert out["metrics"]["delta_e_itp"] == 0.0 and out["metrics"]["pu21_ssim"] == pytest.approx(1.0)



async def test_tool_choices_match_the_library(server):
    """The server spells its choices out (numpy stays off its start-up path): keep them in step."""
    import typing

    from hdr_mcp.color import colorspaces
    from hdr_mcp.color.inverse_tonemap import OPERATORS
    from hdr_mcp.io import COMPRESSIONS
    from hdr_mcp.jobs.store import JobStatus
    from hdr_mcp.pipelines.sdr_to_hdr import METHODS, TRANSFERS
    from hdr_mcp.server.schemas import JobStatusName

    assert set(typing.get_args(JobStatusName)) == {s.value for s in JobStatus}
    async with Client(server) as client:
        tools = {t.name: t.input_schema["properties"] for t in (await client.list_tools()).tools}

    def choices(prop: dict) -> set[str]:
        return set(prop["enum"]) if "enum" in prop else {prop["const"]}  # one choice: a const

    sdr = tools["sdr_to_hdr_video"]
    assert choices(sdr["colorspace"]) == set(colorspaces())
    assert choices(sdr["compression"]) == set(COMPRESSIONS)
    assert choices(sdr["operator"]) == set(OPERATORS)
    assert choices(sdr["transfer"]) == {"auto", *TRANSFERS}
    assert choices(sdr["primaries"]) == {"auto", "lin_rec709", "lin_rec2020", "lin_p3d65"}
    assert sdr["operator"]["default"] == "auto" and sdr["transfer"]["default"] == "auto"
    assert choices(sdr["method"]) == set(METHODS)


async def test_job_of_a_killed_worker_is_reported_failed_with_the_reason(server_config, workspace):
    import subprocess
    import sys

    from hdr_mcp.server import build_server

    server_config.worker = "none"
    server = build_server(server_config)
    store = server.hdr.store
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: ASYNC220 (quick, on purpose)
    dead.wait()  # a pid that no longer exists, as after SIGKILL
    store.register_worker("w-killed", pid=dead.pid)
    async with Client(server) as client:
        submitted = await client.call_tool("evaluate", {"prediction": "pred.exr", "wait_seconds": 0})
        job_id = submitted.structured_content["job_id"]
        assert store.claim("w-killed").id == job_id
        polled = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 5})
    assert polled.is_error
    assert f"worker w-killed (pid {dead.pid}) died while running the job" in _text(polled)


async def test_evaluate_cvvdp_when_missing_says_how_to_install(server, workspace, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pycvvdp", None)  # the in-process worker thread sees it
    async with Client(server) as client:
        result = await client.call_tool(
            "evaluate",
            {"prediction": "pred.exr", "reference": "ref.exr", "extra_metrics": ["cvvdp"], "wait_seconds": 100},
        )
    assert result.is_error
    assert "pip install --no-deps cvvdp" in _text(result)
