"""list_frames: folders, printf/hash patterns and globs, in natural order."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io.sequence import list_frames, natural_key


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_natural_key_orders_numbers_by_value():
    names = ["f10.png", "f2.png", "F1.png", "f2b.png", "g.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f2.png", "f2b.png", "f10.png", "g.png"]


def test_folder_in_natural_order_skipping_hidden_and_other_files(tmp_path):
    _touch(
        tmp_path,
        "frame_10.png",
        "frame_9.png",
        "frame_100.png",
        ".frame_1.png.abc.tmp.png",
        "notes.txt",
    )
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_frames(tmp_path)] == [
        "frame_9.png",
        "frame_10.png",
        "frame_100.png",
    ]


def test_folder_mixing_image_types_is_refused(tmp_path):
    _touch(tmp_path, "a_1.png", "a_2.png", "preview.jpg")
    with pytest.raises(InvalidArgument, match=r"2 \.png, 1 \.jpg") as info:
        list_frames(tmp_path)
    assert info.value.argument == "folder_or_pattern"


def test_printf_pattern_matches_exact_padding_only(tmp_path):
    _touch(
        tmp_path, "f_0001.png", "f_0002.png", "f_0010.png", "f_00003.png", "f_5.png", "f_0004.jpg"
    )
    frames = list_frames(tmp_path / "f_%04d.png")
    assert [p.name for p in frames] == ["f_0001.png", "f_0002.png", "f_0010.png"]
    assert [p.name for p in list_frames(str(tmp_path / "f_%d.png"))] == ["f_5.png"]


def test_printf_pattern_numbers_past_the_padding(tmp_path):
    _touch(tmp_path, "f_99999.png", "f_100000.png")
    assert [p.name for p in list_frames(tmp_path / "f_%05d.png")] == ["f_99999.png", "f_100000.png"]


def test_hash_pattern(tmp_path):
    _touch(tmp_path, "shot.1001.exr", "shot.1002.exr", "shot.0999.exr", "shot.999.exr")
    assert [p.name for p in list_frames(tmp_path / "shot.####.exr")] == [
        "shot.0999.exr",
        "shot.1001.exr",
        "shot.1002.exr",
    ]


def test_glob_pattern(tmp_path):
    _touch(tmp_path, "b2.png", "b10.png", "a.jpg")
    assert [p.name for p in list_frames(f"{tmp_path}/b*.png")] == ["b2.png", "b10.png"]


def test_single_file_is_returned_alone(tmp_path):
    _touch(tmp_path, "one.png")
    assert list_frames(tmp_path / "one.png") == [tmp_path / "one.png"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda t: t / "missing_dir" / "f_%04d.png", "does not exist"),
        (lambda t: t / "nothing", "no such file or folder"),
        (lambda t: t / "f_%04d.png", "matches no files"),
        (lambda t: t / "*.tif", "glob matches no files"),
        (lambda t: t / "f_%04d_%02d.png", "more than one frame-number field"),
        (lambda t: t / "*" / "f.png", "only supported in the file name"),
        (lambda t: t, "holds no image files"),
        (lambda t: "", "expected a folder"),
        (lambda t: 7, "expected a folder"),
    ],
)
def test_errors_name_the_argument(tmp_path, make, match):
    with pytest.raises(InvalidArgument, match=match) as info:
        list_frames(make(tmp_path))
    assert info.value.argument == "folder_or_pattern"
