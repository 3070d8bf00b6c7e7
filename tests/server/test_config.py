"""The path policy of tool arguments (ServerConfig.resolve / resolve_input / resolve_output)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.server.config import ServerConfig


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    root = tmp_path / "root"
    (root / "frames").mkdir(parents=True)
    for i in range(3):
        (root / "frames" / f"plate.{i:04d}.png").write_bytes(b"")
    return ServerConfig(
        home=tmp_path / "home", output_dir=tmp_path / "out", roots=[root], worker="none"
    )


def test_a_name_the_os_refuses_is_an_error_naming_the_argument(config):
    # ENAMETOOLONG used to escape as a bare OSError ("Error executing tool" for the client)
    with pytest.raises(InvalidArgument, match="^path='a{20}"):
        config.resolve("path", "a" * 5000)
    with pytest.raises(InvalidArgument, match="^output_dir="):
        config.resolve_output("output_dir", "b" * 5000, "unused")


def test_file_uris_must_name_this_machine(config):
    inside = config.roots[0] / "frames" / "plate.0000.png"
    assert config.resolve("path", "file://" + quote(str(inside))) == inside
    assert config.resolve("path", "file://localhost" + quote(str(inside))) == inside
    with pytest.raises(InvalidArgument, match="this machine"):
        config.resolve("path", "file://fileserver" + quote(str(inside)))
    with pytest.raises(InvalidArgument, match="NUL"):
        config.resolve("path", "file://" + quote(str(inside)) + "%00.exr")


def test_hash_printf_and_glob_patterns_resolve_to_their_folder(config):
    folder = config.roots[0] / "frames"
    for pattern in ("plate.####.png", "plate.%04d.png", "plate.*.png"):
        assert config.resolve_input("input", f"frames/{pattern}") == folder / pattern
    assert config.resolve_input("input", "frames") == folder


def test_a_pattern_error_shows_the_value_as_given(config):
    with pytest.raises(InvalidArgument, match=r"^input='missing/f_%04d\.png': no such file"):
        config.resolve_input("input", "missing/f_%04d.png")


@pytest.mark.parametrize("value", ["frames", "frames/plate.####.png", "frames/*.png"])
def test_a_frame_that_links_outside_the_roots_is_refused(config, tmp_path, value):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"")
    os.symlink(secret, config.roots[0] / "frames" / "plate.0003.png")
    with pytest.raises(InvalidArgument, match="outside the allowed roots"):
        config.resolve_input("input", value)


@pytest.mark.parametrize(("options", "argument"), [
    ({"backend": "rey"}, "backend"),
    ({"ray_address": "auto"}, "ray_address"),  # the local backend has no Ray cluster
    ({"backend": "ray", "worker": "thread"}, "worker"),
])
def test_backend_options_that_do_not_go_together_are_refused(tmp_path, options, argument):
    with pytest.raises(InvalidArgument) as caught:
        ServerConfig(home=tmp_path / "h", output_dir=tmp_path / "o", **options)
    assert caught.value.argument == argument
