"""HDR LoRA files: metadata round trip, diffusers and ComfyUI layouts, checked loading."""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.models import lora
from hdr_mcp.models.loading import load_pipeline
from hdr_mcp.models.lora import HdrLoraInfo, LoraMismatch
from hdr_mcp.models.registry import family
from hdr_mcp.models.selftest import run_tiny


def _fresh(name, tiny_cache):
    loaded = load_pipeline(name, tiny_cache_dir=tiny_cache)
    loaded.pipe.set_progress_bar_config(disable=True)
    return loaded


def _with_adapter(loaded, rank=4, alpha=8.0):
    torch.manual_seed(5)
    config = LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights=False,
                        target_modules=list(family(loaded.family.name).lora_target_modules))
    loaded.pipe.transformer.add_adapter(config, adapter_name="default")
    return loaded


def _deltas(pipe, adapter="hdr"):
    """Effective weight change (scaling * B @ A) of every LoRA layer: what a layout must keep
    (the ComfyUI converter folds alpha / rank into the factors)."""
    from peft.tuners.lora import LoraLayer

    return {name: module.get_delta_weight(adapter)
            for name, module in pipe.transformer.named_modules()
            if isinstance(module, LoraLayer) and adapter in module.lora_A}


def _info(base, **kwargs):
    return HdrLoraInfo(encoding="logc4", base_model=base, trigger_words=("hdr sky",), **kwargs)


@pytest.fixture
def qwen_lora(tiny_cache, tmp_path):
    """A tiny-qwen-image HDR LoRA file and the latents the adapted pipeline produced."""
    source = _with_adapter(_fresh("tiny-qwen-image", tiny_cache))
    adapted = run_tiny(source.pipe, "tiny-qwen-image", source.path)
    path = lora.save_hdr_lora_from_pipeline(source.pipe, tmp_path / "sky.safetensors",
                                            _info("tiny-qwen-image"))
    return path, adapted


def test_metadata_round_trip_and_sidecar(qwen_lora):
    path, _ = qwen_lora
    info = lora.read_hdr_lora_info(path)
    assert (info.encoding, info.base_model, info.trigger_words) == (
        "logc4", "tiny-qwen-image", ("hdr sky",))
    assert info.code_range == {"vae_min": -1.0, "vae_max": 1.0}
    assert info.format_version == 1 and info.source == "hdr_mcp"
    assert info.key_layout == "diffusers" and info.lora_keys == 8  # 2 blocks x 4 projections
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "pt"
    assert json.loads(metadata["lora_adapter_metadata"])["transformer.lora_alpha"] == 8.0
    assert "hdr_mcp" not in metadata["lora_adapter_metadata"]
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["encoding"] == "logc4" and sidecar["trigger_words"] == ["hdr sky"]


def test_round_trip_loads_and_reproduces_the_adapted_output(qwen_lora, tiny_cache):
    path, adapted = qwen_lora
    target = _fresh("tiny-qwen-image", tiny_cache)
    plain = run_tiny(target.pipe, "tiny-qwen-image", target.path)
    info = lora.load_hdr_lora(target.pipe, path, family="tiny-qwen-image")
    loaded = run_tiny(target.pipe, "tiny-qwen-image", target.path)
    assert info.modules_matched == 8
    assert (loaded - adapted).abs().max().item() < 1e-5  # exact diffusers round trip
    assert (loaded - plain).abs().max().item() > 1e-3  # and it changes the output


def test_scale_zero_gives_the_base_output(qwen_lora, tiny_cache):
    path, _ = qwen_lora
    target = _fresh("tiny-qwen-image", tiny_cache)
    plain = run_tiny(target.pipe, "tiny-qwen-image", target.path)
    lora.load_hdr_lora(target.pipe, path, family="tiny-qwen-image", scale=0.0)
    assert (run_tiny(target.pipe, "tiny-qwen-image", target.path) - plain).abs().max() < 1e-6


