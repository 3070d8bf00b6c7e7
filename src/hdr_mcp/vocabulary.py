"""The names every surface uses, declared once (see ``docs/vocabulary.md``).

The MCP tool schemas, the CLI options and the job parameter models take their choices from
here, so a colour space or a compression is spelled the same on every surface. This module
imports nothing heavy: the MCP server reads it at start-up. The modules that implement the
names (:mod:`hdr_mcp.color`, :mod:`hdr_mcp.io`) are checked against it by the tests.
"""

from __future__ import annotations

#: File types of scene-linear HDR images (a folder given as HDR frames lists only these).
HDR_SUFFIXES: frozenset[str] = frozenset({".exr", ".hdr"})
#: File types of images a folder of frames may hold.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".hdr"}
)

#: Scene-linear colour spaces (:func:`hdr_mcp.color.colorspaces`).
COLORSPACES: tuple[str, ...] = (
    "lin_rec709",
    "lin_rec2020",
    "acescg",
    "aces2065_1",
    "lin_awg3",
    "lin_awg4",
    "lin_p3d65",
)

#: Transfer curves, scene-linear <-> code value (:func:`hdr_mcp.color.encodings`).
ENCODINGS: tuple[str, ...] = (
    "linear",
    "srgb",
    "logc3",
    "logc4",
    "pq",
    "hlg",
    "log_gamma",
    "acescct",
    "pu21",
)

#: OpenEXR compressions (:data:`hdr_mcp.io.COMPRESSIONS`); zip, zips, piz, rle and none are
#: lossless, pxr24 drops float32 mantissa bits, b44/b44a/dwaa/dwab are lossy.
COMPRESSIONS: tuple[str, ...] = (
    "zip",
    "zips",
    "piz",
    "rle",
    "none",
    "pxr24",
    "b44",
    "b44a",
    "dwaa",
    "dwab",
)

#: SDR transfer functions used to linearise display code values.
SDR_TRANSFERS: tuple[str, ...] = ("srgb", "bt1886")

#: Primaries of SDR footage (the linear colour space its decoded light is in).
SDR_PRIMARIES: tuple[str, ...] = ("lin_rec709", "lin_rec2020", "lin_p3d65")

#: The choice that lets a tool decide from the input (its tags, its content) and report why.
AUTO = "auto"

#: Outcomes of the QA verdict (:func:`hdr_mcp.metrics.qa.verdict`), best first.
QA_VERDICTS: tuple[str, ...] = ("pass", "review", "fail")

#: Inverse tone-mapping operators of the classical SDR -> HDR method.
OPERATORS: tuple[str, ...] = ("auto", "bt2446c", "power")

#: Methods of ``sdr_to_hdr_video``: inverse tone mapping, or a video diffusion model.
SDR_TO_HDR_METHODS: tuple[str, ...] = ("classical", "ltx2-hdr", "wan-vace")

#: The ``sdr_to_hdr_video`` methods that run a diffusion model (they prefer a GPU worker).
DIFFUSION_METHODS: tuple[str, ...] = ("ltx2-hdr", "wan-vace")

#: Second stages of ``ltx2-hdr``: ``latent-x2`` upsamples the latents 2x and refines them.
UPSCALES: tuple[str, ...] = ("latent-x2",)

#: Optional metrics ``evaluate`` computes when asked (``extra_metrics``).
EXTRA_METRICS: tuple[str, ...] = ("cvvdp",)

#: States of a job.
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")

#: What happens to values a file format cannot hold.
OUT_OF_RANGE_POLICIES: tuple[str, ...] = ("error", "clip")
