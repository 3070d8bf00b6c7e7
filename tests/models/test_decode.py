"""Unclamped decode: equals an independent decode and keeps values outside [-1, 1]."""

from __future__ import annotations

import copy

import pytest
import torch

from hdr_mcp.models.decode import _tiled, decode_latents, vae_to_code
from hdr_mcp.models.registry import family
from hdr_mcp.models.selftest import run_tiny
from hdr_mcp.models.tiny import tiny_names

from .conftest import DISTINCT


def _size(name):
    extra = family(name).extra
    return extra["default_height"], extra["default_width"], extra["default_frames"]


def _decode(loaded_pipe, name, latents, **kwargs):
    height, width, frames = _size(name)
    return decode_latents(loaded_pipe, latents, name, height=height, width=width,
                          num_frames=frames, **kwargs)


@pytest.fixture
def no_vae_clamp(monkeypatch):
    """Neutralise the VAE's own ``torch.clamp(out, -1, 1)`` (only that call) for the duration of
    a test, so ``vae.decode`` becomes the independent unclamped reference."""
    real_clamp = torch.clamp

    def clamp(x, min=None, max=None, **kwargs):
        if min == -1.0 and max == 1.0:
            return x
        return real_clamp(x, min=min, max=max, **kwargs)

    monkeypatch.setattr(torch, "clamp", clamp)


