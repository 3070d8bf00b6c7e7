"""OpenEXR writing and reading (hdr_mcp.io.exr), checked against the OpenEXR bindings directly."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from hdr_mcp.color import colorspace, colorspaces
from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.io import COMPRESSIONS, read_exr, read_exr_info, read_image, read_info, write_exr
from hdr_mcp.io import exr as exr_module

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = sorted(DATA.glob("*.exr"))


def _bindings_read(path: Path) -> tuple[dict, dict]:
    """Read with the OpenEXR bindings, copying inside the block (the header empties on close)."""
    with OpenEXR.File(str(path), separate_channels=True) as f:
        header = dict(f.header())
        channels = {name: np.array(c.pixels) for name, c in f.channels().items()}
    return header, channels


def _rgb(channels: dict, names: str = "RGB") -> np.ndarray:
    return np.stack([channels[c] for c in names], axis=-1)


def _hdr_pixels(height: int = 24, width: int = 40, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Scene-linear test values spanning 2^-15 .. 2^15 plus negatives and zero (OCIO habit)."""
    rng = np.random.default_rng(seed)
    values = 2.0 ** rng.uniform(-15, 15, size=(height, width, channels))
    values *= rng.choice([-1.0, 1.0], size=values.shape, p=[0.1, 0.9])
    values[0, 0] = 0.0
    values[0, 1] = 65504.0
    values[0, 2] = -65504.0
    return values.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Writing: colour tagging, metadata, types, compressions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", colorspaces())
def test_colour_tagging_per_colorspace(tmp_path: Path, name: str) -> None:
    path = write_exr(tmp_path / "c.exr", _hdr_pixels(), colorspace=name)
    header, _ = _bindings_read(path)
    space = colorspace(name)
    np.testing.assert_allclose(header["chromaticities"], space.chromaticities, atol=1e-7)
    if space.interop_id:
        assert header["colorInteropID"] == space.interop_id
    assert OpenEXR.checkColorMetadata(header) == 0
    info = read_exr_info(path)
    assert info.colorspace == name
    assert info.interop_id == (space.interop_id or None)


def test_interop_ids_of_standard_spaces(tmp_path: Path) -> None:
    # OpenEXR 3.5's own table agrees with what we write for the spaces it knows.
    for name in ("lin_rec709", "lin_rec2020", "acescg", "aces2065_1", "lin_p3d65"):
        header, _ = _bindings_read(
            write_exr(tmp_path / f"{name}.exr", _hdr_pixels(), colorspace=name)
        )
        assert (
            OpenEXR.chromaticitiesToColorInteropID(header["chromaticities"])
            == header["colorInteropID"]
        )


def test_rec709_chromaticities_values(tmp_path: Path) -> None:
    header, _ = _bindings_read(write_exr(tmp_path / "a.exr", _hdr_pixels()))
    np.testing.assert_allclose(
        header["chromaticities"], (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290), atol=1e-7
    )
    assert header["colorInteropID"] == "lin_rec709_scene"


def test_metadata_round_trip(tmp_path: Path) -> None:
    metadata = {
        "hdr_mcp/prompt": "a desert sun at noon, ünïcode ☀",
        "hdr_mcp/seed": 1234,
        "hdr_mcp/lora": {"name": "logc4", "rank": 16},
        "hdr_mcp/guidance": 3.5,
        "hdr_mcp/output": Path("/tmp/x.exr"),
        "comments": "standard string attribute",
    }
    path = write_exr(tmp_path / "m.exr", _hdr_pixels(), metadata=metadata)
    header, _ = _bindings_read(path)
    assert header["hdr_mcp/prompt"] == "a desert sun at noon, ünïcode ☀"
    assert header["hdr_mcp/seed"] == "1234"
    assert json.loads(header["hdr_mcp/lora"]) == {"name": "logc4", "rank": 16}
    assert header["hdr_mcp/guidance"] == "3.5"
    assert header["hdr_mcp/output"] == "/tmp/x.exr"
    assert header["comments"] == "standard string attribute"
    assert "hdr_mcp/version" in header
    info = read_exr_info(path)
    assert info.attributes["hdr_mcp/prompt"] == metadata["hdr_mcp/prompt"]
    json.dumps(info.to_dict())  # JSON-able, attributes included


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"channels": "x"}, "reserved"),
        ({"chromaticities": "x"}, "reserved"),
        ({"": "x"}, "non-empty"),
        ({"a" * 300: "x"}, "255 bytes"),
        ({"k": object()}, "values must be"),
        ({"k": float("nan")}, "finite"),
        ({"k": "a\0b"}, "NUL"),
        ("not a mapping", "mapping"),
    ],
)
def test_bad_metadata(tmp_path: Path, metadata: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment) as info:
        write_exr(tmp_path / "m.exr", _hdr_pixels(), metadata=metadata)  # type: ignore[arg-type]
    assert info.value.argument == "metadata"
    assert not list(tmp_path.iterdir())


