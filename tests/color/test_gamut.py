"""Colour spaces and matrices against colour-science, FACTS references and OpenEXR conventions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hdr_mcp.color import gamut
from hdr_mcp.errors import InvalidArgument

COLOUR_NAMES = {
    "lin_rec709": "ITU-R BT.709",
    "lin_rec2020": "ITU-R BT.2020",
    "acescg": "ACEScg",
    "aces2065_1": "ACES2065-1",
    "lin_awg3": "ARRI Wide Gamut 3",
    "lin_awg4": "ARRI Wide Gamut 4",
    "lin_p3d65": "P3-D65",
}
ARRI = {"lin_awg3", "lin_awg4"}
PAIRS = list(itertools.product(COLOUR_NAMES, COLOUR_NAMES))


def _cat(src: str, dst: str) -> str:
    return "CAT02" if src in ARRI or dst in ARRI else "Bradford"


def test_contract_names_and_interop_ids():
    assert set(gamut.colorspaces()) == set(COLOUR_NAMES)
    ids = {name: gamut.colorspace(name).interop_id for name in gamut.colorspaces()}
    assert ids == {
        "lin_rec709": "lin_rec709_scene",
        "lin_rec2020": "lin_rec2020_scene",
        "acescg": "lin_ap1_scene",
        "aces2065_1": "lin_ap0_scene",
        "lin_awg3": "ocio:lin_awg3_scene",
        "lin_awg4": "ocio:lin_awg4_scene",
        "lin_p3d65": "lin_p3d65_scene",
    }


def test_interop_ids_are_the_ocio_studio_config_ones():
    ocio = pytest.importorskip("PyOpenColorIO")
    from hdr_mcp.color.ocio import OCIO_NAMES

    cfg = ocio.Config.CreateFromFile("ocio://studio-config-latest")
    for name in gamut.colorspaces():
        assert (
            cfg.getColorSpace(OCIO_NAMES[name]).getInteropID() == gamut.colorspace(name).interop_id
        )


def test_openexr_chromaticities():
    assert gamut.colorspace("lin_rec709").chromaticities == (
        0.64,
        0.33,
        0.30,
        0.60,
        0.15,
        0.06,
        0.3127,
        0.3290,
    )
    assert gamut.colorspace("acescg").chromaticities == (
        0.713,
        0.293,
        0.165,
        0.830,
        0.128,
        0.044,
        0.32168,
        0.33767,
    )


@pytest.mark.parametrize("name", list(COLOUR_NAMES))
def test_rgb_to_xyz_matches_colour(colour, name):
    cs = gamut.colorspace(name)
    ref = colour.RGB_COLOURSPACES[COLOUR_NAMES[name]]
    np.testing.assert_allclose(cs.chromaticities[:6], ref.primaries.reshape(-1), atol=0)
    np.testing.assert_allclose(cs.white, ref.whitepoint, atol=0)
    np.testing.assert_allclose(
        cs.rgb_to_xyz, colour.normalised_primary_matrix(ref.primaries, ref.whitepoint), atol=1e-14
    )
    # colour's stored matrices are published (rounded) tables: AWG3's to 6 decimals.
    np.testing.assert_allclose(cs.rgb_to_xyz, ref.matrix_RGB_to_XYZ, atol=6e-7)
    np.testing.assert_allclose(cs.xyz_to_rgb @ cs.rgb_to_xyz, np.eye(3), atol=1e-14)
    assert not cs.rgb_to_xyz.flags.writeable


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_rgb_to_rgb_matches_colour(colour, src, dst):
    a = colour.RGB_COLOURSPACES[COLOUR_NAMES[src]].copy()
    b = colour.RGB_COLOURSPACES[COLOUR_NAMES[dst]].copy()
    ours = gamut.rgb_to_rgb_matrix(src, dst)
    # Stock colour-science (published tables; AWG3's rounding moves entries by up to 1.4e-6).
    np.testing.assert_allclose(ours, colour.matrix_RGB_to_RGB(a, b, _cat(src, dst)), atol=2e-6)
    # Same primaries, matrices derived like ours: agreement to rounding.
    a.use_derived_transformation_matrices(True)
    b.use_derived_transformation_matrices(True)
    np.testing.assert_allclose(ours, colour.matrix_RGB_to_RGB(a, b, _cat(src, dst)), atol=1e-12)


def test_bt709_to_bt2020_reference():
    expected = [
        [0.627404, 0.329283, 0.043313],
        [0.069097, 0.919540, 0.011362],
        [0.016391, 0.088013, 0.895595],
    ]
    np.testing.assert_allclose(
        gamut.rgb_to_rgb_matrix("lin_rec709", "lin_rec2020"), expected, atol=5e-7
    )


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_white_is_preserved_and_round_trip_is_identity(src, dst):
    m = gamut.rgb_to_rgb_matrix(src, dst)
    np.testing.assert_allclose(m @ np.ones(3), np.ones(3), atol=1e-12)
    np.testing.assert_allclose(gamut.rgb_to_rgb_matrix(dst, src) @ m, np.eye(3), atol=1e-12)


def test_luminance():
    weights = gamut.colorspace("lin_rec709").rgb_to_xyz[1]
    # From D65 = (0.3127, 0.3290) exactly; BT.709 prints them rounded as 0.2126, 0.7152, 0.0722
    # (sRGB's 0.2126729... comes from the more precise D65 0.31271, 0.32902).
    np.testing.assert_allclose(weights, [0.2126390059, 0.7151686788, 0.0721923154], atol=5e-11)
    np.testing.assert_allclose(weights, [0.2126, 0.7152, 0.0722], atol=5e-5)
    x = np.random.default_rng(3).random((4, 5, 4)).astype(np.float32)
    y = gamut.luminance(x)
    assert y.shape == (4, 5) and y.dtype == np.float32
    np.testing.assert_allclose(
        y, x[..., :3] @ gamut.colorspace("lin_rec709").rgb_to_xyz[1], rtol=1e-6
    )
    assert gamut.luminance(np.ones(3), "acescg") == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InvalidArgument, match="at least 3 channels"):
        gamut.luminance(np.ones((4, 2)))


def test_convert_colorspace_numpy_and_torch():
    x = np.random.default_rng(4).lognormal(size=(3, 4, 3)).astype(np.float32)
    m = gamut.rgb_to_rgb_matrix("acescg", "lin_rec709")
    out = gamut.convert_colorspace(x, "acescg", "lin_rec709")
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(
        out, np.einsum("ij,...j->...i", m, x.astype(np.float64)), rtol=1e-5, atol=1e-6
    )
    assert (
        gamut.convert_colorspace([[1.0, 1.0, 1.0]], "lin_rec709", "lin_rec709").dtype == np.float64
    )
    with pytest.raises(InvalidArgument, match="3 channels"):
        gamut.convert_colorspace(np.ones((2, 4)), "acescg", "lin_rec709")
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out_t = gamut.convert_colorspace(t, "acescg", "lin_rec709")
    assert out_t.dtype == torch.float64
    np.testing.assert_allclose(
        out_t.detach().numpy(), np.einsum("ij,...j->...i", m, x.astype(np.float64)), rtol=1e-12
    )
    out_t.sum().backward()
    assert t.grad is not None
    assert gamut.luminance(t).shape == (3, 4)


def test_negative_values_survive_conversion():
    saturated = np.array([0.0, 0.0, 1.0])  # AP1 blue is outside Rec.709
    out = gamut.convert_colorspace(saturated, "acescg", "lin_rec709")
    assert out.min() < 0


@pytest.mark.parametrize("name", list(COLOUR_NAMES))
def test_colorspace_from_chromaticities(name):
    chroma = np.array(gamut.colorspace(name).chromaticities)
    assert gamut.colorspace_from_chromaticities(chroma) == name
    assert gamut.colorspace_from_chromaticities(tuple(chroma + 5e-4)) == name
    assert gamut.colorspace_from_chromaticities(chroma + 5e-3) is None


def test_colorspace_from_chromaticities_half_precision_and_errors():
    # EXR headers store float32: still matches at the default tolerance.
    chroma = np.float32(gamut.colorspace("aces2065_1").chromaticities)
    assert gamut.colorspace_from_chromaticities(chroma) == "aces2065_1"
    with pytest.raises(InvalidArgument, match="8 numbers"):
        gamut.colorspace_from_chromaticities([0.64, 0.33])


def test_colorspace_from_interop_id():
    assert gamut.colorspace_from_interop_id("lin_ap1_scene") == "acescg"
    assert gamut.colorspace_from_interop_id("ocio:lin_awg4_scene") == "lin_awg4"
    assert gamut.colorspace_from_interop_id("lin_awg4_scene") == "lin_awg4"
    assert gamut.colorspace_from_interop_id("srgb_rec709_scene") is None
    assert gamut.colorspace_from_interop_id(None) is None  # type: ignore[arg-type]


def test_unknown_names():
    with pytest.raises(InvalidArgument, match="lin_rec709") as info:
        gamut.colorspace("rec709")
    assert info.value.argument == "colorspace"
    with pytest.raises(InvalidArgument) as info:
        gamut.rgb_to_rgb_matrix("lin_rec709", "srgb")
    assert info.value.argument == "dst"
    assert gamut.colorspace("ACEScg").name == "acescg"
