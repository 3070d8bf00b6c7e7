"""Scale-out on accelerate: two CPU processes (gloo) train the adapter one process trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "trainers" / "train_lora.py"
CONFIG = """model: tiny-qwen-image
resolution: 32
rank: 4
steps: 3
batch_size: 2
learning_rate: 0.001
augment_variants: 1
validation_fraction: 0
logging: none
checkpoint_every: 100
validation_every: 100
validation_steps: 1
"""


def _run(command: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _in_process(config: Path, output_dir: Path, work: Path) -> dict:
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.params.training import TrainLoraParams, resolve_config
    from hdr_mcp.training.trainer import train

    params = TrainLoraParams(config=str(config), output_dir=str(output_dir))
    return train(resolve_config(params), LocalContext(work))


@pytest.mark.timeout(600)
def test_two_processes_train_the_same_adapter_as_one(image_dataset: Path,
                                                    tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(f"{CONFIG}dataset: {image_dataset}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    args = ["--config", str(config), "--output-dir"]
    # one process: the script's own code path, in this process (saves a start-up)
    one = _in_process(config, tmp_path / "one", tmp_path / "work")
    two = _run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                "--dynamo_backend", "no", str(SCRIPT), *args, str(tmp_path / "two")], env)
    assert (one["processes"], two["processes"]) == (1, 2)
    a, b = load_file(one["lora"]), load_file(two["lora"])
    assert a.keys() == b.keys() and len(a) == 32
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    assert max(float(a[k].abs().max()) for k in a if "lora_B" in k) > 1e-4  # it trained
    assert two["final_loss"] == pytest.approx(one["final_loss"], rel=1e-6)
