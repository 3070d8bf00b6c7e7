"""SDR harness: its definitions, and the fast subset with its figures asserted as floors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hdr_mcp.metrics import sdr_harness as h

DATA = Path(__file__).parents[1] / "data"
IMAGES = sorted(DATA.glob("*.exr")) + [
    Path(__file__).parents[2] / "src" / "hdr_mcp" / "data" / "sunrise.exr"
]


def test_exposure_key_and_alignment_definitions():
    rng = np.random.default_rng(0)
    scene = np.exp(rng.normal(0.0, 2.0, (32, 32, 1))).repeat(3, -1)
    keyed = h.expose_to_key(scene)
    y = keyed.astype(np.float64) @ [0.2126, 0.7152, 0.0722]
    assert np.exp(np.mean(np.log(1e-6 + y))) == pytest.approx(0.18, rel=1e-4)
    display = np.clip(keyed, 0, 1)
    # A prediction off by a pure gain is aligned exactly by the log-luminance fit.
    assert h.alignment_scale(display * 7.0, display, display) == pytest.approx(1 / 7.0, rel=1e-6)
    scores = h.score_prediction(display * 7.0, display, display)
    assert scores["pu21_psnr"] == float("inf") or scores["pu21_psnr"] > 90


def test_make_sdr_codecs():
    scene = h.expose_to_key(np.linspace(0.01, 20.0, 64 * 64 * 3).reshape(64, 64, 3))
    f = h.make_sdr(scene, h.ForwardPath("hable", 0.0, "float"))
    b8 = h.make_sdr(scene, h.ForwardPath("hable", 0.0, "8bit"))
    jpg = h.make_sdr(scene, h.ForwardPath("hable", 0.0, "jpeg"))
    np.testing.assert_array_equal(b8 * 255, np.rint(b8 * 255))
    assert np.max(np.abs(b8 - f)) <= 0.5 / 255 + 1e-7
    assert 0 < np.mean(np.abs(jpg - b8)) < 0.02
    assert h.ForwardPath("clip", 1.0, "jpeg").name == "clip +1EV jpeg"


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    assert len(IMAGES) == 8
    methods = h.default_methods()
    methods.pop("power")
    # sdr_to_hdr_video with its defaults (operator auto, transfer auto, 1000 cd/m^2 ceiling,
    # reference white 1.0 x 100 cd/m^2), end to end through PNG and EXR files.
    methods["pipeline"] = h.pipeline_method(tmp_path_factory.mktemp("pipeline"))
    return h.summarise(h.run_harness(h.load_images(IMAGES), h.FAST_PATHS, methods))


def test_fast_harness_floors(summary):
    """Floors under the figures measured when the 'auto' operator was introduced (issue 11).

    Measured (8 CC0 HDRIs, 10 renderings, 8-bit): identity 19.33 dB; bt2446c mean gain
    +1.56 dB, worst path clip 0 EV -3.50 dB; auto mean gain +2.90 dB, worst path +0.56 dB.
    """
    auto, bt2446c = summary["auto"]["all"], summary["bt2446c"]["all"]
    identity = summary["identity"]["all"]
    assert identity["pu21_psnr"] == pytest.approx(19.33, abs=0.05)  # the harness itself
    assert auto["gain_db"] >= 2.7  # issue goal: >= +2 dB
    assert auto["worst_path_gain_db"] >= 0.4  # issue goal: no forward path below 0 dB
    assert auto["gain_db"] > bt2446c["gain_db"] + 1.0
    # The problem the blind operator fixes: BT.2446-C stretches clipped footage.
    assert summary["bt2446c"]["clip 8bit"]["gain_db"] < -3.0
    assert summary["auto"]["clip 8bit"]["gain_db"] > 0.5
    # What users get: the pipeline's defaults score as the operator does (the ceiling is
    # BT.2408's 1000/203 x reference white, whatever the defaults' 1000/100).
    pipeline = summary["pipeline"]["all"]
    assert pipeline["gain_db"] >= 2.7 and pipeline["worst_path_gain_db"] >= 0.4
    assert pipeline["gain_db"] == pytest.approx(auto["gain_db"], abs=0.05)
    table = h.markdown_table(summary)
    assert table.count("\n") == len(h.FAST_PATHS) + 3
