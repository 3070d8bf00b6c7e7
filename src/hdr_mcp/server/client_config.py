"""``hdr-mcp mcp-config``: an ``mcpServers`` block that works when an MCP client starts it.

MCP clients (Claude Code, Cursor, Claude Desktop) start servers with a reduced environment and
their own working folder, so the block uses absolute paths only and no shell variables:

- ``this-install``: this installation's ``hdr-mcp`` executable (a virtualenv's, say);
- ``uvx-checkout``: ``uvx --from <this source checkout> hdr-mcp`` (uv builds it in its cache);
- ``uvx``: ``uvx hdr-mcp`` from the package index (once the package is published there).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from hdr_mcp.errors import InvalidArgument

__all__ = ["LAUNCHERS", "checkout_root", "client_config"]

LAUNCHERS = ("this-install", "uvx-checkout", "uvx")


def checkout_root() -> Path | None:
    """The source checkout this package runs from (its ``pyproject.toml`` names hdr-mcp)."""
    root = Path(__file__).resolve().parents[3]
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "hdr-mcp"' in project.read_text(encoding="utf-8"):
        return root
    return None


def _command(launcher: str) -> list[str]:
    if launcher == "this-install":
        script = Path(sys.executable).with_name("hdr-mcp")
        found = script if script.is_file() else shutil.which("hdr-mcp")
        return [str(Path(found).resolve())] if found else [sys.executable, "-m", "hdr_mcp"]
    uvx = shutil.which("uvx") or "uvx"
    if launcher == "uvx":
        return [uvx, "hdr-mcp"]
    root = checkout_root()
    if root is None:
        raise InvalidArgument("launcher", launcher, "this hdr-mcp is not running from a source "
                              "checkout; use this-install or uvx")
    return [uvx, "--from", str(root), "hdr-mcp"]


def client_config(
    *, roots: list[Path] | None, output_dir: Path | None, launcher: str = "this-install"
) -> dict[str, Any]:
    """The ``{"mcpServers": {"hdr-mcp": {...}}}`` block for this machine."""
    if launcher not in LAUNCHERS:
        raise InvalidArgument("launcher", launcher, f"choose one of: {', '.join(LAUNCHERS)}")
    command = _command(launcher)
    args = [*command[1:], "serve"]
    for root in roots or [Path.cwd()]:
        args += ["--root", str(Path(root).expanduser().resolve())]
    if output_dir is not None:
        args += ["--output-dir", str(Path(output_dir).expanduser().resolve())]
    return {"mcpServers": {"hdr-mcp": {"command": command[0], "args": args}}}
