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
    result = convert(ramp_png, output_dir=out, operator="bt2446c")
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


def test_default_auto_operator_keeps_mid_tones_linear_and_reports_the_analysis(tmp_path):
    # A ramp with 2 of 256 columns at the top codes: nothing reads as clipped, so the shot is
    # "compressed" (softness 1, knee 0.3 in display light).
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32) ** 3
    path = write_sdr(
        tmp_path / "ramp.png", np.broadcast_to(ramp[None, :, None], (32, 256, 3)).copy(),
        bit_depth=16,
    )
    out = tmp_path / "out"
    result = convert(path, output_dir=out)
    pixels = exr_pixels(Path(result["exr_paths"][0]))
    codes = read_image(path).pixels[0, :, 0].astype(np.float64)
    display = srgb_eotf(codes)
    # Below the knee scene-linear = SDR display light x diffuse_white (1.0).
    below = display < 0.29
    np.testing.assert_allclose(pixels[0, below, 1], display[below], rtol=1e-3, atol=1e-6)
    luminance = pixels[0].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    lit = display[1:] > 1e-3  # (darker steps are below half-float resolution)
    assert np.all(np.diff(luminance)[lit] > 0) and np.all(np.diff(luminance) >= 0)
    # SDR white: at most 1000/203 x reference white (BT.2408's ratio), under target_peak_nits.
    assert result["peak_scene"] == pytest.approx(1000.0 / 203.0, rel=2e-3)
    analysis = result["shot_analysis"]
    assert analysis["softness"] == 1.0 and analysis["frames"] == 1
    assert analysis["sdr_white_nits"] == pytest.approx(100.0 * 1000.0 / 203.0)
    assert (result["transfer_used"], result["primaries_used"]) == ("srgb", "lin_rec709")
    assert "image" in result["transfer_reason"]
    header = exr_header(Path(result["exr_paths"][0]))
    assert header["hdr_mcp/operator"] == "auto"
    stored = json.loads(header["hdr_mcp/parameters"])
    assert stored["shot_analysis"] == analysis
    assert (stored["transfer"], stored["transfer_used"]) == ("auto", "srgb")


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


def test_bt2446c_at_diffuse_white_2_03_reads_sdr_white_as_118_nits(tmp_path):
    # diffuse_white 2.03 at 100 cd/m^2 per unit = BT.2408's 203 cd/m^2: the Report's curve,
    # unscaled. It is not the Report's SDR operating point: the Report's forward curve sends
    # 1000 cd/m^2 to 118.38 cd/m^2 (published constants), and SDR 1.0 is read as that, not as
    # the 100 cd/m^2 of the Report's SDR display (module docstring, step 3).
    assert tone_mapping_BT2446_C(1000.0) == pytest.approx(118.38, abs=0.01)
    level = float(
        tone_mapping_BT2446_C(203.0) / tone_mapping_BT2446_C(1000.0)
    )  # SDR share of ref. white: 90.65 / 118.38, not the Report's 90.65 / 100
    assert level == pytest.approx(90.65 / 118.38, rel=1e-3)
    codes = np.array([[[level] * 3, [1.0] * 3, [0.0] * 3]], np.float32)
    path = tmp_path / "lin.tif"
    # A code value whose sRGB decode is `level`: invert the closed form.
    code = 1.055 * level ** (1 / 2.4) - 0.055
    codes[0, 0] = code
    write_sdr(path, codes, bit_depth=16)
    result = convert(
        path, output_dir=tmp_path / "o", diffuse_white=2.03, preview=False, operator="bt2446c"
    )
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
    bt1886 = convert(
        path, output_dir=tmp_path / "a", transfer="bt1886", preview=False, operator="bt2446c"
    )
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
    # The white patch (a quarter of every frame) reads as clipped: it expands, towards the
    # inside of the patch, by at most 3x reference white (curve 1.5x, expand map 2x).
    assert 1.5 < out[1].max() <= 3.0
    assert result["shot_analysis"]["softness"] == 0.0
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


# -- what the SDR is: transfer and primaries ---------------------------------------------------

# Rec. ITU-R BT.2020 -> BT.709 (linear RGB, same D65 white), FACTS.md section 1's matrix inverted;
# checked against colour-science in the test where it is installed.
M_2020_TO_709 = np.linalg.inv(
    np.array([[0.627404, 0.329283, 0.043313], [0.069097, 0.919540, 0.011362],
              [0.016391, 0.088013, 0.895595]])
)