def test_half_and_float_storage(tmp_path: Path) -> None:
    pixels = _hdr_pixels()
    half_path = write_exr(tmp_path / "h.exr", pixels, dtype="half", compression="none")
    float_path = write_exr(tmp_path / "f.exr", pixels, dtype="float", compression="none")
    _, half = _bindings_read(half_path)
    _, full = _bindings_read(float_path)
    assert half["R"].dtype == np.float16 and full["R"].dtype == np.float32
    np.testing.assert_array_equal(_rgb(half), pixels.astype(np.float16))
    np.testing.assert_array_equal(_rgb(full), pixels)
    assert read_exr_info(half_path).dtype == "half" and read_exr_info(half_path).bit_depth == 16
    assert read_exr_info(float_path).dtype == "float" and read_exr_info(float_path).bit_depth == 32
    # Our reader returns float32 for both and keeps negatives and the half extremes.
    back = read_exr(half_path).pixels
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, pixels.astype(np.float16).astype(np.float32))
    assert back.min() == -65504.0 and back.max() == 65504.0


def test_float64_and_float16_inputs(tmp_path: Path) -> None:
    pixels = _hdr_pixels().astype(np.float64)
    np.testing.assert_array_equal(
        read_exr(write_exr(tmp_path / "a.exr", pixels, dtype="float")).pixels,
        pixels.astype(np.float32),
    )
    half = pixels.astype(np.float16)
    np.testing.assert_array_equal(
        read_exr(write_exr(tmp_path / "b.exr", half)).pixels, half.astype(np.float32)
    )


LOSSLESS = ("none", "rle", "zips", "zip", "piz")


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
def test_every_compression(tmp_path: Path, compression: str) -> None:
    # Smooth content in a moderate range: what lossy codecs are designed for.
    y, x = np.mgrid[0:64, 0:96].astype(np.float32)
    pixels = np.stack([0.18 + x / 96, 0.5 + y / 64, 2.0 + np.sin(x / 9) + np.cos(y / 7)], axis=-1)
    path = write_exr(tmp_path / f"{compression}.exr", pixels, compression=compression)
    header, channels = _bindings_read(path)
    assert header["compression"] == COMPRESSIONS[compression]
    assert read_exr_info(path).compression == compression
    back = _rgb(channels).astype(np.float32)
    expected = pixels.astype(np.float16).astype(np.float32)
    if compression in LOSSLESS or compression == "pxr24":  # PXR24 is lossless for half
        np.testing.assert_array_equal(back, expected)
    else:
        np.testing.assert_allclose(back, expected, rtol=0.02, atol=0.01)
        assert np.median(np.abs(back - expected) / expected) < 0.01


def test_dwaa_is_lossy_on_noise(tmp_path: Path) -> None:
    pixels = _hdr_pixels(64, 64)
    pixels = np.abs(pixels) % 4.0
    _, channels = _bindings_read(write_exr(tmp_path / "d.exr", pixels, compression="dwaa"))
    back = _rgb(channels).astype(np.float32)
    assert not np.array_equal(back, pixels.astype(np.float16).astype(np.float32))
    assert np.mean(np.abs(back - pixels)) < 0.2


