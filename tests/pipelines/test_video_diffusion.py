"""Diffusion SDR -> HDR video (``ltx2-hdr``, ``wan-vace``): windows and their latent blend,
exposure masks and captions, unclamped float32 decode in time and space, the two methods on the
tiny presets (frame counts, values beyond the curve, LoRA metadata, routing, cancel, resume)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.pipelines.video.exposure import (
    exposure_masks,
    mask_stats,
    prompt_with_captions,
    split_prompt,
)
from hdr_mcp.pipelines.video.windows import (
    LatentBlender,
    latent_weights,
    plan_windows,
)

LTX = {"step": 8, "min_frames": 9, "max_frames": 257, "default_window": 121,
       "default_overlap": 25}
WAN = {"step": 4, "min_frames": 5, "max_frames": 81, "default_window": 33,
       "default_overlap": 9}


# -- windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [LTX, WAN])
@pytest.mark.parametrize("frames", [1, 7, 33, 40, 121, 122, 300])
def test_windows_cover_the_shot_and_weights_sum_to_one(rule, frames):
    plan = plan_windows(frames, window=None, overlap=None, **rule)
    assert plan.padded >= frames
    assert plan.padded - frames < max(plan.stride, rule["step"]) + rule["step"]
    total = np.zeros(plan.shot_latents)
    for i in range(plan.count):
        a = plan.latent_start(i)
        total[a:a + plan.window_latents] += latent_weights(plan, i)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_default_windows_are_the_published_ones():
    assert plan_windows(300, window=None, overlap=None, **LTX).to_dict() == {
        "frames": 300, "window": 121, "overlap": 25, "windows": 3, "padded_frames": 313}
    assert plan_windows(300, window=None, overlap=None, **WAN).to_dict()["window"] == 33


def test_blend_of_agreeing_windows_is_seamless():
    """Constant latents in every window -> the same constant across every window boundary."""
    plan = plan_windows(100, window=17, overlap=9, **WAN)
    blender = LatentBlender(plan)
    out = [blender.add(i, torch.full((1, 2, plan.window_latents, 3, 3), 0.7))
           for i in range(plan.count)]
    shot = torch.cat(out, dim=2)
    assert shot.shape[2] == plan.shot_latents
    torch.testing.assert_close(shot, torch.full_like(shot, 0.7))


def test_blend_is_a_linear_ramp_across_the_overlap():
    plan = plan_windows(40, window=17, overlap=9, **{**LTX, "max_frames": 17})
    blender = LatentBlender(plan)
    shot = torch.cat([blender.add(i, torch.full((1, 1, plan.window_latents, 1, 1), float(i)))
                      for i in range(plan.count)], dim=2).flatten()
    # window i's last latent meets window i+1's first full latent half way
    np.testing.assert_allclose(shot.numpy(), [0, 0, 0.5, 1.5, 2.5, 3], atol=1e-6)


@pytest.mark.parametrize(("window", "overlap", "argument", "nearest"), [
    (34, 9, "window", "33 or 37"), (33, 8, "overlap", "5 or 9"), (33, 21, "overlap", "17"),
    (400, 9, "window", "81"),
])
def test_bad_window_or_overlap_names_the_nearest_valid_values(window, overlap, argument, nearest):
    with pytest.raises(InvalidArgument) as e:
        plan_windows(300, window=window, overlap=overlap, **WAN)
    assert e.value.argument == argument and nearest in str(e.value)


def test_window_longer_than_the_clip_is_refused_and_the_default_shrinks():
    with pytest.raises(InvalidArgument, match="longer than the clip .20 frames, padded to 21"):
        plan_windows(20, window=33, overlap=9, **WAN)
    assert plan_windows(20, window=None, overlap=None, **WAN).window == 21


# -- exposure masks and captions ---------------------------------------------------------------


def _clipped_frames(t: int = 6) -> np.ndarray:
    frames = np.full((t, 36, 48, 3), 0.45, np.float32)
    frames[:, :12, 16:32] = 1.0        # a blown-out window, top centre
    frames[:, 30:, :8] = 0.0           # crushed shadow, bottom left
    return frames


def test_masks_of_synthetic_clipped_frames():
    over, under = exposure_masks(_clipped_frames())
    assert over.shape == under.shape == (6, 36, 48)
    assert over[:, :12, 16:32].min() == 1.0 and over[:, 13:, :].max() == 0.0
    assert under[:, 30:, :8].min() == 1.0 and under[:, :29].max() == 0.0
    so, su = mask_stats(over), mask_stats(under)
    assert so.fraction == pytest.approx(12 * 16 / (36 * 48)) and so.where() == "top centre"
    assert su.where() == "bottom left"


def test_masks_are_soft_and_stable_over_time():
    frames = _clipped_frames(9)
    frames[4, :12, 16:32] = 0.5        # one frame where the highlight is missing
    over, _ = exposure_masks(frames)
    assert 0.7 < over[4, 5, 20] < 1.0  # the box average keeps it (4 of 5 frames clipped)
    ramp = np.linspace(0.85, 1.0, 16, dtype=np.float32)
    soft, _ = exposure_masks(np.broadcast_to(ramp[None, None, :, None], (1, 1, 16, 3)))
    assert np.all(np.diff(soft[0, 0]) >= 0) and 0 < soft[0, 0, 8] < 1


def test_captions_from_mask_statistics_and_the_prompt_given():
    over, under = exposure_masks(_clipped_frames())
    parts, sources = prompt_with_captions("a dim room", mask_stats(over), mask_stats(under))
    assert parts.text() == ("a dim room [Overexposed: clipped highlights at the top centre, 11% "
                            "of the frame] [Underexposed: crushed shadows at the bottom left, 3% "
                            "of the frame]")
    assert sources == {"over": "masks", "under": "masks"}
    parts, sources = prompt_with_captions("a dim room [Overexposed: a cloudy sky]",
                                          mask_stats(over), mask_stats(under))
    assert parts.over == "a cloudy sky" and sources["over"] == "given"


def test_a_mask_prompt_without_masks_is_refused():
    flat = np.full((3, 8, 8, 3), 0.5, np.float32)
    over, under = exposure_masks(flat)
    with pytest.raises(InvalidArgument, match="no overexposed region") as e:
        prompt_with_captions("x [Overexposed: sky]", mask_stats(over), mask_stats(under))
    assert e.value.argument == "prompt"
    parts, sources = prompt_with_captions("x", mask_stats(over), mask_stats(under))
    assert parts.text() == "x" and sources == {"over": "none", "under": "none"}


def test_split_prompt():
    parts = split_prompt("street [underexposed: alley] at dusk [Overexposed: neon signs]")
    assert (parts.base, parts.over, parts.under) == ("street at dusk", "neon signs", "alley")
    with pytest.raises(InvalidArgument, match="two"):
        split_prompt("[Overexposed: a] [Overexposed: b]")


# -- unclamped decode in time and space --------------------------------------------------------


def _stream(decoder, z, piece: int):
    outs = [decoder.push(z[:, :, i:i + piece]) for i in range(0, z.shape[2], piece)]
    outs.append(decoder.finish())
    return torch.cat([o for o in outs if o is not None], dim=2)


def test_wan_decode_streamed_in_pieces_is_exact_and_unclamped(loaded_tiny):
    from hdr_mcp.models.decode import TemporalDecoder, decode_vae_latents

    name = "tiny-wan2.1-vace-1.3b"
    z = torch.randn(1, 16, 7, 8, 8, generator=torch.Generator().manual_seed(1)) * 3
    whole = decode_vae_latents(loaded_tiny(name), z, name)
    assert whole.shape == (1, 3, 25, 64, 64) and whole.abs().max() > 1.0  # no clamp
    streamed = _stream(TemporalDecoder(loaded_tiny(name), name), z, 2)
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-5)
    tiles = {"tile_pixels": 32, "tile_overlap_pixels": 16}
    tiled = _stream(TemporalDecoder(loaded_tiny(name), name, tiled=True, **tiles), z, 3)
    tiled_whole = decode_vae_latents(loaded_tiny(name), z, name, tiled=True, **tiles)
    torch.testing.assert_close(tiled, tiled_whole, rtol=0, atol=1e-5)


def test_ltx_decode_in_time_chunks_is_seamless_for_a_constant_timeline(loaded_tiny):
    """A timeline that does not change in time decodes across chunk (and spatial tile)
    boundaries as in one piece; a random one keeps every frame, in order, unclamped."""
    from hdr_mcp.models.decode import TemporalDecoder, decode_vae_latents

    name = "tiny-ltx-2.3"
    generator = torch.Generator().manual_seed(2)
    constant = torch.randn(1, 16, 1, 2, 2, generator=generator).repeat(1, 1, 16, 1, 1)
    whole = decode_vae_latents(loaded_tiny(name), constant, name)
    chunked = _stream(TemporalDecoder(loaded_tiny(name), name, chunk_latents=9,
                                      overlap_latents=7, margin_latents=3), constant, 4)
    assert chunked.shape == whole.shape == (1, 3, 121, 64, 64)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=2e-3)
    z = torch.randn(1, 16, 12, 2, 2, generator=generator) * 3
    frames = _stream(TemporalDecoder(loaded_tiny(name), name, chunk_latents=7, overlap_latents=5),
                     z, 5)
    assert frames.shape[2] == 89 and frames.abs().max() > 1.0


def test_bad_decode_chunks_are_refused(loaded_tiny):
    from hdr_mcp.models.decode import TemporalDecoder

    with pytest.raises(InvalidArgument, match="overlap_latents"):
        TemporalDecoder(loaded_tiny("tiny-ltx-2.3"), "tiny-ltx-2.3", chunk_latents=4,
                        overlap_latents=4)


# -- context-focused cross-attention -----------------------------------------------------------


def test_routing_changes_cross_attention_only_inside_the_mask(loaded_tiny):
    from hdr_mcp.models import tiny
    from hdr_mcp.models.attention_routing import install_routing, remove_routing, token_ranges

    pipe = loaded_tiny("tiny-wan2.1-vace-1.3b")
    transformer = pipe.transformer
    ranges, tokens, text = token_ranges(
        pipe.tokenizer, [("base", "a dim room"), ("over", "[Overexposed: a bright sky]")], 128)
    assert ranges == {"over": (len("a dim room") - 2, tokens - 1)} or ranges["over"][0] > 0
    context = transformer.condition_embedder.text_embedder(tiny.wan_prompt_embeds(pipe, text, 128))
    hidden = torch.randn(1, 20, 24, generator=torch.Generator().manual_seed(0))
    attn = transformer.blocks[0].attn2
    original = attn.processor
    state = install_routing(transformer)
    try:
        state.key_ranges, state.text_tokens, state.enabled = ranges, tokens, True
        mask = torch.zeros(20)
        mask[5:9], mask[9] = 1.0, 0.5
        with torch.no_grad():
            state.masks = {"over": mask}
            routed = attn(hidden, context, None, None)
            state.masks = {"over": torch.zeros(20)}
            hidden_part = attn(hidden, context, None, None)
    finally:
        remove_routing(transformer)
    assert attn.processor is original
    changed = (routed - hidden_part).abs().amax(-1)[0]
    assert torch.all(changed[mask == 0] == 0) and torch.all(changed[mask > 0] > 1e-4)


# -- the methods on the tiny presets -----------------------------------------------------------

LTX_TINY, WAN_TINY = "tiny-ltx-2.3", "tiny-wan2.1-vace-1.3b"


def _clip(folder, frames: int, height: int = 44, width: int = 60):
    """A frame sequence (odd size) with a blown-out window and a crushed corner."""
    from hdr_mcp.io import write_sdr

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        f = np.full((height, width, 3), 0.4, np.float32)
        f[: height // 4, width // 3: 2 * width // 3] = 1.0
        f[-height // 5:, : width // 6] = 0.0
        f[..., 0] = np.minimum(f[..., 0] + 0.004 * i, 1.0)
        write_sdr(folder / f"f_{i:04d}.png", f)
    return folder


@pytest.fixture(scope="module")
def cache():
    from hdr_mcp.models.cache import ModelCache

    return ModelCache()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return {n: _clip(root / f"c{n}", n) for n in (17, 20, 30)}


def _convert(tmp_path, clip, out="out", ctx=None, cache=None, **params):
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    ctx = ctx or LocalContext(tmp_path / f"work-{out}", models=cache)
    return convert(str(clip), output_dir=str(tmp_path / out), ctx=ctx, **params)


def _frames(result) -> np.ndarray:
    from hdr_mcp.io import read_image

    folder = result["output_dir"]
    paths = sorted(Path(folder).glob("frame_*.exr"))
    return np.stack([read_image(p).pixels[..., :3] for p in paths])


def _lora(tmp_path, *, encoding="log_gamma", params=None, name="hdr.safetensors"):
    """A Wan LoRA with random weights strong enough to change a 2-step render."""
    from peft import LoraConfig

    from hdr_mcp.models.loading import load_pipeline
    from hdr_mcp.models.lora import HdrLoraInfo, save_hdr_lora_from_pipeline

    torch.manual_seed(5)
    pipe = load_pipeline(WAN_TINY).pipe
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4.0, init_lora_weights=False,
                                            target_modules=["to_q", "to_k", "to_v"]),
                                 adapter_name="default")
    with torch.no_grad():
        for p in pipe.transformer.parameters():
            if p.requires_grad:
                p.mul_(3.0)
    path = tmp_path / name
    save_hdr_lora_from_pipeline(pipe, path, HdrLoraInfo(
        encoding=encoding, encoding_params=params or {}, base_model=WAN_TINY))
    return path


@pytest.mark.parametrize(("model", "method"), [(LTX_TINY, "ltx2-hdr"), (WAN_TINY, "wan-vace")])
@pytest.mark.parametrize("frames", [17, 30])
def test_output_has_the_input_frames_and_size(tmp_path, clips, cache, model, method, frames):
    """17 frames: one window exactly; 30: not a multiple of the windows (padded, trimmed);
    60x44 is no multiple of 16 or 32 (edge-padded, cropped)."""
    result = _convert(tmp_path, clips[frames], method=method, model=model, cache=cache)
    hdr = _frames(result)
    assert result["frames"] == result["exr_count"] == frames
    assert hdr.shape == (frames, 44, 60, 3) and np.isfinite(hdr).all()
    assert result["windows"]["windows"] == (1 if frames == 17 else 3)
    assert result["preview_mp4"] and result["preview_png"]


def test_ltx_values_beyond_logc3_white_survive(tmp_path, clips, cache):
    """LTX2HDRPipeline's own output stops at LogC3's 55.08; the float32 decode does not."""
    from hdr_mcp.color import decode

    result = _convert(tmp_path, clips[17], method="ltx2-hdr", model=LTX_TINY, cache=cache)
    hdr = _frames(result)
    assert float(decode(np.float64(1.0), "logc3")) == pytest.approx(55.08, abs=0.01)
    assert hdr.max() > 55.1 and result["peak_scene"] == pytest.approx(float(hdr.max()))
    assert hdr.min() < -0.0173  # below LogC3's code 0 too


def test_wan_decodes_with_the_loras_log_gamma_parameters(tmp_path, clips, cache):
    """Two LoRAs with the same weights, max_value 1000 and 100: the EXRs relate exactly as the
    DiffHDR curve says (inverted here with numpy, not with hdr_mcp's curve)."""
    a = _lora(tmp_path, params={"gamma": 2.2, "max_value": 1000.0}, name="a.safetensors")
    b = _lora(tmp_path, params={"gamma": 2.2, "max_value": 100.0}, name="b.safetensors")
    ra = _convert(tmp_path, clips[17], "a", method="wan-vace", model=WAN_TINY, lora=str(a),
                  cache=cache)
    rb = _convert(tmp_path, clips[17], "b", method="wan-vace", model=WAN_TINY, lora=str(b),
                  cache=cache)
    assert ra["lora"]["encoding_params"] == {"gamma": 2.2, "max_value": 1000.0}
    xa, xb = _frames(ra).astype(np.float64), _frames(rb).astype(np.float64)
    g = 2.2
    inside = (xa > 0.01) & (xa < 900)

    def code(x, m):
        return (np.log(g * x + 1) / np.log(g * m + 1)) ** (1 / g)

    def linear(y, m):
        return (np.exp(y ** g * np.log(g * m + 1)) - 1) / g

    np.testing.assert_allclose(xb[inside], linear(code(xa[inside], 1000.0), 100.0), rtol=4e-3)
    assert xa.max() > 1000.0  # codes above 1 decode above M, into the EXR


def test_a_lora_for_another_curve_is_refused_before_any_output(tmp_path, clips, cache):
    other = _lora(tmp_path, encoding="logc4", name="logc4.safetensors")
    with pytest.raises(InvalidArgument, match="generates logc4; method 'wan-vace' needs") as e:
        _convert(tmp_path, clips[17], method="wan-vace", model=WAN_TINY, lora=str(other),
                 cache=cache)
    assert e.value.argument == "lora" and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("params", "argument", "match"), [
    ({"method": "ltx2-hdr", "model": WAN_TINY}, "model", "needs one of: ltx-2.3"),
    ({"method": "wan-vace", "model": "wan2.1-vace-1.3b"}, "lora", "needs an HDR LoRA"),
    ({"method": "ltx2-hdr", "model": LTX_TINY, "prompt": "a room"}, "prompt", "no text encoder"),
    ({"method": "wan-vace", "model": WAN_TINY, "window": 33}, "window", "nearest valid: 17"),
    ({"method": "wan-vace", "model": WAN_TINY, "window": 13, "overlap": 9}, "overlap",
     "nearest valid: 5"),
    ({"method": "wan-vace", "model": WAN_TINY, "prompt": "x [Underexposed: a]",
      "reference_image": "nope.png"}, "reference_image", "no such file"),
    ({"method": "wan-vace", "model": WAN_TINY, "operator": "power"}, "operator", "classical"),
    ({"method": "wan-vace", "model": WAN_TINY, "reference_image": "still.exr"},
     "reference_image", "scene-linear"),
])
def test_bad_input_is_named_before_any_output(tmp_path, clips, params, argument, match):
    from hdr_mcp.io import write_exr

    write_exr(tmp_path / "still.exr", np.full((8, 8, 3), 2.0, np.float32))
    params = {k: str(tmp_path / v) if k == "reference_image" and v == "still.exr" else v
              for k, v in params.items()}
    with pytest.raises(InvalidArgument, match=match) as e:
        _convert(tmp_path, clips[20], **params)
    assert e.value.argument == argument and not (tmp_path / "out").exists()


