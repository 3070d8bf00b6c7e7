"""hdr_mcp.training (see DESIGN: later issues)."""
