"""QA metrics: banding under pull-down, fake-HDR detection, clipped plateaus and the verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics import qa

DATA = Path(__file__).parents[1] / "data"


def sky(levels: int | None = None, size=(128, 256)) -> np.ndarray:
    """A sky ramp from 1 to 16 (0 to 4 stops over diffuse white) left to right, grey, optionally
    posterised to ``levels`` steps in log2 (what 8-bit log LoRAs and bad expansions do)."""
    h, w = size
    stops = np.linspace(0.0, 4.0, w)
    if levels is not None:
        stops = np.floor(stops / 4.0 * levels) / levels * 4.0
    y = np.broadcast_to(2.0**stops, (h, w))
    return np.repeat(y[..., None], 3, axis=-1).astype(np.float32)


def test_banding_fires_on_a_posterised_sky_not_on_a_smooth_one():
    for ev in (-2.0, -4.0):
        smooth = qa.highlight_banding(sky(), ev=ev)
        assert smooth["banded_fraction"] == 0.0 and smooth["tiles"] > 0
    posterised = qa.highlight_banding(sky(levels=24), ev=-4.0)
    assert posterised["banded_fraction"] > 0.8
    assert posterised["where"] is not None


def test_banding_does_not_fire_on_small_highlights_or_hard_edges():
    rng = np.random.default_rng(0)
    x = np.full((128, 256, 3), 0.2, np.float32)
    # 40 specular glints, 2x2 px each, at four brightness levels.
    for i in range(40):
        r, c = rng.integers(0, 126), rng.integers(0, 254)
        x[r : r + 2, c : c + 2] = 2.0 + 4.0 * (i % 4)
    # A window: two flat panes, a hard edge between them.
    x[20:100, 40:80] = 3.0
    x[20:100, 80:120] = 9.0
    for ev in qa.BANDING_EVS:
        assert qa.highlight_banding(x, ev=ev)["banded_fraction"] == 0.0


def test_banding_of_a_smooth_sky_stored_as_half_float():
    # Half float has 1024 steps per stop: finer than any 8-bit view of a pull-down.
    half = sky().astype(np.float16).astype(np.float32)
    assert qa.highlight_banding(half)["banded_fraction"] == 0.0


def test_banding_rejects_a_push():
    with pytest.raises(InvalidArgument) as e:
        qa.highlight_banding(sky(), ev=2.0)
    assert e.value.argument == "ev"


def test_clipped_plateau():
    x = np.minimum(sky(), np.float32(10.0))
    p = qa.clipped_plateau(x)
    assert p["level"] == pytest.approx(10.0)
    # Columns whose ramp value 2 ** (4 c / 255) reaches 10: c >= 255 log2(10) / 4 = 211.8.
    assert p["fraction"] == pytest.approx((255 - 211) / 256)


def _real_and_sdr():
    from hdr_mcp.io import read_image

    hdr = read_image(DATA / "city.exr").rgb().astype(np.float32)
    hdr = hdr / np.float32(np.exp(np.mean(np.log(1e-6 + hdr @ [0.2126, 0.7152, 0.0722])))) * 0.18
    codes = np.rint(np.clip(hdr, 0, 1) ** (1 / 2.2) * 255) / 255  # a clipped 8-bit SDR
    sdr = (codes**2.2).astype(np.float32)
    return hdr.astype(np.float32), sdr


def test_fake_hdr_with_and_without_the_sdr():
    from hdr_mcp.color.inverse_tonemap import inverse_tonemap

    real, sdr = _real_and_sdr()
    gain = sdr * np.float32(10.0)
    expanded = inverse_tonemap(sdr, "auto") / np.float32(203.0)
    assert qa.fake_hdr(real)["kind"] == "real"
    assert qa.fake_hdr(real, sdr)["kind"] == "real"
    without = qa.fake_hdr(gain)
    assert without["kind"] == "gain" and without["distinct_levels"] <= 256
    with_sdr = qa.fake_hdr(gain, sdr)
    assert with_sdr["kind"] == "gain" and with_sdr["gain_spread"] < 1e-3
    assert qa.fake_hdr(expanded)["kind"] == "expansion"
    assert qa.fake_hdr(expanded, sdr)["kind"] == "expansion"
    with pytest.raises(InvalidArgument) as e:
        qa.fake_hdr(real, sdr[:10])
    assert e.value.argument == "sdr"


def test_verdict_reasons():
    real, sdr = _real_and_sdr()
    assert qa.verdict(real) == {
        "verdict": "pass",
        "reasons": ["no problem found"],
        "metrics": qa.verdict(real)["metrics"],
    }
    sdr_only = qa.verdict(np.clip(real, 0, 1))
    assert sdr_only["verdict"] == "fail"
    assert sdr_only["reasons"][0].startswith("peak 1: not HDR")
    clamped = qa.verdict(np.minimum(real, np.float32(2.0)))
    assert clamped["verdict"] == "review"  # 1.4 % of the pixels: review from 0.2, fail from 2
    assert "1.4% clipped plateau at 2" in clamped["reasons"]
    gain = qa.verdict(sdr * np.float32(10.0), sdr)
    assert gain["verdict"] == "fail"
    assert "HDR is the SDR times a gain (no highlight structure of its own)" in gain["reasons"]
    banded = qa.verdict(sky(levels=24))
    assert banded["verdict"] == "fail"
    assert any(r.startswith("banding at -4 EV in the") for r in banded["reasons"])


def test_a_sequence_verdict_is_its_worst_frame_with_the_shot_peak():
    real, _ = _real_and_sdr()
    banded = sky(levels=24)
    checked = [(0, qa.check_frame(real)), (5, qa.check_frame(banded)), (9, qa.check_frame(real))]
    pooled = qa.pool_verdict(checked, peak_scene=50.0)
    assert pooled["verdict"] == "fail" and pooled["frame"] == 5
    assert pooled["frames_checked"] == [0, 5, 9]
    assert pooled["frame_verdicts"] == {"0": "pass", "5": "fail", "9": "pass"}
    assert all(r.startswith("frame 5: ") for r in pooled["reasons"])
    assert pooled["metrics"]["peak_scene"] == 50.0
    dark = qa.pool_verdict([(0, qa.check_frame(np.full((8, 8, 3), 0.2, np.float32)))],
                           peak_scene=0.2)
    assert dark["reasons"] == ["peak 0.2: not HDR (nothing above diffuse white)"]
    block = qa.qa_block(pooled)
    assert set(block["metrics"]) <= set(qa.DEFINITIONS) and block["frame"] == 5
    with pytest.raises(InvalidArgument):
        qa.pool_verdict([], peak_scene=1.0)
