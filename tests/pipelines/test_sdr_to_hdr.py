"""SDR -> HDR "classical" pipeline: images, frame folders, videos, ranges, cancellation, errors."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
OpenEXR = pytest.importorskip("OpenEXR")

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.io import read_image, write_exr, write_png, write_sdr
from hdr_mcp.io.video import VideoWriter, probe
from hdr_mcp.jobs.context import JobCancelled, LocalContext
from hdr_mcp.params.sdr_to_hdr import SdrToHdrParams
from hdr_mcp.pipelines.sdr_to_hdr import METHODS, convert, run

# ACEScg (AP1) chromaticities, S-2014-004 (also FACTS.md section 3).
AP1 = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
REC709 = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


def srgb_eotf(v: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 piecewise sRGB EOTF (closed form, independent of hdr_mcp.color)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


# Report ITU-R BT.2446-1 section 6.1.4 / 6.2 with its published constants (closed forms,
# independent of hdr_mcp.color.inverse_tonemap, which derives k2 and k4 from continuity).
K1, K2, K3, K4, Y_SDR_IP = 0.83802, 15.09968, 0.74204, 78.99439, 58.535


def tone_mapping_BT2446_C(y):
    y = np.asarray(y, np.float64)
    ip = Y_SDR_IP / K1
    return np.where(y < ip, K1 * y, K2 * np.log(np.maximum(y, ip) / ip - K3) + K4)


def tone_mapping_inverse_BT2446_C(y):
    y = np.asarray(y, np.float64)
    ip = Y_SDR_IP / K1
    return np.where(y < Y_SDR_IP, y / K1, ip * (np.exp((np.maximum(y, Y_SDR_IP) - K4) / K2) + K3))


def expected_scene(e: np.ndarray, *, peak=1000.0, white=100.0, npu=100.0) -> np.ndarray:
    """Neutral SDR display light -> scene-linear, BT.2446 Method C (pipeline docstring, 3-4)."""
    units = 203.0 / white
    sdr_white = tone_mapping_BT2446_C(peak * units)
    return tone_mapping_inverse_BT2446_C(np.asarray(e) * sdr_white) / units / npu


def exr_header(path: Path) -> dict:
    with OpenEXR.File(str(path)) as f:
        return dict(f.header())  # copied inside: the bindings empty it on close


def exr_pixels(path: Path) -> np.ndarray:
    return read_image(path).pixels


def hidden_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def make_video(path: Path, levels, size=(48, 64)) -> Path:
    """Flat grey frames at the given 8-bit levels with a white patch; x264 lossless (crf 0)."""
    h, w = size
    with VideoWriter(path, fps=24, crf=0) as writer:
        for level in levels:
            rgb = np.full((h, w, 3), level, np.uint8)
            rgb[: h // 2, : w // 2] = 255  # a white patch: highlights must expand above 1.0
            writer.write(rgb)
    return path


@pytest.fixture
def ramp_png(tmp_path) -> Path:
    """48x256 16-bit PNG: each column a code value 0 .. 1."""
    codes = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    return write_sdr(
        tmp_path / "ramp.png",
        np.broadcast_to(codes[None, :, None], (48, 256, 3)).copy(),
        bit_depth=16,
    )


@pytest.fixture
def video(tmp_path) -> Path:
    return make_video(tmp_path / "clip.mp4", [20 * i for i in range(12)])


class StopAfter(LocalContext):
    """A LocalContext whose should_stop() turns true after ``n`` progress reports."""

    def __init__(self, n: int, workdir: Path) -> None:
        super().__init__(workdir, job_id="test")
        self.n = n
        self.reports: list[tuple[float, float | None, str]] = []

    def progress(self, done, total, message=""):
        self.reports.append((done, total, message))

    def should_stop(self) -> bool:
        return len(self.reports) >= self.n


# -- end to end --------------------------------------------------------------------------------


def test_single_image_end_to_end(tmp_path, ramp_png):
    out = tmp_path / "out"
    result = convert(ramp_png, output_dir=out)
    json.dumps(result)  # JSON-safe
    assert result["frames"] == 1 and result["exr_count"] == 1
    assert result["exr_pattern"] == str(out / "frame_%05d.exr")
    assert result["preview_mp4"] is None
    assert Path(result["preview_png"]).is_file()
    (exr,) = map(Path, result["exr_paths"])
    assert exr == out / "frame_00000.exr"
    pixels = exr_pixels(exr)
    assert pixels.shape == (48, 256, 3)
    codes = read_image(ramp_png).pixels[0, :, 0]
    np.testing.assert_allclose(
        pixels[0, :, 1], expected_scene(srgb_eotf(codes)), rtol=1.5e-3, atol=1e-6
    )
    # Code 1.0 -> target_peak / nits_per_unit: no clamp at 1.0.
    assert pixels[..., :].max() == pytest.approx(10.0, rel=1e-3)
    assert result["peak_scene"] == pytest.approx(10.0, rel=1e-6)
    assert result["peak_nits"] == pytest.approx(1000.0, rel=1e-6)
    assert np.count_nonzero(pixels[0, :, 1] > 1.0) > 10
    # Monotone in the code value (strictly where codes differ by more than half-float steps).
    luminance = pixels[0] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert np.all(np.diff(luminance) > 0)
    header = exr_header(exr)
    assert header["hdr_mcp/method"] == "classical" and header["hdr_mcp/operator"] == "bt2446c"
    assert header["hdr_mcp/source_frame"] == "0"
    assert json.loads(header["hdr_mcp/parameters"])["target_peak_nits"] == 1000.0
    np.testing.assert_allclose(header["chromaticities"], REC709, atol=1e-6)
    assert header["colorInteropID"] == "lin_rec709_scene"
    assert sorted(p.name for p in out.iterdir()) == ["frame_00000.exr", "preview.png"]


def test_output_colorspace_is_tagged_and_converted(tmp_path, ramp_png):
    colour = pytest.importorskip("colour")
    rec709 = convert(ramp_png, output_dir=tmp_path / "a", preview=False)
    ap1 = convert(ramp_png, output_dir=tmp_path / "b", colorspace="acescg", preview=False)
    header = exr_header(Path(ap1["exr_paths"][0]))
    np.testing.assert_allclose(header["chromaticities"], AP1, atol=1e-6)
    assert header["colorInteropID"] == "lin_ap1_scene"
    matrix = colour.matrix_RGB_to_RGB(
        colour.RGB_COLOURSPACES["ITU-R BT.709"],
        colour.RGB_COLOURSPACES["ACEScg"],
        chromatic_adaptation_transform="Bradford",
    )
    expected = exr_pixels(Path(rec709["exr_paths"][0])).astype(np.float64) @ matrix.T
    np.testing.assert_allclose(
        exr_pixels(Path(ap1["exr_paths"][0])), expected, rtol=3e-3, atol=1e-4
    )
    assert ap1["preview_png"] is None and not (tmp_path / "b" / "preview.png").exists()


def test_reference_white_and_report_operating_point(tmp_path):
    # diffuse_white 2.03 at 100 cd/m^2 per unit = BT.2408's 203 cd/m^2: the Report's curve exactly.
    level = float(
        tone_mapping_BT2446_C(203.0) / tone_mapping_BT2446_C(1000.0)
    )  # SDR share of ref. white
    codes = np.array([[[level] * 3, [1.0] * 3, [0.0] * 3]], np.float32)
    path = tmp_path / "lin.tif"
    # A code value whose sRGB decode is `level`: invert the closed form.
    code = 1.055 * level ** (1 / 2.4) - 0.055
    codes[0, 0] = code
    write_sdr(path, codes, bit_depth=16)
    result = convert(path, output_dir=tmp_path / "o", diffuse_white=2.03, preview=False)
    pixels = exr_pixels(Path(result["exr_paths"][0]))[0]
    quantised = read_image(path).pixels[0, 0, 0]
    expected = (
        tone_mapping_inverse_BT2446_C(srgb_eotf(quantised) * tone_mapping_BT2446_C(1000.0)) / 100.0
    )
    assert pixels[0, 1] == pytest.approx(expected, rel=1e-3)
    assert pixels[0, 1] == pytest.approx(2.03, rel=2e-3)  # reference white lands on diffuse_white
    assert pixels[1, 1] == pytest.approx(10.0, rel=1e-3)
    assert pixels[2, 1] == 0.0


def test_bt1886_and_power_operator(tmp_path):
    path = write_png(tmp_path / "grey.png", np.full((8, 8, 3), 128, np.uint8))
    e = (128 / 255) ** 2.4
    bt1886 = convert(path, output_dir=tmp_path / "a", transfer="bt1886", preview=False)
    value = exr_pixels(Path(bt1886["exr_paths"][0]))[0, 0, 0]
    assert value == pytest.approx(float(expected_scene(e)), rel=1e-3)
    power = convert(path, output_dir=tmp_path / "b", operator="power", preview=False)
    gamma = power["parameters"]["operator_params"]["gamma"]
    value = exr_pixels(Path(power["exr_paths"][0]))[0, 0, 0]
    assert value == pytest.approx(10.0 * float(srgb_eotf(128 / 255)) ** gamma, rel=1e-3)


def test_folder_and_pattern_of_frames(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, level in enumerate([10, 60, 120, 180, 250]):
        write_png(frames / f"f_{i + 1}.png", np.full((6, 10, 3), level, np.uint8))
    result = convert(frames, output_dir=tmp_path / "out")
    assert result["frames"] == 5 and result["input"]["kind"] == "sequence"
    assert result["exr_paths"] == [
        str(tmp_path / "out" / "frame_00000.exr"),
        str(tmp_path / "out" / "frame_00004.exr"),
    ]
    assert result["exr_count"] == 5
    assert [p.name for p in sorted((tmp_path / "out").glob("*.exr"))] == [
        f"frame_{i:05d}.exr" for i in range(5)
    ]
    info = probe(result["preview_mp4"])
    assert (info["frames"], info["fps"], info["width"], info["height"]) == (5, 24.0, 10, 6)
    means = [exr_pixels(tmp_path / "out" / f"frame_{i:05d}.exr").mean() for i in range(5)]
    assert np.all(np.diff(means) > 0)
    header = exr_header(tmp_path / "out" / "frame_00002.exr")
    assert header["hdr_mcp/source_file"].endswith("f_3.png")
    ranged = convert(
        str(frames / "f_%d.png"), output_dir=tmp_path / "ranged", start=1, stop=3, preview=False
    )
    assert ranged["frames"] == 2
    assert sorted(p.name for p in (tmp_path / "ranged").iterdir()) == [
        "frame_00001.exr",
        "frame_00002.exr",
    ]
    np.testing.assert_array_equal(
        exr_pixels(tmp_path / "ranged" / "frame_00002.exr"),
        exr_pixels(tmp_path / "out" / "frame_00002.exr"),
    )


def test_video_frame_range_and_no_pumping(tmp_path):
    levels = [60, 250, 10, 200, 60, 30, 60]  # frames 0, 4 and 6 are the same picture
    clip = make_video(tmp_path / "clip.mp4", levels)
    result = convert(clip, output_dir=tmp_path / "all")
    assert result["frames"] == 7 and result["input"]["kind"] == "video"
    out = [exr_pixels(tmp_path / "all" / f"frame_{i:05d}.exr") for i in range(7)]
    # Fixed parameters per shot: the same SDR frame gives the same HDR frame wherever it stands.
    np.testing.assert_array_equal(out[0], out[4])
    np.testing.assert_array_equal(out[0], out[6])
    assert out[1].max() == pytest.approx(10.0, rel=1e-3)  # the white patch expands
    ranged = convert(clip, output_dir=tmp_path / "range", start=2, stop=5)
    assert ranged["frames"] == 3
    assert sorted(p.name for p in (tmp_path / "range").glob("*.exr")) == [
        "frame_00002.exr",
        "frame_00003.exr",
        "frame_00004.exr",
    ]
    for i in (2, 3, 4):
        np.testing.assert_array_equal(exr_pixels(tmp_path / "range" / f"frame_{i:05d}.exr"), out[i])
    assert probe(ranged["preview_mp4"])["frames"] == 3
    assert exr_header(tmp_path / "range" / "frame_00003.exr")["hdr_mcp/source_frame"] == "3"


def test_progress_and_run_handler(tmp_path, video):
    reports = []
    ctx = LocalContext(tmp_path / "work", on_progress=lambda d, t, m: reports.append((d, t)))
    result = run({"input": str(video), "stop": 4}, ctx)
    assert reports == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert result["output_dir"] == str(tmp_path / "work")
    assert (tmp_path / "work" / "frame_00003.exr").is_file()
    assert SdrToHdrParams.model_json_schema()["properties"]["target_peak_nits"]["maximum"] == 10000


@pytest.mark.parametrize(
    "params, argument",
    [
        ({"method": "ltx2"}, "method"),
        ({"target_peak_nits": 20000}, "target_peak_nits"),
        ({"unknown": 1}, "unknown"),
        ({"input": 5}, "input"),
    ],
)
def test_run_handler_names_bad_params(tmp_path, video, params, argument):
    with pytest.raises(InvalidArgument) as info:
        run({"input": str(video), **params}, LocalContext(tmp_path / "work"))
    assert info.value.argument == argument


def test_cancellation_keeps_finished_frames_and_no_partial_files(tmp_path, video):
    out = tmp_path / "out"
    ctx = StopAfter(2, tmp_path)
    with pytest.raises(JobCancelled, match="after 2 of 12"):
        convert(video, output_dir=out, ctx=ctx)
    # (preview.png is the middle frame, 5, never reached)
    assert sorted(p.name for p in out.iterdir()) == ["frame_00000.exr", "frame_00001.exr"]
    assert not (out / "preview.mp4").exists()
    assert hidden_files(out) == []
    exr_pixels(out / "frame_00001.exr")  # complete and readable


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_input, kwargs, error, argument, match",
    [
        (lambda t, v: t / "missing.mp4", {}, InvalidArgument, "input", "no such file"),
        (lambda t, v: t / "missing.png", {}, InvalidArgument, "input", "no such file"),
        (lambda t, v: v, {"method": "ltx2"}, InvalidArgument, "method", "classical"),
        (
            lambda t, v: v,
            {"target_peak_nits": 80.0},
            InvalidArgument,
            "target_peak_nits",
            "above the reference white",
        ),
        (lambda t, v: v, {"target_peak_nits": 10001.0}, InvalidArgument, "target_peak_nits", "less than or equal to 10000"),
        (
            lambda t, v: v,
            {"target_peak_nits": float("nan")},
            InvalidArgument,
            "target_peak_nits",
            "finite number",
        ),
        (lambda t, v: v, {"diffuse_white": 0.0}, InvalidArgument, "diffuse_white", "greater than 0"),
        (lambda t, v: v, {"nits_per_unit": 0.01}, InvalidArgument, "nits_per_unit", "half-float"),
        (lambda t, v: v, {"start": 12}, InvalidArgument, "start", "12 frame"),
        (lambda t, v: v, {"start": 2, "stop": 13}, InvalidArgument, "stop", "stop must be <= 12"),
        (lambda t, v: v, {"start": 4, "stop": 4}, InvalidArgument, "stop", "greater than start=4"),
        (lambda t, v: v, {"colorspace": "srgb"}, InvalidArgument, "colorspace", "lin_rec2020"),
        (lambda t, v: v, {"compression": "zstd"}, InvalidArgument, "compression", "piz"),
        (lambda t, v: v, {"operator": "reinhard"}, InvalidArgument, "operator", "bt2446c"),
        (lambda t, v: v, {"transfer": "pq"}, InvalidArgument, "transfer", "bt1886"),
        (lambda t, v: v, {"preview": "maybe"}, InvalidArgument, "preview", "valid boolean"),
        (lambda t, v: v, {"fps": -1}, InvalidArgument, "fps", "greater than 0"),
    ],
)
def test_bad_arguments_are_named_before_any_work(
    tmp_path, video, make_input, kwargs, error, argument, match
):
    out = tmp_path / "out"
    with pytest.raises(error, match=match) as info:
        convert(make_input(tmp_path, video), output_dir=out, **kwargs)
    assert info.value.argument == argument
    assert not out.exists()


@pytest.mark.parametrize(
    "content", [b"\x00\x00\x00\x18ftypmp42" + bytes(2000), bytes(range(256)) * 20]
)
def test_corrupt_video_is_refused(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(UnsupportedFile) as info:
        convert(bad, output_dir=tmp_path / "out")
    assert info.value.argument == "input"
    assert not (tmp_path / "out").exists()


def test_hdr_inputs_are_refused(tmp_path):
    exr = write_exr(tmp_path / "hdr.exr", np.ones((4, 4, 3), np.float32))
    with pytest.raises(InvalidArgument, match="scene-linear HDR already") as info:
        convert(exr, output_dir=tmp_path / "out")
    assert info.value.argument == "input"
    pq = tmp_path / "pq.mkv"
    with av.open(str(pq), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.color_trc = 16  # SMPTE ST 2084
        frame = av.VideoFrame.from_ndarray(
            np.zeros((16, 16, 3), np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(InvalidArgument, match="PQ") as info:
        convert(pq, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_extensions_are_detected_by_content(tmp_path, video):
    image = tmp_path / "plate.bin"
    image.write_bytes(
        write_png(tmp_path / "plate.png", np.full((4, 6, 3), 90, np.uint8)).read_bytes()
    )
    assert convert(image, output_dir=tmp_path / "a", preview=False)["input"]["kind"] == "image"
    clip = tmp_path / "clip.data"
    clip.write_bytes(video.read_bytes())
    result = convert(clip, output_dir=tmp_path / "b", stop=2, preview=False)
    assert (result["input"]["kind"], result["frames"]) == ("video", 2)
    junk = tmp_path / "notes.data"
    junk.write_text("not a picture")
    with pytest.raises(UnsupportedFile, match="neither an image") as info:
        convert(junk, output_dir=tmp_path / "c")
    assert info.value.argument == "input"


def test_output_dir_must_be_a_folder(tmp_path, video):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(InvalidArgument) as info:
        convert(video, output_dir=file)
    assert info.value.argument == "output_dir"


def test_sequence_frame_of_another_size_fails_when_reached(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, shape in enumerate([(6, 10), (8, 10), (6, 10)]):
        write_png(frames / f"f_{i}.png", np.full((*shape, 3), 100, np.uint8))
    with pytest.raises(InvalidArgument, match="all frames must have one size") as info:
        convert(frames, output_dir=tmp_path / "out")
    assert info.value.argument == "input"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["frame_00000.exr"]


def test_methods_lists_only_implemented_ones():
    assert METHODS == ("classical",)


# -- memory ------------------------------------------------------------------------------------


def _peak_traced(clip: Path, out: Path, frames: int) -> int:
    tracemalloc.start()
    try:
        convert(clip, output_dir=out, stop=frames)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_constant_in_the_frame_count(tmp_path):
    clip = make_video(tmp_path / "long.mp4", [(5 * i) % 256 for i in range(48)], size=(120, 160))
    convert(
        clip, output_dir=tmp_path / "warm", stop=2
    )  # imports and caches outside the measurement
    short = _peak_traced(clip, tmp_path / "short", 6)
    long = _peak_traced(clip, tmp_path / "long", 48)
    # One frame of float32 RGB here is 230 kB; keeping the 48 frames would add ~11 MB.
    assert long < 1.25 * short + 200_000, (short, long)
