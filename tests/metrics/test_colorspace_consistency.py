"""Metrics give one figure per image whatever its working colour space (issue 11 review).

Expected values come from colour-science (gamut matrices, Bradford adaptation as ACES uses)
and the closed-form PU21 of Mantiuk & Azimi (2021) (parameters from FACTS.md section 2).
"""

from __future__ import annotations

import numpy as np
import pytest

colour = pytest.importorskip("colour")

from hdr_mcp.io import write_exr
from hdr_mcp.metrics.evaluate import evaluate
from hdr_mcp.metrics.fidelity import pu21_psnr
from hdr_mcp.metrics.temporal import TemporalStats

P = (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627, 0.09150303166, 0.9099517204,
     596.3148142)


def pu21(y):
    y = np.clip(y, 0.005, 10000.0)
    p1, p2, p3, p4, p5, p6, p7 = P
    return p7 * (((p1 + p2 * y**p4) / (1 + p3 * y**p4)) ** p5 - p6)


def to_acescg(rgb709):
    m = colour.matrix_RGB_to_RGB(
        colour.RGB_COLOURSPACES["ITU-R BT.709"],
        colour.RGB_COLOURSPACES["ACEScg"],
        chromatic_adaptation_transform="Bradford",
    )
    return rgb709 @ m.T


def pair():
    rng = np.random.default_rng(5)
    ref = rng.uniform(0.01, 20.0, (24, 32, 3))
    pred = ref * rng.uniform(0.8, 1.25, ref.shape)
    return pred, ref


def test_pu21_psnr_is_the_same_in_any_working_space():
    pred, ref = pair()
    mse = np.mean((pu21(pred * 100.0) - pu21(ref * 100.0)) ** 2)
    expected = 10 * np.log10(256.0**2 / mse)
    assert pu21_psnr(pred, ref) == pytest.approx(expected, abs=1e-9)
    got = pu21_psnr(to_acescg(pred), to_acescg(ref), colorspace="acescg")
    assert got == pytest.approx(expected, abs=2e-4)  # Bradford vs ours: matrices agree to 1e-7


def test_flicker_uses_the_frames_colour_space():
    # Hue changes, luminance does not: Y of AP1 (ACEScg) RGB is its own XYZ row, not BT.709's.
    ap1_y = colour.RGB_COLOURSPACES["ACEScg"].matrix_RGB_to_XYZ[1]
    frames = []
    for k in range(4):
        rgb = np.array([1.0 + k, 1.0, 1.0])
        rgb = rgb / (rgb @ ap1_y)  # luminance 1.0 in ACEScg
        frames.append(np.broadcast_to(rgb, (8, 8, 3)).astype(np.float64))
    stats = TemporalStats(space="linear")
    for f in frames:
        stats.add(f, colorspace="acescg")
    assert stats.flicker == pytest.approx(0.0, abs=1e-12)


def test_evaluate_figures_do_not_depend_on_the_files_colour_space(tmp_path):
    pred, ref = pair()
    seq = {}
    for name, space, conv in (("709", "lin_rec709", lambda x: x), ("ap1", "acescg", to_acescg)):
        for role, base in (("pred", pred), ("ref", ref)):
            folder = tmp_path / f"{role}_{name}"
            folder.mkdir()
            for i, gain in enumerate((1.0, 1.3, 0.9)):
                write_exr(
                    folder / f"f_{i:04d}.exr",
                    conv(base * gain).astype(np.float32),
                    colorspace=space,
                    dtype="float",
                )
            seq[(role, name)] = folder
    a = evaluate(seq[("pred", "709")], seq[("ref", "709")], output_dir=tmp_path / "a")["metrics"]
    b = evaluate(seq[("pred", "ap1")], seq[("ref", "ap1")], output_dir=tmp_path / "b")["metrics"]
    for key in ("pu21_psnr", "flicker", "f2f_psnr", "delta_e_itp"):
        assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-4), key
