"""Diffusion SDR -> HDR video (``ltx2-hdr``, ``wan-vace``): windows and their latent blend,
exposure masks and captions, unclamped float32 decode in time and space, the two methods on the
tiny presets (frame counts, values beyond the curve, LoRA metadata, routing, cancel, resume)."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def tiny_pipe():
    from hdr_mcp.models.loading import load_pipeline

    memo: dict[str, object] = {}

    def get(name: str):
        if name not in memo:
            memo[name] = load_pipeline(name).pipe
            memo[name].set_progress_bar_config(disable=True)
        return memo[name]

    return get


def _stream(decoder, z, piece: int):
    outs = [decoder.push(z[:, :, i:i + piece]) for i in range(0, z.shape[2], piece)]
    outs.append(decoder.finish())
    return torch.cat([o for o in outs if o is not None], dim=2)


def test_wan_decode_streamed_in_pieces_is_exact_and_unclamped(tiny_pipe):
    from hdr_mcp.models.decode import TemporalDecoder, decode_vae_latents

    name = "tiny-wan2.1-vace-1.3b"
    z = torch.randn(1, 16, 7, 8, 8, generator=torch.Generator().manual_seed(1)) * 3
    whole = decode_vae_latents(tiny_pipe(name), z, name)
    assert whole.shape == (1, 3, 25, 64, 64) and whole.abs().max() > 1.0  # no clamp
    streamed = _stream(TemporalDecoder(tiny_pipe(name), name), z, 2)
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-5)
    tiles = {"tile_pixels": 32, "tile_overlap_pixels": 16}
    tiled = _stream(TemporalDecoder(tiny_pipe(name), name, tiled=True, **tiles), z, 3)
    tiled_whole = decode_vae_latents(tiny_pipe(name), z, name, tiled=True, **tiles)
    torch.testing.assert_close(tiled, tiled_whole, rtol=0, atol=1e-5)


def test_ltx_decode_in_time_chunks_is_seamless_for_a_constant_timeline(tiny_pipe):
    """A timeline that does not change in time decodes across chunk (and spatial tile)
    boundaries as in one piece; a random one keeps every frame, in order, unclamped."""
    from hdr_mcp.models.decode import TemporalDecoder, decode_vae_latents

    name = "tiny-ltx-2.3"
    generator = torch.Generator().manual_seed(2)
    constant = torch.randn(1, 16, 1, 2, 2, generator=generator).repeat(1, 1, 16, 1, 1)
    whole = decode_vae_latents(tiny_pipe(name), constant, name)
    chunked = _stream(TemporalDecoder(tiny_pipe(name), name, chunk_latents=9,
                                      overlap_latents=7, margin_latents=3), constant, 4)
    assert chunked.shape == whole.shape == (1, 3, 121, 64, 64)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=2e-3)
    z = torch.randn(1, 16, 12, 2, 2, generator=generator) * 3
    frames = _stream(TemporalDecoder(tiny_pipe(name), name, chunk_latents=7, overlap_latents=5),
                     z, 5)
    assert frames.shape[2] == 89 and frames.abs().max() > 1.0


def test_bad_decode_chunks_are_refused(tiny_pipe):
    from hdr_mcp.models.decode import TemporalDecoder

    with pytest.raises(InvalidArgument, match="overlap_latents"):
        TemporalDecoder(tiny_pipe("tiny-ltx-2.3"), "tiny-ltx-2.3", chunk_latents=4,
                        overlap_latents=4)


# -- context-focused cross-attention -----------------------------------------------------------


def test_routing_changes_cross_attention_only_inside_the_mask(tiny_pipe):
    from hdr_mcp.models import tiny
    from hdr_mcp.models.attention_routing import install_routing, remove_routing, token_ranges

    pipe = tiny_pipe("tiny-wan2.1-vace-1.3b")
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
