"""Parameters of ``train_lora`` and ``precompute_latents``: typed configs and their job params.

A training run is described by one strict config, :class:`TrainConfig` (``precompute_latents``:
:class:`PrecomputeConfig`), loaded from a YAML file (``trainers/configs/*.yaml``) and/or given
as tool arguments. The job parameters (:class:`TrainLoraParams`, :class:`PrecomputeParams`) are
the same fields, every one optional, plus ``config``: the file is read first, arguments given
explicitly win, and the merged result is validated as the config. An unknown key in a file is an
error naming the key and the file; an unknown argument is refused like any tool's.

Nothing here imports torch (the MCP server reads these models at start-up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, ValidationError, create_model, model_validator

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params import INPUT, INPUT_FILE, OUTPUT_DIR, Cli, Params, PathRole, validation_error
from hdr_mcp.vocabulary import ENCODINGS

__all__ = [
    "DataConfig",
    "PrecomputeConfig",
    "PrecomputeParams",
    "TrainConfig",
    "TrainLoraParams",
    "load_config_file",
    "resolve_config",
]

WEIGHTING_SCHEMES = ("logit_normal", "mode", "sigma_sqrt", "cosmap", "none")
LR_SCHEDULERS = ("constant", "constant_with_warmup", "cosine", "linear")
CURVE_PARAMETERS = ("nits_per_unit", "gamma", "max_value")


class DataConfig(Params):
    """What the model sees: dataset, curve, crops, augmentation (shared by precompute and train;
    a latent cache records these and training refuses a cache that differs)."""

    model: str = Field("qwen-image-2512", description="Model family (list_models), a tiny-<name> "
                       "preset, or a local diffusers folder.")
    revision: str | None = Field(None, description="Model revision (default: the pinned one).")
    dataset: Annotated[str, INPUT] = Field(
        description="Folder of HDR images (.exr/.hdr, a .txt caption beside each) for text-to-"
        "image models; of frame-sequence folders (HDR frames + caption.txt) for video models.")
    encoding: Literal[ENCODINGS] = Field("logc4", description="Curve the LoRA learns to generate "
                                         "in (stored in the LoRA's metadata).")
    nits_per_unit: float | None = Field(None, gt=0, description="pq only: cd/m^2 of "
                                        "scene-linear 1.0 (default 100).")
    gamma: float | None = Field(None, gt=0, description="log_gamma only (default 2.2).")
    max_value: float | None = Field(None, gt=0, description="log_gamma only: scene-linear value "
                                    "of code 1.0 (default 65536).")
    exposure: float = Field(0.0, ge=-16, le=16, description="Stops applied to the targets before "
                            "the curve (generation divides them out again).")
    resolution: int = Field(1024, ge=16, le=4096, description="Training size in pixels: buckets "
                            "hold about resolution^2 pixels (tiny presets: 32-128).")
    buckets: Literal["aspect", "none"] = Field(
        "aspect", description="aspect: each image goes to the bucket closest to its aspect "
        "ratio; none: every image must have one size (mixed sizes are an error).")
    frames: int = Field(17, ge=1, le=257, description="Video models: frames per clip (the "
                        "family's 4k+1 / 8k+1 rule applies).")
    validation_fraction: float = Field(0.1, ge=0, le=0.5, description="Share of the dataset "
                                       "held out for validation (deterministic under seed).")
    missing_caption: Literal["error", "default"] = Field(
        "error", description="An image without a caption: error (naming the file) or use "
        "default_caption.")
    default_caption: str = Field("", description="Caption used with missing_caption=default.")
    negative_pixels: Literal["error", "clamp"] = Field(
        "error", description="Negative pixels in a target: error (naming the file) or clamp "
        "them to 0. NaN and Inf are always an error.")
    exposure_shift_stops: float = Field(1.0, ge=0, le=8, description="Augmentation: a random "
                                        "exposure shift in [-x, +x] stops (target and reference "
                                        "alike).")
    flip: Literal["horizontal", "none"] = Field("horizontal", description="Augmentation: random "
                                                "horizontal flips (jointly).")
    degradations: Literal["camera", "none"] = Field(
        "camera", description="Video: how the SDR reference is made from the HDR target: camera "
        "(tone-mapping operator, MP4 at a random CRF, contrast, selective blur, noise) or none "
        "(a plain tone map).")
    augment_variants: int = Field(4, ge=1, le=64, description="Augmented variants per item "
                                  "(epoch e uses variant e mod this); a latent cache stores "
                                  "them all.")
    trigger_words: list[str] = Field(default_factory=list, description="Words prepended to every "
                                     "caption (stored in the LoRA).")
    seed: int = Field(0, ge=0, lt=2**31, description="Seed of crops, augmentation, split, noise.")
    allow_cpu: bool = Field(False, description="Run a full-size model on the CPU.")

    def curve_params(self) -> dict[str, float]:
        """The curve's parameters that were given (others take the curve's defaults)."""
        return {k: getattr(self, k) for k in CURVE_PARAMETERS if getattr(self, k) is not None}


class PrecomputeConfig(DataConfig):
    """``precompute_latents``: HDR targets -> curve -> frozen float32 VAE -> safetensors shards."""

    shard_size: int = Field(32, ge=1, le=4096, description="Items per shard (a retried job "
                            "keeps finished shards).")
    output_dir: Annotated[str | None, OUTPUT_DIR] = Field(
        None, description="Folder for the shards and latent_config.json.")
    overwrite: bool = Field(False, description="Replace an earlier cache there.")


class TrainConfig(DataConfig):
    """``train_lora``: rectified flow matching of a peft LoRA on a frozen model."""

    latents_dir: Annotated[str | None, INPUT] = Field(
        None, description="A latent cache from precompute_latents (its config must match).")
    rank: int = Field(64, ge=1, le=1024, description="LoRA rank.")
    lora_alpha: float | None = Field(None, gt=0, description="LoRA alpha (default: rank).")
    lora_streams: Literal["both", "image"] = Field(
        "both", description="Attention projections adapted: both (image and text streams: Q/K/V/"
        "out) or image only (diffusers' scripts' default).")
    lora_targets: list[str] = Field(default_factory=list, description="Extra module-name "
                                    "suffixes to adapt beyond the family's attention "
                                    "projections (e.g. proj_out, img_mlp.net.2).")
    steps: int = Field(2000, ge=1, le=10_000_000, description="Optimiser steps.")
    batch_size: int = Field(1, ge=1, le=1024, description="Global batch (split over processes).")
    learning_rate: float = Field(1e-4, gt=0, le=1, description="AdamW learning rate.")
    lr_scheduler: Literal[LR_SCHEDULERS] = Field("constant_with_warmup",
                                                 description="Learning-rate schedule.")
    warmup_steps: int = Field(0, ge=0, description="Warm-up steps of the schedule.")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    weighting_scheme: Literal[WEIGHTING_SCHEMES] = Field(
        "logit_normal", description="Timestep sampling / loss weighting (diffusers "
        "training_utils).")
    logit_mean: float = Field(0.0, description="logit_normal: mean.")
    logit_std: float = Field(1.0, gt=0, description="logit_normal: standard deviation.")
    mode_scale: float = Field(1.29, description="mode: scale.")
    highlight_weight: float = Field(0.0, ge=0, le=100, description="Extra loss weight of latent "
                                    "pixels whose target is brighter than highlight_threshold "
                                    "(0: plain flow matching).")
    highlight_threshold: float = Field(1.0, gt=0, description="Scene-linear luminance where "
                                       "highlight weighting starts (the weight grows per stop).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations (less "
                                         "memory, slower).")
    transformer_dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto", description="auto: bfloat16 on CUDA, float32 on CPU (the VAE is always float32).")
    checkpoint_every: int = Field(250, ge=1, description="Steps between checkpoints.")
    keep_checkpoints: int = Field(3, ge=1, le=1000, description="Checkpoints kept (oldest go).")
    validation_every: int = Field(250, ge=1, description="Steps between validation renders.")
    validation_prompts: list[str] = Field(default_factory=list, description="Prompts rendered at "
                                          "validation (default: the validation split's captions, "
                                          "at most 2).")
    validation_steps: int | None = Field(None, ge=1, le=200, description="Denoising steps of a "
                                         "validation render (default: the family's).")
    logging: Literal["tensorboard", "none"] = Field("tensorboard", description="TensorBoard "
                                                    "event files under output_dir/logs.")
    resume: str | None = Field(
        None, description="'latest' (the newest checkpoint in output_dir) or a checkpoint folder "
        "of this run.")
    output_dir: Annotated[str | None, OUTPUT_DIR] = Field(
        None, description="Folder for checkpoints, validation renders, logs and the LoRA files.")
    overwrite: bool = Field(False, description="Replace an earlier run's files there.")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} exceeds steps={self.steps}")
        return self


def load_config_file(path: str | Path, config_class: type[Params]) -> dict[str, Any]:
    """Read a YAML config into a dict of known keys; an unknown key is an
    :class:`InvalidArgument` naming the key and the file."""
    import yaml

    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidArgument("config", str(path), "no such file")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise InvalidArgument("config", str(path), f"not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise InvalidArgument("config", str(path), "expected a mapping of keys to values")
    known = config_class.model_fields
    for key in data:
        if key not in known:
            raise InvalidArgument(str(key), data[key], f"unknown key in {file}; valid keys: "
                                  f"{', '.join(sorted(known))}")
    return data


def _overrides(config_class: type[Params], name: str, doc: str) -> type[Params]:
    """A job-parameter model: every field of ``config_class`` optional (None: from the config
    file or the default), plus ``config``."""
    fields: dict[str, Any] = {
        "config": (Annotated[Optional[str], INPUT_FILE, Cli(argument=True)],  # noqa: UP045
                   Field(None, description="A YAML config (trainers/configs/); arguments "
                         "given here override its keys.")),
    }
    for field_name, info in config_class.model_fields.items():
        markers = [m for m in info.metadata if isinstance(m, (PathRole, Cli))]
        annotation = Optional[info.annotation]  # noqa: UP045
        if markers:
            annotation = Annotated[(annotation, *markers)]
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        shown = "" if default in (None, [], "") else f" (default {default})"
        fields[field_name] = (annotation, Field(None, description=(info.description or "")
                                                + shown))
    model = create_model(name, __base__=Params, __doc__=doc, **fields)
    model.config_class = config_class  # type: ignore[attr-defined]
    return model


TrainLoraParams = _overrides(TrainConfig, "TrainLoraParams",
                             "Train an HDR LoRA (see :mod:`hdr_mcp.training.trainer`).")
PrecomputeParams = _overrides(PrecomputeConfig, "PrecomputeParams",
                              "Precompute a latent cache (see :mod:`hdr_mcp.training.latents`).")


def resolve_config(params: Params | dict[str, Any], config_class: type[Params] | None = None
                   ) -> Any:
    """Job parameters -> the validated config: the ``config`` file's keys, then every argument
    given explicitly. Errors name the argument (and the file when the value came from it)."""
    data = params if isinstance(params, dict) else params.model_dump(exclude_none=True)
    data = {k: v for k, v in data.items() if v is not None}
    config_class = config_class or type(params).config_class  # type: ignore[union-attr]
    path = data.pop("config", None)
    from_file = load_config_file(path, config_class) if path else {}
    try:
        return config_class.model_validate({**from_file, **data})
    except ValidationError as error:
        problem = validation_error(error, config_class)
        name = problem.argument.split(".")[0]
        if name in from_file and name not in data:
            raise InvalidArgument(problem.argument, problem.value,
                                  f"{problem.reason} (in {path})") from None
        raise problem from None
