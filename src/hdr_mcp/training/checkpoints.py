"""Training checkpoints: written atomically, checked on resume, each one a loadable HDR LoRA.

A checkpoint is a folder ``checkpoints/step_NNNNNNN/``::

    adapter.safetensors     the peft adapter state (float32)
    hdr_lora.safetensors    the same adapter as an HDR LoRA file (+ .json sidecar): loads with
                            load_lora_weights / generate_hdr like the final one
    optimizer.pt            AdamW state          scheduler.pt   learning-rate schedule state
    rng.pt                  torch, numpy and python RNG states
    state.json              step, the run's fingerprint, data order, losses so far

It is written into a hidden temporary folder beside its final name and renamed into place
only when every file is complete, so a disk that fills up mid-save leaves the previous
checkpoints untouched (the error says which one is the last good one). Older checkpoints are
removed only after a new one is in place (``keep_checkpoints``).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
from pathlib import Path
from typing import Any

from hdr_mcp.errors import HdrMcpError, InvalidArgument

__all__ = ["CheckpointWriteError", "find_checkpoint", "latest_checkpoint", "read_state",
           "save_checkpoint"]

STATE = "state.json"
PREFIX = "step_"


class CheckpointWriteError(HdrMcpError):
    """A checkpoint could not be written (the earlier ones are intact)."""


def checkpoints_dir(output_dir: Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: Path) -> list[Path]:
    folder = checkpoints_dir(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
             and (p / STATE).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


def find_checkpoint(resume: str, output_dir: Path) -> Path:
    """``resume`` ("latest" or a folder) -> a checkpoint folder; InvalidArgument if none."""
    if resume == "latest":
        found = latest_checkpoint(output_dir)
        if found is None:
            raise InvalidArgument("resume", resume, f"no checkpoint in {output_dir}/checkpoints")
        return found
    folder = Path(resume).expanduser()
    if not (folder / STATE).is_file():
        raise InvalidArgument("resume", resume, f"not a checkpoint folder (no {STATE})")
    return folder


def read_state(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / STATE).read_text())


def check_fingerprint(state: dict[str, Any], fingerprint: dict[str, Any], folder: Path) -> None:
    """A checkpoint of another run (any fingerprint field differs) is refused, naming it."""
    saved = state.get("fingerprint", {})
    for name, value in fingerprint.items():
        if saved.get(name) != value:
            raise InvalidArgument("resume", str(folder), f"checkpoint of another run: it has "
                                  f"{name}={saved.get(name)!r}, this run has {name}={value!r}")


def rng_states() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate()}


def restore_rng(states: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])


def save_checkpoint(output_dir: Path, step: int, *, write_files, state: dict[str, Any],
                    keep: int) -> Path:
    """Write checkpoint ``step``: ``write_files(folder)`` writes the tensors into a temporary
    folder, then ``state.json``, then the folder is renamed into place; older checkpoints
    beyond ``keep`` are removed."""
    root = checkpoints_dir(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:07d}"
    temporary = root / f".{final.name}.{secrets.token_hex(6)}.tmp"
    temporary.mkdir()
    try:
        write_files(temporary)
        (temporary / STATE).write_text(json.dumps({**state, "step": step}, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.rename(temporary, final)
    except (OSError, RuntimeError) as error:
        shutil.rmtree(temporary, ignore_errors=True)
        last = latest_checkpoint(output_dir)
        raise CheckpointWriteError(
            f"checkpoint at step {step} could not be written ({error}); the last good checkpoint "
            f"is {last if last is not None else 'none'}") from error
    for old in list_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final
