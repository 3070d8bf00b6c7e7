"""Shared references for the colour tests: HDR sample ranges, OpenColorIO and colour-science."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="session")
def hdr_range() -> np.ndarray:
    """2^-15 .. 2^15 (OpenColorIO's test range), log-spaced, float64, positive only."""
    return np.logspace(-15, 15, 601, base=2.0)


@pytest.fixture(scope="session")
def colour():
    """colour-science, imported once (its SciPy/Matplotlib warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = pytest.importorskip("colour")
    return module


@pytest.fixture(scope="session")
def ocio_ref():
    """Helpers to evaluate OpenColorIO transforms with OPTIMIZATION_LOSSLESS on 1-D data."""
    ocio = pytest.importorskip("PyOpenColorIO")
    raw = ocio.Config.CreateRaw()

    def apply(transform, values) -> np.ndarray:
        processor = raw.getProcessor(transform).getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
        rgb = np.repeat(np.asarray(values, dtype=np.float32).reshape(-1, 1), 3, axis=1)
        rgb = np.ascontiguousarray(rgb)
        processor.applyRGB(rgb)
        return rgb[:, 0].astype(np.float64)

    def builtin_curve(name: str, direction: str):
        """First element (the log curve) of a camera builtin, lin->log for "encode"."""
        group = raw.getProcessor(ocio.BuiltinTransform(name)).createGroupTransform()
        transform = group[0]
        transform.setDirection(
            ocio.TRANSFORM_DIR_FORWARD if direction == "encode" else ocio.TRANSFORM_DIR_INVERSE
        )
        return transform

    return SimpleNamespace(ocio=ocio, apply=apply, builtin_curve=builtin_curve)
