"""Array plumbing shared by the colour modules: numpy/torch detection, dtype rules, chunked kernels.

Rules every public colour function follows (see the package docstring):

* numpy ``float32`` in -> ``float32`` out, ``float64`` -> ``float64``; ``float16`` is computed in
  ``float32`` and returned as ``float16``; integers, booleans, python scalars and lists ->
  ``float64``.
* torch tensors keep dtype and device; ``float16``/``bfloat16`` are computed in ``float32``.
* torch is never imported here at module level: a tensor is recognised by the module its type
  comes from, so handing us numpy never loads torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from hdr_mcp.errors import InvalidArgument

# Elements per chunk of the numpy kernels. Working on ~64k elements at a time keeps the
# intermediates of the 4-6 arithmetic steps in L2 cache and the scratch buffers small (O(chunk),
# not O(image)); on a 4K RGB float32 frame this measured ~1.2x faster than whole-array numpy
# with the same in-place steps, and 64k was the fastest of 8k..1M.
CHUNK_ELEMENTS = 1 << 16

Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def is_torch_tensor(x: Any) -> bool:
    """True for a ``torch.Tensor`` (or subclass such as ``Parameter``) without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "dtype") and hasattr(x, "device")


def float_array(x: Any, argument: str = "x") -> np.ndarray:
    """``x`` as a floating numpy array (no copy when it already is float16/32/64)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(argument, x, "expected a real numeric array") from e
    if arr.dtype in (np.float16, np.float32, np.float64):
        return arr
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    raise InvalidArgument(argument, x, f"expected a real numeric array, got dtype {arr.dtype}")


def positive_number(value: Any, argument: str) -> float:
    """``value`` as a float after checking it is a finite number > 0 (strings and bools refused)."""
    if isinstance(value, (str, bytes, bool)):
        raise InvalidArgument(argument, value, "expected a number > 0")
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(argument, value, "expected a number > 0") from e
    if not (math.isfinite(number) and number > 0.0):
        raise InvalidArgument(argument, value, "expected a finite number > 0")
    return number


def check_channels(x: Any, argument: str, channels: int, *, exact: bool) -> None:
    """Refuse ``x`` unless its last axis holds ``channels`` (``exact``) or at least that many."""
    shape = tuple(x.shape)
    ok = len(shape) >= 1 and (shape[-1] == channels if exact else shape[-1] >= channels)
    if not ok:
        want = f"{channels} channels" if exact else f"at least {channels} channels"
        raise InvalidArgument(
            argument, f"array of shape {shape}", f"expected {want} in the last axis"
        )


def _work_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def apply_kernel(kernel: Kernel, x: Any, argument: str = "x", *, float64: bool = False) -> Any:
    """Run an elementwise ``kernel(x_chunk, out_chunk, tmp, mask)`` over ``x`` chunk by chunk.

    The kernel writes its result into ``out_chunk``; ``tmp`` (float, same dtype) and ``mask``
    (bool) are scratch buffers of the same length it may overwrite. ``x_chunk`` must never be
    written. Floating-point warnings are silenced because kernels evaluate both branches of a
    piecewise curve and discard the invalid one.

    ``float64=True`` evaluates float32 input in float64 chunk by chunk (for ill-conditioned
    curves such as PQ decoding, whose float32 intermediates would lose ~40 ulp); the result is
    still returned in the input's dtype.
    """
    arr = float_array(x, argument)
    work = _work_dtype(arr.dtype)
    src = arr.astype(work, order="C", copy=False)
    out = np.empty(src.shape, dtype=work)
    flat_in = src.reshape(-1)
    flat_out = out.reshape(-1)
    n = flat_in.size
    size = min(n, CHUNK_ELEMENTS)
    compute = np.dtype(np.float64) if float64 else work
    tmp = np.empty(size, dtype=compute)
    mask = np.empty(size, dtype=bool)
    upcast = compute != work
    if upcast:
        chunk_in = np.empty(size, dtype=compute)
        chunk_out = np.empty(size, dtype=compute)
    with np.errstate(all="ignore"):
        for start in range(0, n, CHUNK_ELEMENTS):
            stop = min(start + CHUNK_ELEMENTS, n)
            m = stop - start
            if upcast:
                chunk_in[:m] = flat_in[start:stop]
                kernel(chunk_in[:m], chunk_out[:m], tmp[:m], mask[:m])
                flat_out[start:stop] = chunk_out[:m]
            else:
                kernel(flat_in[start:stop], flat_out[start:stop], tmp[:m], mask[:m])
    if out.dtype != arr.dtype:
        out = out.astype(arr.dtype)
    if out.ndim == 0 and not isinstance(x, np.ndarray):
        return out[()]
    return out


def negate_where_negative(x: np.ndarray, o: np.ndarray, mask: np.ndarray) -> None:
    """In place: ``o = -o`` where ``x < 0`` (odd extension of a curve defined for x >= 0)."""
    np.less(x, 0, out=mask)
    if mask.any():
        np.negative(o, out=o, where=mask)


def tensor_to_numpy(x: Any) -> Any:
    """A torch tensor as a detached float32 CPU numpy array; anything else is returned as is.

    float32 because numpy has no bfloat16 (``.numpy()`` refuses it); the callers (previews,
    OpenColorIO's CPU path) work in float32 anyway.
    """
    if is_torch_tensor(x):
        return x.detach().cpu().float().numpy()
    return x


def torch_module():
    """Import torch lazily (only torch inputs reach this)."""
    import torch

    return torch


def torch_float(x, *, float64: bool = False):
    """(tensor in a float compute dtype, dtype to return). Half types compute in float32.

    ``float64=True`` computes float16/bfloat16/float32 in float64 where the device has it
    (not on Apple MPS), for ill-conditioned curves (PQ); autograd flows through the casts.
    """
    torch = torch_module()
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    out_dtype = x.dtype
    if float64 and x.dtype != torch.float64 and x.device.type != "mps":
        x = x.to(torch.float64)
    elif x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    return x, out_dtype


def torch_pow_bounded(u, p: float, floor: float = 1e-20):
    """``u ** p`` for ``u >= 0`` and ``0 < p``, with a finite gradient at and near zero.

    For ``p < 1`` the true derivative ``p * u**(p-1)`` is infinite at 0 (PQ's ``Y**m1``, HLG's
    square root, log-gamma's ``1/gamma`` power). Values stay exact everywhere; below ``floor``
    the gradient is the (large but finite) slope at ``floor`` instead of ``inf``/``nan``.
    """
    torch = torch_module()
    if p >= 1.0:
        return torch.clamp_min(u, 0.0) ** p
    above = u > floor
    hi = torch.where(above, u, torch.full_like(u, floor)) ** p
    lo_value = torch.clamp_min(u.detach(), 0.0) ** p
    lo = lo_value + (u - u.detach()) * (p * floor ** (p - 1.0))
    return torch.where(above, hi, lo)


def torch_odd(x, f):
    """Odd extension ``sign(x) * f(|x|)`` with ``f`` applied to a safe non-negative input.

    ``where`` is used instead of ``abs``/``sign`` so the gradient at exactly 0 is ``f'(0+)``
    (finite by construction of ``f``) rather than 0.
    """
    torch = torch_module()
    negative = x < 0
    magnitude = torch.where(negative, -x, x)
    y = f(magnitude)
    return torch.where(negative, -y, y)
