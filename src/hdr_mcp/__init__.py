"""hdr-mcp: scene-referred linear HDR from diffusion models, served over MCP.

Importing this package is cheap: no torch, diffusers or peft is imported here or by
``hdr_mcp.color`` / ``hdr_mcp.io``. Heavy libraries load inside the functions that need them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from hdr_mcp.errors import HdrMcpError, InvalidArgument

try:
    __version__ = version("hdr-mcp")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["HdrMcpError", "InvalidArgument", "__version__"]
