"""Handler registry: built-in kinds, register(), $HDR_MCP_EXTRA_HANDLERS, lazy import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs import handlers

HERE = Path(__file__).resolve().parent


def test_builtin_kinds_map_to_the_contract_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(handlers.EXTRA_HANDLERS_ENV, raising=False)
    assert dict(handlers.BUILTIN_HANDLERS) == {
        "evaluate": "hdr_mcp.metrics.evaluate:run",
        "sdr_to_hdr_video": "hdr_mcp.pipelines.sdr_to_hdr:run",
    }
    assert handlers.kinds() == ("evaluate", "sdr_to_hdr_video")
    with pytest.raises(TypeError):
        handlers.BUILTIN_HANDLERS["x"] = "a:b"  # type: ignore[index]


def test_unknown_kind_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(handlers.EXTRA_HANDLERS_ENV, raising=False)
    with pytest.raises(InvalidArgument) as info:
        handlers.resolve("nope")
    assert str(info.value) == (
        "kind='nope': unknown job kind; known kinds: evaluate, sdr_to_hdr_video")
    assert info.value.argument == "kind"


def test_register_imports_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delitem(sys.modules, "jobs_test_handlers", raising=False)
    handlers.register("echo_plugin", "jobs_test_handlers:echo")
    try:
        assert "echo_plugin" in handlers.kinds()
        assert "jobs_test_handlers" not in sys.modules  # registering imports nothing
        fn = handlers.resolve("echo_plugin")
        assert "jobs_test_handlers" in sys.modules and fn.__name__ == "echo"
    finally:
        handlers.unregister("echo_plugin")
    assert "echo_plugin" not in handlers.kinds()
    with pytest.raises(InvalidArgument, match="^target='no colon'"):
        handlers.register("bad", "no colon")
    with pytest.raises(InvalidArgument, match="^target='bad kind'"):
        handlers.register("bad kind", "a.b:c")


def test_extra_handlers_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {handlers.EXTRA_HANDLERS_ENV: " a=pkg.mod:fn , b.v2=other:run ,"}
    assert handlers.handlers(env) == {**handlers.BUILTIN_HANDLERS, "a": "pkg.mod:fn",
                                      "b.v2": "other:run"}
    # An env entry may override a built-in (a plugin replacing a pipeline).
    assert handlers.target_of("evaluate", {handlers.EXTRA_HANDLERS_ENV: "evaluate=x:y"}) == "x:y"
    monkeypatch.setenv(handlers.EXTRA_HANDLERS_ENV, "late=mod:fn")
    assert "late" in handlers.kinds()  # read at each lookup, not at import
    for bad in ("justakind", "k=nomodule", "k=mod:fn:extra"):
        with pytest.raises(InvalidArgument, match=f"^{handlers.EXTRA_HANDLERS_ENV}="):
            handlers.handlers({handlers.EXTRA_HANDLERS_ENV: bad})


def test_unimportable_handlers_raise_a_clear_error() -> None:
    env = {handlers.EXTRA_HANDLERS_ENV:
           "missing=hdr_mcp_no_such_module:run,noattr=hdr_mcp.errors:run,"
           "notcallable=hdr_mcp.jobs.handlers:EXTRA_HANDLERS_ENV"}
    with pytest.raises(HdrMcpError, match="'hdr_mcp_no_such_module:run' of job kind 'missing' "
                                          "cannot be imported: ModuleNotFoundError") as info:
        handlers.resolve("missing", env)
    assert isinstance(info.value.__cause__, ImportError)
    with pytest.raises(HdrMcpError, match="module has no 'run'"):
        handlers.resolve("noattr", env)
    with pytest.raises(HdrMcpError, match="is not callable"):
        handlers.resolve("notcallable", env)
