"""`python -m hdr_mcp` runs the `hdr-mcp` command line."""

from hdr_mcp.cli import main

main()
