"""``inspect_hdr`` / ``hdr-mcp inspect-hdr``: statistics on linear light, for SDR files too."""

from __future__ import annotations

from pathlib import Path

import colour
import numpy as np
import pytest

from hdr_mcp.io import read_image, write_exr, write_sdr
from hdr_mcp.metrics.summary import summarize

DATA = Path(__file__).resolve().parents[1] / "data"


def _independent_stops(linear: np.ndarray) -> float:
    """log2(P99.9 / P0.1) of positive BT.709 luminance (the summary's documented definition)."""
    y = linear @ np.array([0.2126, 0.7152, 0.0722])
    y = y[y > 0]
    lo, hi = np.percentile(y, [0.1, 99.9])
    return float(np.log2(hi / lo))


def test_sdr_statistics_are_computed_on_linearised_light(tmp_path):
    hdr = read_image(DATA / "sunset.exr").pixels[..., :3].astype(np.float64)
    display = np.clip(hdr / (1.0 + hdr), 0.0, 1.0)  # a Reinhard SDR rendering, not made by us
    codes = colour.cctf_encoding(display, function="sRGB")
    path = write_sdr(tmp_path / "plate.png", codes.astype(np.float32), bit_depth=16)
    summary = summarize(path)
    assert summary["transfer"] == "srgb" and summary["bit_depth"] == 16
    stored = read_image(path).pixels.astype(np.float64)
    linear = colour.cctf_decoding(stored, function="sRGB")  # colour-science, not our curve
    stops = summary["stats"]["dynamic_range_stops"]
    assert stops == pytest.approx(_independent_stops(linear), abs=1e-3)
    assert stops > _independent_stops(stored) + 2  # code values would understate it badly
    assert summary["stats"]["peak_nits"] == pytest.approx(
        100 * float((linear @ np.array([0.2126, 0.7152, 0.0722])).max()), rel=1e-4)


def test_all_nan_exr_reports_null_statistics(tmp_path):
    import OpenEXR

    pixels = np.full((4, 4, 3), np.nan, np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": pixels}).write(str(tmp_path / "nan.exr"))
    stats = summarize(tmp_path / "nan.exr")["stats"]
    assert stats["nan_count"] == 48
    for key in ("peak_scene", "peak_nits", "dynamic_range_stops", "max", "min", "mean"):
        assert stats[key] is None, key


def test_an_encoded_exr_is_measured_after_decoding(tmp_path):
    from hdr_mcp.color import encode

    linear = read_image(DATA / "city.exr").pixels[..., :3]
    plain = summarize(write_exr(tmp_path / "linear.exr", linear, dtype="float"))
    codes = encode(linear.astype(np.float64), "logc4").astype(np.float32)
    encoded = summarize(write_exr(tmp_path / "logc4.exr", codes, dtype="float", encoding="logc4"))
    assert encoded["transfer"] == "logc4"
    assert encoded["stats"]["peak_nits"] == pytest.approx(plain["stats"]["peak_nits"], rel=1e-4)


def test_hdr_files_get_the_qa_verdict_and_sdr_files_do_not(tmp_path):
    from hdr_mcp.io import write_exr, write_png
    from hdr_mcp.metrics.summary import summarize

    stops = np.floor(np.linspace(0.0, 4.0, 256) / 4.0 * 24) / 24 * 4.0  # a posterised sky
    banded = np.repeat(np.broadcast_to(2.0**stops, (64, 256))[..., None], 3, -1)
    summary = summarize(write_exr(tmp_path / "banded.exr", banded.astype(np.float32)))
    stats = summary["stats"]
    assert stats["verdict"] == "fail"
    assert any(r.startswith("banding at -4 EV") for r in stats["reasons"])
    assert summary["qa"]["metrics"]["banding_minus4ev_fraction"] > 0.2
    assert {"verdict", "reasons"} <= set(stats["definitions"])
    flat = summarize(write_exr(tmp_path / "flat.exr", np.full((8, 8, 3), 0.5, np.float32)))
    assert flat["stats"]["verdict"] == "fail"
    assert flat["stats"]["reasons"][0].startswith("peak 0.5: not HDR")
    sdr = summarize(write_png(tmp_path / "plate.png", np.full((8, 8, 3), 200, np.uint8)))
    assert sdr["stats"]["verdict"] is None and sdr["qa"] is None
