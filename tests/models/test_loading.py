"""Loading: tiny presets and local folders through from_pretrained; Hub errors; devices."""

from __future__ import annotations

import shutil

import httpx2
import pytest
import torch
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.models import catalog, loading
from hdr_mcp.models.loading import GatedModel, ModelNotCached, load_pipeline
from hdr_mcp.models.registry import family
from hdr_mcp.models.tiny import MARKER_FILE, tiny_folder


def _response(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("GET", "https://huggingface.co/x"))


def test_offline_cache_miss_names_repository_size_and_pull_command(models_env):
    with pytest.raises(ModelNotCached) as caught:
        load_pipeline("flux.1-dev", device="cpu", allow_large_on_cpu=True)
    message = str(caught.value)
    assert "black-forest-labs/FLUX.1-dev at revision 0ef5fff789c832c5c7f4e127f94c8b54bbcced44" \
        in message
    assert "about 33.7 GB" in message and "`hdr-mcp models pull flux.1-dev`" in message
    assert str(models_env / "hf" / "hub") in message


def test_local_files_only_also_refuses_when_online_is_allowed(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(ModelNotCached, match="hdr-mcp models pull qwen-image"):
        loading.snapshot(family("qwen-image"), local_files_only=True)


def test_gated_repository_says_how_to_give_a_token(monkeypatch):
    def gated(*args, **kwargs):
        raise GatedRepoError("403 gated", response=_response(403))

    monkeypatch.setattr("huggingface_hub.snapshot_download", gated)
    with pytest.raises(GatedModel) as caught:
        loading.snapshot(family("flux.1-dev"))
    assert "black-forest-labs/FLUX.1-dev is gated" in str(caught.value)
    assert "`hf auth login`" in str(caught.value) and "HF_TOKEN" in str(caught.value)


def test_unknown_revision_is_named(monkeypatch):
    def missing(*args, **kwargs):
        raise RevisionNotFoundError("404 revision", response=_response(404))

    monkeypatch.setattr("huggingface_hub.snapshot_download", missing)
    with pytest.raises(InvalidArgument) as caught:
        loading.snapshot(family("qwen-image"), "v9.9")
    assert str(caught.value) == "revision='v9.9': no such revision in Qwen/Qwen-Image"


def test_missing_repository_is_one_line(monkeypatch):
    def missing(*args, **kwargs):
        raise RepositoryNotFoundError("404", response=_response(404))

    monkeypatch.setattr("huggingface_hub.snapshot_download", missing)
    with pytest.raises(HdrMcpError, match="Qwen/Qwen-Image was not found or needs a token"):
        loading.snapshot(family("qwen-image"))


def test_snapshot_uses_pinned_revision_and_allow_patterns(monkeypatch, tmp_path):
    seen = {}

    def fake(repo_id, **kwargs):
        seen.update(kwargs, repo_id=repo_id)
        return str(tmp_path)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake)
    assert loading.snapshot(family("flux.1-dev")) == tmp_path
    assert seen["repo_id"] == "black-forest-labs/FLUX.1-dev"
    assert seen["revision"] == family("flux.1-dev").revision
    assert "model_index.json" in seen["allow_patterns"] and "transformer/*" in seen[
        "allow_patterns"]
    assert seen["local_files_only"] is True  # HF_HUB_OFFLINE=1 read at call time


def test_large_model_on_cpu_is_refused_before_any_download():
    with pytest.raises(InvalidArgument) as caught:
        load_pipeline("qwen-image", device="cpu")
    assert caught.value.argument == "device"
    assert "allow_large_on_cpu=True" in str(caught.value)


@pytest.mark.skipif(torch.cuda.device_count() > 3, reason="this machine has a cuda:3")
def test_missing_device_is_named():
    with pytest.raises(InvalidArgument) as caught:
        load_pipeline("tiny-qwen-image", device="cuda:3")
    assert caught.value.argument == "device" and "cuda:3" in str(caught.value)
    with pytest.raises(InvalidArgument, match="expected 'cpu', 'cuda'"):
        loading.check_device("tpu")