def make_tagged_video(path: Path, rgb: tuple[int, int, int], *, trc=None, primaries=None,
                      frames: int = 3, size=(16, 16)) -> Path:
    """Flat-colour H.264 4:4:4 lossless video with the given FFmpeg colour tags (None: untagged)."""
    h, w = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv444p"
        stream.options = {"crf": "0"}
        if trc is not None:
            stream.codec_context.color_trc = trc
        if primaries is not None:
            stream.codec_context.color_primaries = primaries
        picture = np.zeros((h, w, 3), np.uint8) + np.array(rgb, np.uint8)
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv444p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded_codes(path: Path) -> np.ndarray:
    from hdr_mcp.io.video import iter_frames

    return next(iter(iter_frames(path))).astype(np.float64)


def test_video_transfer_follows_its_tag_and_an_explicit_transfer_wins(tmp_path):
    tagged = make_tagged_video(tmp_path / "bt709.mp4", (128, 77, 51), trc=1)  # BT.709
    codes = decoded_codes(tagged)[0, 0]
    auto = convert(tagged, output_dir=tmp_path / "auto", preview=False)
    assert auto["transfer_used"] == "bt1886" and "color_trc=bt709" in auto["transfer_reason"]
    # Dark enough to be below the knee: scene-linear is the BT.1886 display light itself.
    np.testing.assert_allclose(
        exr_pixels(Path(auto["exr_paths"][0]))[0, 0], codes**2.4, rtol=2e-3
    )
    # BT.1886 is about 1.3 stops darker than sRGB at code 0.1 (the figure).
    assert np.log2(srgb_eotf(0.1) / 0.1**2.4) == pytest.approx(1.33, abs=0.05)
    given = convert(tagged, output_dir=tmp_path / "srgb", transfer="srgb", preview=False)
    assert (given["transfer_used"], given["transfer_reason"]) == ("srgb", "given")
    np.testing.assert_allclose(
        exr_pixels(Path(given["exr_paths"][0]))[0, 0], srgb_eotf(codes), rtol=2e-3
    )
    untagged = make_tagged_video(tmp_path / "plain.mp4", (128, 77, 51))
    plain = convert(untagged, output_dir=tmp_path / "plain", preview=False)
    assert plain["transfer_used"] == "srgb" and "sRGB assumed" in plain["transfer_reason"]
    assert plain["primaries_used"] == "lin_rec709"
    stored = json.loads(exr_header(Path(auto["exr_paths"][0]))["hdr_mcp/parameters"])
    assert (stored["transfer"], stored["transfer_used"]) == ("auto", "bt1886")


def test_bt2020_sdr_video_is_converted_from_bt2020(tmp_path):
    clip = make_tagged_video(tmp_path / "uhd.mp4", (140, 90, 40), trc=14, primaries=9)
    display = decoded_codes(clip)[0, 0] ** 2.4  # BT.2020 10-bit tag -> BT.1886
    result = convert(clip, output_dir=tmp_path / "709", preview=False)
    assert result["primaries_used"] == "lin_rec2020"
    assert "color_primaries=bt2020" in result["primaries_reason"]
    np.testing.assert_allclose(
        exr_pixels(Path(result["exr_paths"][0]))[0, 0], M_2020_TO_709 @ display,
        rtol=3e-3, atol=1e-4,
    )
    kept = convert(clip, output_dir=tmp_path / "2020", colorspace="lin_rec2020", preview=False)
    np.testing.assert_allclose(
        exr_pixels(Path(kept["exr_paths"][0]))[0, 0], display, rtol=2e-3
    )
    wrong = convert(clip, output_dir=tmp_path / "as709", primaries="lin_rec709", preview=False)
    assert (wrong["primaries_used"], wrong["primaries_reason"]) == ("lin_rec709", "given")
    np.testing.assert_allclose(
        exr_pixels(Path(wrong["exr_paths"][0]))[0, 0], display, rtol=2e-3
    )


def test_the_bt2020_matrix_used_here_is_colour_sciences():
    colour = pytest.importorskip("colour")
    expected = colour.matrix_RGB_to_RGB(
        colour.RGB_COLOURSPACES["ITU-R BT.2020"], colour.RGB_COLOURSPACES["ITU-R BT.709"]
    )
    np.testing.assert_allclose(M_2020_TO_709, expected, atol=2e-5)


# -- resuming and the writer pipeline -----------------------------------------------------------


