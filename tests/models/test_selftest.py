"""selftest: every tiny preset loads, denoises 2 steps and decodes without clamping."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_mcp import models
from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models.selftest import run_selftest
from hdr_mcp.models.tiny import tiny_names


def test_selftest_runs_every_preset_and_reports_the_environment(tiny_cache):
    report = run_selftest(return_arrays=True, cache_dir=tiny_cache)
    assert report["ok"], report["results"]
    assert [r["model"] for r in report["results"]] == list(tiny_names())
    env = report["environment"]
    assert {"python", "torch", "diffusers", "peft", "transformers", "cuda_available",
            "devices"} <= env.keys()
    for result in report["results"]:
        values = result["values"]
        assert values.dtype == np.float32 and np.isfinite(values).all()
        assert list(values.shape) == result["shape"]
        assert result["min"] == pytest.approx(float(values.min()))
        expected = 5 if "video" in result["task"] else 4
        assert values.ndim == expected and values.shape[1] == 3


def test_selftest_subset_and_errors_are_reported_not_raised(tiny_cache, monkeypatch):
    from hdr_mcp.models import selftest

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selftest, "run_tiny", broken)
    report = run_selftest(["tiny-flux.1-dev"], cache_dir=tiny_cache)
    assert not report["ok"]
    assert report["results"] == [{"model": "tiny-flux.1-dev", "status": "error",
                                  "error": "RuntimeError: boom"}]


def test_selftest_refuses_unknown_names_before_work():
    with pytest.raises(InvalidArgument, match="not a tiny preset"):
        run_selftest(["flux.1-dev"])


def test_package_exposes_the_public_api_lazily():
    assert models.family("ltx-2.3").pipeline_class == "LTX2HDRPipeline"
    assert callable(models.load_pipeline) and callable(models.decode_latents)
    assert callable(models.run_selftest) and callable(models.list_models)
    with pytest.raises(AttributeError):
        models.not_there  # noqa: B018
