"""The ``hdr-mcp`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from hdr_mcp.color import decode, encode
from hdr_mcp.io import read_image, synthetic, write_exr, write_sdr

DATA = Path(__file__).resolve().parent / "data"


def hdr_mcp(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 (exit codes are asserted)
        [sys.executable, "-m", "hdr_mcp.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def one_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout  # exactly one JSON object on stdout
    return json.loads(lines[0])


def test_inspect_json_reports_hdr_statistics(tmp_path):
    pixels = synthetic.gradient(64, 16)
    pixels[0, 0] = [-0.5, 0.0, 0.0]
    path = write_exr(tmp_path / "g.exr", pixels, colorspace="acescg", metadata={"hdr_mcp/prompt": "a ramp"})
    info = one_json(hdr_mcp("inspect", str(path), "--json"))
    assert (info["width"], info["height"], info["channels"]) == (64, 16, ["R", "G", "B"])
    assert info["dtype"] == "half" and info["colorspace"] == "acescg" and info["compression"] == "zip"
    stats = info["stats"]
    half = pixels.astype(np.float16).astype(np.float32)
    assert stats["max"] == pytest.approx(float(half.max()))
    assert stats["min"] == pytest.approx(-0.5)
    assert stats["fraction_above_1"] == pytest.approx(float(np.mean(half.max(axis=-1) > 1.0)))
    assert stats["nan_count"] == 0 and stats["inf_count"] == 0 and stats["negative_count"] == 1
    assert stats["dynamic_range_stops"] > 15  # the ramp spans 2^-10 .. 2^12
    assert "dynamic_range_stops" in stats["definitions"]
    assert info["attributes"]["hdr_mcp/prompt"] == "a ramp"


def test_inspect_human_output_on_real_hdri():
    proc = hdr_mcp("inspect", str(DATA / "sunset.exr"))
    assert proc.returncode == 0, proc.stderr
    assert "dynamic_range_stops" in proc.stdout and "lin_rec709" in proc.stdout


@pytest.mark.parametrize("curve", ["logc4", "logc3", "pq", "acescct", "hlg", "srgb"])
def test_encode_png_decode_round_trip_is_exact_to_16_bit_quantisation(tmp_path, curve):
    high = {"hlg": 1.0, "logc3": 50.0}.get(curve, 100.0)  # inside each curve's [0, 1] code range
    linear = synthetic.gradient(128, 8, low=2**-8, high=high)
    if curve == "srgb":
        linear = np.clip(linear / linear.max(), 0, 1)
    src = write_exr(tmp_path / "in.exr", linear, dtype="float")
    png, back = tmp_path / "codes.png", tmp_path / "back.exr"
    encoded = one_json(hdr_mcp("encode", str(src), str(png), "--curve", curve, "--json"))
    assert encoded["format"] == "png" and 0.0 <= encoded["code_min"] <= encoded["code_max"] <= 1.0
    one_json(hdr_mcp("decode", str(png), str(back), "--curve", curve, "--dtype", "float", "--json"))

    codes = read_image(png).pixels
    assert read_image(png).info.bit_depth == 16
    exact_codes = encode(linear.astype(np.float64), curve)
    assert np.abs(codes - exact_codes).max() <= 0.5 / 65535 + 1e-7
    # decoding error is at most the curve's slope times half a 16-bit code
    step = np.abs(decode(exact_codes + 0.5 / 65535, curve) - decode(exact_codes, curve))
    result = read_image(back).pixels
    assert np.all(np.abs(result - linear) <= step * 1.01 + 1e-7)


def test_encode_to_exr_is_exact(tmp_path):
    linear = synthetic.gradient(64, 4)  # up to 2^12: beyond a PNG's code range for LogC4
    src = write_exr(tmp_path / "in.exr", linear, dtype="float")
    assert hdr_mcp("encode", str(src), str(tmp_path / "c.png"), "--curve", "logc4").returncode == 2
    one_json(hdr_mcp("encode", str(src), str(tmp_path / "c.exr"), "--curve", "logc4", "--json"))
    one_json(hdr_mcp("decode", str(tmp_path / "c.exr"), str(tmp_path / "b.exr"), "--curve", "logc4",
                     "--dtype", "float", "--json"))
    back = read_image(tmp_path / "b.exr").pixels
    np.testing.assert_allclose(back, linear, rtol=2e-6)
    header = OpenEXR.File(str(tmp_path / "b.exr")).header()
    assert OpenEXR.checkColorMetadata(header) == 0


def test_pq_parameter_is_passed_through(tmp_path):
    src = write_exr(tmp_path / "in.exr", np.full((2, 2, 3), 10.0, np.float32), dtype="float")
    one_json(hdr_mcp("encode", str(src), str(tmp_path / "c.exr"), "--curve", "pq", "-p", "nits_per_unit=100", "--json"))
    codes = read_image(tmp_path / "c.exr").pixels
    np.testing.assert_allclose(codes, 0.7518270962, atol=1e-6)  # PQ(1000 nit), FACTS.md


BAD = [
    (["inspect", "missing.exr"], "missing.exr"),
    (["inspect", "."], "path"),
    (["inspect", "empty.exr"], "empty.exr"),
    (["inspect", "png_named.exr"], "PNG"),
    (["inspect", "truncated.exr"], "truncated.exr"),
    (["encode", "ok.exr", "out.png", "--curve", "logc5"], "logc5"),
    (["encode", "ok.exr", "out.jpg", "--curve", "logc4"], "dst="),
    (["encode", "ok.exr", "out.png", "--encoding", "logc4", "--gamma", "2"], "gamma="),
    (["decode", "ok.exr", "out.exr", "--encoding", "logc4"], "scene-linear already"),
    (["evaluate", "ok.exr", "--out", "o", "--bogus", "1"], "--bogus"),
    (["list-jobs", "--home", "typo"], "home="),
    (["encode", "ok.exr", "out.exr", "--curve", "pq", "-p", "nits"], "param"),
    (["decode", "nan.exr", "out.exr", "--curve", "logc4"], "NaN"),
    (["encode", "big.exr", "out.png", "--encoding", "logc4"], "--exposure -3.5"),
    (["evaluate", "ok.exr", "small.exr"], "reference"),
    (["sdr-to-hdr", "missing.png", "--out", "o"], "missing.png"),
    (["jobs", "show", "j_nope"], "job_id"),
]


@pytest.mark.parametrize(("args", "needle"), BAD)
def test_bad_input_prints_one_line_and_exits_2(tmp_path, args, needle):
    write_exr(tmp_path / "ok.exr", synthetic.sun_disc(32, 16))
    write_exr(tmp_path / "small.exr", synthetic.sun_disc(16, 8))
    write_exr(tmp_path / "nan.exr", np.full((4, 4, 3), np.nan, np.float32), nonfinite="zero")
    nan_pixels = np.full((4, 4, 3), 1.0, np.float32)
    nan_pixels[0, 0, 0] = np.nan
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": nan_pixels}).write(str(tmp_path / "nan.exr"))
    (tmp_path / "empty.exr").write_bytes(b"")
    write_exr(tmp_path / "big.exr", np.full((4, 4, 3), 5000.0, np.float32))  # LogC4 1.0 = 469.8
    write_sdr(tmp_path / "png_named.png", np.zeros((4, 4, 3), np.float32), bit_depth=8)
    (tmp_path / "png_named.png").rename(tmp_path / "png_named.exr")
    data = (tmp_path / "ok.exr").read_bytes()
    (tmp_path / "truncated.exr").write_bytes(data[: len(data) // 2])
    from hdr_mcp.jobs.store import JobStore

    JobStore(tmp_path / "home").close()
    env = {"HDR_MCP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = hdr_mcp(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle in lines[0]
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.exr").exists()
    assert not list(tmp_path.glob("*.tmp*"))


def test_evaluate_and_sdr_to_hdr_json(tmp_path):
    hdr = read_image(DATA / "city.exr").pixels[..., :3]
    write_exr(tmp_path / "ref.exr", hdr)
    write_exr(tmp_path / "pred.exr", hdr * np.float32(0.9))
    result = one_json(hdr_mcp("evaluate", "pred.exr", "ref.exr", "--json", "--out", "eval", cwd=tmp_path))
    assert result["nits_per_unit"] == 100.0
    assert set(result["metrics"]) >= {"pu21_psnr", "pu21_ssim", "delta_e_itp", "peak_nits", "dynamic_range_stops",
                                      "clipped_fraction"}
    assert Path(result["report_png"]).exists()

    write_sdr(tmp_path / "plate.png", np.clip(hdr / (1 + hdr), 0, 1) ** (1 / 2.2), bit_depth=8)
    converted = one_json(hdr_mcp("sdr-to-hdr", "plate.png", "--out", "hdr", "--json", cwd=tmp_path))
    assert converted["frames"] == 1 and converted["peak_scene"] > 1.0
    exr = Path(converted["exr_paths"][0])
    assert OpenEXR.checkColorMetadata(OpenEXR.File(str(exr)).header()) == 0


def test_jobs_commands(tmp_path):
    from hdr_mcp.jobs.store import JobStore

    home = tmp_path / "home"
    store = JobStore(home)
    job = store.submit("evaluate", {"prediction": "x.exr"})
    listed = one_json(hdr_mcp("jobs", "list", "--home", str(home), "--json"))
    assert [j["job_id"] for j in listed["jobs"]] == [job.id]
    assert listed["jobs"][0]["created_at"].endswith("Z")  # ISO 8601 UTC, as over MCP
    shown = one_json(hdr_mcp("jobs", "show", job.id, "--home", str(home), "--json"))
    assert shown["status"] == "queued" and shown["params"] == {"prediction": "x.exr"}
    cancelled = one_json(hdr_mcp("jobs", "cancel", job.id, "--home", str(home), "--json"))
    assert cancelled["status"] == "cancelled"
    again = hdr_mcp("jobs", "cancel", job.id, "--home", str(home))
    assert again.returncode == 2 and "job_id" in again.stderr


def test_demo_runs_end_to_end_through_mcp(tmp_path):
    result = one_json(hdr_mcp("demo", "--out", str(tmp_path / "demo"), "--json"))
    classical, identity = result["evaluation"], result["identity_evaluation"]
    # The plate is a camera-like rendering the operator has to work out blind: it must still
    # beat the plain decode, by the figure measured when the demo was built (+1.2 dB).
    gain = classical["metrics"]["pu21_psnr"] - identity["metrics"]["pu21_psnr"]
    assert result["pu21_psnr_gain_db"] == pytest.approx(gain)
    assert gain > 0.5
    assert classical["metrics"]["delta_e_itp"] < identity["metrics"]["delta_e_itp"] + 5
    # Highlights above diffuse white (the identity stops at SDR white = 1.0 = 100 cd/m^2).
    assert identity["metrics"]["peak_nits"] <= 100.0 + 1e-3
    assert classical["metrics"]["peak_nits"] > 200.0
    assert result["conversion"]["parameters"]["operator"] == "auto"
    assert classical["qa"]["verdict"] in ("pass", "review") and classical["qa"]["with_sdr"]
    assert identity["qa"]["verdict"] == "fail"  # peak 1.0: not HDR
    for key in ("exr", "preview", "ground_truth", "sdr_plate", "identity_exr"):
        assert Path(result[key]).exists(), key
    assert Path(classical["report_png"]).exists()
    human = hdr_mcp("demo", "--out", str(tmp_path / "demo"))  # a second run replaces the first
    assert human.returncode == 0, human.stderr
    assert "gain of the classical method over the identity: +" in human.stdout


def test_light_imports_do_not_import_torch():
    code = (
        "import sys, hdr_mcp, hdr_mcp.color, hdr_mcp.io, hdr_mcp.metrics, hdr_mcp.jobs, hdr_mcp.cli;"
        "bad=[m for m in ('torch','diffusers','peft') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_selftest_runs_every_tiny_preset_to_a_tagged_exr(tmp_path):
    env = {**os.environ, "HDR_MCP_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    report = one_json(hdr_mcp("selftest", "--output-dir", str(tmp_path / "st"), "--json",
                              env=env))
    assert report["ok"] and report["environment"]["torch"]
    names = {r["model"] for r in report["results"]}
    assert {"tiny-qwen-image", "tiny-flux.1-dev", "tiny-flux.2-klein-4b",
            "tiny-wan2.1-vace-1.3b", "tiny-ltx-2.3"} <= names
    for row in report["results"]:
        header = OpenEXR.File(row["exr"]).header()
        assert header["hdr_mcp/model"] == row["model"]
        assert OpenEXR.checkColorMetadata(header) == 0
    methods = {(r["method"], r["model"]): r for r in report["methods"]}
    assert set(methods) == {("ltx2-hdr", "tiny-ltx-2.3"), ("wan-vace", "tiny-wan2.1-vace-1.3b")}
    for row in methods.values():
        assert row["status"] == "ok" and row["frames"] == 20 and row["windows"] == 2
    assert methods[("wan-vace", "tiny-wan2.1-vace-1.3b")]["prompt_used"].startswith(
        "[Overexposed: clipped highlights at the top centre")
    assert report["total_s"] < 60


def test_workers_prune_and_models_commands(tmp_path):
    from hdr_mcp.jobs.store import JobStore

    home = tmp_path / "home"
    store = JobStore(home)
    store.register_worker("w_listed", device="cuda:0")
    done = store.submit("evaluate", {"prediction": "x.exr"})
    store.claim("w_listed")
    store.succeed(done.id, {})
    listed = one_json(hdr_mcp("workers", "--home", str(home), "--json"))
    (row,) = listed["workers"]
    assert row["worker_id"] == "w_listed" and row["device"] == "cuda:0" and row["alive"]
    assert row["heartbeat_at"].endswith("Z")
    one_json(hdr_mcp("workers", "--home", str(home), "--stop", "w_listed", "--json"))
    assert store.worker("w_listed").stop_requested
    pruned = one_json(hdr_mcp("prune-jobs", "--home", str(home), "--older-than-days", "0",
                              "--json"))
    assert pruned["pruned"] == [done.id] and store.list() == []
    models = one_json(hdr_mcp("models", "list", "--json"))["models"]
    assert {"qwen-image", "flux.1-dev", "ltx-2.3", "tiny-qwen-image"} <= {m["name"] for m in models}
    info = one_json(hdr_mcp("models", "info", "flux.1-dev", "--json"))
    assert info["repository"] == "black-forest-labs/FLUX.1-dev" and info["gated"] is True
    offline = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    missing = hdr_mcp("models", "pull", "qwen-image", env=offline)
    assert missing.returncode == 2 and "Qwen/Qwen-Image" in missing.stderr
    unknown = hdr_mcp("models", "info", "sdxl")
    assert unknown.returncode == 2 and "model='sdxl': unknown model; known:" in unknown.stderr


def test_help_shows_flags_as_flags_and_no_old_spellings():
    proc = hdr_mcp("sdr-to-hdr-video", "--help")
    assert proc.returncode == 0
    assert "<bool>" not in proc.stdout and "--overwrite " in proc.stdout
    assert "--preview / --no-preview" in proc.stdout
    for old in ("--out ", "--target-peak ", "--curve"):
        assert old not in proc.stdout
    assert "sdr-to-hdr " not in hdr_mcp("--help").stdout.replace("sdr-to-hdr-video", "")


def test_the_report_shows_both_exposure_strips_with_a_reference(tmp_path):
    from PIL import Image

    from hdr_mcp.metrics.evaluate import evaluate

    hdr = read_image(DATA / "city.exr").pixels[..., :3]
    pred = write_exr(tmp_path / "pred.exr", hdr * np.float32(0.9))
    ref = write_exr(tmp_path / "ref.exr", hdr)
    alone = evaluate(pred, output_dir=tmp_path / "alone")
    both = evaluate(pred, ref, output_dir=tmp_path / "both")
    strip_h = Image.open(alone["report_png"]).height
    assert Image.open(both["report_png"]).height > strip_h + 60  # a second strip: the reference