def test_a_retried_job_reuses_its_shot_analysis_and_gives_identical_frames(tmp_path, monkeypatch):
    import hdr_mcp.pipelines.sdr_to_hdr as pipeline

    clip = make_video(tmp_path / "clip.mp4", [20 * i for i in range(12)])
    whole = convert(clip, output_dir=tmp_path / "whole")
    work = tmp_path / "job"
    work.mkdir()
    with pytest.raises(JobCancelled):  # the first attempt stops after 3 frames
        convert(clip, output_dir=tmp_path / "out", ctx=StopAfter(3, work))
    assert (work / pipeline.ANALYSIS_FILE).is_file()
    # A retry (same job, same working directory) must not measure the shot again.
    monkeypatch.setattr(pipeline, "_analyse", lambda plan: pytest.fail("measured again"))
    retry = convert(clip, output_dir=tmp_path / "out", ctx=LocalContext(work))
    assert (retry["frames"], retry["resumed_frames"]) == (12, 3)
    assert retry["shot_analysis"] == whole["shot_analysis"]
    for i in range(12):
        np.testing.assert_array_equal(
            exr_pixels(tmp_path / "out" / f"frame_{i:05d}.exr"),
            exr_pixels(tmp_path / "whole" / f"frame_{i:05d}.exr"),
        )


def test_the_stored_analysis_is_the_one_used(tmp_path):
    import hdr_mcp.pipelines.sdr_to_hdr as pipeline

    clip = make_video(tmp_path / "clip.mp4", [60, 120, 180])
    work = tmp_path / "job"
    first = run({"input": str(clip), "output_dir": str(tmp_path / "a")}, LocalContext(work))
    record = json.loads((work / pipeline.ANALYSIS_FILE).read_text())
    assert record["analysis"] == {
        k: first["shot_analysis"][k] for k in record["analysis"]
    }
    # Another analysis in the store (as if the first attempt had measured differently): the
    # retry expands with it, not with a new measurement.
    record["analysis"].update(softness=1.0, knee=0.3)
    (work / pipeline.ANALYSIS_FILE).write_text(json.dumps(record))
    (work / "output_dir.json").write_text(json.dumps({"output_dir": str(tmp_path / "b")}))
    second = run({"input": str(clip), "output_dir": str(tmp_path / "b")}, LocalContext(work))
    assert (second["shot_analysis"]["softness"], second["shot_analysis"]["knee"]) == (1.0, 0.3)
    assert first["shot_analysis"]["softness"] == 0.0