def _reference(pipe, name, latents):
    """The VAE's own decode of latents de-normalised here with the pipelines' formulas."""
    height, width, _ = _size(name)
    vae, packing = pipe.vae, family(name).latent.packing
    if packing in ("qwen-packed", "wan"):
        if packing == "qwen-packed":
            b, _, c = latents.shape
            x = latents.view(b, height // 16, width // 16, c // 4, 2, 2)
            x = x.permute(0, 3, 1, 4, 2, 5).reshape(b, c // 4, 1, height // 8, width // 8)
        else:
            x = latents
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        out = vae.decode(x * std + mean).sample
        return out[:, :, 0] if packing == "qwen-packed" else out
    if packing == "flux-packed":
        b, _, c = latents.shape
        x = latents.view(b, height // 16, width // 16, c // 4, 2, 2)
        x = x.permute(0, 3, 1, 4, 2, 5).reshape(b, c // 4, height // 8, width // 8)
        return vae.decode(x / vae.config.scaling_factor + vae.config.shift_factor).sample
    if packing == "flux2":
        return vae.decode(latents).sample
    return vae.decode(latents, None).sample


def _louder(pipe):
    """A copy of ``pipe`` whose VAE output layer is 6x stronger: decodes leave [-1, 1]."""
    loud = copy.copy(pipe)
    loud.vae = copy.deepcopy(pipe.vae)
    last = [m for m in loud.vae.decoder.modules() if isinstance(m, (torch.nn.Conv2d,
                                                                     torch.nn.Conv3d))][-1]
    with torch.no_grad():
        last.weight.mul_(6.0)
        last.bias.mul_(6.0)
    return loud


@pytest.mark.parametrize("name", DISTINCT)
def test_decode_equals_independent_unclamped_decode_outside_unit_range(loaded, name,
                                                                        no_vae_clamp):
    pipe = _louder(loaded(name).pipe)
    latents = run_tiny(pipe, name, loaded(name).path)
    ours = _decode(pipe, name, latents)
    with torch.no_grad():
        reference = _reference(pipe, name, latents.float())
    assert ours.dtype == torch.float32
    assert ours.shape == reference.shape
    assert (ours - reference).abs().max().item() < 1e-5
    assert ours.abs().max().item() > 1.5  # far outside the clamp range, and kept


@pytest.mark.parametrize("name", ["tiny-qwen-image", "tiny-wan2.1-vace-1.3b"])
def test_the_vae_itself_clamps_where_facts_say_and_ours_does_not(loaded, name):
    pipe = _louder(loaded(name).pipe)
    latents = run_tiny(pipe, name, loaded(name).path)
    with torch.no_grad():
        clamped = _reference(pipe, name, latents.float())
    ours = _decode(pipe, name, latents)
    assert clamped.abs().max().item() == pytest.approx(1.0)
    assert ours.abs().max().item() > 1.5
    inside = ours.abs() < 1
    assert torch.allclose(ours[inside], clamped[inside], atol=1e-5)


@pytest.mark.parametrize("name", [n for n in tiny_names() if "wan" not in n])
def test_decode_matches_the_pipelines_own_output_where_it_is_in_range(loaded, name):
    """Pipeline ``output_type="pt"`` = clamp(decode/2 + 1/2, 0, 1) (LTX: its LogC3 output)."""
    result = loaded(name)
    pipe = result.pipe
    ours = _decode(pipe, name, run_tiny(pipe, name, result.path))
    theirs = run_tiny(pipe, name, result.path, output_type="pt")
    if family(name).latent.packing == "ltx2":
        mine = pipe.hdr_video_processor.postprocess_hdr_video(ours, output_type="pt")
    else:
        mine = vae_to_code(ours).clamp(0, 1)
    assert (mine - theirs).abs().max().item() < 1e-5


def test_wan_reference_frames_are_dropped(loaded):
    result = loaded("tiny-wan2.1-vace-1.3b")
    latents = run_tiny(result.pipe, "tiny-wan2.1-vace-1.3b", result.path)
    with_reference = torch.cat([torch.zeros_like(latents[:, :, :1]), latents], dim=2)
    plain = _decode(result.pipe, "tiny-wan2.1-vace-1.3b", latents)
    dropped = _decode(result.pipe, "tiny-wan2.1-vace-1.3b", with_reference, reference_frames=1)
    assert torch.equal(plain, dropped)


def test_wrong_frame_count_is_named(loaded):
    result = loaded("tiny-ltx-2.3")
    latents = run_tiny(result.pipe, "tiny-ltx-2.3", result.path)
    with pytest.raises(ValueError, match="num_frames=17: latents decode to 9 frames"):
        decode_latents(result.pipe, latents, "tiny-ltx-2.3", height=64, width=64, num_frames=17)


def test_tiling_reproduces_a_local_decoder_exactly():
    """Blend weights sum to one: a decoder without context (nearest 8x upsample) tiles
    seamlessly, including uneven last tiles."""
    z = torch.randn(1, 4, 2, 45, 37) * 3

    def decode(tile):
        return tile.repeat_interleave(8, dim=-1).repeat_interleave(8, dim=-2)[:, :3] * 2

    tiled = _tiled(lambda piece, top, left: decode(piece), z, 8, tile_px=128, overlap_px=32)
    assert tiled.shape == (1, 3, 2, 360, 296)
    assert (tiled - decode(z)).abs().max().item() < 1e-5


@pytest.mark.parametrize("name", ["tiny-flux.1-dev", "tiny-wan2.1-vace-1.3b"])
def test_tiled_decode_stays_close_to_untiled_and_unclamped(loaded, name):
    pipe = _louder(loaded(name).pipe)
    generator = torch.Generator().manual_seed(0)
    if family(name).frames is None:
        latents, size = torch.randn(1, 64, 64, generator=generator), {}
    else:
        latents, size = torch.randn(1, 16, 2, 16, 16, generator=generator), {"num_frames": 5}
    whole = decode_latents(pipe, latents, name, height=128, width=128, tiled=False, **size)
    pieces = decode_latents(pipe, latents, name, height=128, width=128, tiled=True,
                            tile_pixels=64, tile_overlap_pixels=32, **size)
    assert pieces.shape == whole.shape == (1, 3, *([5] if size else []), 128, 128)
    assert pieces.abs().max().item() > 1.0
    correlation = torch.corrcoef(torch.stack([pieces.flatten(), whole.flatten()]))[0, 1]
    assert correlation.item() > 0.9  # tiles lose the VAE's long-range context, not the picture
