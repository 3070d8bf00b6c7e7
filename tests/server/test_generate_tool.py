"""``generate_hdr`` through the SDK client: progress per denoising step, a preview, links."""

from __future__ import annotations

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def test_generate_hdr_reports_steps_and_returns_a_preview(server):
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with Client(server) as client:
        result = await client.call_tool("generate_hdr", {
            "prompt": "a desert at dusk", "model": "tiny-qwen-image", "method": "two-stage",
            "steps": 3, "num_images": 2, "wait_seconds": 100}, progress_callback=progress)
    assert not result.is_error, _text(result)
    job = result.structured_content
    assert job["status"] == "succeeded" and job["kind"] == "generate_hdr"
    images = job["result"]["images"]
    assert len(images) == 2 and all(image["verdict"] for image in images)
    assert [c.type for c in result.content].count("image") == 1
    links = [c for c in result.content if c.type == "resource_link"]
    assert sum(str(link.uri).endswith(".exr") for link in links) == 2
    dones = [done for done, _, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) >= 2 and seen[-1][1] == 6  # 2 x 3 steps


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ({"prompt": "x", "model": "sdxl"}, "model"),
        ({"prompt": "", "model": "tiny-qwen-image"}, "prompt"),
        ({"prompt": "x", "model": "tiny-qwen-image", "width": 1000}, "width"),
        ({"prompt": "x", "model": "tiny-qwen-image", "num_images": 1000}, "num_images"),
        ({"prompt": "x", "model": "tiny-qwen-image", "loar": "a"}, "loar"),
    ],
)
async def test_bad_generate_arguments_are_one_line_naming_them(server, args, argument):
    async with Client(server) as client:
        result = await client.call_tool("generate_hdr", {**args, "wait_seconds": 60})
        assert result.is_error
        assert f"{argument}=" in _text(result) and "\n" not in _text(result), _text(result)
        assert not (await client.call_tool("list_jobs", {})).is_error


async def test_a_full_model_without_a_gpu_worker_says_so_at_once(server):
    import time

    start = time.monotonic()
    async with Client(server) as client:
        result = await client.call_tool("generate_hdr", {
            "prompt": "a desert at dusk", "model": "qwen-image", "method": "two-stage",
            "wait_seconds": 60})
    job = result.structured_content
    assert not result.is_error and job["status"] == "queued"
    assert "GPU worker" in job["next_step"] and time.monotonic() - start < 10
    assert server.hdr.store.get(job["job_id"]).needs_gpu
