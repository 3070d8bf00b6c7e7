"""Parameters of ``generate_hdr`` (MCP tool, ``hdr-mcp generate-hdr``, job kind)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from hdr_mcp.params import INPUT_FILE, OUTPUT_DIR, Cli, Params
from hdr_mcp.vocabulary import COLORSPACES, COMPRESSIONS, ENCODINGS, SDR_TO_HDR_METHODS

#: Most images one job makes (num_images x prompts); more is a batch of jobs.
MAX_IMAGES = 64
GENERATE_METHODS = ("logc-lora", "two-stage")
LAYOUTS = ("frame", "latlong")


class GenerateParams(Params):
    """Text -> scene-linear EXR (see :mod:`hdr_mcp.pipelines.text_to_hdr`)."""

    prompts_file: Annotated[str | None, INPUT_FILE, Cli(aliases=("--prompts",))] = Field(
        None, description="A file of prompts, one per line: plain text, or a JSON object with "
        "'prompt' and optionally 'negative_prompt' and 'seed'. Each line gives num_images images.")
    prompt: Annotated[str | None, Cli(argument=True)] = Field(
        None, validate_default=True, description="What to generate, e.g. 'a sunset over the sea, "
        "sun in frame'. Give prompt or prompts_file.")
    model: str = Field("qwen-image-2512", description="Model family (list_models), a tiny-<name> "
                       "preset, or a local diffusers folder.")
    method: Literal[GENERATE_METHODS] = Field(
        "logc-lora", description="logc-lora: an HDR LoRA makes the model generate curve-encoded "
        "HDR (needs lora); two-stage: the base model makes an SDR image, hdr_method expands it "
        "(public weights, no LoRA).")
    lora: str | None = Field(None, description="HDR LoRA: a local .safetensors file or "
                             "repo_id/filename on the Hugging Face Hub.")
    lora_scale: float = Field(1.0, ge=0, le=4, description="Strength of the LoRA.")
    encoding: Literal[ENCODINGS] | None = Field(
        None, description="Curve the LoRA generates in; read from the LoRA's metadata when it has "
        "some (then a different value is an error), required when it has none.")
    hdr_method: Literal[SDR_TO_HDR_METHODS] = Field(
        "classical", description="two-stage only: the sdr_to_hdr_video method that expands the "
        "SDR image.")
    layout: Literal[LAYOUTS] = Field(
        "frame", description="frame: an ordinary picture; latlong: a 2:1 equirectangular HDRI "
        "whose left and right edges meet without a seam, tagged envmap=latlong for lighting.")
    width: int | None = Field(None, ge=16, le=8192, description="Pixels; the family's rule "
                              "applies (default: 1024, 2048 for latlong; tiny presets: small).")
    height: int | None = Field(None, ge=16, le=8192, description="Pixels (default: 1024, half "
                               "the width for latlong).")
    steps: int | None = Field(None, ge=1, le=200, description="Denoising steps (default: the "
                              "family's).")
    guidance: float | None = Field(None, ge=0, le=30, description="Guidance scale (FLUX "
                                   "guidance; Qwen-Image true CFG with a negative prompt).")
    negative_prompt: str | None = Field(None, description="What to avoid.")
    seed: int = Field(0, ge=0, lt=2**32, description="Seed of the first image; image k uses "
                      "seed + k.")
    num_images: int = Field(1, ge=1, le=MAX_IMAGES, description="Images per prompt.")
    colorspace: Literal[COLORSPACES] = Field("acescg", description="Scene-linear colour space "
                                             "of the EXRs (ACEScg, the VFX working space).")
    compression: Literal[COMPRESSIONS] = Field("zip", description="EXR compression.")
    nits_per_unit: float = Field(100.0, gt=0, le=10000, description="cd/m^2 of scene-linear "
                                 "1.0 (reported peak_nits; pq/pu21 curves' scale unless the LoRA "
                                 "says otherwise).")
    revision: str | None = Field(None, description="Model revision (default: the pinned one).")
    allow_cpu: bool = Field(False, description="Run a full-size model on the CPU (hours, "
                            "tens of GB of RAM); tiny presets always may.")
    output_dir: Annotated[str | None, OUTPUT_DIR] = Field(
        None, description="Folder for image_NNN.exr, previews and strips (default: a new folder "
        "in the output directory).")
    overwrite: bool = Field(False, description="Replace the images of an earlier run there.")

    @field_validator("model")
    @classmethod
    def _known_model(cls, model: str) -> str:
        """A family name is checked here (the registry is light); a folder path is checked where
        the weights are read."""
        from pathlib import Path

        from hdr_mcp.errors import InvalidArgument
        from hdr_mcp.models.registry import family

        if "/" in model or "\\" in model or Path(model).expanduser().exists():
            return model
        try:
            family(model)
        except InvalidArgument as e:
            raise ValueError(e.reason) from None
        return model

    @field_validator("prompt")
    @classmethod
    def _one_source_of_prompts(cls, prompt: str | None, info: ValidationInfo) -> str | None:
        from_file = info.data.get("prompts_file") is not None
        if prompt is None and not from_file:
            raise ValueError("required: give a prompt, or a prompts_file")
        if prompt is not None and from_file:
            raise ValueError("give a prompt or a prompts_file, not both")
        if prompt is not None and not prompt.strip():
            raise ValueError("is empty: say what to generate")
        return prompt
