"""``pu21`` as a transfer curve (X2HDR's LoRA encoding), pinned to the PU21 paper's values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdr_mcp.color import decode, encode

# Mantiuk & Azimi 2021 (banding_glare), FACTS.md section 2: PU(100) = 256.384,
# PU(1000) = 420.097; the top of the fitted range, PU(10000), normalises code 1.0.
PU_100, PU_1000 = 256.384, 420.097


def test_code_values_are_pu21_over_its_top():
    top = 1.0 / float(encode(np.float64(100.0), "pu21"))  # 100 * 100 cd/m^2 = 10000: code 1.0
    assert top == pytest.approx(1.0)
    ratio = float(encode(np.float64(1.0), "pu21")) / float(encode(np.float64(10.0), "pu21"))
    assert ratio == pytest.approx(PU_100 / PU_1000, rel=1e-5)
    # nits_per_unit moves the scale: 1.0 at 1000 cd/m^2 is what 10.0 is at 100.
    assert float(encode(1.0, "pu21", nits_per_unit=1000.0)) == pytest.approx(
        float(encode(10.0, "pu21")), rel=1e-12)


def test_round_trip_over_the_fitted_range_and_clamp_outside():
    x = np.geomspace(0.005 / 100, 10000 / 100, 200)
    np.testing.assert_allclose(decode(encode(x, "pu21"), "pu21"), x, rtol=1e-9)
    assert float(decode(encode(1e6, "pu21"), "pu21")) == pytest.approx(100.0)  # 10000 cd/m^2
    assert float(decode(encode(-1.0, "pu21"), "pu21")) == pytest.approx(0.005 / 100)


def test_torch_matches_numpy_with_finite_gradients():
    x = np.array([1e-6, 0.01, 0.18, 1.0, 55.0, 1e3])
    t = torch.tensor(x, requires_grad=True)
    codes = encode(t, "pu21")
    np.testing.assert_allclose(codes.detach().numpy(), encode(x, "pu21"), rtol=1e-12)
    codes.sum().backward()
    assert torch.isfinite(t.grad).all()
    back = decode(codes.detach(), "pu21").numpy()
    np.testing.assert_allclose(back, decode(encode(x, "pu21"), "pu21"), rtol=1e-9)
