"""evaluate(): files in, metrics + JSON/PNG reports out; sequences, errors, job handler."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io import read_image, write_exr
from hdr_mcp.jobs.context import JobCancelled, LocalContext
from hdr_mcp.metrics.evaluate import DEFINITIONS, evaluate, run
from hdr_mcp.metrics.fidelity import delta_e_itp, pu21_psnr, pu21_ssim
from hdr_mcp.metrics.qa import DEFINITIONS as QA_DEFINITIONS
from hdr_mcp.params.evaluate import EvaluateParams

DATA = Path(__file__).resolve().parents[1] / "data"


def _small_hdr(seed: int = 0, shape=(40, 56)) -> np.ndarray:
    """A small real HDRI (tests/data, if the io helper shipped some) or a synthetic sky."""
    exrs = sorted(DATA.rglob("*.exr")) if DATA.is_dir() else []
    if exrs:
        x = read_image(exrs[seed % len(exrs)]).pixels[..., :3]
        step = max(1, min(x.shape[0] // shape[0], x.shape[1] // shape[1]))
        return np.ascontiguousarray(x[::step, ::step][: shape[0], : shape[1]], dtype=np.float32)
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    sky = 2.0 ** (6.0 * (1.0 - yy / h) - 3.0)
    sun = 4000.0 * np.exp(-((yy - h * 0.3) ** 2 + (xx - w * 0.6) ** 2) / 6.0)
    base = (sky + sun)[..., None] * np.array([0.8, 0.9, 1.1]) * rng.uniform(0.9, 1.1, (h, w, 1))
    return base.astype(np.float32)


def _write_sequence(folder: Path, frames) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        write_exr(folder / f"frame_{i:04d}.exr", frame, dtype="float")
    return folder


@pytest.fixture
def pair(tmp_path):
    ref = _small_hdr(0)
    pred = ref * np.float32(1.2)
    ref_path = write_exr(tmp_path / "ref.exr", ref, dtype="float")
    pred_path = write_exr(tmp_path / "pred.exr", pred, dtype="float")
    return Path(pred_path), Path(ref_path)


def _strict_json_roundtrip(result: dict) -> dict:
    text = json.dumps(result, allow_nan=False)
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def test_single_image_metrics_match_functions_and_reports_exist(pair, tmp_path):
    pred_path, ref_path = pair
    out = tmp_path / "reports"
    result = evaluate(pred_path, ref_path, nits_per_unit=100.0, output_dir=out)
    pred, ref = read_image(pred_path).pixels, read_image(ref_path).pixels
    m = result["metrics"]
    assert m["pu21_psnr"] == pytest.approx(pu21_psnr(pred, ref, nits_per_unit=100.0), rel=1e-9)
    assert m["pu21_ssim"] == pytest.approx(pu21_ssim(pred, ref, nits_per_unit=100.0), rel=1e-9)
    assert m["delta_e_itp"] == pytest.approx(delta_e_itp(pred, ref, nits_per_unit=100.0), rel=1e-9)
    assert set(m) == {
        "pu21_psnr",
        "pu21_ssim",
        "delta_e_itp",
        "peak_nits",
        "peak_robust_nits",
        "dynamic_range_stops",
        "clipped_fraction",
    }
    assert set(result["definitions"]) == set(m) | set(QA_DEFINITIONS)
    assert result["frames"] == 1 and result["nits_per_unit"] == 100.0
    assert result["prediction"] == str(pred_path) and result["reference"] == str(ref_path)
    assert result["reference_metrics"]["peak_nits"] == pytest.approx(m["peak_nits"] / 1.2, rel=1e-5)
    assert result["non_finite"] == {}
    report = json.loads(Path(result["report_json"]).read_text())
    assert report == _strict_json_roundtrip(result)
    png = PILImage.open(result["report_png"])
    png.load()
    assert png.mode == "RGB" and png.width >= 720 and png.height > 300
    assert Path(result["report_json"]).parent == out
    preview = PILImage.open(result["preview_png"])  # what an MCP client is shown inline
    assert max(preview.size) <= 512 and preview.size[0] / preview.size[1] == pytest.approx(
        pred.shape[1] / pred.shape[0], rel=0.02)


def test_identical_images_give_inf_as_null_plus_flag(pair, tmp_path):
    _, ref_path = pair
    result = evaluate(ref_path, ref_path, output_dir=tmp_path / "same")
    assert result["metrics"]["pu21_psnr"] is None
    assert result["non_finite"] == {"metrics.pu21_psnr": "+inf"}
    assert result["metrics"]["pu21_ssim"] == pytest.approx(1.0)
    assert result["metrics"]["delta_e_itp"] == 0.0
    text = Path(result["report_json"]).read_text()
    assert "Infinity" not in text and "NaN" not in text
    _strict_json_roundtrip(json.loads(text))


def test_without_output_dir_nothing_is_written(pair):
    pred_path, ref_path = pair
    before = sorted(pred_path.parent.iterdir())
    result = evaluate(pred_path, ref_path)
    assert result["report_png"] is None and result["report_json"] is None
    assert result["metrics"]["pu21_psnr"] > 0
    assert sorted(pred_path.parent.iterdir()) == before  # no folder beside the inputs


def test_an_output_dir_holding_files_needs_overwrite(pair, tmp_path):
    pred_path, ref_path = pair
    out = tmp_path / "reports"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgument, match="overwrite") as e:
        evaluate(pred_path, ref_path, output_dir=out)
    assert e.value.argument == "output_dir"
    first = evaluate(pred_path, ref_path, output_dir=out, overwrite=True)
    again = evaluate(pred_path, ref_path, output_dir=out, overwrite=True)
    assert again["metrics"] == first["metrics"]
    assert sorted(p.name for p in out.iterdir()) == [
        "notes.txt", "preview.png", "report.json", "report.png"]  # other files untouched


def test_no_reference_metrics(tmp_path):
    x = _small_hdr(1)
    clamped = np.minimum(x, 1.0)
    p1 = write_exr(tmp_path / "hdr.exr", x, dtype="float")
    p2 = write_exr(tmp_path / "clamped.exr", clamped, dtype="float")
    r1 = evaluate(p1, output_dir=tmp_path / "a")
    r2 = evaluate(p2, output_dir=tmp_path / "b")
    assert "pu21_psnr" not in r1["metrics"] and r1["reference"] is None
    assert r1["reference_metrics"] is None
    assert r2["metrics"]["clipped_fraction"] > 10 * r1["metrics"]["clipped_fraction"]
    assert r2["metrics"]["peak_nits"] <= 100.0 + 1e-3
    assert r1["metrics"]["dynamic_range_stops"] > r2["metrics"]["dynamic_range_stops"]
    PILImage.open(r1["report_png"]).load()


def test_sequences_folder_pattern_glob_and_progress(tmp_path):
    base = _small_hdr(2, shape=(24, 32))
    gains = [1.0, 1.1, 0.9, 1.05]
    ref_dir = _write_sequence(tmp_path / "ref", [base * np.float32(g) for g in gains])
    pred_dir = _write_sequence(tmp_path / "pred", [base * np.float32(g * 1.02) for g in gains])
    reports: list[tuple] = []
    ctx = LocalContext(tmp_path / "work", on_progress=lambda d, t, m: reports.append((d, t)))
    result = evaluate(pred_dir, ref_dir, output_dir=tmp_path / "out", ctx=ctx)
    m = result["metrics"]
    assert result["frames"] == 4
    assert {"flicker", "f2f_psnr", "f2f_identical_pairs"} <= set(m)
    means = np.array(gains) * 1.02
    assert m["flicker"] == pytest.approx(np.std(means) / np.mean(means), rel=1e-4)
    assert m["f2f_identical_pairs"] == 0
    assert reports[0] == (0, 4) and reports[-1] == (4, 4) and len(reports) == 5
    assert set(result["definitions"]) == set(m) | set(QA_DEFINITIONS)

    by_pattern = evaluate(
        str(pred_dir / "frame_%04d.exr"), str(ref_dir / "*.exr"), output_dir=tmp_path / "o2"
    )
    assert by_pattern["metrics"] == pytest.approx(m)

    window = evaluate(pred_dir, ref_dir, start=1, stop=3, output_dir=tmp_path / "o3")
    assert window["frames"] == 2 and window["frame_range"] == {"start": 1, "stop": 3}
    png = PILImage.open(result["report_png"])
    png.load()


def test_sequence_folder_with_previews_and_identical_frames(tmp_path):
    frame = _small_hdr(3, shape=(16, 16))
    seq = _write_sequence(tmp_path / "shot", [frame] * 3)
    (seq / "preview.png").write_bytes(b"")  # a folder of EXR frames beside their previews
    result = evaluate(seq, output_dir=tmp_path / "eval")
    assert result["frames"] == 3
    assert Path(result["report_json"]) == tmp_path / "eval" / "report.json"
    assert result["metrics"]["flicker"] == 0.0
    assert result["metrics"]["f2f_psnr"] is None
    assert result["non_finite"] == {"metrics.f2f_psnr": "+inf"}
    assert result["metrics"]["f2f_identical_pairs"] == 2


def test_frame_count_mismatch_names_reference(tmp_path):
    base = _small_hdr(4, shape=(16, 16))
    a = _write_sequence(tmp_path / "a", [base] * 3)
    b = _write_sequence(tmp_path / "b", [base] * 2)
    with pytest.raises(InvalidArgument) as e:
        evaluate(a, b, output_dir=tmp_path / "o")
    assert e.value.argument == "reference" and "2 frame(s)" in str(e.value)


def test_shape_mismatch_names_reference(tmp_path):
    a = write_exr(tmp_path / "a.exr", _small_hdr(5, shape=(16, 16)), dtype="float")
    b = write_exr(tmp_path / "b.exr", _small_hdr(5, shape=(16, 20)), dtype="float")
    with pytest.raises(InvalidArgument) as e:
        evaluate(a, b, output_dir=tmp_path / "o")
    assert e.value.argument == "reference"


def test_missing_files_name_the_argument(pair, tmp_path):
    pred_path, _ = pair
    with pytest.raises(InvalidArgument) as e:
        evaluate(tmp_path / "nope.exr")
    assert e.value.argument == "prediction"
    with pytest.raises(InvalidArgument) as e:
        evaluate(pred_path, tmp_path / "missing" / "frame_%04d.exr")
    assert e.value.argument == "reference"


def test_nan_in_input_names_the_argument(pair, tmp_path):
    import OpenEXR

    pred_path, _ = pair
    bad = _small_hdr(0)
    bad[3, 4, 1] = np.nan
    bad_path = tmp_path / "nan.exr"
    # Written with the bindings directly: hdr_mcp's writer refuses non-finite pixels.
    OpenEXR.File(
        {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
        {"RGB": np.ascontiguousarray(bad)},
    ).write(str(bad_path))
    with pytest.raises(InvalidArgument, match="NaN") as e:
        evaluate(pred_path, bad_path, output_dir=tmp_path / "o")
    assert e.value.argument == "reference"
    with pytest.raises(InvalidArgument) as e:
        evaluate(bad_path, output_dir=tmp_path / "o")
    assert e.value.argument == "prediction"


def test_bad_scalars(pair, tmp_path):
    pred_path, ref_path = pair
    for kwargs, argument in [
        ({"nits_per_unit": 0.0}, "nits_per_unit"),
        ({"nits_per_unit": 20000.0}, "nits_per_unit"),
        ({"nits_per_unit": math.nan}, "nits_per_unit"),
        ({"start": 1}, "start"),
        ({"start": 0, "stop": 0}, "stop"),
        ({"start": 0, "stop": 2}, "stop"),  # beyond the input: refused, not clamped
    ]:
        with pytest.raises(InvalidArgument) as e:
            evaluate(pred_path, ref_path, output_dir=tmp_path / "o", **kwargs)
        assert e.value.argument == argument, kwargs


def test_cancellation_between_frames(tmp_path):
    base = _small_hdr(6, shape=(16, 16))
    seq = _write_sequence(tmp_path / "s", [base] * 3)
    stop = threading.Event()
    stop.set()
    ctx = LocalContext(tmp_path / "w", stop_event=stop)
    with pytest.raises(JobCancelled):
        evaluate(seq, output_dir=tmp_path / "o", ctx=ctx)
    assert not (tmp_path / "o" / "report.json").exists()


def test_run_handler_validates_params(pair, tmp_path):
    pred_path, ref_path = pair
    ctx = LocalContext(tmp_path / "w")
    result = run(
        {
            "prediction": str(pred_path),
            "reference": str(ref_path),
            "nits_per_unit": 250.0,
            "output_dir": str(tmp_path / "job"),
        },
        ctx,
    )
    assert result["nits_per_unit"] == 250.0 and Path(result["report_png"]).is_file()
    for params, argument in [
        ({"prediction": str(pred_path), "nits_per_unit": 0}, "nits_per_unit"),
        ({"prediction": str(pred_path), "nits_per_unit": 1e5}, "nits_per_unit"),
        ({"prediction": str(pred_path), "bogus": 1}, "bogus"),
        ({}, "prediction"),
    ]:
        with pytest.raises(InvalidArgument) as e:
            run(params, ctx)
        assert e.value.argument == argument
    with pytest.raises(InvalidArgument):
        run({"prediction": str(pred_path), "start": 3, "stop": 2}, ctx)


def test_params_schema_documents_every_field():
    schema = EvaluateParams.model_json_schema()
    assert all("description" in field for field in schema["properties"].values())
    assert schema["properties"]["nits_per_unit"]["exclusiveMinimum"] == 0.0
    assert schema["properties"]["nits_per_unit"]["maximum"] == 10000.0
    assert {"pu21_psnr", "flicker", "f2f_psnr"} <= set(DEFINITIONS)


def test_sdr_files_are_refused_and_hash_pattern_works(pair, tmp_path):
    from hdr_mcp.io import write_sdr

    pred_path, _ = pair
    png = write_sdr(tmp_path / "sdr.png", np.full((40, 56, 3), 0.5, np.float32), bit_depth=16)
    with pytest.raises(InvalidArgument, match="scene-linear") as e:
        evaluate(pred_path, png, output_dir=tmp_path / "o")
    assert e.value.argument == "reference"
    with pytest.raises(InvalidArgument) as e:
        evaluate(png, output_dir=tmp_path / "o")
    assert e.value.argument == "prediction"

    seq = _write_sequence(tmp_path / "hashes", [_small_hdr(7, shape=(12, 12))] * 2)
    assert evaluate(str(seq / "frame_####.exr"), output_dir=tmp_path / "o2")["frames"] == 2


def test_reference_in_another_colorspace_is_converted(tmp_path):
    from hdr_mcp.color import convert_colorspace

    x = _small_hdr(8)
    pred = write_exr(tmp_path / "pred709.exr", x, dtype="float")
    ref = write_exr(
        tmp_path / "refcg.exr",
        convert_colorspace(x, "lin_rec709", "acescg"),
        colorspace="acescg",
        dtype="float",
    )
    result = evaluate(pred, ref, output_dir=tmp_path / "o")
    assert result["colorspace"] == "lin_rec709"
    assert result["metrics"]["delta_e_itp"] < 1e-3
    assert result["metrics"]["pu21_psnr"] is None or result["metrics"]["pu21_psnr"] > 80.0


def test_output_dir_under_a_file_is_refused_before_work(pair, tmp_path):
    pred_path, ref_path = pair
    with pytest.raises(InvalidArgument) as e:
        evaluate(pred_path, ref_path, output_dir=pred_path / "reports")
    assert e.value.argument == "output_dir"


def test_failed_evaluation_leaves_no_report_folder(pair, tmp_path):
    pred_path, _ = pair
    other = write_exr(tmp_path / "small.exr", _small_hdr(9, shape=(8, 8)), dtype="float")
    out = tmp_path / "new" / "reports"
    with pytest.raises(InvalidArgument):
        evaluate(pred_path, other, output_dir=out)
    assert not (tmp_path / "new").exists()


def test_stop_beyond_the_input_is_refused_naming_the_frame_count(tmp_path):
    seq = _write_sequence(tmp_path / "s", [_small_hdr(1, shape=(16, 16))] * 3)
    with pytest.raises(InvalidArgument, match="has 3 frame") as e:
        evaluate(seq, stop=5)
    assert e.value.argument == "stop"
    assert "stop must be <= 3" in e.value.reason


# -- QA ----------------------------------------------------------------------------------------


def _banded_sky(h=64, w=256, levels=24) -> np.ndarray:
    """A sky from 1 to 16 posterised to ``levels`` steps in log2 (what bad expansions leave)."""
    stops = np.floor(np.linspace(0.0, 4.0, w) / 4.0 * levels) / levels * 4.0
    return np.repeat(np.broadcast_to(2.0**stops, (h, w))[..., None], 3, -1).astype(np.float32)


def test_qa_block_is_in_every_result_with_its_definitions(pair, tmp_path):
    pred_path, ref_path = pair
    result = evaluate(pred_path, ref_path, output_dir=tmp_path / "o")
    qa = result["qa"]
    assert qa["verdict"] in ("pass", "review", "fail") and qa["reasons"]
    assert set(qa["metrics"]) <= set(QA_DEFINITIONS)
    assert {"verdict", "reasons"} <= set(result["definitions"])
    assert qa["with_sdr"] is False and result["sdr"] is None
    assert qa["metrics"]["peak_scene"] == pytest.approx(float(read_image(pred_path).pixels.max()))


def test_qa_fails_a_gain_of_the_sdr_with_and_without_it(tmp_path):
    from hdr_mcp.color import decode
    from hdr_mcp.io import write_sdr

    hdr = _small_hdr(2, shape=(64, 96))
    codes = np.round(np.clip(hdr / (1 + hdr), 0, 1) ** (1 / 2.2) * 255) / 255
    sdr = write_sdr(tmp_path / "plate.png", codes.astype(np.float32), bit_depth=8)
    gain = write_exr(tmp_path / "gain.exr", decode(read_image(sdr).pixels, "srgb") * 10.0)
    alone = evaluate(gain)
    assert alone["qa"]["verdict"] == "fail"
    assert any("distinct values" in r for r in alone["qa"]["reasons"])
    given = evaluate(gain, sdr=sdr)
    assert given["qa"]["verdict"] == "fail" and given["qa"]["with_sdr"] is True
    assert "HDR is the SDR times a gain (no highlight structure of its own)" in given["qa"]["reasons"]
    assert given["sdr"] == str(sdr)


def test_qa_of_a_sequence_reports_its_worst_frame_and_reads_the_peak_of_the_shot(tmp_path):
    good = _small_hdr(0, shape=(64, 256))
    dark = np.full((64, 256, 3), 0.05, np.float32)  # a dark frame of an HDR shot
    seq = _write_sequence(tmp_path / "s", [good, dark, _banded_sky(), good])
    result = evaluate(seq)
    qa = result["qa"]
    assert qa["verdict"] == "fail" and qa["frame"] == 2
    assert qa["frames_checked"] == [0, 1, 2, 3]
    assert any(r.startswith("frame 2: banding at") for r in qa["reasons"])
    assert not any(r.startswith("peak") for r in qa["reasons"])  # the shot peaks above 1
    assert qa["frame_verdicts"]["2"] == "fail"
    only_dark = evaluate(_write_sequence(tmp_path / "d", [dark, dark]))
    assert only_dark["qa"]["reasons"][0].startswith("peak 0.05: not HDR")


def test_qa_checks_at_most_eight_frames_of_a_long_sequence(tmp_path):
    frames = [_small_hdr(0, shape=(16, 16))] * 20
    result = evaluate(_write_sequence(tmp_path / "s", frames))
    assert result["qa"]["frames_checked"] == [0, 3, 5, 8, 11, 14, 16, 19]


def test_sdr_must_match_the_prediction(pair, tmp_path):
    from hdr_mcp.io import write_sdr

    pred_path, _ = pair  # 40 x 56
    wrong = write_sdr(tmp_path / "wrong.png", np.full((8, 8, 3), 0.5, np.float32), bit_depth=8)
    with pytest.raises(InvalidArgument, match="8x8 but prediction is 56x40") as e:
        evaluate(pred_path, sdr=wrong)
    assert e.value.argument == "sdr"
    hdr = write_exr(tmp_path / "hdr.exr", np.full((8, 8, 3), 2.0, np.float32))
    with pytest.raises(InvalidArgument, match="scene-linear HDR already") as e:
        evaluate(hdr, sdr=hdr)
    assert e.value.argument == "sdr"
    seq = _write_sequence(tmp_path / "two", [np.full((8, 8, 3), 2.0, np.float32)] * 2)
    with pytest.raises(InvalidArgument, match="has 1 frame") as e:
        evaluate(seq, sdr=wrong)
    assert e.value.argument == "sdr"


def test_report_png_shows_the_verdict_in_its_colour(tmp_path):
    from hdr_mcp.metrics.report import VERDICT_COLOURS

    seq = _write_sequence(tmp_path / "s", [_banded_sky()])
    result = evaluate(seq, output_dir=tmp_path / "o")
    assert result["qa"]["verdict"] == "fail"
    png = np.asarray(PILImage.open(result["report_png"]).convert("RGB"))
    assert tuple(png[2, -3]) == VERDICT_COLOURS["fail"]  # the banner spans the top
