"""Tiny presets: written once, atomically, deterministic, small, loaded with from_pretrained."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models import tiny
from hdr_mcp.models.registry import family

from .conftest import DISTINCT


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", tiny.tiny_names())
def test_preset_folder_is_a_small_complete_diffusers_folder(tiny_cache, name):
    folder = tiny.tiny_folder(name, cache_dir=tiny_cache)
    index = json.loads((folder / "model_index.json").read_text())
    entry = family(name)
    assert index["_class_name"] == entry.pipeline_class
    assert index["transformer"] == ["diffusers", entry.components.transformer]
    assert index["vae"] == ["diffusers", entry.components.vae]
    assert index["scheduler"][1] == entry.components.scheduler
    marker = tiny.read_marker(folder)
    assert marker["name"] == name and marker["base"] == entry.base
    assert _folder_bytes(folder) < 4_000_000


@pytest.mark.parametrize("name", DISTINCT)
def test_loaded_components_are_the_real_families_classes(loaded, name):
    pipe = loaded(name).pipe
    components = family(name).components
    assert type(pipe).__name__ == family(name).pipeline_class
    assert type(pipe.transformer).__name__ == components.transformer
    assert type(pipe.vae).__name__ == components.vae
    assert type(pipe.scheduler).__name__ == components.scheduler
    if tiny.tiny_preset(name).text == "encoder":
        assert type(pipe.text_encoder).__name__ == components.text_encoders[0]
        assert pipe.tokenizer is not None
    else:
        assert pipe.text_encoder is None and pipe.tokenizer is None


def test_same_seed_gives_identical_weights_and_another_seed_differs():
    first = tiny.build_components("tiny-flux.1-dev", seed=3)["transformer"].state_dict()
    again = tiny.build_components("tiny-flux.1-dev", seed=3)["transformer"].state_dict()
    other = tiny.build_components("tiny-flux.1-dev", seed=4)["transformer"].state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_build_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny.build_components("tiny-qwen-image")
    assert torch.equal(torch.rand(3), expected)


def test_hash_names_the_folder_and_changes_with_the_seed(tiny_cache):
    folder = tiny.tiny_folder("tiny-ltx-2.3", cache_dir=tiny_cache)
    assert folder.name == f"tiny-ltx-2.3-{tiny.config_hash('tiny-ltx-2.3')}"
    assert tiny.config_hash("tiny-ltx-2.3", seed=1) != tiny.config_hash("tiny-ltx-2.3")


def test_default_cache_is_under_hdr_mcp_home(models_env):
    assert tiny.tiny_folder("tiny-qwen-image").parent == models_env / "home" / "models" / "tiny"


def test_concurrent_builders_leave_one_complete_folder(tmp_path):
    results, errors = [], []

    def build():
        try:
            results.append(tiny.ensure_tiny("tiny-flux.2-klein-4b", cache_dir=tmp_path))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]
    assert tiny.read_marker(results[0])["name"] == "tiny-flux.2-klein-4b"


def test_second_ensure_reuses_the_folder(tiny_cache):
    folder = tiny.ensure_tiny("tiny-qwen-image", cache_dir=tiny_cache)
    stamp = (folder / tiny.MARKER_FILE).stat().st_mtime_ns
    assert tiny.ensure_tiny("tiny-qwen-image", cache_dir=tiny_cache) == folder
    assert (folder / tiny.MARKER_FILE).stat().st_mtime_ns == stamp


def test_real_family_is_not_a_tiny_preset():
    with pytest.raises(InvalidArgument, match="not a tiny preset; tiny presets: tiny-qwen-image"):
        tiny.tiny_preset("qwen-image")


def test_offline_tokenizers_round_trip_text(loaded):
    pipe = loaded("tiny-flux.1-dev").pipe
    ids = pipe.tokenizer_2("HDR sky, 1000 nits").input_ids
    assert pipe.tokenizer_2.decode(ids, skip_special_tokens=True) == "HDR sky, 1000 nits"
    qwen = loaded("tiny-qwen-image").pipe.tokenizer
    assert qwen.decode(qwen("sunset über Köln").input_ids) == "sunset über Köln"


def test_ltx_preset_stores_connector_embeddings(tiny_cache):
    kwargs = tiny.call_kwargs("tiny-ltx-2.3", tiny.tiny_folder("tiny-ltx-2.3", cache_dir=tiny_cache))
    assert kwargs["connector_video_embeds"].shape == (1, 8, 16)
    assert kwargs["connector_audio_embeds"].shape[0] == 1