def test_offload_needs_an_accelerator_and_known_mode():
    with pytest.raises(InvalidArgument, match="offloading needs an accelerator"):
        load_pipeline("tiny-qwen-image", offload="model")
    with pytest.raises(InvalidArgument, match="expected None, 'model' or 'sequential'"):
        load_pipeline("tiny-qwen-image", offload="disk")


def test_unknown_model_lists_names():
    with pytest.raises(InvalidArgument, match="unknown model and not a folder; known: qwen"):
        load_pipeline("not-a-model")


def test_tiny_load_reports_what_it_loaded(loaded):
    result = loaded("tiny-wan2.1-vace-1.3b")
    assert result.family.name == "tiny-wan2.1-vace-1.3b"
    assert (result.device, result.dtype, result.offload) == ("cpu", "float32", None)
    assert (result.path / MARKER_FILE).is_file()
    assert result.pipe.vae.dtype == torch.float32


def test_bfloat16_load_keeps_the_vae_in_float32(tiny_cache):
    result = load_pipeline("tiny-flux.1-dev", dtype="bf16", tiny_cache_dir=tiny_cache)
    assert result.pipe.transformer.dtype == torch.bfloat16
    assert result.pipe.vae.dtype == torch.float32
    with pytest.raises(InvalidArgument, match="dtype='float8'"):
        load_pipeline("tiny-flux.1-dev", dtype="float8", tiny_cache_dir=tiny_cache)


def test_local_folder_family_is_detected_from_model_index(tiny_cache, tmp_path):
    source = tiny_folder("tiny-wan2.1-vace-1.3b", cache_dir=tiny_cache)
    copy = tmp_path / "wan"
    shutil.copytree(source, copy)
    (copy / MARKER_FILE).unlink()  # a plain diffusers folder now
    assert loading.detect_family(copy).name == "wan2.1-vace-1.3b"  # 2 layers < 40
    with pytest.raises(InvalidArgument, match="allow_large_on_cpu"):
        load_pipeline(copy)
    result = load_pipeline(copy, allow_large_on_cpu=True)
    assert type(result.pipe).__name__ == "WanVACEPipeline"
    result = load_pipeline(copy, family_name="tiny-wan2.1-vace-1.3b")
    assert result.family.name == "tiny-wan2.1-vace-1.3b"


def test_folder_without_model_index_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="not a diffusers folder"):
        loading.detect_family(tmp_path)


def test_catalog_lists_every_family_offline(tiny_cache):
    rows = {row["name"]: row for row in catalog.list_models()}
    assert len(rows) == 14
    assert rows["flux.1-dev"]["cached"] is False and rows["flux.1-dev"]["gated"] is True
    assert rows["ltx-2.3"]["revision_pinned"] is False
    info = catalog.model_info("ltx-2.3")
    assert info["hdr_lora"]["filename"] == "ltx-2.3-22b-ic-lora-hdr-0.9.safetensors"
    assert info["cached"] is False


def test_pull_offline_raises_the_cache_miss():
    with pytest.raises(ModelNotCached, match="wan2.1-vace-1.3b"):
        catalog.pull_model("wan2.1-vace-1.3b")


def test_cached_detection_with_a_primed_hub_cache(models_env):
    """A snapshot laid out as huggingface_hub writes it counts as cached (no network)."""
    entry = family("flux.2-klein-4b")
    repo = models_env / "hf" / "hub" / "models--black-forest-labs--FLUX.2-klein-4B"
    snapshot = repo / "snapshots" / entry.revision
    for folder in entry.components.folders:
        (snapshot / folder).mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(entry.revision)
    try:
        assert catalog.is_cached(entry)
        assert loading.snapshot(entry) == snapshot
    finally:
        shutil.rmtree(repo)
