"""Training datasets: folders of HDR images or frame sequences with captions.

Layouts
-------
Text-to-image: a folder of ``.exr`` / ``.hdr`` images, each with a caption ``<name>.txt``
beside it. Video: a folder of sequence folders, each holding HDR frames (``.exr`` / ``.hdr``,
sorted by frame number) and ``caption.txt``; the SDR reference of a clip is made from its HDR
frames by :mod:`hdr_mcp.training.degradations`.

Determinism
-----------
Everything random (the validation split, crops, flips, exposure shifts, a clip's first frame,
the degradations) is drawn from ``numpy.random.default_rng([seed, item, variant])``: item ``i``
in variant ``v`` is the same array on every call, in every process, with or without a latent
cache. Epoch ``e`` uses variant ``e mod augment_variants``.

Checks (each an :class:`~hdr_mcp.errors.InvalidArgument` naming the argument and the file):
an empty dataset, a missing caption (unless ``missing_caption="default"``), NaN/Inf pixels,
negative pixels (unless ``negative_pixels="clamp"``), mixed sizes with ``buckets="none"`` or
inside one sequence, an image smaller than its bucket, a clip shorter than ``frames``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models.registry import ModelFamily
from hdr_mcp.params.training import DataConfig
from hdr_mcp.vocabulary import HDR_SUFFIXES

__all__ = ["Bucket", "DatasetIndex", "Item", "Sample", "bucket_for", "load_sample", "scan"]

SHADOW_REFERENCE = 0.18


@dataclass(frozen=True)
class Item:
    """One training example: an image (one file) or a clip (frame files)."""

    index: int
    key: str
    files: tuple[Path, ...]
    caption: str
    width: int
    height: int


@dataclass(frozen=True)
class Bucket:
    width: int
    height: int


@dataclass(frozen=True)
class DatasetIndex:
    """The scanned dataset: training and validation items (disjoint, deterministic split)."""

    root: Path
    kind: str
    train: tuple[Item, ...]
    validation: tuple[Item, ...]
    buckets: dict[int, Bucket]
    """Bucket of every item by ``Item.index``."""


@dataclass
class Sample:
    """One augmented item: float32 arrays, channels first."""

    key: str
    caption: str
    target: np.ndarray
    """Scene-linear target, (3, H, W) or (3, F, H, W)."""
    reference: np.ndarray | None
    """Video: the degraded SDR reference, sRGB code values in [0, 1], (3, F, H, W)."""
    augmentation: dict[str, Any]


# -- scanning ----------------------------------------------------------------------------------


def _hdr_files(folder: Path) -> list[Path]:
    from hdr_mcp.io.sequence import natural_key

    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in HDR_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def _caption(path: Path, config: DataConfig) -> str:
    if path.is_file():
        return path.read_text().strip()
    if config.missing_caption == "default":
        return config.default_caption
    raise InvalidArgument("dataset", str(path), "caption file missing (write one, or set "
                          "missing_caption=default to use default_caption)")


def _size(path: Path) -> tuple[int, int]:
    from hdr_mcp.io.image import read_info

    info = read_info(path)
    return info.width, info.height


def _image_items(root: Path, config: DataConfig) -> list[Item]:
    items = []
    for index, path in enumerate(_hdr_files(root)):
        width, height = _size(path)
        items.append(Item(index, path.name, (path,), _caption(path.with_suffix(".txt"), config),
                          width, height))
    return items


def _clip_items(root: Path, config: DataConfig) -> list[Item]:
    from hdr_mcp.io.sequence import natural_key

    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))
    items = []
    for folder in folders:
        frames = _hdr_files(folder)
        if not frames:
            continue
        if len(frames) < config.frames:
            raise InvalidArgument("frames", config.frames, f"{folder} holds only {len(frames)} "
                                  "frames")
        sizes = {_size(f): f for f in frames}
        if len(sizes) > 1:
            (a, fa), (b, fb) = list(sizes.items())[:2]
            raise InvalidArgument("dataset", str(fb), f"mixed sizes in one clip: {b[0]}x{b[1]} "
                                  f"here, {a[0]}x{a[1]} in {fa.name}")
        (width, height), = sizes
        items.append(Item(len(items), folder.name, tuple(frames),
                          _caption(folder / "caption.txt", config), width, height))
    return items


def bucket_for(width: int, height: int, resolution: int, multiple: int) -> Bucket:
    """The bucket of about ``resolution**2`` pixels closest to ``width/height``'s aspect, both
    sides multiples of ``multiple``."""
    aspect = width / height
    bucket_width = max(multiple, round(math.sqrt(resolution**2 * aspect) / multiple) * multiple)
    bucket_height = max(multiple, round(resolution**2 / bucket_width / multiple) * multiple)
    return Bucket(bucket_width, bucket_height)


def _buckets(items: list[Item], config: DataConfig, multiple: int) -> dict[int, Bucket]:
    fixed = None
    if config.buckets == "none":
        first = items[0]
        for item in items[1:]:
            if (item.width, item.height) != (first.width, first.height):
                raise InvalidArgument("dataset", str(item.files[0]), f"mixed sizes: "
                                      f"{item.width}x{item.height} here, {first.width}x"
                                      f"{first.height} in {first.key} (buckets=none needs one "
                                      "size; buckets=aspect groups them)")
        fixed = bucket_for(first.width, first.height, config.resolution, multiple)
    buckets = {}
    for item in items:
        bucket = fixed or bucket_for(item.width, item.height, config.resolution, multiple)
        if item.width < bucket.width or item.height < bucket.height:
            raise InvalidArgument("resolution", config.resolution, f"{item.files[0]} is "
                                  f"{item.width}x{item.height}, smaller than its {bucket.width}x"
                                  f"{bucket.height} bucket (upscaling would invent detail)")
        buckets[item.index] = bucket
    return buckets


def _split(items: list[Item], fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    count = round(fraction * len(items))
    if fraction > 0 and len(items) >= 2:
        count = min(max(count, 1), len(items) - 1)
    order = np.random.default_rng([seed, 0x5EED]).permutation(len(items))
    held = set(order[:count].tolist())
    return ([it for it in items if it.index not in held], [it for it in items if it.index in held])


def scan(config: DataConfig, entry: ModelFamily) -> DatasetIndex:
    """List the dataset (headers and captions only) and check it."""
    root = Path(config.dataset).expanduser()
    if not root.is_dir():
        raise InvalidArgument("dataset", config.dataset, "no such folder")
    kind = "video" if entry.task == "video-to-video" else "image"
    items = _clip_items(root, config) if kind == "video" else _image_items(root, config)
    if not items:
        what = "sequence folders of HDR frames" if kind == "video" else "HDR images (.exr, .hdr)"
        raise InvalidArgument("dataset", config.dataset, f"holds no {what}")
    buckets = _buckets(items, config, entry.width.multiple)
    train, validation = _split(items, config.validation_fraction, config.seed)
    return DatasetIndex(root, kind, tuple(train), tuple(validation), buckets)


# -- loading -----------------------------------------------------------------------------------


def read_target(path: Path, config: DataConfig) -> np.ndarray:
    """Scene-linear RGB (H, W, 3) float32; NaN/Inf always refused, negatives by policy."""
    from hdr_mcp.io.image import read_image

    rgb = np.ascontiguousarray(read_image(path).rgb(), dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(rgb)))
    if bad:
        raise InvalidArgument("dataset", str(path), f"{bad} NaN/Inf pixel value(s) in a target")
    negative = int(np.count_nonzero(rgb < 0))
    if negative and config.negative_pixels == "error":
        raise InvalidArgument("dataset", str(path), f"{negative} negative pixel value(s) in a "
                              "target (set negative_pixels=clamp to clamp them to 0)")
    return np.maximum(rgb, 0.0) if negative else rgb


def _resize_cover(frames: np.ndarray, bucket: Bucket) -> np.ndarray:
    """(F, H, W, 3) -> the smallest size covering ``bucket`` at the same aspect; area filter
    (no ringing, no negative values)."""
    import torch

    height, width = frames.shape[1:3]
    scale = max(bucket.width / width, bucket.height / height)
    size = (max(bucket.height, round(height * scale)), max(bucket.width, round(width * scale)))
    if size == (height, width):
        return frames
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2)
    out = torch.nn.functional.interpolate(tensor, size=size, mode="area")
    return out.permute(0, 2, 3, 1).contiguous().numpy()


def _augment(frames: np.ndarray, bucket: Bucket, config: DataConfig,
             rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    frames = _resize_cover(frames, bucket)
    top = int(rng.integers(0, frames.shape[1] - bucket.height + 1))
    left = int(rng.integers(0, frames.shape[2] - bucket.width + 1))
    frames = frames[:, top:top + bucket.height, left:left + bucket.width]
    flip = config.flip == "horizontal" and bool(rng.integers(0, 2))
    if flip:
        frames = frames[:, :, ::-1]
    stops = float(rng.uniform(-config.exposure_shift_stops, config.exposure_shift_stops))
    frames = np.ascontiguousarray(frames * np.float32(2.0**stops), dtype=np.float32)
    return frames, {"top": top, "left": left, "flip": flip, "exposure_shift_stops": stops}


def exposure_caption(frames: np.ndarray) -> str:
    """DiffHDR-style exposure parts: how many stops the highlights rise above SDR white (1.0)
    and the shadows fall below 18 % grey, from robust luminance percentiles."""
    luminance = frames @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    high = float(np.percentile(luminance, 99.9))
    low = float(np.percentile(luminance, 1.0))
    up = max(0, round(math.log2(max(high, 1e-6))))
    down = max(0, round(math.log2(SHADOW_REFERENCE / max(low, 1e-6))))
    return f"highlights +{up} stops, shadows -{down} stops"


def _caption_of(item: Item, frames: np.ndarray, config: DataConfig, entry: ModelFamily) -> str:
    parts = [*config.trigger_words, item.caption] if item.caption else [*config.trigger_words]
    if entry.latent.packing == "wan":
        parts.append(exposure_caption(frames))
    return ", ".join(p for p in parts if p)


def load_sample(item: Item, bucket: Bucket, config: DataConfig, entry: ModelFamily,
                variant: int) -> Sample:
    """Item ``item`` in augmentation variant ``variant`` (deterministic)."""
    from hdr_mcp.training.degradations import degrade

    rng = np.random.default_rng([config.seed, item.index, variant])
    video = entry.task == "video-to-video"
    files = item.files
    if video:
        start = int(rng.integers(0, len(files) - config.frames + 1))
        files = files[start:start + config.frames]
    frames = np.stack([read_target(f, config) for f in files])
    frames, augmentation = _augment(frames, bucket, config, rng)
    caption = _caption_of(item, frames, config, entry)
    reference = None
    if video:
        sdr, augmentation["degradation"] = degrade(frames, rng, config.degradations)
        reference = np.ascontiguousarray(sdr.transpose(3, 0, 1, 2))
        target = np.ascontiguousarray(frames.transpose(3, 0, 1, 2))
    else:
        target = np.ascontiguousarray(frames[0].transpose(2, 0, 1))
    return Sample(item.key, caption, target, reference, augmentation)
