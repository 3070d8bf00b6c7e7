"""Identity "encoding": scene-linear values pass through unchanged.

Registered as ``"linear"`` so code that always goes through :func:`hdr_mcp.color.encode` can
train or store data without a curve. The result is a new array/tensor (never the input object),
with the package's dtype rules applied.
"""

from __future__ import annotations

import numpy as np

from hdr_mcp.color._array import float_array

__all__ = ["linear_function", "linear_function_torch"]


def linear_function(x):
    """Return a copy of ``x`` as a floating array (float32/float64/float16 kept, else float64)."""
    out = np.array(float_array(x), copy=True)
    if out.ndim == 0 and not isinstance(x, np.ndarray):
        return out[()]
    return out


def linear_function_torch(x):
    """Torch variant of :func:`linear_function`: a differentiable copy (``clone``)."""
    import torch

    if not x.is_floating_point():
        return x.to(torch.get_default_dtype())
    return x.clone()
