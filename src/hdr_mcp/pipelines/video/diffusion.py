"""The ``ltx2-hdr`` and ``wan-vace`` methods of ``sdr_to_hdr_video`` (in progress)."""

from __future__ import annotations

from typing import Any

from hdr_mcp.errors import InvalidArgument


def convert_with_diffusion(params: Any, ctx: Any = None) -> dict[str, Any]:
    raise InvalidArgument("method", params.method, "is not available yet")