def test_non_contiguous_input_is_written_correctly(tmp_path: Path) -> None:
    rgba = _hdr_pixels(channels=4)
    view = rgba[:, :, :3]  # FACTS: the bindings write garbage for such views unless copied
    assert not view.flags["C_CONTIGUOUS"]
    _, channels = _bindings_read(write_exr(tmp_path / "v.exr", view, compression="zip"))
    np.testing.assert_array_equal(_rgb(channels), view.astype(np.float16))
    flipped = rgba[::-1, ::2, :3].astype(np.float16)[:, :, ::-1]
    _, channels = _bindings_read(write_exr(tmp_path / "w.exr", flipped))
    np.testing.assert_array_equal(_rgb(channels), flipped)


def test_input_array_is_not_modified(tmp_path: Path) -> None:
    pixels = _hdr_pixels().astype(np.float16)
    pixels[1, 1] = np.nan
    before = pixels.copy()
    write_exr(tmp_path / "n.exr", pixels, nonfinite="zero")
    np.testing.assert_array_equal(pixels, before)


def test_channel_layouts(tmp_path: Path) -> None:
    pixels = _hdr_pixels(channels=4)
    header, channels = _bindings_read(write_exr(tmp_path / "rgba.exr", pixels))
    assert sorted(channels) == ["A", "B", "G", "R"]
    np.testing.assert_array_equal(_rgb(channels, "RGBA"), pixels.astype(np.float16))
    image = read_exr(tmp_path / "rgba.exr")
    assert image.info.channels == ("R", "G", "B", "A") and image.pixels.shape == (24, 40, 4)

    luminance = pixels[:, :, 0]
    for shape in (luminance, luminance[:, :, None]):
        header, channels = _bindings_read(write_exr(tmp_path / "y.exr", shape))
        assert list(channels) == ["Y"]
        np.testing.assert_array_equal(channels["Y"], luminance.astype(np.float16))
        assert OpenEXR.checkColorMetadata(header) == 0
        image = read_exr(tmp_path / "y.exr")
        assert image.info.channels == ("Y",) and image.pixels.shape == (24, 40, 1)


def test_torch_like_tensor_input(tmp_path: Path) -> None:
    class FakeTensor:  # duck-typed like torch.Tensor: detach().cpu().numpy()
        def __init__(self, array: np.ndarray) -> None:
            self.array = array

        def detach(self) -> FakeTensor:
            return self

        def cpu(self) -> FakeTensor:
            return self

        def numpy(self) -> np.ndarray:
            return self.array

    pixels = _hdr_pixels()
    back = read_exr(write_exr(tmp_path / "t.exr", FakeTensor(pixels), dtype="float")).pixels
    np.testing.assert_array_equal(back, pixels)


# ---------------------------------------------------------------------------------------------
# Pixel policies: NaN / Inf / overflow
# ---------------------------------------------------------------------------------------------


def test_nonfinite_refused_and_counted(tmp_path: Path) -> None:
    pixels = _hdr_pixels()
    pixels[0, 3, 0] = np.nan
    pixels[0, 4, 1] = np.inf
    pixels[0, 5, 2] = -np.inf
    with pytest.raises(InvalidArgument, match=r"3 non-finite values \(1 NaN, 2 Inf\)") as info:
        write_exr(tmp_path / "n.exr", pixels)
    assert info.value.argument == "pixels"
    assert "nonfinite='zero'" in str(info.value)
    assert not list(tmp_path.iterdir())


def test_nonfinite_zero(tmp_path: Path) -> None:
    pixels = _hdr_pixels()
    pixels[0, 3] = [np.nan, np.inf, -np.inf]
    for dtype in ("half", "float"):
        back = read_exr(
            write_exr(tmp_path / f"{dtype}.exr", pixels, nonfinite="zero", dtype=dtype)
        ).pixels
        np.testing.assert_array_equal(back[0, 3], [0.0, 0.0, 0.0])
        assert np.isfinite(back).all()


