"""Input validation shared by the metric functions (boundary checks that name the argument)."""

from __future__ import annotations

import math

import numpy as np

from hdr_mcp.errors import InvalidArgument


def as_image(x: object, argument: str, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``x`` as a finite float64 ndarray or raise :class:`InvalidArgument` naming it."""
    try:
        arr = np.asarray(x)
    except Exception as e:  # e.g. ragged nested lists
        raise InvalidArgument(argument, type(x).__name__, f"not an array: {e}") from e
    if arr.dtype.kind not in "fiub":
        raise InvalidArgument(argument, arr.dtype, "expected a real-valued numeric array")
    if arr.ndim < min_ndim:
        raise InvalidArgument(argument, arr.shape, f"expected at least {min_ndim} dimension(s)")
    if arr.size == 0:
        raise InvalidArgument(argument, arr.shape, "array is empty")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        raise InvalidArgument(
            argument,
            f"array{arr.shape}",
            f"contains {bad} NaN/Inf value(s); metrics need finite pixels",
        )
    return arr


def as_rgb(x: object, argument: str) -> np.ndarray:
    """Finite float64 array whose last axis has exactly 3 (RGB) channels."""
    arr = as_image(x, argument)
    if arr.shape[-1] != 3:
        raise InvalidArgument(
            argument, arr.shape, "expected RGB pixels with 3 channels on the last axis (..., 3)"
        )
    return arr


def same_shape(pred: np.ndarray, ref: np.ndarray) -> None:
    """Raise :class:`InvalidArgument` naming ``ref`` when the two shapes differ."""
    if pred.shape != ref.shape:
        raise InvalidArgument("ref", ref.shape, f"shape differs from pred {pred.shape}")


def positive_scale(
    value: object, argument: str = "nits_per_unit", *, maximum: float = 1e6
) -> float:
    """A finite scale factor in (0, maximum]."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise InvalidArgument(argument, value, "expected a number") from e
    if not math.isfinite(v) or v <= 0.0 or v > maximum:
        raise InvalidArgument(argument, value, f"expected a finite number in (0, {maximum:g}]")
    return v


def percentile_value(value: object, argument: str) -> float:
    """A percentile in [0, 100]."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise InvalidArgument(argument, value, "expected a number in [0, 100]") from e
    if not 0.0 <= v <= 100.0:
        raise InvalidArgument(argument, value, "expected a percentile in [0, 100]")
    return v
