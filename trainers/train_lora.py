#!/usr/bin/env python
"""Train an HDR LoRA from a config, on one process or data-parallel under accelerate.

    python trainers/train_lora.py --config trainers/configs/train_lora_qwen_image_2512_48gb.yaml
    accelerate launch --multi_gpu --num_processes 8 trainers/train_lora.py --config CONFIG.yaml
    accelerate launch --multi_gpu --num_machines 2 --machine_rank R --main_process_ip HOST \\
        --num_processes 16 trainers/train_lora.py --config CONFIG.yaml

Any other option overrides a key of the config, spelled as on the CLI (``--output-dir runs/x``,
``--steps 500``, ``--resume latest``); values are read as YAML scalars (``--trigger-words
'[hdr]'`` for a list). Each process takes an equal share of every global batch (``batch_size``
must be a multiple of the process count); the main process writes checkpoints, validation
renders, logs and the LoRA. Without CUDA the processes run on the CPU (gloo), which is how the
tests check that two processes train the same adapter as one.

This is the same trainer as ``hdr-mcp train`` and the ``train_lora`` MCP tool
(:func:`hdr_mcp.training.trainer.train`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def parse_overrides(extra: list[str]) -> dict[str, Any]:
    """``["--output-dir", "x", "--steps", "5"]`` -> ``{"output_dir": "x", "steps": 5}``."""
    import yaml

    from hdr_mcp.errors import InvalidArgument

    values: dict[str, Any] = {}
    pending = list(extra)
    while pending:
        flag = pending.pop(0)
        if not flag.startswith("--") or not pending:
            raise InvalidArgument("arguments", flag, "expected --key value pairs")
        values[flag[2:].replace("-", "_")] = yaml.safe_load(pending.pop(0))
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="YAML config (trainers/configs/).")
    args, extra = parser.parse_known_args(argv)

    import tempfile

    import torch

    from hdr_mcp.errors import HdrMcpError
    from hdr_mcp.jobs.context import LocalContext
    from hdr_mcp.params import parse
    from hdr_mcp.params.training import TrainLoraParams, resolve_config
    from hdr_mcp.training.trainer import train

    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        params = parse(TrainLoraParams, {"config": args.config, **parse_overrides(extra)})
        config = resolve_config(params)
        with tempfile.TemporaryDirectory(prefix="hdr-mcp-train-") as work:
            ctx = LocalContext(work, device=device, on_progress=_printer())
            result = train(config, ctx)
    except HdrMcpError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if result.get("lora"):
        print(json.dumps({k: v for k, v in result.items() if k not in ("losses", "validation")}))
    return 0


def _printer():
    import os

    main_process = os.environ.get("RANK", "0") == "0"

    def show(done: float, total: float | None, message: str = "") -> None:
        if main_process:
            print(message, file=sys.stderr, flush=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
