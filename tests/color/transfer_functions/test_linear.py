"""The identity encoding returns copies with the package's dtype rules."""

from __future__ import annotations

import numpy as np

from hdr_mcp.color.transfer_functions import linear


def test_identity_copy():
    x = np.array([-1.0, 0.0, 1e4], dtype=np.float32)
    out = linear.linear_function(x)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == np.float32
    assert not np.shares_memory(out, x)
    assert linear.linear_function([1, 2]).dtype == np.float64
    assert isinstance(linear.linear_function(2), np.float64)