def test_wan_prompt_captions_and_routing_are_deterministic(tmp_path, clips, cache):
    first = _convert(tmp_path, clips[17], "one", method="wan-vace", model=WAN_TINY,
                     prompt="a room", seed=3, cache=cache)
    again = _convert(tmp_path, clips[17], "two", method="wan-vace", model=WAN_TINY,
                     prompt="a room", seed=3, cache=cache)
    assert first["prompt_used"].startswith("a room [Overexposed: clipped highlights at the top")
    assert first["prompt_sources"] == {"over": "masks", "under": "masks"}
    np.testing.assert_array_equal(_frames(first), _frames(again))
    pipe = cache.get_or_load(cache.loaded_keys()[-1], lambda: None).pipe
    assert not hasattr(pipe.transformer, "_hdr_mcp_routing")  # removed after the job


def test_routing_changes_the_video_only_where_it_may(tmp_path, clips, cache):
    """A given exposure part is used (and routed): the result differs from the same clip with
    another part."""
    with_parts = _convert(tmp_path, clips[17], "p", method="wan-vace", model=WAN_TINY,
                          prompt="a room [Overexposed: a blue sky]", cache=cache)
    without = _convert(tmp_path, clips[17], "q", method="wan-vace", model=WAN_TINY,
                       prompt="a room [Underexposed: a dark floor]", cache=cache)
    assert with_parts["prompt_sources"]["over"] == "given"
    assert not np.array_equal(_frames(with_parts), _frames(without))