def test_comfyui_layout_loads_to_the_same_weights(qwen_lora, tiny_cache, tmp_path):
    path, adapted = qwen_lora
    tensors = load_file(str(path))
    comfy = tmp_path / "comfy.safetensors"
    save_file(lora.to_comfyui_state_dict(tensors, lora_alpha=8.0), str(comfy))
    assert lora.detect_key_layout(list(load_file(str(comfy)))) == "comfyui"
    target = _fresh("tiny-qwen-image", tiny_cache)
    info = lora.load_hdr_lora(target.pipe, comfy, family="tiny-qwen-image")
    assert info.source == "none" and info.modules_matched == 8
    original = _fresh("tiny-qwen-image", tiny_cache)
    lora.load_hdr_lora(original.pipe, path, family="tiny-qwen-image")
    reloaded, expected = _deltas(target.pipe), _deltas(original.pipe)
    assert reloaded.keys() == expected.keys() and len(expected) == 8
    assert max((reloaded[k] - expected[k]).abs().max().item() for k in expected) < 1e-6
    output = run_tiny(target.pipe, "tiny-qwen-image", target.path)
    assert (output - adapted).abs().max().item() < 1e-5  # alpha / rank scale preserved


def test_lora_for_another_family_is_refused_naming_both(qwen_lora, tiny_cache):
    path, _ = qwen_lora
    target = _fresh("tiny-flux.1-dev", tiny_cache)
    with pytest.raises(LoraMismatch, match="made for tiny-qwen-image, not tiny-flux.1-dev"):
        lora.load_hdr_lora(target.pipe, path, family="tiny-flux.1-dev")
    assert lora.count_adapter_modules(target.pipe, "hdr") == 0


def test_same_architecture_needs_explicit_consent(qwen_lora, tiny_cache):
    path, _ = qwen_lora
    target = _fresh("tiny-qwen-image-2512", tiny_cache)
    with pytest.raises(LoraMismatch, match="allow_family_mismatch=True"):
        lora.load_hdr_lora(target.pipe, path, family="tiny-qwen-image-2512")
    info = lora.load_hdr_lora(target.pipe, path, family="tiny-qwen-image-2512",
                              allow_family_mismatch=True)
    assert info.modules_matched == 8


@pytest.mark.parametrize("name", ["tiny-flux.2-klein-4b", "tiny-ltx-2.3", "tiny-qwen-image",
                                  "tiny-wan2.1-vace-1.3b"])
def test_keys_that_match_no_module_are_detected(name, tiny_cache, tmp_path):
    """A foreign prefix (here ``unet.``) loads silently into every pipeline (diffusers 0.42.1:
    no error, no adapter layer); the module count catches it."""
    path = tmp_path / "stray.safetensors"
    save_file({"unet.transformer_blocks.0.attn.to_q.lora_A.weight": torch.randn(4, 32),
               "unet.transformer_blocks.0.attn.to_q.lora_B.weight": torch.randn(32, 4)},
              str(path), metadata=_info(name).to_metadata())
    target = _fresh(name, tiny_cache)
    target.pipe.load_lora_weights(str(path), adapter_name="probe")  # diffusers: silent no-op
    assert lora.count_adapter_modules(target.pipe, "probe") == 0
    with pytest.raises(LoraMismatch, match=f"none of its 1 LoRA modules .* matched a module of "
                                           f"{name}; it would have no effect"):
        lora.load_hdr_lora(target.pipe, path, family=name)


