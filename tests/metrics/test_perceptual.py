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
from hdr_mcp.metrics import perceptual
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
    assert "--no-deps" in message.split("torchvision")[0].splitlines()[-1]
    assert isinstance(e.value.__cause__, ImportError)


def test_install_instructions_pin_matching_torchvision(monkeypatch):
    monkeypatch.setattr(perceptual.metadata, "version", lambda name: "2.13.0+cpu")
    assert '"torchvision==0.28.*"' in cvvdp_install_instructions()


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