def test_cancel_mid_denoise_leaves_no_partial_output(tmp_path, clips, cache):
    import threading

    from hdr_mcp.jobs.context import JobCancelled, LocalContext

    stop = threading.Event()

    def progress(done, total, message):
        if "step 1/" in message:
            stop.set()  # cancelled during the first window's denoising

    ctx = LocalContext(tmp_path / "work", progress, stop, models=cache)
    with pytest.raises(JobCancelled, match="window 1/3, step"):
        _convert(tmp_path, clips[30], ctx=ctx, method="ltx2-hdr", model=LTX_TINY)
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())  # no frame, no temporary file


def test_kill_and_resume_gives_identical_frames(tmp_path, clips, cache):
    """A worker killed in window 2 (here: an exception from its progress report); the retry
    with the same working folder keeps window 1's latents and ends with the same EXRs as an
    uninterrupted run."""
    from hdr_mcp.jobs.context import LocalContext

    whole = _convert(tmp_path, clips[30], "whole", method="wan-vace", model=WAN_TINY, seed=7,
                     cache=cache)

    def killed(done, total, message):
        if message.startswith("window 2/3 step 1"):
            raise KeyboardInterrupt("worker killed")

    work = tmp_path / "work-resumed"
    with pytest.raises(KeyboardInterrupt):
        _convert(tmp_path, clips[30], "resumed", ctx=LocalContext(work, killed, models=cache),
                 method="wan-vace", model=WAN_TINY, seed=7)
    assert len(list((work / "windows").glob("window_*.pt"))) == 1
    resumed = _convert(tmp_path, clips[30], "resumed", ctx=LocalContext(work, models=cache),
                       method="wan-vace", model=WAN_TINY, seed=7)
    assert resumed["resumed_windows"] == 1 and resumed["frames"] == 30
    np.testing.assert_array_equal(_frames(resumed), _frames(whole))


