"""atomic_path: complete file or no file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io import atomic_path


def test_renamed_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.exr"
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path  # same filesystem, so os.replace is atomic
        assert temporary.name.startswith(".out.exr.") and temporary.suffix == ".exr"
        assert not temporary.exists()
        temporary.write_bytes(b"data")
        assert not target.exists()  # invisible until complete
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]


def test_removed_on_error_and_old_file_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ZeroDivisionError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        1 / 0  # noqa: B018
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_keyboard_interrupt_cleans_up(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "x.exr") as temporary:
        temporary.write_bytes(b"x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_nothing_written_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x.exr"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_unique_names_and_permissions(tmp_path: Path) -> None:
    names = set()
    for _ in range(20):
        with atomic_path(tmp_path / "x.exr") as temporary:
            names.add(temporary.name)
            temporary.write_bytes(b"x")
    assert len(names) == 20
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.exr").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_bad_destinations(tmp_path: Path) -> None:
    with (
        pytest.raises(InvalidArgument, match="does not exist") as info,
        atomic_path(tmp_path / "missing" / "x.exr"),
    ):
        pass
    assert info.value.argument == "path"
    with pytest.raises(InvalidArgument, match="is a directory"), atomic_path(tmp_path):
        pass