def test_ranges_of_one_shot_share_its_analysis(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", [250, 250, 40, 40, 40, 40])
    whole = convert(clip, output_dir=tmp_path / "whole", preview=False)
    tail = convert(clip, output_dir=tmp_path / "tail", start=3, preview=False)
    assert tail["shot_analysis"] == whole["shot_analysis"]
    np.testing.assert_array_equal(
        exr_pixels(tmp_path / "tail" / "frame_00004.exr"),
        exr_pixels(tmp_path / "whole" / "frame_00004.exr"),
    )


def test_overlapped_and_serial_conversion_write_the_same_frames(tmp_path, monkeypatch):
    import hdr_mcp.pipelines.sdr_to_hdr as pipeline

    clip = make_video(tmp_path / "clip.mp4", [15 * i for i in range(8)])
    overlapped = convert(clip, output_dir=tmp_path / "a")
    monkeypatch.setattr(pipeline, "QUEUE_FRAMES", 0)
    serial = convert(clip, output_dir=tmp_path / "b")
    assert overlapped["peak_scene"] == serial["peak_scene"]
    for i in range(8):
        np.testing.assert_array_equal(
            exr_pixels(tmp_path / "a" / f"frame_{i:05d}.exr"),
            exr_pixels(tmp_path / "b" / f"frame_{i:05d}.exr"),
        )


def test_a_failing_write_stops_the_run_and_leaves_only_whole_frames(tmp_path, monkeypatch):
    from hdr_mcp.io import ExrSequenceWriter

    original = ExrSequenceWriter.write

    def write(self, pixels, index=None, metadata=None):
        if index == 4:
            raise OSError("disk full")
        return original(self, pixels, index=index, metadata=metadata)

    monkeypatch.setattr(ExrSequenceWriter, "write", write)
    clip = make_video(tmp_path / "clip.mp4", [15 * i for i in range(10)])
    with pytest.raises(OSError, match="disk full"):
        convert(clip, output_dir=tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names[:4] == [f"frame_{i:05d}.exr" for i in range(4)]
    assert "frame_00004.exr" not in names and "preview.mp4" not in names
    assert hidden_files(tmp_path / "out") == []
    for name in names:
        if name.endswith(".exr"):
            exr_pixels(tmp_path / "out" / name)  # whole and readable


# -- bad input ---------------------------------------------------------------------------------


def _pil_png(path: Path, mode: str, value: tuple[int, ...]) -> Path:
    from PIL import Image

    Image.new(mode, (8, 6), value).save(path)
    return path


def _palette_png(path: Path) -> Path:
    from PIL import Image

    image = Image.new("P", (8, 6))
    image.putpalette([0, 0, 0, 200, 120, 40, 255, 255, 255] + [0] * (253 * 3))
    image.putdata([1] * 24 + [2] * 24)
    image.save(path)
    return path


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("grey", lambda p: write_png(p, np.full((6, 8), 90, np.uint8)), (90 / 255,) * 3),
        ("grey_alpha", lambda p: _pil_png(p, "LA", (90, 7)), (90 / 255,) * 3),
        ("palette", _palette_png, (200 / 255, 120 / 255, 40 / 255)),
        ("deep", lambda p: write_sdr(p, np.full((6, 8, 3), 0.25, np.float32), bit_depth=16),
         (16384 / 65535,) * 3),
        ("black", lambda p: write_png(p, np.zeros((6, 8, 3), np.uint8)), (0.0,) * 3),
        ("single_colour", lambda p: write_png(p, np.full((6, 8, 3), (150, 90, 30), np.uint8)),
         (150 / 255, 90 / 255, 30 / 255)),
    ],
)
def test_grey_palette_deep_black_and_flat_images_convert(tmp_path, name, make, expected):
    path = make(tmp_path / f"{name}.png")
    result = convert(path, output_dir=tmp_path / name, preview=False)
    json.dumps(result, allow_nan=False)  # no NaN anywhere, the analysis included
    pixels = exr_pixels(Path(result["exr_paths"][0]))
    assert pixels.shape == (6, 8, 3) and np.all(np.isfinite(pixels))
    # These frames are dark enough to stay below the knee: scene = sRGB display light.
    np.testing.assert_allclose(pixels[0, 0], srgb_eotf(np.array(expected)), rtol=2e-3, atol=1e-7)
    if name != "palette":
        assert np.all(pixels == pixels[0, 0])  # a flat frame stays flat


def test_a_fully_white_frame_reads_as_clipped_and_stays_flat(tmp_path):
    path = write_png(tmp_path / "white.png", np.full((32, 48, 3), 255, np.uint8))
    result = convert(path, output_dir=tmp_path / "out", preview=False)
    json.dumps(result, allow_nan=False)
    pixels = exr_pixels(Path(result["exr_paths"][0]))
    assert result["shot_analysis"]["clipped_fraction"] == 1.0
    assert result["shot_analysis"]["softness"] == 0.0
    # One flat plateau at 3 x reference white (curve 1.5x, expand map 2x everywhere).
    np.testing.assert_allclose(pixels, 3.0, rtol=2e-3)


@pytest.mark.parametrize("suffix", [".tif", ".hdr", ".exr"])
def test_scene_linear_files_are_refused_not_passed_through(tmp_path, suffix):
    import cv2

    path = tmp_path / f"hdr{suffix}"
    if suffix == ".exr":
        write_exr(path, np.full((4, 4, 3), 2.0, np.float32))
    else:
        assert cv2.imwrite(str(path), np.full((4, 4, 3), 2.0, np.float32))
    with pytest.raises(InvalidArgument, match="scene-linear HDR already") as info:
        convert(path, output_dir=tmp_path / "out")
    assert info.value.argument == "input"
    assert "not passed through" in info.value.reason
    assert not (tmp_path / "out").exists()


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
    # auto measures the shot first: the odd frame is found before anything is written
    with pytest.raises(InvalidArgument, match="all frames must have one size") as info:
        convert(frames, output_dir=tmp_path / "auto")
    assert info.value.argument == "input"
    assert not (tmp_path / "auto").exists()
    # a fixed curve reads each frame when it gets there
    with pytest.raises(InvalidArgument, match="all frames must have one size") as info:
        convert(frames, output_dir=tmp_path / "out", operator="bt2446c")
    assert info.value.argument == "input"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["frame_00000.exr"]


def test_methods_lists_only_implemented_ones():
    assert METHODS == ("classical", "ltx2-hdr", "wan-vace")


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