def test_diffusion_methods_need_a_gpu_worker_unless_tiny_or_allowed():
    from hdr_mcp.jobs.kinds import job_kind

    kind = job_kind("sdr_to_hdr_video")
    assert kind.needs_gpu(kind.parse({"input": "x", "method": "ltx2-hdr"}))
    assert not kind.needs_gpu(kind.parse({"input": "x", "method": "wan-vace",
                                          "model": WAN_TINY}))
    assert not kind.needs_gpu(kind.parse({"input": "x", "method": "ltx2-hdr",
                                          "allow_cpu": True}))
    assert not kind.needs_gpu(kind.parse({"input": "x"}))
    assert kind.model_key(kind.parse({"input": "x", "method": "wan-vace"})) == "wan2.1-vace-1.3b"


def test_ltx_second_stage_upsamples_the_latents_and_refines(tmp_path, clips, cache):
    """upscale='latent-x2': the windows are denoised at half size, upsampled 2x by the
    preset's LTX2LatentUpsamplerModel and refined (3 more steps each); 60x44 needs a model
    size that is a multiple of 64."""
    from hdr_mcp.jobs.context import LocalContext

    seen = []
    ctx = LocalContext(tmp_path / "work", lambda d, t, m: seen.append((d, t, m)), models=cache)
    result = _convert(tmp_path, clips[17], ctx=ctx, method="ltx2-hdr", model=LTX_TINY,
                      upscale="latent-x2")
    assert result["parameters"]["width"] == result["parameters"]["height"] == 64
    assert result["parameters"]["refine_steps"] == 3
    assert _frames(result).shape == (17, 44, 60, 3)
    assert seen[-1][:2] == (5, 5) and any("step 5/5" in m for _, _, m in seen)
    plain = _convert(tmp_path, clips[17], "plain", method="ltx2-hdr", model=LTX_TINY,
                     cache=cache)
    assert not np.array_equal(_frames(result), _frames(plain))


