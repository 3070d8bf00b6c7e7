"""Datasets: captions, splits, buckets, deterministic augmentation, bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io.exr import write_exr
from hdr_mcp.models.registry import family
from hdr_mcp.training.datasets import (
    bucket_for,
    exposure_caption,
    load_sample,
    scan,
)

from .conftest import hdr_crop

QWEN = family("tiny-qwen-image")
WAN = family("tiny-wan2.1-vace-1.3b")


def test_scan_splits_deterministically_and_buckets_by_aspect(config) -> None:
    index = scan(config(), QWEN)
    again = scan(config(), QWEN)
    assert len(index.train) == 3 and len(index.validation) == 1
    assert index.train == again.train and index.validation == again.validation
    assert {b.width for b in index.buckets.values()} == {32}
    assert index.train[0].caption.startswith("a ")
    assert bucket_for(128, 64, 64, 16) == bucket_for(256, 128, 64, 16)
    wide = bucket_for(128, 64, 64, 16)
    assert wide.width > wide.height and wide.width % 16 == 0 and wide.height % 16 == 0


def test_samples_are_deterministic_per_item_and_variant(config) -> None:
    cfg = config(augment_variants=4, exposure_shift_stops=2.0)
    index = scan(cfg, QWEN)
    item = index.train[0]
    a = load_sample(item, index.buckets[item.index], cfg, QWEN, 0)
    b = load_sample(item, index.buckets[item.index], cfg, QWEN, 0)
    c = load_sample(item, index.buckets[item.index], cfg, QWEN, 1)
    assert a.target.shape == (3, 32, 32) and np.array_equal(a.target, b.target)
    assert a.augmentation == b.augmentation and a.augmentation != c.augmentation
    # the exposure shift scales light: the crop at 0 EV times 2**stops
    shift = a.augmentation["exposure_shift_stops"]
    assert abs(shift) <= 2.0


def test_an_empty_dataset_is_refused(tmp_path: Path, config) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgument, match="holds no HDR images") as info:
        scan(config(dataset=str(tmp_path / "empty")), QWEN)
    assert info.value.argument == "dataset"


def test_missing_captions_are_an_error_or_the_default(image_dataset: Path, config) -> None:
    (image_dataset / "city.txt").unlink()
    with pytest.raises(InvalidArgument, match="caption file missing") as info:
        scan(config(), QWEN)
    assert info.value.value.endswith("city.txt")
    index = scan(config(missing_caption="default", default_caption="hdr photo"), QWEN)
    captions = {item.key: item.caption for item in (*index.train, *index.validation)}
    assert captions["city.exr"] == "hdr photo"


def _item(cfg, name: str):
    index = scan(cfg, QWEN)
    return next(i for i in (*index.train, *index.validation) if i.key == name), index


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_are_reported_with_the_file(image_dataset: Path, config, bad) -> None:
    pixels = hdr_crop("city")
    pixels[3, 4, 1] = bad
    import OpenEXR  # write_exr refuses non-finite values itself: write the raw file

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": np.ascontiguousarray(pixels.astype(np.float32))}).write(
        str(image_dataset / "city.exr"))
    cfg = config()
    item, index = _item(cfg, "city.exr")
    with pytest.raises(InvalidArgument, match="NaN/Inf") as info:
        load_sample(item, index.buckets[item.index], cfg, QWEN, 0)
    assert info.value.value.endswith("city.exr")


def test_negative_pixels_are_an_error_or_clamped(image_dataset: Path, config) -> None:
    pixels = hdr_crop("city")
    pixels[:, :, 0] -= 100.0
    write_exr(image_dataset / "city.exr", pixels)
    cfg = config(exposure_shift_stops=0.0, flip="none")
    item, index = _item(cfg, "city.exr")
    with pytest.raises(InvalidArgument, match="negative pixel") as info:
        load_sample(item, index.buckets[item.index], cfg, QWEN, 0)
    assert info.value.value.endswith("city.exr")
    cfg = config(negative_pixels="clamp", exposure_shift_stops=0.0, flip="none")
    sample = load_sample(item, index.buckets[item.index], cfg, QWEN, 0)
    assert sample.target.min() >= 0.0


def test_mixed_sizes_are_refused_without_buckets(image_dataset: Path, config) -> None:
    write_exr(image_dataset / "city.exr", hdr_crop("city", 48))
    with pytest.raises(InvalidArgument, match="mixed sizes") as info:
        scan(config(buckets="none"), QWEN)
    assert "48x48" in info.value.reason
    assert len(scan(config(), QWEN).buckets) == 4  # buckets=aspect groups them
    with pytest.raises(InvalidArgument, match="smaller than its") as info:
        scan(config(resolution=56), QWEN)
    assert info.value.argument == "resolution"


def test_video_clips_get_a_degraded_reference_and_exposure_captions(video_dataset: Path,
                                                                    config) -> None:
    cfg = config(model="tiny-wan2.1-vace-1.3b", dataset=str(video_dataset), frames=5)
    index = scan(cfg, WAN)
    item = index.train[0]
    sample = load_sample(item, index.buckets[item.index], cfg, WAN, 0)
    assert sample.target.shape == (3, 5, 32, 32) and sample.reference.shape == (3, 5, 32, 32)
    assert 0 <= sample.reference.min() and sample.reference.max() <= 1
    assert "stops, shadows -" in sample.caption and sample.caption.startswith("a ")
    assert "operator" in sample.augmentation["degradation"]
    frames = np.full((1, 40, 40, 3), 0.18, np.float32)
    frames[0, 0, 0] = 64.0  # one pixel in 1600: below the 99.9th percentile
    assert exposure_caption(frames) == "highlights +0 stops, shadows -0 stops"
    frames[0, :2] = 64.0  # 5 % of the frame at 2**6
    frames[0, -2:] = 0.18 / 16  # 5 % four stops under grey
    assert exposure_caption(frames) == "highlights +6 stops, shadows -4 stops"


def test_clip_errors_name_the_file(video_dataset: Path, config) -> None:
    write_exr(video_dataset / "city" / "frame_0003.exr", hdr_crop("city", 48))
    cfg = config(model="tiny-wan2.1-vace-1.3b", dataset=str(video_dataset), frames=5)
    with pytest.raises(InvalidArgument, match="mixed sizes in one clip") as info:
        scan(cfg, WAN)
    assert info.value.value.endswith("frame_0003.exr")
    with pytest.raises(InvalidArgument, match="holds only 6 frames"):
        scan(config(model="tiny-wan2.1-vace-1.3b", dataset=str(video_dataset), frames=9), WAN)
