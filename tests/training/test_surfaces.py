"""train_lora and precompute_latents as MCP tools, CLI commands and retried jobs."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from mcp import Client
from safetensors.torch import load_file

from hdr_mcp.jobs.context import JobCancelled, LocalContext
from hdr_mcp.training.checkpoints import list_checkpoints
from hdr_mcp.training.tools import run_train_lora

from .conftest import RUN

TINY = {k: v for k, v in RUN.items() if k != "logging"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def server(tmp_path: Path, image_dataset: Path):
    from hdr_mcp.server import build_server
    from hdr_mcp.server.config import ServerConfig

    return build_server(ServerConfig(home=tmp_path / "home", output_dir=tmp_path / "out",
                                     roots=[image_dataset.parent], worker="thread"))


def _text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


@pytest.mark.anyio
async def test_train_lora_tool_reports_steps_and_returns_the_lora(server, image_dataset):
    seen: list[str] = []

    async def progress(done, total, message) -> None:
        seen.append(message or "")

    async with Client(server) as client:
        result = await client.call_tool("train_lora", {
            **TINY, "dataset": str(image_dataset), "validation_every": 2, "wait_seconds": 100},
            progress_callback=progress)
    assert not result.is_error, _text(result)
    job = result.structured_content
    assert job["status"] == "succeeded" and job["kind"] == "train_lora"
    assert Path(job["result"]["lora"]).is_file() and Path(job["result"]["lora_comfyui"]).is_file()
    assert [c.type for c in result.content].count("image") == 1  # the validation preview
    step_messages = [m for m in seen if m.startswith("step ")]  # throttled: some of them
    assert all(" loss " in m and " lr " in m and " eta " in m for m in step_messages)


@pytest.mark.anyio
async def test_cancel_job_saves_a_checkpoint(server, image_dataset):
    async with Client(server) as client:
        started = await client.call_tool("train_lora", {
            **TINY, "dataset": str(image_dataset), "steps": 10_000, "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        for _ in range(300):  # until training has made a step
            job = (await client.call_tool("get_job", {"job_id": job_id})).structured_content
            if job["message"].startswith("step "):
                break
            await asyncio.sleep(0.1)
        assert " loss " in job["message"]
        output_dir = Path(job["params"]["output_dir"])
        await client.call_tool("cancel_job", {"job_id": job_id})
        for _ in range(300):
            result = await client.call_tool("get_job", {"job_id": job_id})
            if result.is_error:
                break
            await asyncio.sleep(0.1)
    assert "was cancelled" in _text(result)
    (saved,) = list_checkpoints(output_dir)
    assert (saved / "hdr_lora.safetensors").is_file()


@pytest.mark.anyio
async def test_bad_arguments_are_one_line_naming_them(server, image_dataset, tmp_path):
    async with Client(server) as client:
        for args, argument in (({"dataset": str(image_dataset), "rnak": 4}, "rnak"),
                               ({"dataset": str(tmp_path / "elsewhere")}, "dataset"),
                               ({"dataset": str(image_dataset), "model": "tiny-qwen-image",
                                 "rank": 0, "resolution": 32}, "rank")):
            result = await client.call_tool("train_lora", {**args, "wait_seconds": 30})
            assert result.is_error and f"{argument}=" in _text(result), _text(result)


def test_a_config_file_tiny_model_needs_no_gpu(tmp_path: Path) -> None:
    from hdr_mcp.jobs.kinds import job_kind
    from hdr_mcp.params.training import TrainLoraParams

    config = tmp_path / "run.yaml"
    config.write_text("model: tiny-qwen-image\ndataset: /data\n")
    kind = job_kind("train_lora")
    assert not kind.needs_gpu(TrainLoraParams(config=str(config)))
    assert kind.model_key(TrainLoraParams(config=str(config))) == "tiny-qwen-image"
    assert kind.needs_gpu(TrainLoraParams(config=str(config), model="qwen-image-2512"))


def test_a_retried_job_resumes_from_its_last_checkpoint(image_dataset: Path,
                                                        tmp_path: Path) -> None:
    params = {**TINY, "dataset": str(image_dataset), "logging": "none"}
    reference = run_train_lora({**params, "output_dir": str(tmp_path / "reference")},
                               LocalContext(tmp_path / "ref-work"))
    stop = threading.Event()
    first = LocalContext(tmp_path / "work", stop_event=stop,
                         on_progress=lambda done, total, message: stop.set() if done >= 2 else None)
    with pytest.raises(JobCancelled):
        run_train_lora(params, first)  # output_dir: the job's working folder
    retry = LocalContext(tmp_path / "work")
    retry.attempt = 2  # what a worker sets when it takes over a dead worker's job
    resumed = run_train_lora(params, retry)
    assert retry.messages[0][1].startswith("resumed from") and "step_0000002" in retry.messages[0][1]
    a, b = load_file(reference["lora"]), load_file(resumed["lora"])
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """``hdr-mcp ARGS`` in this process: (exit status, stdout, stderr)."""
    from hdr_mcp.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_train_with_a_config_and_options(image_dataset: Path, tmp_path: Path,
                                             capsys) -> None:
    import yaml

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**TINY, "dataset": str(image_dataset), "steps": 2,
                                      "output_dir": str(tmp_path / "from-config")}))
    code, out, err = _cli(capsys, "train", str(config), "--rank", "2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["output_dir"] == str(tmp_path / "from-config") and result["rank"] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: x\nrnak: 3\n")
    code, out, err = _cli(capsys, "train", str(bad))
    assert code == 2 and err.startswith("error: rnak=3: unknown key in") and str(bad) in err
