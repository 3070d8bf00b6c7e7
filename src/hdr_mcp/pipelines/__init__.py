"""hdr_mcp.pipelines (see DESIGN: later issues)."""
