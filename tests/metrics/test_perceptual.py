"""ColorVideoVDP wrapper: install message when missing, call plumbing with a stand-in pycvvdp.

The real pycvvdp is not installed in the test environment (it imports torchvision, which must
not be installed next to the CPU torch here); a stand-in module records what the wrapper passes.
"""

from __future__ import annotations

import sys
import types
from typing import ClassVar

import numpy as np
import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.metrics.perceptual import cvvdp, cvvdp_install_instructions


class _FakeMetric:
    calls: ClassVar[list[dict]] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def predict(self, test, reference, dim_order, frames_per_second):
        _FakeMetric.calls.append(
            {
                "init": self.kwargs,
                "test": test,
                "reference": reference,
                "dim_order": dim_order,
                "fps": frames_per_second,
            }
        )
        return np.float32(9.5), {}


@pytest.fixture
def fake_pycvvdp(monkeypatch):
    module = types.ModuleType("pycvvdp")
    module.cvvdp = _FakeMetric
    monkeypatch.setitem(sys.modules, "pycvvdp", module)
    _FakeMetric.calls = []
    return _FakeMetric


def test_missing_package_explains_safe_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycvvdp", None)  # makes `import pycvvdp` raise ImportError
    x = np.ones((8, 8, 3), np.float32)
    with pytest.raises(HdrMcpError) as e:
        cvvdp(x, x)
    message = str(e.value)
    assert "pip install --no-deps cvvdp==0.5.7" in message
    assert "ffmpeg-python" in message and "einops" in message
    assert "No torchvision is needed" in message
    assert isinstance(e.value.__cause__, ImportError)


def test_install_instructions_need_no_torchvision():
    message = cvvdp_install_instructions()
    assert "No torchvision is needed" in message
    assert "pip install --no-deps cvvdp==0.5.7" in message
    assert "torchvision==" not in message  # PyPI's torchvision cannot load beside a CPU torch


def test_torchvision_stand_in_blur_equals_a_mirror_padded_gaussian():
    """The stand-in's GaussianBlur against scipy: same kernel, reflect (no edge repeat) padding."""
    torch = pytest.importorskip("torch")
    ndimage = pytest.importorskip("scipy.ndimage")
    from hdr_mcp.metrics._torchvision_shim import _build

    blur = _build()["torchvision.transforms"].GaussianBlur(13, 3)  # pycvvdp's pu_dilate = 3
    x = np.random.default_rng(1).uniform(0.0, 100.0, (2, 1, 30, 41))
    got = blur(torch.from_numpy(x)).numpy()
    t = np.linspace(-6.0, 6.0, 13)
    k1 = np.exp(-0.5 * (t / 3.0) ** 2)
    k1 /= k1.sum()
    expected = ndimage.correlate(x, np.outer(k1, k1)[None, None], mode="mirror")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-10)
    with pytest.raises(ValueError):
        _build()["torchvision.transforms"].GaussianBlur(12, 3)


def test_torchvision_stand_in_leaves_no_module_behind():
    from hdr_mcp.metrics._torchvision_shim import stand_in

    before = sys.modules.get("torchvision")
    with stand_in() as used:
        import torchvision

        assert hasattr(torchvision.transforms, "GaussianBlur")
    assert sys.modules.get("torchvision") is before or not used


def test_image_call_scales_to_nits(fake_pycvvdp):
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.0, 4.0, size=(8, 10, 3)).astype(np.float32)
    pred = ref * 1.1
    q = cvvdp(pred, ref, nits_per_unit=250.0)
    assert q == pytest.approx(9.5) and isinstance(q, float)
    call = fake_pycvvdp.calls[0]
    assert call["dim_order"] == "HWC" and call["fps"] == 0.0
    assert call["init"]["display_name"] == "standard_hdr_linear"
    assert call["test"].dtype == np.float32 and call["test"].flags.c_contiguous
    np.testing.assert_allclose(call["reference"], ref * 250.0, rtol=1e-6)
    np.testing.assert_allclose(call["test"], pred * 250.0, rtol=1e-6)