def test_a_model_without_a_latent_upsampler_refuses_upscale(tmp_path, clips, cache):
    import shutil

    from hdr_mcp.models.tiny import LATENT_UPSAMPLER, ensure_tiny

    folder = tmp_path / "ltx-no-upsampler"
    shutil.copytree(ensure_tiny(LTX_TINY), folder)
    shutil.rmtree(folder / LATENT_UPSAMPLER)
    with pytest.raises(InvalidArgument, match="no latent upsampler") as e:
        _convert(tmp_path, clips[17], method="ltx2-hdr", model=str(folder), upscale="latent-x2",
                 cache=cache)
    assert e.value.argument == "upscale" and not any((tmp_path / "out").glob("*.exr"))


def _ltx_lora(tmp_path, factor: int):
    """An LTX-2 LoRA in Lightricks' HDR IC-LoRA format: diffusers keys, safetensors metadata
    ``hdr_transform`` and ``reference_downscale_factor`` (no hdr_mcp keys)."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import load_file, save_file

    from hdr_mcp.models.loading import load_pipeline

    torch.manual_seed(4)
    pipe = load_pipeline(LTX_TINY).pipe
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4.0, init_lora_weights=False,
                                            target_modules=["to_q", "to_k", "to_v"]))
    pipe.save_lora_weights(str(tmp_path), weight_name="ic.safetensors",
                           transformer_lora_layers=get_peft_model_state_dict(pipe.transformer))
    path = tmp_path / "ic.safetensors"
    save_file(load_file(path), path, metadata={
        "format": "pt", "hdr_transform": "logc3", "reference_downscale_factor": str(factor)})
    return path


def test_ltx_reads_the_ic_loras_transform_and_reference_downscale(tmp_path, clips, cache):
    lora = _ltx_lora(tmp_path, 2)
    result = _convert(tmp_path, clips[17], method="ltx2-hdr", model=LTX_TINY, lora=str(lora),
                      cache=cache)
    assert result["encoding"] == "logc3"
    assert result["lora"]["reference_downscale_factor"] == 2
    assert result["frames"] == 17 and np.isfinite(_frames(result)).all()


def test_wan_with_a_reference_image(tmp_path, clips, cache):
    """The reference image's leading latent frame is dropped before the blend and decode."""
    from hdr_mcp.io import write_sdr

    still = write_sdr(tmp_path / "still.png", np.full((44, 60, 3), 0.6, np.float32))
    result = _convert(tmp_path, clips[20], method="wan-vace", model=WAN_TINY,
                      reference_image=str(still), cache=cache)
    assert _frames(result).shape == (20, 44, 60, 3)
    assert result["parameters"]["reference_image"] == str(still)


def test_an_exposure_part_for_a_region_the_clip_lacks_is_refused(tmp_path, cache):
    from hdr_mcp.io import write_sdr

    flat = _clip(tmp_path / "flat", 5)
    for path in sorted(flat.glob("*.png")):
        write_sdr(path, np.full((44, 60, 3), 0.5, np.float32))
    with pytest.raises(InvalidArgument, match="no overexposed region") as e:
        _convert(tmp_path, flat, method="wan-vace", model=WAN_TINY,
                 prompt="a wall [Overexposed: a sunny sky]", cache=cache)
    assert e.value.argument == "prompt" and not (tmp_path / "out").exists()
