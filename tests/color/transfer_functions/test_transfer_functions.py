"""Registry/dispatcher, and what every curve shares: round trips, dtypes, shapes, NaN, torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdr_mcp.color import decode, encode, encodings
from hdr_mcp.color.transfer_functions import ENCODINGS, encoding
from hdr_mcp.errors import InvalidArgument

ALL = ("linear", "srgb", "logc3", "logc4", "pq", "hlg", "log_gamma", "acescct")
MIRRORED_OR_LINEAR_BELOW_ZERO = tuple(name for name in ALL if name != "log_gamma")

# Points where curves change segment, have an infinite slope, or are large.
SPECIAL = [
    -1e4,
    -2.0,
    -0.05,
    -0.018057,
    -1e-3,
    -1e-30,
    0.0,
    1e-38,
    1e-30,
    1e-8,
    0.0031308,
    0.0078125,
    0.0105909905,
    1.0 / 12.0,
    0.18,
    1.0,
    100.0,
    65504.0,
    1e6,
]


def _range(name: str) -> np.ndarray:
    positive = np.logspace(-15, 15, 601, base=2.0)
    if name == "log_gamma":  # its encoding's domain is [0, max_value]
        return np.concatenate([[0.0], positive])
    return np.concatenate([-positive[::5], [0.0], positive])


# ----------------------------------------------------------------------------- registry


def test_encodings_are_the_contract_names():
    from hdr_mcp.vocabulary import ENCODINGS

    # pu21 clamps to PU21's fitted range: its own tests (test_pu21_curve.py), not these.
    assert set(encodings()) == set(ALL) | {"pu21"}
    assert encodings() == ENCODINGS  # the names every surface offers
    assert isinstance(encodings(), tuple)


def test_unknown_name_lists_valid_names():
    with pytest.raises(InvalidArgument, match="logc4") as info:
        encode(1.0, "logc5")
    assert info.value.argument == "encoding"
    with pytest.raises(InvalidArgument):
        decode(1.0, None)  # type: ignore[arg-type]


def test_names_are_case_insensitive():
    assert encode(0.18, "LogC4") == encode(0.18, "logc4")


def test_unknown_parameter_is_rejected():
    with pytest.raises(InvalidArgument, match="not a parameter of encoding 'logc4'") as info:
        encode(1.0, "logc4", nits_per_unit=100.0)
    assert info.value.argument == "nits_per_unit"
    with pytest.raises(InvalidArgument, match="valid: nits_per_unit"):
        decode(1.0, "pq", nits=100.0)


def test_parameters_reach_the_curve():
    assert encode(2.0, "pq", nits_per_unit=203.0) == pytest.approx(encode(4.06, "pq"), abs=1e-12)
    assert decode(1.0, "log_gamma", max_value=1000.0) == pytest.approx(1000.0)
    assert dict(encoding("log_gamma").defaults) == {"gamma": 2.2, "max_value": 65536.0}
    assert dict(ENCODINGS["pq"].defaults) == {"nits_per_unit": 100.0}


# ----------------------------------------------------------------------------- numpy


@pytest.mark.parametrize("name", ALL)
def test_round_trip_float64(name):
    x = _range(name)
    np.testing.assert_allclose(decode(encode(x, name), name), x, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_round_trip_float32(name):
    x = _range(name).astype(np.float32)
    code = encode(x, name)
    assert code.dtype == np.float32
    back = decode(code, name)
    assert back.dtype == np.float32
    # Code values are rounded to float32; decoding a log curve multiplies that by ~10-30.
    np.testing.assert_allclose(back, x, rtol=3e-5, atol=1e-7)


@pytest.mark.parametrize("name", ALL)
def test_dtype_rules(name):
    assert encode(np.float32([0.5]), name).dtype == np.float32
    assert encode(np.float64([0.5]), name).dtype == np.float64
    assert encode(np.float16([0.5]), name).dtype == np.float16
    assert encode(np.array([1, 2]), name).dtype == np.float64
    assert encode([0.5, 1.0], name).dtype == np.float64
    scalar = encode(0.5, name)
    assert isinstance(scalar, np.float64)
    zero_d = encode(np.array(0.5), name)
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == ()


@pytest.mark.parametrize("name", ALL)
def test_nd_shapes_and_non_contiguous_input(name):
    rng = np.random.default_rng(7)
    x = rng.lognormal(-1.0, 2.0, size=(2, 3, 4, 3))
    view = x.transpose(2, 0, 3, 1)[::-1]
    assert not view.flags.c_contiguous
    before = view.copy()
    out = encode(view, name)
    assert out.shape == view.shape
    np.testing.assert_array_equal(view, before)  # input untouched
    np.testing.assert_array_equal(
        out.reshape(-1), encode(np.ascontiguousarray(view).reshape(-1), name)
    )
    assert encode(np.zeros((0, 3)), name).shape == (0, 3)


@pytest.mark.parametrize("name", ALL)
def test_nan_propagates(name):
    x = np.array([np.nan, 0.18, np.nan])
    out = encode(x, name)
    assert np.isnan(out[0]) and np.isnan(out[2])
    assert out[1] == encode(0.18, name)
    back = decode(np.array([np.nan, 0.5]), name)
    assert np.isnan(back[0]) and back[1] == decode(0.5, name)


@pytest.mark.parametrize("name", ALL)
def test_monotonic(name):
    x = np.sort(_range(name))
    code = encode(x, name)
    assert np.all(np.diff(code) >= 0)
    if name != "log_gamma":  # clamps by definition
        assert np.all(np.diff(code) > 0)


@pytest.mark.parametrize("name", MIRRORED_OR_LINEAR_BELOW_ZERO)
@settings(max_examples=40, deadline=None)
@given(x=st.floats(min_value=-3e4, max_value=3e4, allow_nan=False))
def test_round_trip_any_real(name, x):
    assert decode(encode(x, name), name) == pytest.approx(x, rel=1e-6, abs=1e-12)


# ----------------------------------------------------------------------------- torch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_matches_numpy(torch, name, dtype_name):
    dtype = getattr(torch, dtype_name)
    x = _range(name).astype(dtype_name)
    tolerance = {"float32": {"rtol": 2e-6, "atol": 1e-7}, "float64": {"rtol": 1e-12, "atol": 1e-15}}
    code_t = encode(torch.from_numpy(x), name)
    assert code_t.dtype == dtype
    code_n = encode(x, name)
    np.testing.assert_allclose(code_t.numpy(), code_n, **tolerance[dtype_name])
    back_t = decode(torch.from_numpy(code_n), name)
    assert back_t.dtype == dtype
    # Decoding float32 amplifies rounding of intermediate values by ~20x on the log curves.
    tol = tolerance[dtype_name] if dtype_name == "float64" else {"rtol": 4e-5, "atol": 1e-7}
    np.testing.assert_allclose(back_t.numpy(), decode(code_n, name), **tol)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_gradients_are_finite(torch, name, dtype_name):
    dtype = getattr(torch, dtype_name)
    x = torch.tensor(SPECIAL, dtype=dtype, requires_grad=True)
    encode(x, name).sum().backward()
    assert torch.isfinite(x.grad).all(), x.detach()[~torch.isfinite(x.grad)]
    codes = torch.tensor(
        [-1.0, -0.2, -1e-6, 0.0, 1e-6, 0.0729, 0.0929, 0.149, 0.155, 0.5, 1.0, 1.5],
        dtype=dtype,
        requires_grad=True,
    )
    decode(codes, name).sum().backward()
    assert torch.isfinite(codes.grad).all(), codes.detach()[~torch.isfinite(codes.grad)]


@pytest.mark.parametrize("name", ALL)
def test_torch_gradients_match_finite_differences(torch, name):
    points = torch.tensor([0.05, 0.18, 1.0, 7.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: encode(t, name), (points,))
    codes = torch.tensor([0.3, 0.45, 0.6], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: decode(t, name), (codes,))


@pytest.mark.parametrize("name", ALL)
def test_torch_keeps_dtype_device_and_shape(torch, name):
    x = torch.rand(2, 3, 5, dtype=torch.float16) * 4
    out = encode(x, name)
    assert out.dtype == torch.float16 and out.device == x.device and out.shape == x.shape
    assert decode(out, name).dtype == torch.float16
    assert encode(torch.tensor([1, 2]), name).dtype == torch.get_default_dtype()
    nan = encode(torch.tensor([float("nan"), 0.18]), name)
    assert torch.isnan(nan[0]) and not torch.isnan(nan[1])


def test_torch_pq_beyond_asymptote_is_inf(torch):
    out = decode(torch.tensor([2.5, -2.5, float("nan")], dtype=torch.float64), "pq")
    assert out[0] == math.inf and out[1] == -math.inf and torch.isnan(out[2])


@pytest.mark.parametrize("name", ALL)
def test_torch_on_cuda_matches_cpu(torch, name):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = torch.tensor(SPECIAL, dtype=torch.float32, requires_grad=True)
    x_gpu = x.detach().cuda().requires_grad_(True)
    out_gpu = encode(x_gpu, name)
    assert out_gpu.device == x_gpu.device and out_gpu.dtype == torch.float32
    torch.testing.assert_close(out_gpu.cpu(), encode(x, name).detach(), rtol=2e-6, atol=1e-7)
    out_gpu.sum().backward()
    assert torch.isfinite(x_gpu.grad).all()
    assert decode(out_gpu.detach(), name).device == x_gpu.device