def test_video_needs_fps(fake_pycvvdp):
    video = np.ones((3, 8, 8, 3), np.float32)
    with pytest.raises(InvalidArgument) as e:
        cvvdp(video, video)
    assert e.value.argument == "fps"
    for bad in ("abc", 0, -24.0, float("nan"), object()):  # "abc" used to escape as ValueError
        with pytest.raises(InvalidArgument) as e:
            cvvdp(video, video, fps=bad)
        assert e.value.argument == "fps"
    assert fake_pycvvdp.calls == []
    cvvdp(video, video, fps=24)
    assert fake_pycvvdp.calls[-1]["dim_order"] == "FHWC"
    assert fake_pycvvdp.calls[-1]["fps"] == 24.0


def test_rejects_display_encoded_models_and_bad_input(fake_pycvvdp):
    x = np.ones((8, 8, 3), np.float32)
    with pytest.raises(InvalidArgument) as e:
        cvvdp(x, x, display="standard_4k")
    assert e.value.argument == "display"
    with pytest.raises(InvalidArgument) as e:
        cvvdp(x, np.ones((8, 9, 3), np.float32))
    assert e.value.argument == "ref"
    assert fake_pycvvdp.calls == []


def test_evaluate_extra_metric_cvvdp(tmp_path, fake_pycvvdp):
    from hdr_mcp.io import write_exr
    from hdr_mcp.metrics.evaluate import evaluate

    x = np.linspace(0.01, 50.0, 16 * 16 * 3, dtype=np.float32).reshape(16, 16, 3)
    write_exr(tmp_path / "a.exr", x)
    write_exr(tmp_path / "b.exr", x * np.float32(1.1))
    result = evaluate(tmp_path / "a.exr", tmp_path / "b.exr", extra_metrics=["cvvdp"], output_dir=tmp_path / "r")
    assert result["metrics"]["cvvdp_jod"] == pytest.approx(9.5)  # the stand-in's score
    assert "cvvdp_jod" in result["definitions"]
    assert len(fake_pycvvdp.calls) == 1


def test_evaluate_extra_metric_cvvdp_missing_or_misused(tmp_path, monkeypatch):
    from hdr_mcp.io import write_exr
    from hdr_mcp.metrics.evaluate import evaluate

    write_exr(tmp_path / "a.exr", np.ones((16, 16, 3), np.float32))
    with pytest.raises(InvalidArgument, match="extra_metrics"):
        evaluate(tmp_path / "a.exr", extra_metrics=["cvvdp"])  # no reference
    with pytest.raises(InvalidArgument, match="extra_metrics='vmaf'"):
        evaluate(tmp_path / "a.exr", tmp_path / "a.exr", extra_metrics=["vmaf"])
    monkeypatch.setitem(sys.modules, "pycvvdp", None)
    with pytest.raises(HdrMcpError, match="pip install --no-deps cvvdp"):
        evaluate(tmp_path / "a.exr", tmp_path / "a.exr", extra_metrics=["cvvdp"], output_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()  # refused before any work


def _pycvvdp_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("pycvvdp") is not None


@pytest.mark.skipif(not _pycvvdp_installed(), reason="pycvvdp (cvvdp 0.5.7) is not installed")
def test_real_cvvdp_jod_is_pinned():
    """JOD of a real HDR (tests/data/sunset.exr, 256x128, 100 cd/m^2 per unit) against edits.

    Values from cvvdp 0.5.7 on CPU torch 2.13 with hdr-mcp's torchvision stand-in (the stand-in
    blur is bit-identical to torchvision 0.28's ``gaussian_blur``): a 1.5x gain is nearly
    invisible (9.970 JOD), clipping at scene-linear 1.0 (100 cd/m^2, an SDR-like clamp) costs
    2.4 JOD (7.615), identical images score 10.
    """
    from pathlib import Path

    from hdr_mcp.io import read_image

    x = read_image(Path(__file__).parents[1] / "data" / "sunset.exr").rgb().astype(np.float32)
    assert cvvdp(x, x) == pytest.approx(10.0, abs=1e-4)
    assert cvvdp(x * np.float32(1.5), x) == pytest.approx(9.9701, abs=2e-3)
    assert cvvdp(np.minimum(x, np.float32(1.0)), x) == pytest.approx(7.6153, abs=2e-3)