def test_keys_peft_rejects_are_reported_as_a_mismatch(tiny_cache, tmp_path):
    path = tmp_path / "stray.safetensors"
    lora.save_hdr_lora({"no_such_block.attn.to_q.lora_A.weight": torch.randn(4, 32),
                        "no_such_block.attn.to_q.lora_B.weight": torch.randn(32, 4)},
                       {"r": 4, "lora_alpha": 4, "target_modules": ["to_q"]}, path,
                       _info("tiny-flux.1-dev"))
    target = _fresh("tiny-flux.1-dev", tiny_cache)
    with pytest.raises(LoraMismatch, match="does not load into tiny-flux.1-dev"):
        lora.load_hdr_lora(target.pipe, path, family="tiny-flux.1-dev")
    assert lora.count_adapter_modules(target.pipe, "hdr") == 0


def test_corrupt_file_is_named(tmp_path, tiny_cache):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(UnsupportedFile, match="broken.safetensors.*not a readable safetensors"):
        lora.read_hdr_lora_info(bad)
    target = _fresh("tiny-flux.1-dev", tiny_cache)
    with pytest.raises(UnsupportedFile):
        lora.load_hdr_lora(target.pipe, bad, family="tiny-flux.1-dev")


def test_missing_file_and_bad_source(tmp_path):
    with pytest.raises(InvalidArgument, match="no such file"):
        lora.resolve_lora_source(tmp_path / "nope.safetensors")


def test_offline_hub_lora_names_the_file_and_the_download_command():
    from hdr_mcp.models.loading import ModelNotCached

    with pytest.raises(ModelNotCached, match="Lightricks/LTX-2.3-22b-IC-LoRA-HDR/ltx-2.3-22b"):
        lora.resolve_lora_source("Lightricks/LTX-2.3-22b-IC-LoRA-HDR/"
                                 "ltx-2.3-22b-ic-lora-hdr-0.9.safetensors")


def test_ltx_hdr_ic_lora_metadata_is_understood(tmp_path):
    path = tmp_path / "ltx.safetensors"
    save_file({"diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.zeros(2, 8),
               "diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.zeros(8, 2)},
              str(path), metadata={"hdr_transform": "logc3", "reference_downscale_factor": "2"})
    info = lora.read_hdr_lora_info(path)
    assert (info.encoding, info.source, info.reference_downscale_factor) == ("logc3", "ltx-hdr", 2)
    assert info.key_layout == "comfyui" and info.base_model is None
    save_file({"x.lora_A.weight": torch.zeros(1)}, str(path), metadata={"use_hdr_transform": "true"})
    assert lora.read_hdr_lora_info(path).encoding == "logc3"


@pytest.mark.parametrize(
    ("info", "argument"),
    [
        (HdrLoraInfo(encoding="gamma24"), "encoding"),
        (HdrLoraInfo(encoding="pq", encoding_params={"peak": 1}), "encoding_params"),
        (HdrLoraInfo(encoding="pq", code_range={"vae_min": 1, "vae_max": -1}), "code_range"),
        (HdrLoraInfo(encoding="pq", base_model="sdxl"), "base_model"),
    ],
)
def test_writer_refuses_bad_metadata(info, argument, tmp_path):
    with pytest.raises(InvalidArgument) as caught:
        lora.save_hdr_lora({}, {"r": 1}, tmp_path / "x.safetensors", info)
    assert caught.value.argument == argument


def test_encoding_params_round_trip(tmp_path):
    info = HdrLoraInfo(encoding="log_gamma", encoding_params={"gamma": 2.2, "max_value": 1000.0},
                       code_range={"vae_min": -1.0, "vae_max": 1.0}, base_model="tiny-flux.1-dev")
    state = {"transformer_blocks.0.attn.to_q.lora_A.weight": torch.randn(2, 32),
             "transformer_blocks.0.attn.to_q.lora_B.weight": torch.randn(32, 2)}
    path = lora.save_hdr_lora(state, {"r": 2, "lora_alpha": 2, "target_modules": ["to_q"]},
                              tmp_path / "lg.safetensors", info)
    read = lora.read_hdr_lora_info(path)
    assert read.encoding_params == {"gamma": 2.2, "max_value": 1000.0}
    assert read.base_model == "tiny-flux.1-dev"
