"""Format dispatch, Radiance HDR, SDR PNG/TIFF/JPEG reading and the SDR writers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.io import read_image, read_info, sniff_format, write_exr, write_png, write_sdr


def _rgb8(height: int = 20, width: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _rgb16(height: int = 20, width: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (height, width, 3), dtype=np.uint16)


# ---------------------------------------------------------------------------------------------
# Radiance HDR
# ---------------------------------------------------------------------------------------------


def test_radiance_hdr_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = (2.0 ** rng.uniform(-8, 14, (24, 40, 3))).astype(np.float32)
    rgb[0, 0] = [30000.0, 0.5, 0.001]  # strongly coloured: RGBE shares one exponent per pixel
    assert cv2.imwrite(str(tmp_path / "x.hdr"), np.ascontiguousarray(rgb[:, :, ::-1]))  # BGR
    image = read_image(tmp_path / "x.hdr")
    info = image.info
    assert (
        info.file_format == "hdr" and info.transfer == "linear" and info.colorspace == "lin_rec709"
    )
    assert (info.width, info.height, info.channels) == (40, 24, ("R", "G", "B"))
    assert info.attributes["FORMAT"] == "32-bit_rle_rgbe"
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (24, 40, 3)
    # RGBE precision: 8-bit mantissa relative to the pixel's largest component (< 1%).
    scale = rgb.max(axis=-1, keepdims=True)
    assert np.max(np.abs(image.pixels - rgb) / scale) < 0.01
    np.testing.assert_allclose(image.pixels[0, 0, 0], 30000.0, rtol=0.01)  # order is R, G, B
    assert image.pixels[0, 0, 1] < 1.0
    assert read_info(tmp_path / "x.hdr") == image.info
    json.dumps(info.to_dict())


def test_radiance_header_variants(tmp_path: Path) -> None:
    rgb = np.ones((4, 6, 3), np.float32)
    assert cv2.imwrite(str(tmp_path / "x.hdr"), rgb)
    data = (tmp_path / "x.hdr").read_bytes()
    header_end = data.index(b"\n\n")
    primaries = b"\nPRIMARIES=0.713 0.293 0.165 0.830 0.128 0.044 0.32168 0.33767\nEXPOSURE=2.0"
    (tmp_path / "p.hdr").write_bytes(data[:header_end] + primaries + data[header_end:])
    info = read_info(tmp_path / "p.hdr")
    assert info.colorspace == "acescg"
    assert any("EXPOSURE=2.0" in note for note in info.notes)

    flipped = data.replace(b"-Y 4 +X 6", b"+Y 4 +X 6")
    (tmp_path / "f.hdr").write_bytes(flipped)
    with pytest.raises(UnsupportedFile, match="orientation"):
        read_image(tmp_path / "f.hdr")
    (tmp_path / "xyz.hdr").write_bytes(data.replace(b"32-bit_rle_rgbe", b"32-bit_rle_xyze"))
    with pytest.raises(UnsupportedFile, match="xyze"):
        read_image(tmp_path / "xyz.hdr")


def test_truncated_hdr(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32) * 100
    assert cv2.imwrite(str(tmp_path / "x.hdr"), rgb)
    data = (tmp_path / "x.hdr").read_bytes()
    (tmp_path / "t.hdr").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedFile, match="corrupt or truncated Radiance HDR") as info:
        read_image(tmp_path / "t.hdr")
    assert info.value.argument == "path"
    (tmp_path / "h.hdr").write_bytes(data[:20])
    with pytest.raises(UnsupportedFile, match="Radiance"):
        read_image(tmp_path / "h.hdr")


# ---------------------------------------------------------------------------------------------
# SDR formats
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".png", ".tif"])
@pytest.mark.parametrize("depth", [8, 16])
def test_png_and_tiff_code_values(tmp_path: Path, extension: str, depth: int) -> None:
    rgb = _rgb8() if depth == 8 else _rgb16()
    path = tmp_path / f"x{extension}"
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    image = read_image(path)
    top = 2**depth - 1
    np.testing.assert_allclose(image.pixels, rgb.astype(np.float64) / top, rtol=0, atol=1e-7)
    info = image.info
    assert info.transfer == "srgb" and info.bit_depth == depth and info.dtype == f"uint{depth}"
    assert info.file_format == ("png" if extension == ".png" else "tiff")
    assert info.channels == ("R", "G", "B") and image.pixels.dtype == np.float32
    assert read_info(path) == info


def test_large_tiff_with_directory_at_the_end(tmp_path: Path) -> None:
    rgb = _rgb16(600, 800)  # 2.9 MB: libtiff writes the image directory after the pixels
    assert cv2.imwrite(str(tmp_path / "big.tiff"), np.ascontiguousarray(rgb[:, :, ::-1]))
    data = (tmp_path / "big.tiff").read_bytes()
    assert int.from_bytes(data[4:8], "little") > 1 << 20
    info = read_info(tmp_path / "big.tiff")
    assert (info.width, info.height, info.bit_depth) == (800, 600, 16)
    np.testing.assert_array_equal(np.rint(read_image(tmp_path / "big.tiff").pixels * 65535), rgb)


def test_jpeg(tmp_path: Path) -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = 200  # flat red: JPEG reproduces it within a couple of code values
    assert cv2.imwrite(str(tmp_path / "x.jpg"), np.ascontiguousarray(rgb[:, :, ::-1]))
    image = read_image(tmp_path / "x.jpg")
    assert image.info.file_format == "jpeg" and image.info.bit_depth == 8
    np.testing.assert_allclose(image.pixels[..., 0], 200 / 255, atol=3 / 255)
    np.testing.assert_allclose(image.pixels[..., 1:], 0, atol=3 / 255)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "x.jpg"), _rgb8(200, 300))
    data = (tmp_path / "x.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])  # libjpeg alone would "succeed"
    with pytest.raises(UnsupportedFile, match="truncated JPEG"):
        read_image(tmp_path / "t.jpg")


def test_grey_alpha_and_palette_png(tmp_path: Path) -> None:
    grey = np.arange(120, dtype=np.uint8).reshape(10, 12)
    PILImage.fromarray(grey).save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert image.info.channels == ("Y",) and image.pixels.shape == (10, 12, 1)
    np.testing.assert_allclose(image.pixels[..., 0], grey / 255, atol=1e-7)

    grey_alpha = np.stack([grey, 255 - grey], axis=-1)
    PILImage.fromarray(grey_alpha, "LA").save(tmp_path / "la.png")
    image = read_image(tmp_path / "la.png")
    assert image.info.channels == ("R", "G", "B", "A")
    np.testing.assert_allclose(image.pixels[..., 3], (255 - grey) / 255, atol=1e-7)
    np.testing.assert_allclose(image.pixels[..., 0], grey / 255, atol=1e-7)
    assert read_info(tmp_path / "la.png").channels == ("R", "G", "B", "A")

    PILImage.fromarray(_rgb8()).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").pixels.shape == (20, 30, 3)


def test_image_rgb_expands_grey_and_drops_alpha(tmp_path: Path) -> None:
    grey = np.arange(120, dtype=np.uint8).reshape(10, 12)
    PILImage.fromarray(grey).save(tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png").rgb()
    assert rgb.shape == (10, 12, 3)
    for channel in range(3):
        np.testing.assert_allclose(rgb[..., channel], grey / 255, atol=1e-7)

    rgba = np.dstack([_rgb8(), np.full((20, 30), 7, np.uint8)])
    assert cv2.imwrite(str(tmp_path / "a.png"), rgba[..., [2, 1, 0, 3]])
    image = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(image.rgb(), image.pixels[..., :3])
    np.testing.assert_allclose(image.rgb(), _rgb8() / 255, atol=1e-7)


def test_float_tiff_is_linear(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).random((8, 10, 3), dtype=np.float32) * 50
    assert cv2.imwrite(str(tmp_path / "f.tif"), np.ascontiguousarray(rgb[:, :, ::-1]))
    image = read_image(tmp_path / "f.tif")
    assert image.info.transfer == "linear" and image.info.dtype == "float"
    np.testing.assert_array_equal(image.pixels, rgb)


# ---------------------------------------------------------------------------------------------
# Dispatch by content, bad inputs
# ---------------------------------------------------------------------------------------------


def test_content_decides_within_a_family(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "x.png"), _rgb8())
    (tmp_path / "x.jpg").write_bytes((tmp_path / "x.png").read_bytes())
    assert sniff_format(tmp_path / "x.jpg") == "png"
    assert read_image(tmp_path / "x.jpg").info.file_format == "png"
    write_exr(tmp_path / "a.exr", np.ones((4, 4, 3), np.float32))
    (tmp_path / "a.hdr").write_bytes((tmp_path / "a.exr").read_bytes())
    assert read_image(tmp_path / "a.hdr").info.file_format == "exr"
    (tmp_path / "noext").write_bytes((tmp_path / "a.exr").read_bytes())
    assert read_image(tmp_path / "noext").info.file_format == "exr"


def test_png_renamed_exr_is_refused(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "x.png"), _rgb8())
    (tmp_path / "x.exr").write_bytes((tmp_path / "x.png").read_bytes())
    for reader in (read_image, read_info):
        with pytest.raises(UnsupportedFile, match="is a PNG file, not OpenEXR") as info:
            reader(tmp_path / "x.exr")
        assert info.value.argument == "path" and info.value.value == str(tmp_path / "x.exr")
    write_exr(tmp_path / "a.exr", np.ones((4, 4, 3), np.float32))
    (tmp_path / "a.png").write_bytes((tmp_path / "a.exr").read_bytes())
    with pytest.raises(UnsupportedFile, match="is an OpenEXR file, not PNG"):
        read_image(tmp_path / "a.png")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"GIF89a" + bytes(100), "is a GIF file"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(100), "is a WebP file"),
        (b"hello, I am text\n", "is a text file"),
        (bytes(range(200, 256)) * 3, "unknown binary format"),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "corrupt PNG"),
        (b"\xff\xd8\xff\xe0" + bytes(30), "JPEG"),
        (b"II*\x00\xff\xff\xff\x7f", "TIFF"),
    ],
)
def test_unknown_or_corrupt_content(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFile, match=fragment) as info:
        read_image(path)
    assert info.value.argument == "path" and info.value.value == str(path)


def test_truncated_and_flipped_png(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "x.png"), _rgb16(100, 120))
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    for index in range(200, len(data), 997):
        flipped[index] ^= 0xFF
    (tmp_path / "f.png").write_bytes(bytes(flipped))
    for name in ("t.png", "f.png"):
        with pytest.raises(UnsupportedFile, match="corrupt or truncated PNG"):
            read_image(tmp_path / name)


def test_sdr_max_pixels(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "x.png"), _rgb8(20, 30))
    with pytest.raises(UnsupportedFile, match="30x20 = 600 pixels exceeds the limit of 599"):
        read_image(tmp_path / "x.png", max_pixels=599)
    data = bytearray((tmp_path / "x.png").read_bytes())
    data[16:24] = (100000).to_bytes(4, "big") * 2  # IHDR claims 100000x100000 (CRC now wrong)
    (tmp_path / "huge.png").write_bytes(bytes(data))
    assert read_info(tmp_path / "huge.png").width == 100000
    with pytest.raises(UnsupportedFile, match="exceeds the limit"):
        read_image(tmp_path / "huge.png")


def test_missing_directory_empty(tmp_path: Path) -> None:
    for reader in (read_image, read_info):
        with pytest.raises(InvalidArgument, match="no such file"):
            reader(tmp_path / "nope.png")
        with pytest.raises(InvalidArgument, match="is a directory"):
            reader(tmp_path)
        (tmp_path / "e.png").write_bytes(b"")
        with pytest.raises(UnsupportedFile, match="empty"):
            reader(tmp_path / "e.png")
        with pytest.raises(InvalidArgument, match="non-empty file path"):
            reader("")


# ---------------------------------------------------------------------------------------------
# SDR writers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [_rgb8(), _rgb16(), _rgb8()[:, :, 0], np.dstack([_rgb8(), _rgb8(seed=3)[:, :, :1]])],
    ids=["rgb8", "rgb16", "grey8", "rgba8"],
)
def test_write_png_round_trip(tmp_path: Path, image: np.ndarray) -> None:
    path = write_png(tmp_path / "x.png", image)
    assert path == tmp_path / "x.png"
    with PILImage.open(path) as pil:  # an independent decoder
        if image.dtype == np.uint8:
            np.testing.assert_array_equal(np.asarray(pil), image)
    back = read_image(path)
    top = 255 if image.dtype == np.uint8 else 65535
    expected = image if image.ndim == 3 else image[:, :, None]
    np.testing.assert_array_equal(np.rint(back.pixels * top).astype(image.dtype), expected)
    assert back.info.bit_depth == (8 if top == 255 else 16)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_write_png_refusals(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"\.png"):
        write_png(tmp_path / "x.jpg", _rgb8())
    with pytest.raises(InvalidArgument, match="uint8 or uint16") as info:
        write_png(tmp_path / "x.png", _rgb8().astype(np.float32))
    assert info.value.argument == "image"
    with pytest.raises(InvalidArgument, match="shape"):
        write_png(tmp_path / "x.png", np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(InvalidArgument, match="does not exist"):
        write_png(tmp_path / "no" / "x.png", _rgb8())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extension", [".png", ".tiff", ".tif"])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_write_sdr_quantises(tmp_path: Path, extension: str, bit_depth: int) -> None:
    rng = np.random.default_rng(5)
    codes = rng.random((12, 16, 3)).astype(np.float32)
    codes[0, 0] = [0.0, 1.0, 1.0 + 1e-7]  # float noise above 1 is accepted
    path = write_sdr(tmp_path / f"x{extension}", codes, bit_depth=bit_depth)
    back = read_image(path)
    top = 2**bit_depth - 1
    np.testing.assert_allclose(back.pixels, np.clip(codes, 0, 1), atol=0.5 / top + 1e-7)
    assert back.info.bit_depth == bit_depth


def test_write_sdr_refusals(tmp_path: Path) -> None:
    codes = np.full((4, 4, 3), 0.5, np.float32)
    with pytest.raises(InvalidArgument) as info:
        write_sdr(tmp_path / "x.jpg", codes)
    assert info.value.argument == "path"
    with pytest.raises(InvalidArgument) as info:
        write_sdr(tmp_path / "x.png", codes, bit_depth=10)  # type: ignore[arg-type]
    assert info.value.argument == "bit_depth"
    over = codes.copy()
    over[0, 0, 0] = 1.2
    with pytest.raises(InvalidArgument, match=r"range \[0.5, 1.2\]") as info:
        write_sdr(tmp_path / "x.png", over)
    assert info.value.argument == "code_values"
    nan = codes.copy()
    nan[1, 1, 1] = np.nan
    with pytest.raises(InvalidArgument, match="1 NaN/Inf"):
        write_sdr(tmp_path / "x.png", nan, out_of_range="clip")
    with pytest.raises(InvalidArgument) as info:
        write_sdr(tmp_path / "x.png", codes, out_of_range="wrap")  # type: ignore[arg-type]
    assert info.value.argument == "out_of_range"
    assert list(tmp_path.iterdir()) == []
    clipped = read_image(write_sdr(tmp_path / "c.png", over, bit_depth=8, out_of_range="clip"))
    assert clipped.pixels[0, 0, 0] == 1.0


def test_sdr_write_failure_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    from hdr_mcp.io import image as image_module

    real_write_bytes = Path.write_bytes

    def failing_write_bytes(self: Path, data: bytes) -> int:
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_module.Path, "write_bytes", failing_write_bytes)
    with pytest.raises(OSError):
        write_png(tmp_path / "x.png", _rgb8())
    assert list(tmp_path.iterdir()) == []
