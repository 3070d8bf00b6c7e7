"""Unclamped decoding: a pipeline's ``output_type="latent"`` result -> float32 code values.

Why: every diffusers pipeline's ``VaeImageProcessor.denormalize`` clamps to [0, 1] and the Wan /
Qwen-Image VAEs clamp to [-1, 1] inside ``_decode`` (FACTS.md section 4). An HDR LoRA that
generates LogC4 or PQ code values, or a VAE that overshoots, loses its highlights there. This
module decodes with no clamp anywhere.

Output space
------------
:func:`decode_latents` returns the VAE decoder's raw output: float32, RGB, nominally [-1, 1]
(the range the VAE was trained to reproduce), with overshoot kept. It is *not* mapped to [0, 1].
A curve code value in [0, 1] is ``(x - vae_min) / (vae_max - vae_min)``, by default
``x * 0.5 + 0.5`` (:func:`vae_to_code`; an HDR LoRA states its mapping in
``hdr_mcp.code_range``). Images come back as (B, 3, H, W), videos as (B, 3, F, H, W).

Per latent layout (``ModelFamily.latent.packing``):

==============  ===============================================================================
``qwen-packed``  ``QwenImagePipeline._unpack_latents`` -> ``x * latents_std + latents_mean`` ->
                 the VAE's causal frame decoder without ``_decode``'s clamp, first frame
``flux-packed``  ``FluxPipeline._unpack_latents`` -> ``x / scaling_factor + shift_factor`` ->
                 ``vae.decode`` (``AutoencoderKL`` does not clamp)
``flux2``        as returned (the pipeline already undid the batch norm) -> ``vae.decode``
``wan``          drop ``reference_frames`` leading latent frames -> ``x * std + mean`` ->
                 the causal frame decoder without ``_decode``'s clamp
``ltx2``         as returned (already denormalised) -> ``vae.decode`` (no clamp), with
                 ``timestep=0`` when the VAE is timestep-conditioned (the pipeline's default
                 ``decode_timestep=0.0`` without noise)
==============  ===============================================================================

The VAE runs in float32: latents are cast, and a VAE in another dtype is cast to float32 for the
call and back afterwards (:func:`hdr_mcp.models.loading.load_pipeline` already keeps VAEs in
float32).

Tiling (``tiled=True``, or automatically above :data:`AUTO_TILE_PIXELS` per frame) is done here
for every layout, not by diffusers: Wan's ``tiled_decode`` clamps and Qwen-Image's changes the
result with its own blending. Overlapping latent tiles are decoded separately and blended with
linear ramps whose weights sum to one, so a decoder without long-range context reproduces the
untiled result exactly (tested with a local decoder) and seams are feathered otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models import registry
from hdr_mcp.models.registry import ModelFamily

__all__ = [
    "AUTO_TILE_PIXELS",
    "CausalStream",
    "TemporalDecoder",
    "decode_latents",
    "decode_vae_latents",
    "denormalise_latents",
    "vae_to_code",
]

AUTO_TILE_PIXELS = 1536 * 1536
"""``tiled=None`` tiles frames larger than this many pixels (about 2.4 megapixels)."""
TILE_PIXELS = 1024
TILE_OVERLAP_PIXELS = 256


def vae_to_code(x, vae_min: float = -1.0, vae_max: float = 1.0):
    """VAE output -> curve code value: ``(x - vae_min) / (vae_max - vae_min)``, no clamp."""
    return (x - vae_min) / (vae_max - vae_min)


def decode_latents(
    pipe: Any,
    latents: Any,
    family: ModelFamily | str,
    *,
    height: int,
    width: int,
    num_frames: int | None = None,
    tiled: bool | None = None,
    reference_frames: int = 0,
    tile_pixels: int = TILE_PIXELS,
    tile_overlap_pixels: int = TILE_OVERLAP_PIXELS,
):
    """Decode ``output_type="latent"`` output of ``pipe`` to float32 VAE-space values.

    Parameters
    ----------
    pipe
        The diffusers pipeline that produced ``latents`` (its VAE and static helpers are used).
    latents
        The pipeline's latent output, in the layout of the family (see module docstring).
    family
        The :class:`~hdr_mcp.models.registry.ModelFamily` (or its name).
    height, width
        Output size in pixels, as passed to the pipeline.
    num_frames
        Video families only: frames requested from the pipeline (checks the decoded count).
    tiled
        True: always tile; False: never; None: tile frames above :data:`AUTO_TILE_PIXELS`.
    reference_frames
        Wan VACE: number of reference images passed to the pipeline (their latent frames lead
        the output and are dropped).
    tile_pixels, tile_overlap_pixels
        Tile edge and overlap in output pixels when tiling (rounded down to latent pixels).

    Returns
    -------
    torch.Tensor
        float32, (B, 3, height, width) for images, (B, 3, F, height, width) for videos;
        values nominally in [-1, 1], unclamped.
    """
    entry = registry.family(family) if isinstance(family, str) else family
    z = denormalise_latents(pipe, latents, entry, height=height, width=width,
                            reference_frames=reference_frames)
    use_tiles = tiled if tiled is not None else height * width > AUTO_TILE_PIXELS
    out = decode_vae_latents(pipe, z, entry, tiled=use_tiles, tile_pixels=tile_pixels,
                             tile_overlap_pixels=tile_overlap_pixels)
    if entry.latent.packing == "qwen-packed":
        out = out[:, :, 0]
    _check_frames(out, entry, num_frames)
    return out


def decode_vae_latents(pipe: Any, z: Any, family: ModelFamily | str, *, tiled: bool = False,
                       tile_pixels: int = TILE_PIXELS,
                       tile_overlap_pixels: int = TILE_OVERLAP_PIXELS):
    """Decode VAE-input latents ``z`` (already unpacked and de-normalised:
    :func:`denormalise_latents`) in float32 with no clamp; ``tiled``: in overlapping spatial
    tiles blended with ramps. Returns float32 (B, 3, [F,] H, W) VAE-space values."""
    import torch

    entry = registry.family(family) if isinstance(family, str) else family
    with _float32_vae(pipe.vae), torch.no_grad():
        z = z.to(device=_execution_device(pipe), dtype=torch.float32)
        decode = _decoder_for(pipe.vae, entry)
        scale = entry.latent.spatial_compression
        if tiled:
            out = _tiled(lambda piece, top, left: decode(piece), z, scale, tile_pixels,
                         tile_overlap_pixels)
        else:
            out = decode(z)
    return out.float()


def denormalise_latents(pipe, latents, entry: ModelFamily, *, height: int, width: int,
                        reference_frames: int = 0):
    """Latent output -> VAE-input latents (unpacked, de-normalised, float32)."""

    vae, packing = pipe.vae, entry.latent.packing
    x = latents.float()
    if packing == "qwen-packed":
        x = type(pipe)._unpack_latents(x, height, width, pipe.vae_scale_factor)
        return x * _channel_stat(vae.config.latents_std, x) + _channel_stat(
            vae.config.latents_mean, x)
    if packing == "flux-packed":
        x = type(pipe)._unpack_latents(x, height, width, pipe.vae_scale_factor)
        return x / vae.config.scaling_factor + vae.config.shift_factor
    if packing == "wan":
        if reference_frames < 0 or reference_frames >= x.shape[2]:
            raise InvalidArgument("reference_frames", reference_frames,
                                  f"must be in [0, {x.shape[2] - 1}] for {x.shape[2]} frames")
        x = x[:, :, reference_frames:]
        return x * _channel_stat(vae.config.latents_std, x) + _channel_stat(
            vae.config.latents_mean, x)
    if packing in ("flux2", "ltx2"):
        return x
    raise InvalidArgument("family", entry.name, f"unknown latent packing {packing!r}")


def _channel_stat(values, like):
    import torch

    shape = (1, -1) + (1,) * (like.ndim - 2)
    return torch.as_tensor(values, dtype=torch.float32, device=like.device).view(shape)


def _decoder_for(vae, entry: ModelFamily) -> Callable[[Any], Any]:
    packing = entry.latent.packing
    if packing in ("qwen-packed", "wan"):
        return lambda z: _causal_frame_decode(vae, z)
    if packing == "ltx2":
        return lambda z: _ltx2_decode(vae, z)
    return lambda z: vae.decode(z, return_dict=False)[0]


def _causal_frame_decode(vae, z):
    """``AutoencoderKLWan._decode`` / ``AutoencoderKLQwenImage._decode`` (diffusers 0.42.1)
    without the final ``torch.clamp(out, -1, 1)``: frame by frame through the causal decoder,
    sharing one feature cache."""
    return CausalStream(vae).decode(z)


class CausalStream:
    """The causal frame decoder of a Wan / Qwen-Image VAE, fed latent frames in order over any
    number of calls, with its own copy of the feature cache (the VAE's own cache is reset by
    every encode and decode the pipeline makes in between). Decoding a shot's latents in pieces
    gives exactly what one call on all of them gives; no clamp."""

    def __init__(self, vae) -> None:
        self.vae = vae
        vae.clear_cache()
        self._cache = [None] * len(vae._feat_map)
        self._first = True

    def decode(self, z):
        import torch

        vae = self.vae
        _pre_forward(vae)
        x = vae.post_quant_conv(z)
        frames = []
        for index in range(x.shape[2]):
            kwargs = {"first_chunk": True} if self._first and _takes_first_chunk(vae) else {}
            frames.append(vae.decoder(x[:, :, index:index + 1], feat_cache=self._cache,
                                      feat_idx=[0], **kwargs))
            self._first = False
        out = torch.cat(frames, dim=2)
        patch_size = getattr(vae.config, "patch_size", None)
        if patch_size is not None:
            from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

            out = unpatchify(out, patch_size=patch_size)
        return out


def _takes_first_chunk(vae) -> bool:
    import inspect

    return "first_chunk" in inspect.signature(vae.decoder.forward).parameters


def _ltx2_decode(vae, z):
    import torch

    timestep = None
    if getattr(vae.config, "timestep_conditioning", False):
        timestep = torch.zeros(z.shape[0], device=z.device, dtype=z.dtype)
    return vae.decode(z, timestep, return_dict=False)[0]


def _pre_forward(module) -> None:
    """Run an accelerate offload hook the way diffusers' ``apply_forward_hook`` does, since the
    frame decoder bypasses ``vae.decode``."""
    hook = getattr(module, "_hf_hook", None)
    if hook is not None and hasattr(hook, "pre_forward"):
        hook.pre_forward(module)


def _execution_device(pipe):
    device = getattr(pipe, "_execution_device", None)
    if device is not None:
        return device
    return next(pipe.vae.parameters()).device


@contextlib.contextmanager
def _float32_vae(vae) -> Iterator[None]:
    import torch

    original = vae.dtype
    if original != torch.float32:
        vae.to(torch.float32)
    try:
        yield
    finally:
        if original != torch.float32:
            vae.to(original)


def _check_frames(out, entry: ModelFamily, num_frames: int | None) -> None:
    if num_frames is None or entry.frames is None:
        return
    if out.shape[2] != num_frames:
        raise InvalidArgument("num_frames", num_frames,
                              f"latents decode to {out.shape[2]} frames")


# --------------------------------------------------------------------------- tiling


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def _ramp_weights(start: int, size: int, length: int, overlap: int, scale: int, like):
    """1-D pixel weights of one tile: linear ramps over the overlap on interior edges."""
    import torch

    weights = torch.ones(size * scale, dtype=torch.float32, device=like.device)
    ramp_len = overlap * scale
    ramp = (torch.arange(ramp_len, dtype=torch.float32, device=like.device) + 0.5) / ramp_len
    if start > 0:
        weights[:ramp_len] = ramp
    if start + size < length:
        weights[-ramp_len:] = ramp.flip(0)
    return weights


def _tiled(decode, z, scale: int, tile_px: int = TILE_PIXELS,
           overlap_px: int = TILE_OVERLAP_PIXELS):
    """Decode ``z`` in overlapping spatial tiles and blend them (weights sum to one);
    ``decode(piece, top, left)`` decodes the tile at latent ``(top, left)``."""
    tile, overlap = max(tile_px // scale, 2), max(overlap_px // scale, 1)
    height, width = z.shape[-2], z.shape[-1]
    out = weight_sum = None
    for top in _tile_starts(height, tile, overlap):
        for left in _tile_starts(width, tile, overlap):
            piece = z[..., top:top + tile, left:left + tile]
            pixels = decode(piece, top, left).float()
            wy = _ramp_weights(top, piece.shape[-2], height, overlap, scale, pixels)
            wx = _ramp_weights(left, piece.shape[-1], width, overlap, scale, pixels)
            weight = wy[:, None] * wx[None, :]
            if out is None:
                shape = (*pixels.shape[:-2], height * scale, width * scale)
                out = pixels.new_zeros(shape)
                weight_sum = pixels.new_zeros(shape[-2:])
            rows = slice(top * scale, top * scale + pixels.shape[-2])
            cols = slice(left * scale, left * scale + pixels.shape[-1])
            out[..., rows, cols] += pixels * weight
            weight_sum[rows, cols] += weight
    return out / weight_sum


# --------------------------------------------------------------------------- in time


class TemporalDecoder:
    """Decodes a shot's latent timeline (VAE-input latents, (B, C, F', h, w)) as it arrives, in
    float32 with no clamp, handing back pixel frames as soon as they are final: memory stays
    flat in the shot's length.

    * Causal VAEs (Wan): every latent frame goes through :class:`CausalStream` (one per spatial
      tile), exactly as one decode of the whole timeline would.
    * LTX-2: chunks of ``chunk_latents`` latents overlapping by ``overlap_latents``. The
      decoder pads each chunk's ends by repeating its edge frames, which disturbs the first and
      last ``margin_latents`` latents' frames (about 2 latents on the tiny preset); of the
      ``step * (overlap_latents - 1) + 1`` frames two chunks share, those near either chunk's
      edge are taken from the other chunk only and the rest cross-faded with a linear ramp
      (weights sum to one), so a chunk boundary neither jumps nor ghosts and a timeline that
      does not change in time decodes as in one piece.

    ``tiled``: each chunk is also decoded in overlapping spatial tiles (as
    :func:`decode_vae_latents`). Call :meth:`push` with consecutive latents, then
    :meth:`finish`; both return float32 (B, 3, f, H, W) frames or None.
    """

    def __init__(self, pipe: Any, family: ModelFamily | str, *, chunk_latents: int = 16,
                 overlap_latents: int = 6, margin_latents: int = 2, tiled: bool = False,
                 tile_pixels: int = TILE_PIXELS,
                 tile_overlap_pixels: int = TILE_OVERLAP_PIXELS) -> None:
        self.pipe = pipe
        self.entry = registry.family(family) if isinstance(family, str) else family
        self.causal = self.entry.latent.packing in ("wan", "qwen-packed")
        self.step = self.entry.latent.temporal_compression
        if not 2 * margin_latents + 1 <= overlap_latents < chunk_latents:
            raise InvalidArgument("overlap_latents", overlap_latents,
                                  f"must be at least 2 * margin_latents + 1 = "
                                  f"{2 * margin_latents + 1} and below chunk_latents="
                                  f"{chunk_latents}")
        self.chunk, self.overlap, self.margin = chunk_latents, overlap_latents, margin_latents
        self.tiled, self.tile = tiled, (tile_pixels, tile_overlap_pixels)
        self._streams: dict[tuple[int, int], CausalStream] = {}
        self._device = _execution_device(pipe)  # a property that walks every module
        self._buffer: Any = None
        self._tail: Any = None

    def _decode(self, z):
        import torch

        vae, entry = self.pipe.vae, self.entry
        with _float32_vae(vae), torch.no_grad():
            z = z.to(device=self._device, dtype=torch.float32)
            if self.causal:
                def decode(piece, top, left):
                    stream = self._streams.setdefault((top, left), CausalStream(vae))
                    return stream.decode(piece)
            else:
                plain = _decoder_for(vae, entry)

                def decode(piece, top, left):
                    return plain(piece)
            if self.tiled:
                scale = entry.latent.spatial_compression
                return _tiled(decode, z, scale, *self.tile).float()
            return decode(z, 0, 0).float()

    def push(self, z):
        """Add the next latents; return the frames now final (or None)."""
        import torch

        if self.causal:
            return self._decode(z)
        self._buffer = z if self._buffer is None else torch.cat([self._buffer, z], dim=2)
        out = []
        while self._buffer.shape[2] >= self.chunk:
            out.append(self._chunk(self._buffer[:, :, :self.chunk], final=False))
            self._buffer = self._buffer[:, :, self.chunk - self.overlap:]
        return torch.cat(out, dim=2) if out else None

    def finish(self):
        """The frames still held (the end of the timeline)."""
        if self.causal or self._buffer is None:
            return None
        if self._tail is None or self._buffer.shape[2] > self.overlap:
            out = self._chunk(self._buffer, final=True)
        else:
            out = self._tail
        self._buffer = self._tail = None
        return out

    def _chunk(self, z, *, final: bool):
        import torch

        pixels = self._decode(z)
        if self._tail is not None:
            n, edge = self._tail.shape[2], self.margin * self.step
            ramp = (torch.arange(n, dtype=torch.float32, device=pixels.device) - edge + 1)
            ramp = (ramp / (n - 2 * edge + 1)).clamp(0, 1).view(1, 1, n, 1, 1)
            pixels[:, :, :n] = self._tail * (1 - ramp) + pixels[:, :, :n] * ramp
        if final:
            return pixels
        keep = self.step * (self.overlap - 1) + 1
        self._tail = pixels[:, :, -keep:]
        return pixels[:, :, :-keep]
