"""Video probe / frame streaming / preview writer (PyAV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from hdr_mcp.errors import InvalidArgument, UnsupportedFile
from hdr_mcp.io.video import VideoWriter, iter_frames, probe

# BT.709 / BT.601 luma coefficients (Rec. ITU-R BT.709-6 item 3.2, BT.601-7 item 2.5.1).
KR_KB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}


def _grey_levels(n: int) -> list[int]:
    return [16 + 20 * i for i in range(n)]


def write_test_video(
    path: Path,
    n: int = 12,
    size: tuple[int, int] = (48, 64),
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    tag_709: bool = True,
) -> Path:
    """Flat grey frames (level 16 + 20 i) with PyAV directly, independent of VideoWriter."""
    from av.video.reformatter import ColorRange, Colorspace

    h, w = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if codec == "libx264":
            stream.options = {"qp": "0"}
        if tag_709:
            cc = stream.codec_context
            cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1
        for level in _grey_levels(n):
            rgb = np.full((h, w, 3), level, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pix_fmt != "rgb24":
                frame = frame.reformat(
                    format=pix_fmt,
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def video(tmp_path) -> Path:
    return write_test_video(tmp_path / "clip.mp4")


def test_probe(video):
    info = probe(video)
    assert {
        k: info[k] for k in ("width", "height", "fps", "frames", "codec", "pix_fmt", "bit_depth")
    } == {
        "width": 64,
        "height": 48,
        "fps": 24.0,
        "frames": 12,
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "bit_depth": 8,
    }
    assert (info["colorspace"], info["color_trc"], info["color_range"]) == (
        "bt709",
        "bt709",
        "limited",
    )
    assert info["duration_s"] == pytest.approx(0.5)


def test_iter_frames_values_and_range(video):
    frames = list(iter_frames(video))
    assert len(frames) == 12
    assert all(f.dtype == np.float32 and f.shape == (48, 64, 3) for f in frames)
    means = [float(f.mean()) * 255 for f in frames]
    np.testing.assert_allclose(means, _grey_levels(12), atol=1.0)
    middle = list(iter_frames(video, start=3, stop=7))
    assert len(middle) == 4
    np.testing.assert_array_equal(middle[0], frames[3])
    np.testing.assert_array_equal(middle[-1], frames[6])
    assert len(list(iter_frames(video, start=10, stop=100))) == 2


def test_iter_frames_is_lazy_and_closes(video):
    iterator = iter_frames(video, start=0)
    first = next(iterator)
    assert first.shape == (48, 64, 3)
    iterator.close()  # must not raise; the container is closed in the generator's finally


@pytest.mark.parametrize(
    "matrix, size", [("bt709", (48, 64)), ("bt601", (48, 64)), ("bt709", (720, 64))]
)
def test_yuv_matrix_follows_tag_or_size(tmp_path, matrix, size):
    """A saturated colour decodes right with the tagged matrix, or the size convention untagged."""
    from av.video.reformatter import ColorRange, Colorspace

    h, w = size
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[...] = (200, 40, 60)
    tagged = matrix == "bt709" and h == 48
    path = tmp_path / f"{matrix}_{h}.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv444p"
        if tagged:
            stream.codec_context.colorspace = 1
        sws = Colorspace.ITU709 if matrix == "bt709" else Colorspace.ITU601
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv444p", dst_colorspace=sws, dst_color_range=ColorRange.MPEG
        )
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    decoded = next(iter_frames(path)) * 255
    np.testing.assert_allclose(decoded.reshape(-1, 3).mean(0), (200, 40, 60), atol=1.5)


def test_sixteen_bit_video_is_exact(tmp_path):
    path = tmp_path / "deep.mkv"
    values = np.array([[1000, 30000, 65535]], np.uint16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = 8, 4, "rgb48le"
        for packet in stream.encode(
            av.VideoFrame.from_ndarray(np.broadcast_to(values, (4, 8, 3)).copy(), format="rgb48le")
        ):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe(path)
    assert info["bit_depth"] == 16 and info["frames"] == 1
    frame = next(iter_frames(path))
    np.testing.assert_array_equal(frame[0, 0], values[0] / np.float32(65535.0))


def test_ten_bit_video_keeps_more_than_eight_bits(tmp_path):
    path = write_test_video(tmp_path / "ten.mkv", n=3, pix_fmt="yuv420p10le")
    assert probe(path)["bit_depth"] == 10
    frame = next(iter_frames(path))
    assert frame.dtype == np.float32
    # 8-bit results would be multiples of 1/255; the 10-bit path gives finer steps.
    assert not np.allclose(frame * 255, np.round(frame * 255), atol=1e-3)
    assert float(frame.mean()) * 255 == pytest.approx(16, abs=1.0)


def test_writer_round_trip_odd_size_and_atomic(tmp_path):
    target = tmp_path / "out.mp4"
    rng = np.random.default_rng(0)
    frames = [np.full((47, 63, 3), 30 + 15 * i, np.uint8) for i in range(6)]
    with VideoWriter(target, fps=24000 / 1001) as writer:
        for frame in frames[:-1]:
            writer.write(frame)
        writer.write(frames[-1].astype(np.float32) / 255 + rng.normal(0, 1e-4, frames[-1].shape))
        assert not target.exists()  # nothing under the final name until close
    info = probe(target)
    assert (info["width"], info["height"], info["frames"]) == (64, 48, 6)
    assert info["fps"] == pytest.approx(24000 / 1001)
    decoded = list(iter_frames(target))
    for got, want in zip(decoded, frames):
        np.testing.assert_allclose(got[:47, :63] * 255, want, atol=2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writer_leaves_nothing_on_error_or_abort(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(target, fps=24) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("boom")
    writer = VideoWriter(target, fps=24)
    writer.write(np.zeros((16, 16, 3), np.uint8))
    writer.abort()
    writer.abort()
    with pytest.raises(InvalidArgument, match="no frame") as info:
        VideoWriter(target, fps=24).close()
    assert info.value.argument == "frames"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda t: VideoWriter(t / "x.avi", fps=24), "path"),
        (lambda t: VideoWriter(t / "missing" / "x.mp4", fps=24), "path"),
        (lambda t: VideoWriter(t / "x.mp4", fps=0), "fps"),
        (lambda t: VideoWriter(t / "x.mp4", fps=24, crf=60), "crf"),
        (lambda t: probe(t / "missing.mp4"), "path"),
        (lambda t: list(iter_frames(t / "missing.mp4")), "path"),
        (lambda t: list(iter_frames(t / "missing.mp4", start=-1)), "start"),
        (lambda t: list(iter_frames(t / "missing.mp4", start=3, stop=3)), "stop"),
    ],
)
def test_bad_arguments_are_named(tmp_path, call, argument):
    with pytest.raises(InvalidArgument) as info:
        call(tmp_path)
    assert info.value.argument == argument
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_a_frame_of_another_size(tmp_path):
    with VideoWriter(tmp_path / "x.mp4", fps=24) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
        with pytest.raises(InvalidArgument, match="every frame must be 16x16") as info:
            writer.write(np.zeros((16, 18, 3), np.uint8))
        assert info.value.argument == "frame"


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, bytes(range(256)) * 40])
def test_corrupt_video_is_unsupported(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFile) as info:
        probe(path)
    assert info.value.argument == "path"
    with pytest.raises(UnsupportedFile):
        list(iter_frames(path))


def test_truncated_video_fails_cleanly(tmp_path, video):
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises((UnsupportedFile,)):
        probe(cut)
        list(iter_frames(cut))


def _random_mp4(path, frames=24, faststart=True):
    import av

    options = {"movflags": "faststart"} if faststart else {}
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(frames):
            picture = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_header_promising_more_frames_than_decode_raises(tmp_path):
    """A truncated MP4 (header first, so it survives) used to give 9 of 24 frames silently."""
    full = _random_mp4(tmp_path / "full.mp4")
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert probe(cut)["frames"] == 24  # what the header says
    frames = []
    message = r"only \d+ frame\(s\) decode but the header declares 24"
    with pytest.raises(UnsupportedFile, match=message):
        for frame in iter_frames(cut):
            frames.append(frame)  # noqa: PERF402 (the frames before the error are the point)
    assert 0 < len(frames) < 24  # the frames that decode were delivered first
    assert len(list(iter_frames(cut, stop=len(frames)))) == len(frames)  # a range inside is fine


@pytest.mark.parametrize(
    "trc, primaries, transfer, colorspace",
    [
        (1, 1, "bt1886", "lin_rec709"),  # broadcast HD: BT.709 tags, displayed with BT.1886
        (13, 1, "srgb", "lin_rec709"),  # IEC 61966-2-1
        (14, 9, "bt1886", "lin_rec2020"),  # BT.2020 SDR
        (2, 2, None, None),  # untagged: the caller decides
        (16, 9, "pq", "lin_rec2020"),
    ],
)
def test_probe_reports_transfer_and_primaries(tmp_path, trc, primaries, transfer, colorspace):
    import av

    path = tmp_path / "tagged.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.color_trc = trc
        stream.codec_context.color_primaries = primaries
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in stream.encode(frame.reformat(format="yuv420p")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe(path)
    assert (info["transfer"], info["primaries"]) == (transfer, colorspace)


def test_read_frames_gives_the_chosen_frames_of_iter_frames(video):
    from hdr_mcp.io.video import read_frames

    every = list(iter_frames(video))
    chosen = list(read_frames(video, [4, 0, 4, 2]))
    assert [i for i, _ in chosen] == [0, 2, 4]
    for index, frame in chosen:
        np.testing.assert_array_equal(frame, every[index])
    assert list(read_frames(video, [])) == []
    with pytest.raises(InvalidArgument) as info:
        list(read_frames(video, [-1]))
    assert info.value.argument == "indices"
