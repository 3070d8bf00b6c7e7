"""What a new user meets first: one vocabulary, truthful results, files that can be read back,
nothing overwritten unasked, readable errors (issue: the front door)."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import numpy as np
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from PIL import Image

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def _image(result) -> Image.Image:
    (image,) = [c for c in result.content if c.type == "image"]
    return Image.open(io.BytesIO(base64.b64decode(image.data)))


def _links(result) -> dict[str, object]:
    return {c.name: c for c in result.content if c.type == "resource_link"}


def _frames(folder: Path, count: int) -> Path:
    from hdr_mcp.io import write_sdr

    folder.mkdir()
    ramp = np.linspace(0, 1, 16 * 8 * 3, dtype=np.float32).reshape(8, 16, 3)
    for i in range(count):
        write_sdr(folder / f"f_{i:03d}.png", np.clip(ramp * (0.5 + 0.1 * i), 0, 1), bit_depth=8)
    return folder


async def test_every_tool_takes_its_model_and_every_command_its_options(server):
    """One declaration: the MCP schema is the params model (+ wait_seconds for jobs) and the
    CLI command of the same name (with dashes) offers exactly those fields with dashes."""
    import typer.main

    from hdr_mcp.cli import app
    from hdr_mcp.jobs.kinds import kinds
    from hdr_mcp.params import cli_of

    async with Client(server) as client:
        tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    group = typer.main.get_command(app)
    for kind in kinds().values():
        fields = set(kind.params.model_fields)
        schema = tools[kind.name]
        assert set(schema["properties"]) == fields | {"wait_seconds"}, kind.name
        assert schema["additionalProperties"] is False
        command = group.commands[kind.command]
        visible = {p.name for p in command.params if not getattr(p, "hidden", False)}
        assert visible == fields | {"as_json"}, kind.name
        for name in fields:
            if not cli_of(kind.params, name).argument:
                (option,) = [p for p in command.params if p.name == name]
                assert option.opts[0] == "--" + name.replace("_", "-")


async def test_an_sdr_png_is_inspected_as_light_and_previewed_as_it_looks(server, workspace):
    from hdr_mcp.io import read_image

    async with Client(server) as client:
        result = await client.call_tool("inspect_hdr", {"path": "plate.png"})
    assert not result.is_error, _text(result)
    data = result.structured_content
    assert (data["transfer"], data["bit_depth"], data["file_format"]) == ("srgb", 8, "png")
    assert data["stats"]["peak_nits"] == pytest.approx(100.0, rel=0.02)  # SDR white = 100 cd/m^2
    preview = np.asarray(_image(result).convert("RGB"), np.float64)
    original = read_image(workspace / "plate.png").pixels * 255.0
    assert preview.shape == original.shape  # small enough: shown at its own size
    assert np.abs(preview - original).max() <= 1.0  # not washed out by a second sRGB curve


async def test_results_link_files_that_can_be_read_back_with_their_type(server, workspace):
    async with Client(server) as client:
        converted = await client.call_tool("sdr_to_hdr_video", {
            "input": "plate.png", "output_dir": "shot", "wait_seconds": 100})
        assert not converted.is_error, _text(converted)
        links = _links(converted)
        exr = next(link for name, link in links.items() if name.startswith("exr_paths"))
        png = next(link for name, link in links.items() if name.startswith("preview_png"))
        assert str(exr.uri).startswith("file:///")  # outside the output directory, in a root
        for link, mime in ((exr, "image/x-exr"), (png, "image/png")):
            assert link.mime_type == mime
            read = await client.read_resource(str(link.uri))
            (content,) = read.contents
            assert content.mime_type == mime
            data = base64.b64decode(content.blob)
            assert data == Path(str(link.uri)[len("file://"):]).read_bytes()
        default = await client.call_tool("evaluate", {"prediction": "ref.exr", "wait_seconds": 100})
        report = next(link for name, link in _links(default).items() if name.startswith("report_json"))
        assert str(report.uri).startswith("hdr://files/evaluate-")
        read = await client.read_resource(str(report.uri))
        assert read.contents[0].mime_type == "application/json"
        with pytest.raises(MCPError):  # a file outside the roots is not served
            await client.read_resource("file:///etc/passwd")


async def test_evaluate_shows_a_preview_not_the_shrunken_report(server, workspace):
    async with Client(server) as client:
        result = await client.call_tool("evaluate", {
            "prediction": "pred.exr", "reference": "ref.exr", "wait_seconds": 100})
    image = _image(result)
    height, width = np.asarray(Image.open(workspace / "plate.png")).shape[:2]
    assert max(image.size) <= 512
    assert image.size[0] / image.size[1] == pytest.approx(width / height, rel=0.02)


async def test_evaluate_on_a_conversion_folder_reads_its_frames_not_its_previews(server, workspace):
    async with Client(server) as client:
        converted = await client.call_tool("sdr_to_hdr_video", {
            "input": str(_frames(workspace / "frames", 3)), "wait_seconds": 100})
        folder = converted.structured_content["result"]["output_dir"]
        assert sorted(p.suffix for p in Path(folder).iterdir()) == [".exr"] * 3 + [".mp4", ".png"]
        measured = await client.call_tool("evaluate", {"prediction": folder, "wait_seconds": 100})
    assert not measured.is_error, _text(measured)
    assert measured.structured_content["result"]["frames"] == 3


async def test_an_output_folder_holding_files_is_refused_unless_overwrite(server, workspace):
    out = workspace / "shot"
    async with Client(server) as client:
        five = await client.call_tool("sdr_to_hdr_video", {
            "input": str(_frames(workspace / "five", 5)), "output_dir": "shot",
            "wait_seconds": 100})
        assert not five.is_error, _text(five)
        refused = await client.call_tool("sdr_to_hdr_video", {
            "input": "plate.png", "output_dir": "shot", "wait_seconds": 100})
        assert refused.is_error and "overwrite=true" in _text(refused)
        assert len(list(out.glob("frame_*.exr"))) == 5  # untouched
        (out / "notes.txt").write_text("mine")
        replaced = await client.call_tool("sdr_to_hdr_video", {
            "input": str(_frames(workspace / "two", 2)), "output_dir": "shot",
            "overwrite": True, "wait_seconds": 100})
        assert not replaced.is_error, _text(replaced)
    # frames of the longer earlier run are gone; files the tool does not write stay
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_00000.exr", "frame_00001.exr", "notes.txt", "preview.mp4", "preview.png"]


async def test_prompt_errors_are_one_readable_line_and_no_traceback(server, caplog):
    caplog.set_level(logging.DEBUG)
    async with Client(server) as client:
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("nope", {})
        assert "prompt='nope': unknown prompt; known prompts: convert_plate_to_hdr" in str(
            unknown.value)
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("convert_plate_to_hdr", {"input": "plate.png"})
        assert "colorspace: required argument of prompt" in str(missing.value)
        assert "Internal" not in str(missing.value)
        ok = await client.list_tools()  # still serving
        assert ok.tools
    assert not [r for r in caplog.records if r.exc_info]


async def test_list_models_tool_and_workers_resource(server, monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    server.hdr.store.register_worker("w_gpu0", device="cuda:0")
    async with Client(server) as client:
        listed = await client.call_tool("list_models", {"include_tiny": False})
        assert not listed.is_error
        names = {m["name"] for m in listed.structured_content["models"]}
        assert {"qwen-image", "qwen-image-2512", "flux.1-dev", "flux.2-klein-4b",
                "wan2.1-vace-1.3b", "wan2.1-vace-14b", "ltx-2.3"} == names
        assert not any(m["cached"] for m in listed.structured_content["models"])
        workers = await client.read_resource("hdr://workers")
    rows = json.loads(workers.contents[0].text)["workers"]
    assert [(r["worker_id"], r["device"], r["alive"]) for r in rows] == [("w_gpu0", "cuda:0", True)]


async def test_evaluate_takes_the_sdr_inside_the_roots_and_gives_a_verdict(server, workspace, tmp_path):
    async with Client(server) as client:
        converted = await client.call_tool("sdr_to_hdr_video", {
            "input": "plate.png", "wait_seconds": 100})
        result = converted.structured_content["result"]
        assert (result["transfer_used"], result["primaries_used"]) == ("srgb", "lin_rec709")
        assert result["parameters"]["operator"] == "auto" and result["shot_analysis"]
        measured = await client.call_tool("evaluate", {
            "prediction": result["exr_paths"][0], "sdr": "plate.png", "wait_seconds": 100})
        assert not measured.is_error, _text(measured)
        qa = measured.structured_content["result"]["qa"]
        assert qa["with_sdr"] and qa["verdict"] in ("pass", "review", "fail") and qa["reasons"]
        (tmp_path / "elsewhere.png").write_bytes((workspace / "plate.png").read_bytes())
        outside = await client.call_tool("evaluate", {
            "prediction": "pred.exr", "sdr": str(tmp_path / "elsewhere.png"), "wait_seconds": 100})
        assert outside.is_error and _text(outside).startswith("sdr=")
        inspected = await client.call_tool("inspect_hdr", {"path": "pred.exr"})
        assert inspected.structured_content["stats"]["verdict"] in ("pass", "review", "fail")
        assert inspected.structured_content["qa"]["metrics"]["peak_scene"] > 1.0
