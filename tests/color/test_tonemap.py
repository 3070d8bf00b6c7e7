"""Tone mapping operators, 8-bit display encoding, previews and exposure strips."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp.color import tonemap
from hdr_mcp.color.transfer_functions.srgb import eotf_inverse_sRGB
from hdr_mcp.errors import InvalidArgument


def _code8(display_linear: float) -> int:
    return int(np.floor(eotf_inverse_sRGB(display_linear) * 255.0 + 0.5))


def test_operators_known_values():
    assert tonemap.reinhard(1.0) == 0.5
    assert tonemap.reinhard(0.0) == 0.0
    assert tonemap.reinhard(3.0) == 0.75
    assert tonemap.reinhard(-1.0) == -0.5
    assert tonemap.reinhard_extended(16.0, 16.0) == pytest.approx(1.0, abs=1e-15)
    assert tonemap.reinhard_extended(1.0, 4.0) == pytest.approx(1.0 * (1 + 1 / 16) / 2, rel=1e-15)
    assert tonemap.reinhard_extended(2.0, 1e9) == pytest.approx(tonemap.reinhard(2.0), rel=1e-12)
    assert tonemap.exposure(0.18, 1.0) == pytest.approx(0.36)
    assert tonemap.exposure(np.float32([1.0]), -2).dtype == np.float32
    with pytest.raises(InvalidArgument, match="white"):
        tonemap.reinhard_extended(1.0, 0.0)
    with pytest.raises(InvalidArgument, match="ev"):
        tonemap.exposure(1.0, float("nan"))


def test_operators_accept_torch():
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, 3.0], requires_grad=True)
    out = tonemap.reinhard(tonemap.exposure(t, 1.0))
    assert torch.allclose(out, torch.tensor([2 / 3, 6 / 7]))
    out.sum().backward()
    assert torch.isfinite(t.grad).all()


def test_srgb_display_8bit():
    x = np.array([0.0, 0.18, 0.5, 1.0, 2.0, -1.0, np.nan, np.inf])
    out = tonemap.srgb_display_8bit(x)
    assert out.dtype == np.uint8
    # 0.18 -> sRGB 0.4613561 -> 117.65 -> 118
    np.testing.assert_array_equal(out, [0, 118, 188, 255, 255, 0, 0, 255])


def test_preview_known_pixels():
    grey = np.full((10, 12, 3), 0.18, dtype=np.float32)
    assert tonemap.preview(grey, operator="clip")[0, 0].tolist() == [118, 118, 118]
    assert tonemap.preview(grey)[0, 0, 0] == _code8(0.18 / 1.18)
    assert tonemap.preview(grey, ev=2.0, operator="clip")[0, 0, 0] == _code8(0.72)
    one = np.ones((4, 4, 3), dtype=np.float32)
    assert tonemap.preview(one)[0, 0, 0] == _code8(0.5) == 188
    assert tonemap.preview(one * 7, operator="reinhard_extended")[0, 0, 0] == 255


def test_preview_shapes_channels_and_nonfinite():
    img = np.random.default_rng(0).lognormal(size=(1000, 600, 3)).astype(np.float32)
    out = tonemap.preview(img)
    assert out.shape == (512, 307, 3) and out.dtype == np.uint8
    assert tonemap.preview(img, max_size=64).shape == (64, 38, 3)
    small = img[:100, :50]
    assert tonemap.preview(small).shape == (100, 50, 3)  # never upscaled
    grey = tonemap.preview(small[..., 0])
    assert grey.shape == (100, 50, 3) and np.all(grey[..., 0] == grey[..., 2])
    np.testing.assert_array_equal(tonemap.preview(small[..., :1]), grey)
    rgba = np.concatenate([small, np.zeros_like(small[..., :1])], axis=-1)
    np.testing.assert_array_equal(tonemap.preview(rgba), tonemap.preview(small))
    bad = np.array([[[np.nan, np.inf, -np.inf], [-5.0, 1.0, 0.0]]], dtype=np.float32)
    out = tonemap.preview(bad)
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 1].tolist() == [0, 188, 0]


def test_preview_downscales_in_linear_light():
    # Alternating rows of 0 and 2: the area average is 1.0 -> reinhard 0.5 -> 188. Averaging
    # after tone mapping would give (0 + 2/3) / 2 -> 155.
    img = np.zeros((512, 256, 3), dtype=np.float32)
    img[1::2] = 2.0
    out = tonemap.preview(img, max_size=128)
    assert out.shape == (128, 64, 3)
    assert np.all(out == 188)


def test_area_downscale_preserves_the_mean_for_fractional_ratios():
    img = np.random.default_rng(1).lognormal(size=(1000, 700, 3)).astype(np.float32)
    small = tonemap.downscale_area(img, 300)
    assert small.shape == (300, 210, 3)
    np.testing.assert_allclose(
        small.mean(axis=(0, 1)), img.mean(axis=(0, 1), dtype=np.float64), rtol=1e-5
    )
    flat = tonemap.downscale_area(np.full((997, 13, 3), 3.5, np.float32), 100)
    np.testing.assert_allclose(flat, 3.5, rtol=1e-6)
    # First output pixel of a 10 -> 3 reduction covers input rows 0 .. 3.33.
    ramp = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 1, 3), np.float32)
    assert tonemap.downscale_area(ramp, 3)[0, 0, 0] == pytest.approx(
        (0 + 1 + 2 + 3 / 3) / (10 / 3), rel=1e-6
    )


def test_exposure_strip():
    img = np.full((300, 200, 3), 0.18, dtype=np.float32)
    strip = tonemap.exposure_strip(img)
    gap = tonemap.STRIP_GAP_PX
    assert strip.shape == (256, 171 * 5 + 4 * gap, 3) and strip.dtype == np.uint8
    tiles = [strip[:, i * (171 + gap) : i * (171 + gap) + 171] for i in range(5)]
    for ev, tile in zip((-4, -2, 0, 2, 4), tiles, strict=True):
        assert np.all(tile == _code8(min(0.18 * 2.0**ev, 1.0)))
    assert np.all(strip[:, 171 : 171 + gap] == tonemap.STRIP_GAP_VALUE)
    np.testing.assert_array_equal(tiles[2], tonemap.preview(img, operator="clip", max_size=256))
    assert tonemap.exposure_strip(img, evs=[0], max_size=32).shape == (32, 21, 3)
    assert (
        tonemap.exposure_strip(img, evs=np.array([-1.0, 1.0]), operator="reinhard").shape[1]
        == 171 * 2 + gap
    )


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"operator": "aces"}, "operator"),
        ({"max_size": 0}, "max_size"),
        ({"max_size": 2.5}, "max_size"),
        ({"ev": float("inf")}, "ev"),
    ],
)
def test_preview_validation(kwargs, argument):
    with pytest.raises(InvalidArgument) as info:
        tonemap.preview(np.ones((4, 4, 3)), **kwargs)
    assert info.value.argument == argument


def test_bad_images_and_strips():
    for bad in (np.ones((4, 4, 5)), np.ones(4), np.ones((0, 4, 3))):
        with pytest.raises(InvalidArgument):
            tonemap.preview(bad)
    for evs in ((), "0", [float("nan")], 3):
        with pytest.raises(InvalidArgument):
            tonemap.exposure_strip(np.ones((4, 4, 3)), evs=evs)


def test_preview_accepts_torch():
    torch = pytest.importorskip("torch")
    t = torch.full((8, 8, 3), 0.18, dtype=torch.float16)
    assert tonemap.preview(t, operator="clip")[0, 0, 0] == 118
