"""Hypothesis fuzzing of tool arguments: any JSON gives a result (error or not), never a crash."""

from __future__ import annotations

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)

TOOL_ARGS = {
    "inspect_hdr": ["path"],
    "evaluate": ["prediction", "reference", "nits_per_unit", "output_dir", "wait_seconds"],
    "sdr_to_hdr_video": ["input", "method", "output_dir", "start", "stop", "colorspace", "target_peak", "wait_seconds"],
    "get_job": ["job_id", "wait_seconds"],
    "list_jobs": ["status", "kind", "limit"],
    "cancel_job": ["job_id"],
}

calls = st.sampled_from(sorted(TOOL_ARGS)).flatmap(
    lambda tool: st.tuples(
        st.just(tool),
        st.dictionaries(
            st.sampled_from(TOOL_ARGS[tool]) | st.text(max_size=6),
            json_values,
            max_size=4,
        ).map(lambda d: {k: (min(v, 0.5) if k == "wait_seconds" and isinstance(v, (int, float)) else v)
                         for k, v in d.items()}),
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=calls)
def test_random_arguments_never_crash_the_server(server_config, call):
    from hdr_mcp.server import build_server

    server_config.worker = "none"
    server = build_server(server_config)
    tool, args = call

    async def main():
        async with Client(server) as client:
            result = await client.call_tool(tool, args)
            if result.is_error:
                assert result.content and result.content[0].text
            ok = await client.call_tool("list_jobs", {"limit": 1})
            assert not ok.is_error

    anyio.run(main)
