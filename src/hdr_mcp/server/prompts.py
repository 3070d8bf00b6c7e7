"""Serve the markdown workflow templates in ``prompts/`` as MCP prompts.

Each template is a markdown file whose first line is ``# Title`` and whose arguments are written
``{name}`` in the text; the argument list is read from a front-matter-free convention: every
``{name}`` placeholder becomes a required string argument. Templates ship inside the wheel as
``hdr_mcp/_prompts`` and are read from the source tree's ``prompts/`` in a checkout.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument, UserMessage

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def prompt_files() -> list[Path]:
    """Markdown templates, from the installed package or the source checkout."""
    packaged = resources.files("hdr_mcp").joinpath("_prompts")
    if packaged.is_dir():
        return sorted(Path(str(p)) for p in packaged.iterdir() if p.name.endswith(".md"))
    checkout = Path(__file__).resolve().parents[3] / "prompts"
    return sorted(checkout.glob("*.md")) if checkout.is_dir() else []


def _make_prompt(path: Path) -> Prompt:
    text = path.read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    title = first.lstrip("# ").strip()
    names = list(dict.fromkeys(_PLACEHOLDER.findall(body)))
    description = next((line.strip() for line in body.splitlines() if line.strip()), title)

    def render(**kwargs: str) -> list[UserMessage]:
        return [UserMessage(_PLACEHOLDER.sub(lambda m: str(kwargs.get(m.group(1), m.group(0))), body).strip())]

    return Prompt(
        name=path.stem,
        title=title,
        description=description,
        arguments=[PromptArgument(name=n, description=n.replace("_", " "), required=True) for n in names],
        fn=render,
    )


def register_prompts(mcp: MCPServer) -> None:
    for path in prompt_files():
        mcp.add_prompt(_make_prompt(path))
