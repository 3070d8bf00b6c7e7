"""Each bundled prompt's steps run, as an agent would run them, through the SDK client.

A prompt names its tool calls in backticks, ``tool(arg="value", ...)``, and refers to an earlier
result as ``<key from step N>``. This test renders every prompt, runs its calls in order (a
``get_job`` step only when the call before it is still running), and checks that every result
key the prompt tells the agent to report (a backticked name) exists in the results.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

_CALL = re.compile(r"`([a-z_]+)\((.*?)\)`", re.DOTALL)
_REFERENCE = re.compile(r"<([a-z_]+) from step (\d+)>")
_NAME = re.compile(r"`([a-z][a-z0-9_]*)`")


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _arguments(text: str, results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    def resolve(match: re.Match) -> str:
        key, step = match.group(1), int(match.group(2))
        return repr(results[step][key])

    call = ast.parse(f"f({_REFERENCE.sub(resolve, text)})", mode="eval").body
    json_names = {"true": True, "false": False, "null": None}  # agents write JSON literals

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Name) and node.id in json_names:
            return json_names[node.id]
        return ast.literal_eval(node)

    return {kw.arg: value(kw.value) for kw in call.keywords}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def _run_steps(client: Client, text: str, tools: dict[str, Any]) -> set[str]:
    steps = re.split(r"\n(?=\d+\. )", text)
    results: dict[int, dict[str, Any]] = {}
    seen: set[str] = set()
    for step in steps:
        number = re.match(r"(\d+)\. ", step)
        if not number:
            continue
        n = int(number.group(1))
        for tool, args in _CALL.findall(step):
            assert tool in tools, f"step {n} names an unknown tool {tool!r}"
            if tool == "get_job" and results.get(n, {}).get("status") != "running":
                continue  # only needed while the job runs
            arguments = _arguments(args, results)
            if "wait_seconds" in tools[tool].input_schema["properties"]:
                arguments.setdefault("wait_seconds", 100)
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, (n, tool, result.content)
            data = result.structured_content
            results[n] = {**data, **(data.get("result") or {})}
            seen |= _keys(data)
    return seen


@pytest.mark.parametrize(
    ("prompt", "arguments"),
    [
        ("convert_plate_to_hdr", {"input": "plate.png", "colorspace": "acescg"}),
        ("evaluate_against_reference",
         {"prediction": "pred.exr", "reference": "ref.exr", "nits_per_unit": "100"}),
        ("make_hdri_for_lighting", {"scene": "a desert at dusk", "model": "tiny-qwen-image"}),
        ("convert_plate_with_diffusion", {"input": "plate_small.png", "method": "wan-vace",
                                          "model": "tiny-wan2.1-vace-1.3b",
                                          "colorspace": "lin_rec709"}),
    ],
)
async def test_prompt_steps_run_and_name_real_result_keys(server, workspace, prompt, arguments):
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        listed = {p.name for p in (await client.list_prompts()).prompts}
        assert prompt in listed
        rendered = await client.get_prompt(prompt, arguments)
        text = rendered.messages[0].content.text
        assert "{" not in text.replace("{}", "")  # every placeholder filled
        seen = await _run_steps(client, text, tools)
    arguments_of = {a for t in tools.values() for a in t.input_schema.get("properties", {})}
    named = set(_NAME.findall(text)) - set(tools) - arguments_of
    named -= {"succeeded", "running", "status", "metrics", "reference_metrics"}
    named -= {"pass", "review", "fail"}  # values of the verdict, not keys
    assert named, "the prompt names result keys for the agent to report"
    from hdr_mcp.metrics.evaluate import DEFINITIONS  # metrics of sequences only, for example

    known = seen | set(DEFINITIONS)
    assert named <= known, f"the prompt names keys no result has: {sorted(named - known)}"