def test_half_overflow_policy(tmp_path: Path) -> None:
    pixels = _hdr_pixels()
    pixels[2, 2] = [70000.0, -1.0e6, 65510.0]  # 65510 rounds to 65504 in half: not an overflow
    with pytest.raises(
        InvalidArgument, match=r"2 values beyond \+-65504 \(largest \|x\| = 1e\+06\)"
    ) as info:
        write_exr(tmp_path / "o.exr", pixels)
    assert info.value.argument == "pixels"
    assert "overflow='clamp'" in str(info.value)
    back = read_exr(write_exr(tmp_path / "o.exr", pixels, overflow="clamp")).pixels
    np.testing.assert_array_equal(back[2, 2], [65504.0, -65504.0, 65504.0])
    # float storage needs no clamping
    back = read_exr(write_exr(tmp_path / "f.exr", pixels, dtype="float")).pixels
    np.testing.assert_array_equal(back[2, 2], pixels[2, 2])


def test_float32_overflow_from_float64(tmp_path: Path) -> None:
    pixels = _hdr_pixels().astype(np.float64)
    pixels[0, 0, 0] = 1e300
    with pytest.raises(InvalidArgument, match="too large for dtype='float'"):
        write_exr(tmp_path / "o.exr", pixels, dtype="float")
    back = read_exr(write_exr(tmp_path / "o.exr", pixels, dtype="float", overflow="clamp")).pixels
    assert back[0, 0, 0] == np.finfo(np.float32).max


def test_negatives_are_kept(tmp_path: Path) -> None:
    pixels = np.full((4, 4, 3), -0.25, dtype=np.float32)
    np.testing.assert_array_equal(read_exr(write_exr(tmp_path / "n.exr", pixels)).pixels, pixels)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"colorspace": "srgb"}, "colorspace"),
        ({"compression": "ZIP"}, "compression"),
        ({"compression": "zstd"}, "compression"),
        ({"dtype": "float16"}, "dtype"),
        ({"nonfinite": "clip"}, "nonfinite"),
        ({"overflow": "zero"}, "overflow"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict, argument: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        write_exr(tmp_path / "x.exr", _hdr_pixels(), **kwargs)
    assert info.value.argument == argument
    assert "expected one of" in str(info.value)


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 4, 2), np.float32),
        np.zeros((4, 4, 5), np.float32),
        np.zeros((4,), np.float32),
        np.zeros((0, 4, 3), np.float32),
        np.zeros((4, 4, 3), np.uint8),
        np.zeros((4, 4, 3), bool),
        np.zeros((4, 4, 3), np.complex64),
    ],
)
def test_bad_pixels(tmp_path: Path, pixels: np.ndarray) -> None:
    with pytest.raises(InvalidArgument) as info:
        write_exr(tmp_path / "x.exr", pixels)
    assert info.value.argument == "pixels"


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist") as info:
        write_exr(tmp_path / "missing" / "x.exr", _hdr_pixels())
    assert info.value.argument == "path"
    with pytest.raises(InvalidArgument, match="is a directory"):
        write_exr(tmp_path, _hdr_pixels())
    with pytest.raises(InvalidArgument, match="non-empty"):
        write_exr("", _hdr_pixels())


# ---------------------------------------------------------------------------------------------
# Atomicity
# ---------------------------------------------------------------------------------------------


def test_no_partial_file_when_the_write_fails_midway(tmp_path: Path, monkeypatch) -> None:
    real_file = OpenEXR.File

    class FailingFile:
        """Writes half a real file to the temporary path, then dies like a full disk would."""

        def __init__(self, header: dict, channels: dict) -> None:
            self.inner = real_file(header, channels)

        def write(self, path: str) -> None:
            self.inner.write(path)
            size = os.path.getsize(path)
            with open(path, "r+b") as handle:
                handle.truncate(size // 2)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(exr_module.OpenEXR, "File", FailingFile)
    with pytest.raises(OSError, match="No space left"):
        write_exr(tmp_path / "x.exr", _hdr_pixels())
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch) -> None:
    target = write_exr(tmp_path / "x.exr", _hdr_pixels(seed=1))
    before = target.read_bytes()

    class Exploding:
        def __init__(self, header: dict, channels: dict) -> None:
            pass

        def write(self, path: str) -> None:
            Path(path).write_bytes(b"\x76\x2f\x31\x01partial")
            raise RuntimeError("boom")

    monkeypatch.setattr(exr_module.OpenEXR, "File", Exploding)
    with pytest.raises(RuntimeError, match="boom"):
        write_exr(target, _hdr_pixels(seed=2))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.exr"]


