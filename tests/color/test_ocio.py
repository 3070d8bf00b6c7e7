"""OpenColorIO bridge: name mapping, agreement with our curves/matrices, errors, caching."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("PyOpenColorIO")

from hdr_mcp.color import decode, encode, gamut, ocio
from hdr_mcp.errors import InvalidArgument


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.lognormal(-1.5, 2.0, size=(16, 24, 3)).astype(np.float32)


def test_every_name_resolves_in_the_studio_config():
    for name, config_name in ocio.OCIO_NAMES.items():
        assert ocio.ocio_colorspace_name(name) == config_name
    assert ocio.ocio_colorspace_name("ACEScg") == "ACEScg"
    assert ocio.ocio_colorspace_name("lin_ap1_scene") == "ACEScg"


@pytest.mark.parametrize(
    ("encoded", "linear"), [("logc4", "lin_awg4"), ("logc3", "lin_awg3"), ("acescct", "acescg")]
)
def test_log_spaces_equal_our_curves(pixels, encoded, linear):
    out = ocio.ocio_convert(pixels, linear, encoded)
    assert out.dtype == np.float32 and out.shape == pixels.shape
    np.testing.assert_allclose(out, encode(pixels.astype(np.float64), encoded), atol=1e-6)
    back = ocio.ocio_convert(out, encoded, linear)
    np.testing.assert_allclose(back, decode(out.astype(np.float64), encoded), rtol=4e-6, atol=1e-7)


def test_round_trip(pixels):
    there = ocio.ocio_convert(pixels, "lin_rec709", "logc4")
    back = ocio.ocio_convert(there, "logc4", "lin_rec709")
    # float32 rounding of a pixel's brightest channel leaks into its others through the
    # gamut matrices, so the error scales with the pixel's maximum.
    scale = np.abs(pixels).max(axis=-1, keepdims=True)
    assert np.all(np.abs(back - pixels) <= 2e-5 * scale + 1e-7)


def _through_reference_space_mismatch(src: str, dst: str) -> bool:
    # OCIO converts through ACES2065-1: ARRI <-> other D65 spaces go D65 -> ACES white with
    # CAT02 and back with Bradford, which is not the identity (up to 0.5 % difference).
    arri = {"lin_awg3", "lin_awg4"}
    d65_non_arri = {"lin_rec709", "lin_rec2020", "lin_p3d65"}
    return (src in arri and dst in d65_non_arri) or (dst in arri and src in d65_non_arri)


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(gamut.colorspaces(), repeat=2)))
def test_matrices_agree_with_ocio(pixels, src, dst):
    direct = gamut.rgb_to_rgb_matrix(src, dst)
    if _through_reference_space_mismatch(src, dst):
        # OCIO's result is the composition through ACES2065-1; the direct matrix differs.
        via_ap0 = gamut.rgb_to_rgb_matrix("aces2065_1", dst) @ gamut.rgb_to_rgb_matrix(
            src, "aces2065_1"
        )
        assert np.abs(via_ap0 - direct).max() > 1e-3
        direct = via_ap0
    ours = pixels.astype(np.float64) @ direct.T
    np.testing.assert_allclose(ocio.ocio_convert(pixels, src, dst), ours, rtol=1e-5, atol=2e-6)


def test_input_not_modified_and_float32_out(pixels):
    before = pixels.copy()
    out = ocio.ocio_convert(pixels.astype(np.float64), "acescg", "aces2065_1")
    np.testing.assert_array_equal(pixels, before)
    assert out.dtype == np.float32


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_accepts_torch_tensors_of_any_float_dtype(pixels, dtype):
    # bfloat16 used to fail inside torch's .numpy() ("unsupported ScalarType BFloat16").
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(pixels).to(getattr(torch, dtype))
    out = ocio.ocio_convert(tensor, "acescg", "aces2065_1")
    expected = ocio.ocio_convert(tensor.float().numpy(), "acescg", "aces2065_1")
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_default_optimisation_is_close_but_approximate(pixels):
    exact = ocio.ocio_convert(pixels, "lin_awg4", "logc4")
    fast = ocio.ocio_convert(pixels, "lin_awg4", "logc4", optimization="default")
    np.testing.assert_allclose(fast, exact, atol=1e-4)


def test_errors(pixels):
    with pytest.raises(InvalidArgument, match="lin_rec709") as info:
        ocio.ocio_convert(pixels, "no such space", "acescg")
    assert info.value.argument == "colorspace"
    with pytest.raises(InvalidArgument) as info:
        ocio.ocio_convert(pixels, "acescg", "lin_rec709", config="/nonexistent/config.ocio")
    assert info.value.argument == "config"
    with pytest.raises(InvalidArgument, match="3 channels"):
        ocio.ocio_convert(np.ones((4, 4)), "acescg", "lin_rec709")
    with pytest.raises(InvalidArgument):
        ocio.ocio_convert(pixels, "acescg", "lin_rec709", optimization="fast")


def test_processors_are_cached(pixels):
    ocio.ocio_convert(pixels, "acescg", "lin_p3d65")
    hits = ocio._processor.cache_info().hits
    ocio.ocio_convert(pixels, "acescg", "lin_p3d65")
    assert ocio._processor.cache_info().hits == hits + 1
