"""Job kinds: built-ins declared once, register(), $HDR_MCP_EXTRA_HANDLERS, lazy import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.jobs import kinds as registry
from hdr_mcp.params.evaluate import EvaluateParams
from hdr_mcp.params.generate import GenerateParams
from hdr_mcp.params.sdr_to_hdr import SdrToHdrParams
from hdr_mcp.params.training import PrecomputeParams, TrainLoraParams

HERE = Path(__file__).resolve().parent


def test_builtin_kinds_are_declared_once_with_their_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registry.EXTRA_HANDLERS_ENV, raising=False)
    builtins = registry.BUILTIN_KINDS
    assert {k: (v.run, v.params) for k, v in builtins.items()} == {
        "evaluate": ("hdr_mcp.metrics.evaluate:run", EvaluateParams),
        "generate_hdr": ("hdr_mcp.pipelines.text_to_hdr:run", GenerateParams),
        "sdr_to_hdr_video": ("hdr_mcp.pipelines.sdr_to_hdr:run", SdrToHdrParams),
        "train_lora": ("hdr_mcp.training.tools:run_train_lora", TrainLoraParams),
        "precompute_latents": ("hdr_mcp.training.tools:run_precompute_latents",
                               PrecomputeParams),
    }
    assert builtins["sdr_to_hdr_video"].resumable and not builtins["evaluate"].resumable
    assert builtins["sdr_to_hdr_video"].command == "sdr-to-hdr-video"
    assert builtins["generate_hdr"].device == "cuda"
    assert sorted(registry.kinds()) == ["evaluate", "generate_hdr", "precompute_latents",
                                        "sdr_to_hdr_video", "train_lora"]
    with pytest.raises(TypeError):
        builtins["x"] = builtins["evaluate"]  # type: ignore[index]


def test_unknown_kind_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registry.EXTRA_HANDLERS_ENV, raising=False)
    with pytest.raises(InvalidArgument) as info:
        registry.resolve("nope")
    assert str(info.value) == (
        "kind='nope': unknown job kind; known kinds: evaluate, generate_hdr, precompute_latents, "
        "sdr_to_hdr_video, train_lora")
    assert info.value.argument == "kind"


def test_parse_names_the_bad_argument() -> None:
    kind = registry.BUILTIN_KINDS["sdr_to_hdr_video"]
    with pytest.raises(InvalidArgument) as info:
        kind.parse({"input": "a.png", "out": "x"})
    assert info.value.argument == "out"
    assert "did you mean 'output_dir'?" in info.value.reason
    parsed = kind.parse({"input": "a.png"})
    assert isinstance(parsed, SdrToHdrParams) and parsed.target_peak_nits == 1000.0


def test_register_imports_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delitem(sys.modules, "jobs_test_handlers", raising=False)
    registry.register("echo_plugin", "jobs_test_handlers:echo")
    try:
        assert "echo_plugin" in registry.kinds()
        assert "jobs_test_handlers" not in sys.modules  # registering imports nothing
        fn = registry.resolve("echo_plugin")
        assert "jobs_test_handlers" in sys.modules and fn.__name__ == "echo"
    finally:
        registry.unregister("echo_plugin")
    assert "echo_plugin" not in registry.kinds()
    with pytest.raises(InvalidArgument, match="^target='no colon'"):
        registry.register("bad", "no colon")
    with pytest.raises(InvalidArgument, match="^target='bad kind'"):
        registry.register("bad kind", "a.b:c")


def test_extra_handlers_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {registry.EXTRA_HANDLERS_ENV: " a=pkg.mod:fn , b.v2=other:run ,"}
    table = registry.kinds(env)
    assert {k: v.run for k, v in table.items() if k not in registry.BUILTIN_KINDS} == {
        "a": "pkg.mod:fn", "b.v2": "other:run"}
    assert table["a"].params is None  # plugin kinds get a plain dict
    # An env entry may override a built-in (a plugin replacing a pipeline).
    override = {registry.EXTRA_HANDLERS_ENV: "evaluate=x:y"}
    assert registry.job_kind("evaluate", override).run == "x:y"
    monkeypatch.setenv(registry.EXTRA_HANDLERS_ENV, "late=mod:fn")
    assert "late" in registry.kinds()  # read at each lookup, not at import
    for bad in ("justakind", "k=nomodule", "k=mod:fn:extra"):
        with pytest.raises(InvalidArgument, match=f"^{registry.EXTRA_HANDLERS_ENV}="):
            registry.kinds({registry.EXTRA_HANDLERS_ENV: bad})


def test_unimportable_handlers_raise_a_clear_error() -> None:
    env = {registry.EXTRA_HANDLERS_ENV:
           "missing=hdr_mcp_no_such_module:run,noattr=hdr_mcp.errors:run,"
           "notcallable=hdr_mcp.jobs.kinds:EXTRA_HANDLERS_ENV"}
    with pytest.raises(HdrMcpError, match="job kind 'missing' needs hdr_mcp_no_such_module, "
                                          "which cannot be imported: ModuleNotFoundError") as info:
        registry.resolve("missing", env)
    assert isinstance(info.value.__cause__, ImportError)
    with pytest.raises(HdrMcpError, match="is not a function"):
        registry.resolve("noattr", env)
    with pytest.raises(HdrMcpError, match="is not a function"):
        registry.resolve("notcallable", env)


def test_a_batch_fans_out_one_job_per_input_into_its_own_folder(tmp_path: Path) -> None:
    kind = registry.job_kind("sdr_to_hdr_video")
    jobs = kind.fan_out(["/p/shot010.mov", "/p/shot020/frame_%04d.png", "/p/shot030"],
                        {"colorspace": "acescg"}, tmp_path)
    assert [j.input for j in jobs] == ["/p/shot010.mov", "/p/shot020/frame_%04d.png",
                                       "/p/shot030"]
    assert [Path(j.output_dir).name for j in jobs] == ["shot010", "shot020", "shot030"]
    assert {j.colorspace for j in jobs} == {"acescg"}


@pytest.mark.parametrize(("kind", "inputs", "params", "argument"), [
    ("generate_hdr", ["a"], {}, "kind"),  # num_images is never split
    ("sdr_to_hdr_video", ["/a/x.mov", "/b/x.mov"], {}, "inputs"),  # one folder for both
    ("sdr_to_hdr_video", ["/a/x.mov"], {"input": "/y.mov"}, "params.input"),
    ("sdr_to_hdr_video", ["/a/x.mov"], {"colorspace": "srgb-ish"}, "colorspace"),
])
def test_a_batch_that_cannot_fan_out_is_refused_naming_the_argument(
        tmp_path: Path, kind: str, inputs: list[str], params: dict, argument: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        registry.job_kind(kind).fan_out(inputs, params, tmp_path)
    assert caught.value.argument == argument


def test_submit_batch_params_take_json_text_from_the_command_line() -> None:
    from hdr_mcp.params import parse
    from hdr_mcp.params.jobs import SubmitBatchParams

    p = parse(SubmitBatchParams, {"inputs": ["a.png"], "params": '{"overwrite": true}'})
    assert p.params == {"overwrite": True}
    for bad in ("{oops", "[1]"):
        with pytest.raises(InvalidArgument) as caught:
            parse(SubmitBatchParams, {"inputs": ["a.png"], "params": bad})
        assert caught.value.argument == "params"
