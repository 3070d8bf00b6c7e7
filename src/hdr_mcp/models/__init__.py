"""hdr_mcp.models (see DESIGN: later issues)."""
