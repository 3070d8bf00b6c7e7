"""Parameters of ``sdr_to_hdr_video`` (MCP tool, ``hdr-mcp sdr-to-hdr-video``, job kind)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hdr_mcp.params import INPUT, INPUT_FILE, OUTPUT_DIR, Cli, Params, stop_after_start
from hdr_mcp.vocabulary import (
    AUTO,
    COLORSPACES,
    COMPRESSIONS,
    DIFFUSION_METHODS,
    OPERATORS,
    SDR_PRIMARIES,
    SDR_TO_HDR_METHODS,
    SDR_TRANSFERS,
    UPSCALES,
)

#: Largest display luminance BT.2100 PQ can signal, cd/m^2.
MAX_PEAK_NITS = 10000.0
#: Model each diffusion method uses when ``model`` is not given.
DEFAULT_MODELS = {"ltx2-hdr": "ltx-2.3", "wan-vace": "wan2.1-vace-1.3b"}
#: Arguments only the classical method reads, and only the diffusion methods read.
CLASSICAL_ONLY = ("target_peak_nits", "diffuse_white", "transfer", "primaries", "operator")
DIFFUSION_ONLY = ("model", "lora", "lora_scale", "prompt", "window", "overlap", "steps", "seed",
                  "guidance", "upscale", "reference_image", "revision", "allow_cpu")
#: Arguments only one diffusion method reads.
METHOD_ONLY = {"upscale": "ltx2-hdr", "reference_image": "wan-vace"}


class SdrToHdrParams(Params):
    """Convert SDR footage to scene-linear EXR frames (see :mod:`hdr_mcp.pipelines.sdr_to_hdr`)."""

    input: Annotated[str, INPUT, Cli(argument=True)] = Field(
        min_length=1,
        description="SDR image (PNG/JPEG/TIFF), folder or %04d/####/glob pattern of frames, or a "
        "video file.",
    )
    method: Literal[SDR_TO_HDR_METHODS] = Field(
        "classical", description="Conversion method. 'classical': inverse tone mapping, no "
        "weights, any machine; 'ltx2-hdr': LTX-2.3 with the HDR IC-LoRA (LogC3), conditioned on "
        "the SDR video; 'wan-vace': Wan VACE with a log-gamma HDR LoRA, exposure masks and "
        "captions for the clipped regions. Diffusion methods run on a GPU worker.",
    )
    output_dir: Annotated[str | None, OUTPUT_DIR, Cli(aliases=("--out",))] = Field(
        None,
        description="Folder for frame_%05d.exr, preview.png and preview.mp4 (default: a new folder "
        "in the output directory).",
    )
    overwrite: bool = Field(
        False,
        description="Replace the frames and previews in an output_dir that already holds files "
        "(frames of an earlier, longer run are removed too).",
    )
    start: int = Field(0, ge=0, description="First frame index (0-based).")
    stop: int | None = Field(
        None, ge=1, description="Stop before this frame index; omit for all frames."
    )
    colorspace: Literal[COLORSPACES] = Field(
        "lin_rec709", description="Scene-linear colour space of the EXR frames."
    )
    compression: Literal[COMPRESSIONS] = Field(
        "zip", description="EXR compression (zip, zips, piz, rle, none are lossless)."
    )
    target_peak_nits: Annotated[float, Cli(aliases=("--target-peak",))] = Field(
        1000.0,
        gt=0,
        le=MAX_PEAK_NITS,
        description="cd/m^2 that SDR white expands to (bt2446c, power); the ceiling for auto, "
        "which expands at most to 1000/203 x the reference white. Above diffuse_white * "
        "nits_per_unit.",
    )
    diffuse_white: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Scene-linear value where reference (diffuse) white lands; with operator "
        "auto SDR mid-tones are linear up to it (SDR 18% grey -> 0.18 x diffuse_white).",
    )
    nits_per_unit: float = Field(
        100.0, gt=0, le=10000, description="cd/m^2 of scene-linear 1.0."
    )
    transfer: Literal[(AUTO, *SDR_TRANSFERS)] = Field(
        AUTO,
        description="SDR EOTF used to linearise code values: auto (a video's color_trc tag: "
        "BT.709/BT.1886 -> bt1886, sRGB -> srgb; images and untagged video -> srgb), srgb, or "
        "bt1886 (gamma 2.4). Reported as transfer_used.",
    )
    primaries: Literal[(AUTO, *SDR_PRIMARIES)] = Field(
        AUTO,
        description="Primaries of the SDR: auto (a video's color_primaries tag, e.g. BT.2020 -> "
        "lin_rec2020; images and untagged video -> lin_rec709), or one of them. Reported as "
        "primaries_used.",
    )
    operator: Literal[OPERATORS] = Field(
        AUTO,
        description="Inverse tone mapping: auto (blind: measures the shot once, keeps mid-tones "
        "linear, expands only what was compressed or clipped), bt2446c (Report ITU-R BT.2446-1 "
        "Method C) or power.",
    )
    preview: bool = Field(True, description="Write preview.png and, for sequences, preview.mp4.")
    fps: float | None = Field(
        None, gt=0, description="Preview MP4 frame rate; default: the video's, 24 for frames."
    )

    model: str | None = Field(
        None, description="Diffusion methods: model family (list_models), a tiny-<name> preset "
        "or a local diffusers folder (default: ltx-2.3 for ltx2-hdr, wan2.1-vace-1.3b for "
        "wan-vace).")
    lora: str | None = Field(
        None, description="Diffusion methods: HDR LoRA, a local .safetensors file or "
        "repo_id/filename (ltx2-hdr default: the public LTX-2.3 HDR IC-LoRA; wan-vace: required). "
        "Its metadata gives the curve; a LoRA for another curve is refused.")
    lora_scale: float = Field(1.0, ge=0, le=4, description="Diffusion methods: LoRA strength.")
    prompt: str | None = Field(
        None, description="Diffusion methods: what the shot shows. wan-vace adds '[Overexposed: "
        "...]' / '[Underexposed: ...]' parts built from the exposure masks unless the prompt "
        "has them; the prompt used is reported.")
    window: int | None = Field(
        None, ge=1, description="Diffusion methods: frames per temporal window (ltx2-hdr 8k+1, "
        "default 121; wan-vace 4k+1, default 33). Longer shots are cut into overlapping windows "
        "blended in latent space.")
    overlap: int | None = Field(
        None, ge=1, description="Diffusion methods: frames shared by neighbouring windows "
        "(ltx2-hdr 8k+1, default 25; wan-vace 4k+1, default 9).")
    steps: int | None = Field(
        None, ge=1, le=200, description="Diffusion methods: denoising steps (default: the "
        "model's).")
    seed: int = Field(0, ge=0, lt=2**32, description="Diffusion methods: noise seed (every "
                      "window uses it).")
    guidance: float | None = Field(
        None, ge=0, le=30, description="Diffusion methods: classifier-free guidance scale "
        "(default 1.0: off).")
    upscale: Literal[UPSCALES] | None = Field(
        None, description="ltx2-hdr only: 'latent-x2' runs LTX-2's two stages: each window is "
        "denoised at half the width and height, its latents upsampled 2x by the model's latent "
        "upsampler and refined in 3 steps at full size.")
    reference_image: Annotated[str | None, INPUT_FILE] = Field(
        None, description="wan-vace only: an image of the scene (e.g. a bracketed still) the "
        "model may take detail from.")
    revision: str | None = Field(None, description="Diffusion methods: model revision "
                                 "(default: the pinned one).")
    allow_cpu: bool = Field(False, description="Diffusion methods: run a full-size model on the "
                            "CPU (very slow); tiny presets always may.")

    _stop_after_start = field_validator("stop")(stop_after_start)

    @field_validator(*CLASSICAL_ONLY, *DIFFUSION_ONLY)
    @classmethod
    def _read_by_the_method(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse an argument the chosen method would ignore (defaults always pass)."""
        method = info.data.get("method", "classical")
        name = info.field_name
        if value == cls.model_fields[name].default:
            return value
        diffusion = method in DIFFUSION_METHODS
        if name in (DIFFUSION_ONLY if not diffusion else CLASSICAL_ONLY):
            readers = "the diffusion methods (ltx2-hdr, wan-vace)" if not diffusion else (
                "method 'classical'")
            raise ValueError(f"is only read by {readers}, not by method {method!r}")
        if name in METHOD_ONLY and METHOD_ONLY[name] != method:
            raise ValueError(f"is only read by method {METHOD_ONLY[name]!r}, not {method!r}")
        return value

    @model_validator(mode="after")
    def _default_model(self) -> SdrToHdrParams:
        """A diffusion method without ``model`` uses its default family."""
        if self.method in DIFFUSION_METHODS and self.model is None:
            self.model = DEFAULT_MODELS[self.method]
        return self
