"""ExrSequenceWriter: numbered frames, options, constant memory."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.io import ExrSequenceWriter, read_exr


def _frame(index: int, size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), 0.5 + index, dtype=np.float32)


def test_writes_numbered_frames(tmp_path: Path) -> None:
    out = tmp_path / "shot" / "plates"  # created with parents
    with ExrSequenceWriter(out, metadata={"hdr_mcp/shot": "010"}, colorspace="acescg") as frames:
        for index in range(3):
            frames.write(_frame(index), metadata={"hdr_mcp/frame_note": f"n{index}"})
        assert frames.write(_frame(9), index=9) == out / "frame_00009.exr"
        assert frames.write(_frame(10)) == out / "frame_00010.exr"  # continues after 9
    assert [p.name for p in frames.paths] == [
        "frame_00000.exr",
        "frame_00001.exr",
        "frame_00002.exr",
        "frame_00009.exr",
        "frame_00010.exr",
    ]
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in frames.paths]
    image = read_exr(out / "frame_00001.exr")
    np.testing.assert_array_equal(image.pixels, 1.5)
    assert image.info.colorspace == "acescg"
    assert image.info.attributes["hdr_mcp/shot"] == "010"
    assert image.info.attributes["hdr_mcp/frame_note"] == "n1"
    with OpenEXR.File(str(out / "frame_00010.exr")) as f:
        assert OpenEXR.checkColorMetadata(dict(f.header())) == 0


def test_pattern_start_and_overwrite(tmp_path: Path) -> None:
    with ExrSequenceWriter(tmp_path, "beauty.%04d.exr", start=1001, compression="piz") as frames:
        first = frames.write(_frame(0))
        frames.write(_frame(5), index=1001)  # re-render of the same frame replaces it
    assert first.name == "beauty.1001.exr"
    assert [p.name for p in tmp_path.iterdir()] == ["beauty.1001.exr"]
    image = read_exr(first)
    np.testing.assert_array_equal(image.pixels, 5.5)
    assert image.info.compression == "piz"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"pattern": "frame.exr"}, "pattern"),
        ({"pattern": "frame_%05d_%05d.exr"}, "pattern"),
        ({"pattern": "sub/frame_%05d.exr"}, "pattern"),
        ({"pattern": "frame_%05d.png"}, "pattern"),
        ({"start": -1}, "start"),
        ({"compression": "lzw"}, "compression"),
        ({"colorspace": "rec709"}, "colorspace"),
        ({"metadata": {"channels": "x"}}, "metadata"),
    ],
)
def test_options_validated_up_front(tmp_path: Path, kwargs: dict, argument: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        ExrSequenceWriter(tmp_path / "seq", **kwargs)
    assert info.value.argument == argument
    assert not (tmp_path / "seq").exists()


def test_bad_frames_and_closed_writer(tmp_path: Path) -> None:
    frames = ExrSequenceWriter(tmp_path)
    bad = _frame(0)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidArgument) as info:
        frames.write(bad)
    assert info.value.argument == "pixels"
    with pytest.raises(InvalidArgument) as info:
        frames.write(_frame(0), index=-3)
    assert info.value.argument == "index"
    assert list(tmp_path.iterdir()) == []
    assert frames.write(_frame(0)).name == "frame_00000.exr"  # the failed frame did not advance
    frames.close()
    with pytest.raises(HdrMcpError, match="closed"):
        frames.write(_frame(1))


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgument, match="not a directory"):
        ExrSequenceWriter(tmp_path / "file")


def _peak_memory(directory: Path, count: int) -> int:
    frame = np.random.default_rng(0).random((128, 128, 3), dtype=np.float32)
    gc.collect()
    tracemalloc.start()
    try:
        with ExrSequenceWriter(directory) as frames:
            for _ in range(count):
                frames.write(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_memory_is_constant_in_frame_count(tmp_path: Path) -> None:
    few = _peak_memory(tmp_path / "few", 20)
    many = _peak_memory(tmp_path / "many", 200)
    # Per frame only its Path is kept (~0.2 KB): 180 more frames may add ~40 KB, while holding
    # the frames would add 180 x 192 KB (float32) or 180 x 96 KB (half) = 17-35 MB.
    assert many < few + 100_000, (few, many)
