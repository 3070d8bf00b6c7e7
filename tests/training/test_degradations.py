"""Camera-mimicking degradations of the SDR reference: deterministic, realistic, in range."""

from __future__ import annotations

import numpy as np

from hdr_mcp.training.degradations import OPERATORS, degrade, draw

from .conftest import hdr_crop


def _clip() -> np.ndarray:
    return np.stack([hdr_crop("sunset", 32, 4 * k) for k in range(3)])


def test_degradations_are_deterministic_under_a_seed() -> None:
    frames = _clip()
    a, params_a = degrade(frames, np.random.default_rng(7))
    b, params_b = degrade(frames, np.random.default_rng(7))
    c, params_c = degrade(frames, np.random.default_rng(8))
    assert params_a == params_b and np.array_equal(a, b)
    assert params_a != params_c and not np.array_equal(a, c)
    assert a.shape == frames.shape and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_draws_cover_the_operators_and_crf_range() -> None:
    rng = np.random.default_rng(0)
    draws = [draw(rng) for _ in range(200)]
    assert {d.operator for d in draws} == set(OPERATORS)
    assert min(d.crf for d in draws) >= 18 and max(d.crf for d in draws) <= 36
    assert {d.blur_region for d in draws} == {"highlights", "shadows", "none"}


def test_plain_reference_is_reinhard_then_srgb_in_8_bits() -> None:
    frames = _clip()
    out, params = degrade(frames, np.random.default_rng(0), "none")
    x = np.maximum(frames.astype(np.float64), 0)
    display = np.clip(x / (1 + x), 0, 1)
    srgb = np.where(display <= 0.0031308, 12.92 * display,
                    1.055 * display ** (1 / 2.4) - 0.055)  # IEC 61966-2-1
    expected = np.rint(srgb * 255) / 255
    assert params["crf"] is None
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_camera_degradation_differs_from_the_plain_tone_map() -> None:
    frames = _clip()
    plain, _ = degrade(frames, np.random.default_rng(1), "none")
    camera, params = degrade(frames, np.random.default_rng(1), "camera")
    assert params["crf"] is not None
    assert float(np.abs(camera - plain).mean()) > 0.005
