"""train_lora on tiny presets: overfitting, exact resume, cache equivalence, LoRA files, bad
input (another run's checkpoint, another model's cache, a full disk), cancellation."""

from __future__ import annotations

import errno
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.jobs.context import JobCancelled, LocalContext
from hdr_mcp.models import lora as lora_files
from hdr_mcp.params.training import PrecomputeConfig, TrainConfig
from hdr_mcp.training import trainer
from hdr_mcp.training.checkpoints import CheckpointWriteError, list_checkpoints
from hdr_mcp.training.latents import precompute
from hdr_mcp.training.trainer import train

from .conftest import RUN, SCENES, hdr_crop, write_clips

BASE = {**RUN, "checkpoint_every": 2}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hdr_mcp.io.exr import write_exr

    root = tmp_path_factory.mktemp("images")
    for name in SCENES:
        write_exr(root / f"{name}.exr", hdr_crop(name))
        (root / f"{name}.txt").write_text(f"a {name} scene")
    return root


def _config(dataset: Path, output_dir: Path, **changes: Any) -> TrainConfig:
    return TrainConfig(**{**BASE, "dataset": str(dataset), "output_dir": str(output_dir),
                          **changes})


def _ctx(path: Path) -> LocalContext:
    return LocalContext(path)


@pytest.fixture(scope="module")
def reference(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One uninterrupted 4-step run (checkpoints at steps 2 and 4)."""
    root = tmp_path_factory.mktemp("reference")
    return train(_config(dataset, root / "run"), _ctx(root / "work"))


def _adapter(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(checkpoint) / "adapter.safetensors"))


def test_overfitting_a_few_hdr_crops_halves_the_loss(dataset: Path, tmp_path: Path) -> None:
    """The preset's 32-wide hidden state cannot carry a 64-channel noise token, so the model
    here is the same Qwen-Image classes 128 wide (4 heads of 32), built from config."""
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel

    from hdr_mcp.models import tiny

    components = tiny.build_components("tiny-qwen-image")
    torch.manual_seed(0)
    components["transformer"] = QwenImageTransformer2DModel(
        patch_size=2, in_channels=64, out_channels=16, num_layers=2, attention_head_dim=32,
        num_attention_heads=4, joint_attention_dim=32, axes_dims_rope=(16, 8, 8))
    QwenImagePipeline(**components).save_pretrained(tmp_path / "wide-qwen")
    config = _config(dataset, tmp_path / "run", model=str(tmp_path / "wide-qwen"),
                     allow_cpu=True, rank=32, steps=100, learning_rate=1e-2,
                     lr_scheduler="constant", checkpoint_every=1000, validation_fraction=0,
                     flip="none", exposure_shift_stops=0,
                     lora_targets=["img_in", "proj_out", "img_mlp.net.0.proj", "img_mlp.net.2"])
    losses = train(config, _ctx(tmp_path / "work"))["losses"]
    assert len(losses) == 100
    assert np.mean(losses[-10:]) <= 0.5 * np.mean(losses[:10])


def test_resume_from_a_mid_run_checkpoint_matches_the_uninterrupted_run(
        dataset: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    middle = Path(reference["output_dir"]) / "checkpoints" / "step_0000002"
    assert middle.is_dir()
    resumed = train(_config(dataset, tmp_path / "resumed", resume=str(middle)),
                    _ctx(tmp_path / "work"))
    assert resumed["losses"] == pytest.approx(reference["losses"], rel=1e-6)
    a, b = _adapter(reference["checkpoint"]), _adapter(resumed["checkpoint"])
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6


def test_a_checkpoint_of_another_run_is_refused(dataset: Path, reference: dict[str, Any],
                                                tmp_path: Path) -> None:
    middle = Path(reference["output_dir"]) / "checkpoints" / "step_0000002"
    with pytest.raises(InvalidArgument, match="checkpoint of another run: it has rank=4, "
                       "this run has rank=8") as info:
        train(_config(dataset, tmp_path / "other", rank=8, resume=str(middle)),
              _ctx(tmp_path / "work"))
    assert info.value.argument == "resume"
    with pytest.raises(InvalidArgument, match="no checkpoint"):
        train(_config(dataset, tmp_path / "empty", resume="latest"), _ctx(tmp_path / "work"))


def test_cached_latents_give_the_same_loss_sequence(dataset: Path, reference: dict[str, Any],
                                                    tmp_path: Path) -> None:
    fields = {k: v for k, v in BASE.items() if k in PrecomputeConfig.model_fields}
    made = precompute(PrecomputeConfig(**fields, dataset=str(dataset), shard_size=2,
                                       output_dir=str(tmp_path / "cache")),
                      _ctx(tmp_path / "work"))
    assert (made["shards"], made["items"], made["shards_kept"]) == (2, 3, 0)
    cached = train(_config(dataset, tmp_path / "cached", latents_dir=str(tmp_path / "cache")),
                   _ctx(tmp_path / "work"))
    assert cached["losses"] == pytest.approx(reference["losses"], rel=1e-6)
    # resumable by shard: a lost shard is redone, the others kept
    (tmp_path / "cache" / "shard_00001.safetensors").unlink()
    again = precompute(PrecomputeConfig(**fields, dataset=str(dataset), shard_size=2,
                                        output_dir=str(tmp_path / "cache")),
                       _ctx(tmp_path / "work"))
    assert again["shards_kept"] == 1
    with pytest.raises(InvalidArgument, match="made with family='tiny-qwen-image', this run "
                       "has family='tiny-flux.1-dev'") as info:
        train(_config(dataset, tmp_path / "flux", model="tiny-flux.1-dev",
                      latents_dir=str(tmp_path / "cache")), _ctx(tmp_path / "work"))
    assert info.value.argument == "latents_dir"
    with pytest.raises(InvalidArgument, match="encoding='logc4', this run has encoding='pq'"):
        train(_config(dataset, tmp_path / "pq", encoding="pq",
                      latents_dir=str(tmp_path / "cache")), _ctx(tmp_path / "work"))


def test_video_cache_matches_the_uncached_run(video_dataset: Path, tmp_path: Path) -> None:
    """Degraded references (H.264 included) are deterministic, so a cache of them is too."""
    video = {"model": "tiny-wan2.1-vace-1.3b", "frames": 5, "steps": 2, "batch_size": 1,
             "validation_fraction": 0.0}
    fields = {k: v for k, v in {**BASE, **video}.items() if k in PrecomputeConfig.model_fields}
    precompute(PrecomputeConfig(**fields, dataset=str(video_dataset),
                                output_dir=str(tmp_path / "cache")), _ctx(tmp_path / "work"))
    plain = train(_config(video_dataset, tmp_path / "plain", **video), _ctx(tmp_path / "work"))
    cached = train(_config(video_dataset, tmp_path / "cached", **video,
                           latents_dir=str(tmp_path / "cache")), _ctx(tmp_path / "work"))
    assert cached["losses"] == pytest.approx(plain["losses"], rel=1e-6)


def test_a_disk_full_mid_save_keeps_the_last_good_checkpoint(
        dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_save = torch.save
    calls = {"n": 0}

    def save(obj, path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:  # the second checkpoint's optimizer state
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(CheckpointWriteError, match="step 4 could not be written.*No space left.*"
                       "last good checkpoint is .*step_0000002"):
        train(_config(dataset, tmp_path / "run"), _ctx(tmp_path / "work"))
    kept = list_checkpoints(tmp_path / "run")
    assert [p.name for p in kept] == ["step_0000002"]
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.startswith(".")]
    assert lora_files.read_hdr_lora_info(kept[0] / "hdr_lora.safetensors").encoding == "logc4"


def test_progress_says_step_loss_lr_eta_and_the_latest_preview(dataset: Path,
                                                                tmp_path: Path) -> None:
    messages: list[str] = []
    ctx = LocalContext(tmp_path / "work", on_progress=lambda done, total, m: messages.append(m))
    result = train(_config(dataset, tmp_path / "run", steps=3, validation_every=2), ctx)
    assert [m.split(" loss ")[0] for m in messages] == ["step 1/3", "step 2/3", "step 3/3"]
    assert all(" lr 0.001 eta " in m for m in messages)
    assert "preview" not in messages[0]
    assert messages[1].endswith(f"preview {result['validation'][0]['renders'][0]['preview_png']}")
    assert messages[2].endswith(f"preview {result['preview_png']}")


def test_cancel_saves_a_loadable_checkpoint(dataset: Path, tmp_path: Path, loaded_tiny) -> None:
    stop = threading.Event()
    ctx = LocalContext(tmp_path / "work", stop_event=stop,
                       on_progress=lambda done, total, message: stop.set() if done >= 1 else None)
    with pytest.raises(JobCancelled, match="cancelled at step 1"):
        train(_config(dataset, tmp_path / "run", checkpoint_every=100), ctx)
    (saved,) = list_checkpoints(tmp_path / "run")
    pipe = loaded_tiny("tiny-qwen-image")
    info = lora_files.load_hdr_lora(pipe, saved / "hdr_lora.safetensors",
                                    family="tiny-qwen-image", adapter_name="cancelled")
    assert info.modules_matched == _targeted(pipe.transformer, 8)
    pipe.delete_adapters("cancelled")


def _targeted(transformer, per_block: int) -> int:
    return per_block * len(transformer.transformer_blocks)


def test_the_lora_loads_changes_the_output_and_generate_hdr_reads_its_encoding(
        reference: dict[str, Any], tmp_path: Path, loaded_tiny) -> None:
    from hdr_mcp.pipelines.text_to_hdr import generate

    pipe = loaded_tiny("tiny-qwen-image")

    def latents() -> torch.Tensor:
        return pipe(prompt="a city scene", height=32, width=32, num_inference_steps=2,
                    output_type="latent", generator=torch.Generator().manual_seed(0),
                    return_dict=False)[0]

    before = latents()
    info = lora_files.load_hdr_lora(pipe, reference["lora"], family="tiny-qwen-image",
                                    adapter_name="trained")
    # Q/K/V/out of both streams in each of the two blocks
    assert info.modules_matched == _targeted(pipe.transformer, 8)
    assert (info.encoding, info.base_model) == ("logc4", "tiny-qwen-image")
    after = latents()
    pipe.delete_adapters("trained")
    assert float((after - before).abs().max()) > 1e-4
    result = generate({"prompt": "a city scene", "model": "tiny-qwen-image",
                       "lora": reference["lora"], "steps": 2, "width": 32, "height": 32,
                       "output_dir": str(tmp_path / "generated")})
    assert result["encoding"] == "logc4"


def test_the_comfyui_file_converts_back_and_loads_like_the_diffusers_one(
        reference: dict[str, Any], loaded_tiny) -> None:
    diffusers_file = load_file(reference["lora"])
    comfy = load_file(reference["lora_comfyui"])
    assert all(k.startswith("diffusion_model.") for k in comfy)
    assert sum(k.endswith(".alpha") for k in comfy) == 16
    back = lora_files.from_comfyui_state_dict(comfy, 4.0, family="tiny-qwen-image")
    plain = {k.removeprefix("transformer."): v for k, v in diffusers_file.items()}
    assert back.keys() == plain.keys()
    assert all(torch.equal(back[k], plain[k]) for k in plain)
    pipe = loaded_tiny("tiny-qwen-image")
    info = lora_files.load_hdr_lora(pipe, reference["lora_comfyui"], family="tiny-qwen-image",
                                    adapter_name="comfy")
    assert info.modules_matched == 16 and info.key_layout == "comfyui"
    pipe.delete_adapters("comfy")


@pytest.mark.parametrize("name, prefix, alpha_keys", [
    ("tiny-qwen-image", "diffusion_model.", True),
    ("tiny-flux.1-dev", "transformer.", True),
    ("tiny-flux.2-klein-4b", "diffusion_model.", False),
    ("tiny-ltx-2.3", "diffusion_model.", False),
    ("tiny-wan2.1-vace-1.3b", "transformer.", False),
])
def test_comfyui_layouts_per_family_convert_back(name: str, prefix: str,
                                                 alpha_keys: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    state = {f"blocks.0.attn.to_q.lora_{ab}.weight": torch.randn(shape, generator=generator)
             for ab, shape in (("A", (4, 16)), ("B", (16, 4)))}
    comfy = lora_files.to_comfyui_state_dict(state, 8.0, family=name)
    assert all(k.startswith(prefix) for k in comfy)
    assert any(k.endswith(".alpha") for k in comfy) is alpha_keys
    if not alpha_keys:  # alpha / rank = 2 folded into B
        assert torch.allclose(comfy[f"{prefix}blocks.0.attn.to_q.lora_B.weight"],
                              2 * state["blocks.0.attn.to_q.lora_B.weight"])
    back = lora_files.from_comfyui_state_dict(comfy, 8.0, family=name)
    assert all(torch.allclose(back[k], state[k], atol=1e-7) for k in state)


@pytest.mark.parametrize("name", ["tiny-flux.1-dev", "tiny-flux.2-klein-4b"])
def test_other_text_to_image_families_train(dataset: Path, tmp_path: Path, name: str,
                                            loaded_tiny) -> None:
    result = train(_config(dataset, tmp_path / "run", model=name, steps=2,
                           gradient_checkpointing=True, logging="tensorboard"),
                   _ctx(tmp_path / "work"))
    assert list((tmp_path / "run" / "logs").glob("events.out.tfevents.*"))
    assert np.isfinite(result["losses"]).all() and result["validation"][-1]["renders"]
    render = result["validation"][-1]["renders"][0]
    assert Path(render["exr"]).is_file() and render["peak_nits"] > 0
    pipe = loaded_tiny(name)
    info = lora_files.load_hdr_lora(pipe, result["lora"], family=name, adapter_name="t")
    assert info.modules_matched > 0 and info.encoding == "logc4"
    pipe.delete_adapters("t")


def test_wan_vace_trains_on_clips(video_dataset: Path, tmp_path: Path) -> None:
    result = train(_config(video_dataset, tmp_path / "run", model="tiny-wan2.1-vace-1.3b",
                           frames=5, steps=2, batch_size=1, validation_fraction=0.34),
                   _ctx(tmp_path / "work"))
    assert len(result["losses"]) == 2 and np.isfinite(result["losses"]).all()
    assert result["validation"][-1]["validation_loss"] > 0
    tensors = load_file(result["lora"])
    assert any("vace_blocks" not in k and "to_q" in k for k in tensors)
    assert lora_files.read_hdr_lora_info(result["lora"]).base_model == "tiny-wan2.1-vace-1.3b"


def test_overwrite_replaces_an_earlier_run(dataset: Path, reference: dict[str, Any],
                                           tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference["output_dir"], out)
    with pytest.raises(InvalidArgument, match="already holds"):
        train(_config(dataset, out), _ctx(tmp_path / "work"))
    result = train(_config(dataset, out, steps=1, overwrite=True), _ctx(tmp_path / "work"))
    assert [p.name for p in list_checkpoints(out)] == ["step_0000001"]
    assert result["steps"] == 1


def test_bad_pixels_found_mid_run_leave_nothing_behind(tmp_path: Path) -> None:
    from hdr_mcp.io.exr import write_exr

    root = tmp_path / "images"
    root.mkdir()
    for name in SCENES:
        pixels = hdr_crop(name)
        if name == "night":
            pixels[0, 0, 0] = -1.0
        write_exr(root / f"{name}.exr", pixels)
        (root / f"{name}.txt").write_text(name)
    with pytest.raises(InvalidArgument, match="negative pixel") as info:
        train(_config(root, tmp_path / "run", logging="tensorboard"), _ctx(tmp_path / "work"))
    assert info.value.value.endswith("night.exr")
    assert not (tmp_path / "run").exists()


def test_fingerprint_fields_exist() -> None:
    assert set(trainer.FINGERPRINT_FIELDS) <= set(TrainConfig.model_fields)


def test_ltx2_ic_lora_trains_with_the_reference_in_context(tmp_path: Path, loaded_tiny) -> None:
    from hdr_mcp.training.session import load_for_training

    root = write_clips(tmp_path / "clips", SCENES[:2], frames=9, size=64)
    config = _config(root, tmp_path / "run", model="tiny-ltx-2.3", encoding="logc3",
                     resolution=64, frames=9, steps=2, batch_size=1, validation_fraction=0.5)
    result = train(config, _ctx(tmp_path / "work"))
    assert np.isfinite(result["losses"]).all()
    pipe = loaded_tiny("tiny-ltx-2.3")
    info = lora_files.load_hdr_lora(pipe, result["lora"], family="tiny-ltx-2.3",
                                    adapter_name="ic")
    assert info.modules_matched == info.lora_keys > 0 and info.encoding == "logc3"
    pipe.delete_adapters("ic")
    # the SDR reference is context: another reference changes the prediction
    loaded, family = load_for_training(config, _ctx(tmp_path / "work"))
    generator = torch.Generator().manual_seed(0)
    channels = loaded.pipe.transformer.config.in_channels
    x_t = torch.randn(1, channels, 2, 2, 2, generator=generator)
    text = {k: v[None] for k, v in family.encode_text(loaded.pipe, "a scene").items()}
    with torch.no_grad():
        a, b = (family.predict(loaded.pipe.transformer, x_t, torch.tensor([500.0]),
                               {**text, "reference": torch.randn(x_t.shape,
                                                                 generator=generator)})
                for _ in range(2))
    assert a.shape == x_t.shape and float((a - b).abs().max()) > 1e-4
