"""Strict typed configs: YAML files and tool arguments merged, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.training import (
    PrecomputeParams,
    TrainConfig,
    TrainLoraParams,
    resolve_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "trainers" / "configs"


def test_unknown_key_in_a_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("dataset: /data\nlearning_rte: 0.001\n")
    with pytest.raises(InvalidArgument) as info:
        resolve_config(TrainLoraParams(config=str(path)))
    assert info.value.argument == "learning_rte"
    assert str(path) in info.value.reason and "learning_rate" in info.value.reason


def test_arguments_override_the_file_and_bad_file_values_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("dataset: /data\nrank: 8\nsteps: 10\n")
    config = resolve_config(TrainLoraParams(config=str(path), rank=16))
    assert isinstance(config, TrainConfig)
    assert (config.rank, config.steps, config.dataset) == (16, 10, "/data")
    path.write_text("dataset: /data\nrank: 0\n")
    with pytest.raises(InvalidArgument) as info:
        resolve_config(TrainLoraParams(config=str(path)))
    assert info.value.argument == "rank" and str(path) in info.value.reason


def test_unknown_arguments_are_refused_and_the_dataset_is_required() -> None:
    with pytest.raises(ValueError, match="extra"):
        TrainLoraParams(datset="/x")
    with pytest.raises(InvalidArgument) as info:
        resolve_config(PrecomputeParams(model="tiny-qwen-image"))
    assert info.value.argument == "dataset"
    with pytest.raises(InvalidArgument, match="warmup_steps=5 exceeds steps=2"):
        resolve_config(TrainLoraParams(dataset="/x", steps=2, warmup_steps=5))


def test_the_example_configs_load_and_comment_every_key() -> None:
    import yaml

    files = sorted(CONFIGS.glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        data = yaml.safe_load(path.read_text())
        config = resolve_config(TrainLoraParams(config=str(path)))
        assert config.model.replace(".", "-") in path.name.replace("_", "-"), path.name
        lines = path.read_text().splitlines()
        for key in data:  # a comment right above the key or above its block of keys
            line = next(i for i, text in enumerate(lines) if text.startswith(f"{key}:"))
            while line > 0 and lines[line - 1] and not lines[line - 1].startswith("#"):
                line -= 1
            assert line > 0 and lines[line - 1].startswith("#"), (path.name, key)
