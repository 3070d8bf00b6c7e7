"""Sample HDR images shipped with the package (for ``hdr-mcp demo`` and examples).

``sunrise``: 512x256 lat-long sky with a visible sun, half float, DWAB, linear Rec.709; a 2x2
box-filtered copy of the CC0 HDRI by Greg Zaal (HDRI Haven) from Debian ``blender-data``
3.4.1 (see ``LICENSE.md`` beside this file and ``tools/make_test_data.py``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hdr_mcp.errors import InvalidArgument

__all__ = ["sample_path", "samples"]

_SAMPLES = ("sunrise",)


def samples() -> tuple[str, ...]:
    """Names accepted by :func:`sample_path`."""
    return _SAMPLES


def sample_path(name: str = "sunrise") -> Path:
    """Return the filesystem path of the bundled sample EXR ``name``.

    Raises :class:`~hdr_mcp.errors.InvalidArgument` for an unknown name (listing the valid ones).
    The package is installed as plain files (wheel or editable), so the resource is a real path.
    """
    if name not in _SAMPLES:
        raise InvalidArgument("name", name, f"expected one of {', '.join(_SAMPLES)}")
    return Path(str(files(__name__).joinpath(f"{name}.exr")))
