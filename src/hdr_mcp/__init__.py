"""hdr-mcp: scene-referred linear HDR from diffusion models, served over MCP.

Importing this package is cheap: no torch, diffusers or peft is imported here or by
``hdr_mcp.color`` / ``hdr_mcp.io``. Heavy libraries load inside the functions that need them.
"""

from __future__ import annotations

from hdr_mcp.errors import HdrMcpError, InvalidArgument

# The single source of the version (pyproject reads it through hatch); a literal keeps
# `import hdr_mcp` free of importlib.metadata, which costs ~30 ms on every server start.
__version__ = "0.1.0"

__all__ = ["HdrMcpError", "InvalidArgument", "__version__"]
