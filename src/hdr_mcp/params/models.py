"""Parameters of the model commands and tools: ``list_models``, ``models info|pull``,
``selftest``, and of ``workers``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hdr_mcp.params import OUTPUT_DIR, Cli, Params


class ListModelsParams(Params):
    """Model families hdr-mcp knows: repository, revision, cached or not, size, gating."""

    include_tiny: bool = Field(True, description="Also list the tiny-<name> test presets "
                               "(random weights, for CPU checks).")


class ModelParams(Params):
    """One model family."""

    model: Annotated[str, Cli(argument=True)] = Field(min_length=1, description="Family name "
                                                      "(hdr-mcp models list).")


class PullModelParams(ModelParams):
    """Download a family's weights (and its public HDR LoRA) into the Hugging Face cache."""

    revision: str | None = Field(None, description="Revision to fetch (default: the pinned "
                                 "one).")


class SelftestParams(Params):
    """Every tiny preset through load, 2 denoising steps, unclamped decode and a tagged EXR."""

    models: list[str] | None = Field(None, description="Tiny presets to run (repeatable; "
                                     "default: all).")
    output_dir: Annotated[str | None, OUTPUT_DIR] = Field(
        None, description="Folder for one EXR per preset (default: a new folder in the output "
        "directory).")
    overwrite: bool = Field(False, description="Replace the EXRs of an earlier selftest there.")


class WorkersParams(Params):
    """Workers of a job store: device, version, current job, models held; stop them."""

    home: str | None = Field(None, description="Data folder of the job store.")
    stop: str | None = Field(None, description="A worker_id, or 'all': ask it (them) to exit "
                             "after the current job.")
    all_history: bool = Field(False, description="Also list stopped workers.")
