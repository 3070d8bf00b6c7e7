"""``hdr-mcp encode`` / ``decode``: encoded EXRs are tagged as code values, not light."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.io import read_exr_info, read_image, write_exr
from hdr_mcp.io.convert import decode_file, encode_file
from hdr_mcp.params.files import DecodeParams, EncodeParams

DATA = Path(__file__).resolve().parents[1] / "data"


def _encode(src, dst, **kw):
    return encode_file(EncodeParams(src=str(src), dst=str(dst), **kw))


def _decode(src, dst, **kw):
    return decode_file(DecodeParams(src=str(src), dst=str(dst), **kw))


def test_logc4_exr_in_awg4_is_what_ocio_calls_arri_logc4(tmp_path):
    import PyOpenColorIO as ocio

    linear = np.abs(read_image(DATA / "interior.exr").pixels[..., :3]).astype(np.float32)
    src = write_exr(tmp_path / "in.exr", linear, colorspace="lin_awg4", dtype="float")
    _encode(src, tmp_path / "codes.exr", encoding="logc4")
    header = OpenEXR.File(str(tmp_path / "codes.exr")).header()
    assert header["colorInteropID"] == "ocio:arrilogc4_awg4_scene"
    assert "chromaticities" not in header  # defined for linear RGB only
    assert header["hdr_mcp/encoding"] == "logc4" and header["hdr_mcp/primaries"] == "lin_awg4"
    # Independent check: OpenColorIO's studio config space with that interop ID decodes the codes
    # to the original light.
    config = ocio.Config.CreateFromFile("ocio://studio-config-latest")
    space = next(cs for cs in config.getColorSpaces()
                 if cs.getInteropID() == header["colorInteropID"])
    processor = config.getProcessor(space.getName(), "Linear ARRI Wide Gamut 4")
    cpu = processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
    codes = read_image(tmp_path / "codes.exr").pixels[..., :3].copy()
    cpu.applyRGB(codes)
    np.testing.assert_allclose(codes, linear, rtol=2e-5, atol=1e-6)
    info = read_exr_info(tmp_path / "codes.exr")
    assert (info.transfer, info.colorspace) == ("logc4", "lin_awg4")


def test_encoded_exr_without_an_interop_id_is_still_not_called_linear(tmp_path):
    src = write_exr(tmp_path / "in.exr", read_image(DATA / "city.exr").pixels[..., :3])
    _encode(src, tmp_path / "pq.exr", encoding="pq", nits_per_unit=200.0)
    header = OpenEXR.File(str(tmp_path / "pq.exr")).header()
    assert "colorInteropID" not in header and "chromaticities" not in header
    assert header["hdr_mcp/encoding"] == "pq"
    assert '"nits_per_unit": 200.0' in header["hdr_mcp/encoding_params"]
    back = _decode(tmp_path / "pq.exr", tmp_path / "back.exr", encoding="pq", nits_per_unit=200.0,
                   dtype="float")
    assert back["colorspace"] == "lin_rec709"
    np.testing.assert_allclose(read_image(tmp_path / "back.exr").pixels,
                               read_image(src).pixels, rtol=1e-5, atol=1e-7)


def test_highlights_above_the_curve_range_get_an_exposure_that_fits(tmp_path):
    linear = read_image(DATA / "sunset.exr").pixels[..., :3]  # peak far above LogC4's 469.8
    src = write_exr(tmp_path / "in.exr", linear)
    with pytest.raises(InvalidArgument, match=r"pass --exposure -\d") as e:
        _encode(src, tmp_path / "c.png", encoding="logc4")
    assert e.value.argument == "src" and not (tmp_path / "c.png").exists()
    ev = float(str(e.value).split("--exposure ")[1].split()[0])
    info = _encode(src, tmp_path / "c.png", encoding="logc4", exposure=ev)
    assert 0.0 <= info["code_min"] and info["code_max"] <= 1.0
    clipped = _encode(src, tmp_path / "clipped.png", encoding="logc4", out_of_range="clip")
    assert clipped["clipped_count"] > 0
    _decode(tmp_path / "c.png", tmp_path / "back.exr", encoding="logc4", exposure=ev,
            dtype="float")
    back = read_image(tmp_path / "back.exr").pixels
    bright = linear > 1.0
    np.testing.assert_allclose(back[bright], linear[bright], rtol=2e-3)  # 16-bit LogC4 steps


def test_decoding_a_linear_file_is_refused_without_numpy_warnings(tmp_path):
    src = write_exr(tmp_path / "in.exr", read_image(DATA / "sunset.exr").pixels[..., :3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidArgument, match="scene-linear already") as e:
            _decode(src, tmp_path / "out.exr", encoding="logc4")
    assert e.value.argument == "src" and not (tmp_path / "out.exr").exists()


def test_decoding_with_another_curve_than_the_file_says_is_refused(tmp_path):
    src = write_exr(tmp_path / "in.exr", np.full((2, 2, 3), 0.18, np.float32))
    _encode(src, tmp_path / "codes.exr", encoding="logc3")
    with pytest.raises(InvalidArgument, match="holds logc3 code values") as e:
        _decode(tmp_path / "codes.exr", tmp_path / "out.exr", encoding="logc4")
    assert e.value.argument == "encoding"


def test_dst_is_not_replaced_unless_asked(tmp_path):
    src = write_exr(tmp_path / "in.exr", np.full((2, 2, 3), 0.18, np.float32))
    (tmp_path / "c.exr").write_bytes(b"mine")
    with pytest.raises(InvalidArgument, match="overwrite") as e:
        _encode(src, tmp_path / "c.exr", encoding="logc4")
    assert e.value.argument == "dst" and (tmp_path / "c.exr").read_bytes() == b"mine"
    _encode(src, tmp_path / "c.exr", encoding="logc4", overwrite=True)
    assert read_exr_info(tmp_path / "c.exr").transfer == "logc4"


def test_a_parameter_of_another_curve_is_named(tmp_path):
    src = write_exr(tmp_path / "in.exr", np.full((2, 2, 3), 0.18, np.float32))
    with pytest.raises(InvalidArgument) as e:
        _encode(src, tmp_path / "c.exr", encoding="logc4", gamma=2.2)
    assert e.value.argument == "gamma" and "logc4" in e.value.reason