def test_overwrite_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "x.exr"
    write_exr(target, np.zeros((4, 4, 3), np.float32))
    write_exr(target, np.ones((4, 4, 3), np.float32))
    np.testing.assert_array_equal(read_exr(target).pixels, 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.exr"]


# ---------------------------------------------------------------------------------------------
# Reading files written by others
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_blender_hdri_round_trip(tmp_path: Path, path: Path) -> None:
    original = read_exr(path)
    _header, channels = _bindings_read(path)
    np.testing.assert_array_equal(original.pixels, _rgb(channels).astype(np.float32))
    assert original.info.colorspace == "lin_rec709" and original.info.dtype == "half"
    assert original.pixels.max() > 20  # a sun, a window, an overcast sky: not display-referred

    copy = write_exr(tmp_path / path.name, original.pixels, metadata={"hdr_mcp/source": str(path)})
    copy_header, copy_channels = _bindings_read(copy)
    for name in "RGB":
        np.testing.assert_array_equal(copy_channels[name], channels[name])  # exact for half
    assert OpenEXR.checkColorMetadata(copy_header) == 0
    np.testing.assert_array_equal(read_exr(copy).pixels, original.pixels)


def test_tiled_exr(tmp_path: Path) -> None:
    pixels = _hdr_pixels(40, 50).astype(np.float16)
    tiles = OpenEXR.TileDescription()
    tiles.xSize, tiles.ySize = 16, 16
    tiles.mode, tiles.roundingMode = OpenEXR.ONE_LEVEL, OpenEXR.ROUND_DOWN
    header = {"type": OpenEXR.tiledimage, "tiles": tiles, "compression": OpenEXR.PIZ_COMPRESSION}
    OpenEXR.File(header, {"RGB": pixels}).write(str(tmp_path / "t.exr"))
    image = read_image(tmp_path / "t.exr")
    assert image.info.tiled and image.info.compression == "piz"
    assert image.info.attributes["tiles"] == {
        "x_size": 16,
        "y_size": 16,
        "mode": "ONE_LEVEL",
        "rounding_mode": "ROUND_DOWN",
    }
    np.testing.assert_array_equal(image.pixels, pixels.astype(np.float32))
    json.dumps(image.info.to_dict())


def test_uint_and_luminance_only_files(tmp_path: Path) -> None:
    values = np.arange(48, dtype=np.uint32).reshape(6, 8)
    OpenEXR.File({}, {"R": values, "G": values + 1, "B": values + 2}).write(str(tmp_path / "u.exr"))
    image = read_exr(tmp_path / "u.exr")
    assert image.info.dtype == "uint" and image.info.bit_depth == 32
    np.testing.assert_array_equal(image.pixels[:, :, 2], values + 2)

    y = np.linspace(0, 1000, 48, dtype=np.float32).reshape(6, 8)
    OpenEXR.File({}, {"Y": y}).write(str(tmp_path / "y.exr"))
    image = read_exr(tmp_path / "y.exr")
    assert image.info.channels == ("Y",) and image.info.dtype == "float"
    assert "Rec.709 primaries assumed" in " ".join(image.info.notes)
    np.testing.assert_array_equal(image.pixels[:, :, 0], y)


def test_arbitrary_channel_sets(tmp_path: Path) -> None:
    plane = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    OpenEXR.File({}, {"R": plane, "G": plane * 2, "B": plane * 3, "Z": plane * 10}).write(
        str(tmp_path / "rgbz.exr")
    )
    image = read_exr(tmp_path / "rgbz.exr")
    assert image.info.channels == ("R", "G", "B")
    assert any("ignored channels: Z" in note for note in image.info.notes)
    np.testing.assert_array_equal(image.pixels[:, :, 1], plane * 2)
    assert [c["name"] for c in image.info.attributes["channels"]] == ["B", "G", "R", "Z"]

    OpenEXR.File(
        {}, {"diffuse.R": plane, "diffuse.G": plane * 2, "diffuse.B": plane * 3, "depth.Z": plane}
    ).write(str(tmp_path / "layers.exr"))
    image = read_exr(tmp_path / "layers.exr")
    assert image.info.channels == ("diffuse.R", "diffuse.G", "diffuse.B")
    np.testing.assert_array_equal(image.pixels[:, :, 2], plane * 3)

    OpenEXR.File({}, {"Z": plane}).write(str(tmp_path / "z.exr"))
    assert read_exr(tmp_path / "z.exr").info.channels == ("Z",)

    OpenEXR.File({}, {"U": plane, "V": plane}).write(str(tmp_path / "uv.exr"))
    with pytest.raises(UnsupportedFile, match="channels are U, V") as info:
        read_exr(tmp_path / "uv.exr")
    assert info.value.argument == "path"


def test_multi_part_reads_first_part(tmp_path: Path) -> None:
    beauty = _hdr_pixels(10, 12).astype(np.float16)
    parts = [
        OpenEXR.Part({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": beauty}, name="beauty"),
        OpenEXR.Part({}, {"Z": np.ones((10, 12), np.float32)}, name="depth"),
    ]
    OpenEXR.File(parts).write(str(tmp_path / "mp.exr"))
    image = read_image(tmp_path / "mp.exr")
    assert image.info.parts == 2
    assert any("only part 0" in note for note in image.info.notes)
    np.testing.assert_array_equal(image.pixels, beauty.astype(np.float32))
    with pytest.raises(UnsupportedFile, match="2 parts"):
        read_exr(tmp_path / "mp.exr", max_pixels=150)  # each part fits, both do not


def test_windows_and_colour_fallbacks(tmp_path: Path) -> None:
    pixels = _hdr_pixels(40, 50).astype(np.float16)
    header = {
        "dataWindow": (np.array([10, 20], np.int32), np.array([59, 59], np.int32)),
        "displayWindow": (np.array([0, 0], np.int32), np.array([99, 99], np.int32)),
        "chromaticities": colorspace("acescg").chromaticities,
    }
    OpenEXR.File(header, {"RGB": pixels}).write(str(tmp_path / "w.exr"))
    info = read_info(tmp_path / "w.exr")
    assert (info.width, info.height) == (50, 40)
    assert info.data_window == (10, 20, 59, 59) and info.display_window == (0, 0, 99, 99)
    assert info.colorspace == "acescg" and info.interop_id is None
    assert info.transfer == "linear"


def test_colorinteropid_wins_over_contradicting_chromaticities(tmp_path: Path) -> None:
    header = {
        "colorInteropID": "lin_ap1_scene",
        "chromaticities": colorspace("lin_rec709").chromaticities,
    }
    OpenEXR.File(header, {"RGB": _hdr_pixels().astype(np.float16)}).write(str(tmp_path / "c.exr"))
    info = read_exr_info(tmp_path / "c.exr")
    assert info.colorspace == "acescg"
    assert any("disagree" in note for note in info.notes)


# ---------------------------------------------------------------------------------------------
# Bad files: never a crash, always a named error
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def real_exr_bytes() -> bytes:
    return (DATA / "sunset.exr").read_bytes()


def _set_data_window(data: bytes, box: tuple[int, int, int, int]) -> bytes:
    key = b"dataWindow\0box2i\0"
    start = data.index(key) + len(key) + 4
    return data[:start] + struct.pack("<4i", *box) + data[start + 16 :]


def test_huge_header_refused_before_allocating(tmp_path: Path) -> None:
    write_exr(tmp_path / "small.exr", _hdr_pixels(16, 16))
    huge = tmp_path / "huge.exr"
    huge.write_bytes(_set_data_window((tmp_path / "small.exr").read_bytes(), (0, 0, 99999, 99999)))
    info = read_info(huge)  # header only: fine
    assert (info.width, info.height) == (100000, 100000)
    tracemalloc.start()
    try:
        with pytest.raises(
            UnsupportedFile, match=r"100000x100000 = 10000000000 pixels exceeds the limit"
        ) as error:
            read_image(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.value.argument == "path"
    assert peak < 5_000_000  # nothing near 10^10 pixels (56 GiB as half) was attempted


def test_max_pixels_argument(tmp_path: Path) -> None:
    path = write_exr(tmp_path / "a.exr", _hdr_pixels(10, 10))
    with pytest.raises(UnsupportedFile, match="the limit of 99; if this size is intended, set HDR_MCP_MAX_PIXELS=100"):
        read_image(path, max_pixels=99)
    assert read_image(path, max_pixels=100).pixels.shape == (10, 10, 3)
    for bad in (0, -1, 1.5, "big", True):
        with pytest.raises(InvalidArgument) as info:
            read_image(path, max_pixels=bad)  # type: ignore[arg-type]
        assert info.value.argument == "max_pixels"


def _corrupt_cases(data: bytes) -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    flipped = bytearray(data)
    header_end = data.index(b"\0\0", data.index(b"type\0")) + 100
    for index in rng.integers(header_end, len(data), 300):
        flipped[index] ^= 0xFF
    return {
        "truncated_half": data[: len(data) // 2],
        "truncated_in_header": data[:120],
        "magic_only": data[:4],
        "flipped_pixels": bytes(flipped),
        "garbage_after_magic": data[:8] + bytes(range(256)) * 4,
    }


@pytest.mark.parametrize(
    "case",
    [
        "truncated_half",
        "truncated_in_header",
        "magic_only",
        "flipped_pixels",
        "garbage_after_magic",
    ],
)
def test_corrupt_exr_is_a_named_error(
    tmp_path: Path, real_exr_bytes: bytes, case: str, capsys
) -> None:
    path = tmp_path / f"{case}.exr"
    path.write_bytes(_corrupt_cases(real_exr_bytes)[case])
    with pytest.raises(UnsupportedFile) as info:
        read_image(path)
    assert info.value.argument == "path" and info.value.value == str(path)
    assert "OpenEXR" in str(info.value)
    # The bindings print a warning on stdout for decode failures; stdout must stay clean
    # (it is the MCP stdio protocol channel).
    assert capsys.readouterr().out == ""


def test_bad_paths_for_reading(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="no such file") as info:
        read_image(tmp_path / "missing.exr")
    assert info.value.argument == "path"
    with pytest.raises(InvalidArgument, match="is a directory"):
        read_image(tmp_path)
    (tmp_path / "empty.exr").write_bytes(b"")
    with pytest.raises(UnsupportedFile, match="empty"):
        read_image(tmp_path / "empty.exr")
    with pytest.raises(UnsupportedFile, match="empty"):
        read_info(tmp_path / "empty.exr")


def test_deep_files_refused(tmp_path: Path) -> None:
    path = write_exr(tmp_path / "d.exr", _hdr_pixels(4, 4))
    data = bytearray(path.read_bytes())
    key = b"type\0string\0"
    start = data.index(key) + len(key)
    (size,) = struct.unpack("<i", data[start : start + 4])
    assert data[start + 4 : start + 4 + size] == b"scanlineimage"
    new = b"deepscanline"
    patched = (
        bytes(data[:start]) + struct.pack("<i", len(new)) + new + bytes(data[start + 4 + size :])
    )
    (tmp_path / "deep.exr").write_bytes(patched)
    with pytest.raises(UnsupportedFile):
        read_image(tmp_path / "deep.exr")


def test_io_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import hdr_mcp.io, sys; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
