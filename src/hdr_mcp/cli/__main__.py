"""``python -m hdr_mcp.cli``: the ``hdr-mcp`` command."""

from hdr_mcp.cli import main

main()
