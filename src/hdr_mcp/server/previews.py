"""Small PNG previews for tool results.

Agents look at results through images in the tool result; clients choke on base64 payloads over
about 1 MiB, so every preview is at most 512 px on its longest side and PNG-compressed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy stays off the server's start-up path
    import numpy as np

MAX_PREVIEW_SIZE = 512


def preview_png(
    source: Path | np.ndarray, max_size: int = MAX_PREVIEW_SIZE, *, display: bool = False
) -> bytes:
    """PNG bytes of a preview no larger than ``max_size`` px.

    ``source`` is either a PNG/JPEG file written by a pipeline (downscaled if needed) or
    linear pixels: scene-linear HDR, tone-mapped with :func:`hdr_mcp.color.preview`, or, with
    ``display=True``, linearised SDR (1.0 = SDR white) shown as it is (sRGB-encoded, no tone
    curve), so an SDR file's preview looks like the file.
    """
    from PIL import Image

    if not isinstance(source, (str, Path)):
        from hdr_mcp.color import preview

        operator = "clip" if display else "reinhard"
        image = Image.fromarray(preview(source, max_size=max_size, operator=operator))
    else:
        image = Image.open(source)
        image.load()
        image = image.convert("RGB")
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
