"""Flicker and frame-to-frame PSNR: closed forms, streaming, identical frames."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from hdr_mcp.color.pu21 import pu21_decode, pu21_encode
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.metrics.temporal import TemporalStats, f2f_psnr, flicker


def _base(shape=(16, 24)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return 2.0 ** rng.uniform(-3, 5, size=shape)


def test_flicker_of_constant_frames_is_zero():
    frame = _base()
    assert flicker(frame.copy() for _ in range(10)) == 0.0


@pytest.mark.parametrize(
    ("amplitude", "period", "periods"), [(0.1, 8, 3), (0.5, 5, 4), (0.02, 24, 1)]
)
def test_flicker_of_sinusoidal_modulation_closed_form(amplitude, period, periods):
    # Mean luminance m_t = m (1 + a sin(2 pi t / P)) over whole periods: mean m, population std
    # m a / sqrt(2), so flicker = a / sqrt(2).
    base = _base()
    frames = (
        base * (1.0 + amplitude * math.sin(2.0 * math.pi * t / period))
        for t in range(period * periods)
    )
    assert flicker(frames) == pytest.approx(amplitude / math.sqrt(2.0), rel=1e-9)


def test_flicker_uses_luminance_of_rgb():
    rgb = np.zeros((8, 8, 3))
    rgb[..., 2] = 1.0  # blue only: luminance changes scale with it, flicker is scale free
    frames = [rgb * s for s in (1.0, 3.0)]
    assert flicker(frames) == pytest.approx(0.5)  # means 1, 3 -> std 1, mean 2


def test_f2f_psnr_pu21_closed_form():
    base = _base() * 0.5
    offset = 2.0
    shifted = pu21_decode(pu21_encode(base * 100.0) + offset) / 100.0
    frames = [base, shifted, base, shifted]
    assert f2f_psnr(frames, space="pu21", nits_per_unit=100.0) == pytest.approx(
        20.0 * math.log10(256.0 / offset), abs=1e-8
    )


def test_f2f_psnr_linear_closed_form():
    frames = [np.ones((8, 8)), np.full((8, 8), 1.5)]
    # MSE 0.25, peak = largest |value| in the pair = 1.5
    assert f2f_psnr(frames, space="linear") == pytest.approx(10.0 * math.log10(1.5**2 / 0.25))


def test_f2f_psnr_identical_pairs_left_out():
    a, b = np.ones((8, 8)), np.full((8, 8), 1.5)
    stats = TemporalStats(space="linear")
    for f in (a, a, b, b):
        stats.add(f)
    assert stats.identical_pairs == 2
    assert stats.f2f_psnr == pytest.approx(10.0 * math.log10(1.5**2 / 0.25))
    assert f2f_psnr([a, a.copy(), a.copy()]) == math.inf


def test_f2f_psnr_needs_two_frames_and_flicker_one():
    with pytest.raises(InvalidArgument) as e:
        f2f_psnr([np.ones((4, 4))])
    assert e.value.argument == "frames"
    with pytest.raises(InvalidArgument):
        flicker([])
    assert flicker([np.ones((4, 4))]) == 0.0
    assert TemporalStats().f2f_psnr is None


def test_shape_change_and_nonfinite_rejected():
    with pytest.raises(InvalidArgument, match="different shape"):
        flicker([np.ones((4, 4)), np.ones((4, 5))])
    bad = np.ones((4, 4))
    bad[0, 0] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        f2f_psnr([np.ones((4, 4)), bad])
    with pytest.raises(InvalidArgument) as e:
        TemporalStats(space="log")
    assert e.value.argument == "space"


def test_streaming_memory_does_not_grow_with_frame_count():
    shape = (64, 64, 3)
    frame_bytes = np.prod(shape) * 8

    def frames(n):
        rng = np.random.default_rng(1)
        for _ in range(n):
            yield rng.uniform(0.0, 4.0, size=shape)

    def peak_bytes(n):
        tracemalloc.start()
        f2f_psnr(frames(n))
        flicker(frames(n))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak

    small, large = peak_bytes(5), peak_bytes(60)
    assert large < small + 2 * frame_bytes
    assert large < 20 * frame_bytes
