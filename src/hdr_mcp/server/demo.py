"""``hdr-mcp demo``: the whole loop on a CPU with no downloads, through a real MCP client.

1. Ground truth: the bundled CC0 HDR sky (``hdr_mcp.data``, scene-linear Rec.709, sun far
   above 1.0), exposed as a camera would (log-average luminance 0.18, Reinhard et al. 2002),
   is written as ``ground_truth.exr``.
2. SDR plate, made the way real footage is made and **not** by any curve the classical method
   inverts: a camera-like rendering (:func:`hdr_mcp.color.sdr_rendering.camera_s_curve`: a soft
   shoulder, then an S-shaped contrast curve), sRGB-encoded and quantised to 8 bits:
   ``sdr_plate.png``.
3. The baseline every method must beat, ``identity.exr``: the plate's plain sRGB decode, SDR
   white = scene 1.0 = diffuse white (what "linearise and save as EXR" gives).
4. An in-process MCP server (jobs run in a thread) and the SDK's client: the client calls
   ``sdr_to_hdr_video`` with its defaults (method ``classical``, operator ``auto``, which has
   to work out blind how the plate's highlights were made) and ``evaluate`` on both the
   identity and the classical result against the ground truth (the classical one with the
   plate as ``sdr``, for the QA's fake-HDR check). The gain is the difference in PU21-PSNR.
   What the plate clipped (the sun) cannot come back, and the metrics say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import numpy as np

from hdr_mcp.errors import HdrMcpError

NITS_PER_UNIT = 100.0
TARGET_PEAK = 1000.0


def make_inputs(out: Path) -> tuple[Path, Path, Path]:
    """Write the ground-truth EXR, the SDR plate made from it and the plate's plain decode;
    return their paths."""
    from hdr_mcp.color import decode, encode
    from hdr_mcp.color.sdr_rendering import camera_s_curve
    from hdr_mcp.data import sample_path
    from hdr_mcp.io import read_image, write_exr, write_sdr
    from hdr_mcp.metrics.sdr_harness import expose_to_key

    source = sample_path()
    hdr = expose_to_key(read_image(source).pixels[..., :3].astype(np.float32))
    truth = write_exr(
        out / "ground_truth.exr",
        hdr,
        colorspace="lin_rec709",
        metadata={"hdr_mcp/source": f"{source.name} (CC0, Greg Zaal / HDRI Haven), exposed to "
                  "a log-average of 0.18"},
    )
    codes = encode(camera_s_curve(hdr).astype(np.float32), "srgb")
    plate = write_sdr(out / "sdr_plate.png", codes, bit_depth=8)
    identity = write_exr(
        out / "identity.exr",
        decode(read_image(plate).pixels, "srgb"),
        colorspace="lin_rec709",
        metadata={"hdr_mcp/method": "identity: sRGB decode of sdr_plate.png, SDR white = 1.0"},
    )
    return Path(truth), Path(plate), Path(identity)


async def _drive(out: Path, truth: Path, plate: Path, identity: Path, log: Any) -> dict[str, Any]:
    from mcp import Client

    from hdr_mcp.server import ServerConfig, build_server

    config = ServerConfig(home=out / ".hdr-mcp", output_dir=out, roots=[out], worker="thread")
    server = build_server(config)

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if log is not None:
            log.print(f"  progress {done:g}/{total or '?'} {message or ''}")

    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        called = await client.call_tool(
            tool, {**arguments, "wait_seconds": 110}, progress_callback=progress
        )
        return _result(called, tool)

    async with Client(server) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        if log is not None:
            log.print(f"connected to hdr-mcp over MCP; tools: {', '.join(tools)}")
            log.print(f"sdr_to_hdr_video({plate.name})  (defaults: classical, operator auto)")
        conversion = await call(
            "sdr_to_hdr_video", {"input": str(plate), "output_dir": str(out / "hdr")}
        )
        exr = conversion["exr_paths"][0]
        evaluations = {}
        for name, prediction, extra in (
            ("identity", str(identity), {}),
            ("classical", exr, {"sdr": str(plate)}),
        ):
            if log is not None:
                log.print(f"evaluate({Path(prediction).name}, reference={truth.name})")
            evaluations[name] = await call("evaluate", {
                "prediction": prediction,
                "reference": str(truth),
                "nits_per_unit": NITS_PER_UNIT,
                "output_dir": str(out / f"evaluation-{name}"),
                **extra,
            })
    psnr = {name: e["metrics"]["pu21_psnr"] for name, e in evaluations.items()}
    return {
        "ground_truth": str(truth),
        "sdr_plate": str(plate),
        "identity_exr": str(identity),
        "exr": exr,
        "preview": conversion.get("preview_png"),
        "conversion": conversion,
        "evaluation": evaluations["classical"],
        "identity_evaluation": evaluations["identity"],
        "pu21_psnr_gain_db": (
            psnr["classical"] - psnr["identity"] if None not in psnr.values() else None
        ),
    }


def _result(call: Any, tool: str) -> dict[str, Any]:
    if call.is_error:
        text = " ".join(getattr(c, "text", "") for c in call.content)
        raise HdrMcpError(f"{tool} failed: {text}")
    view = call.structured_content
    if view["status"] != "succeeded":
        raise HdrMcpError(f"{tool} did not finish in time: job {view['job_id']} is {view['status']}")
    return view["result"]


#: What the demo writes in its folder; a folder holding the marker is a demo's, and a new demo
#: replaces exactly these.
MARKER = ".hdr-mcp-demo"
OWNED = (
    MARKER, "ground_truth.exr", "sdr_plate.png", "identity.exr", "hdr", "evaluation",
    "evaluation-identity", "evaluation-classical", ".hdr-mcp",
)


def _clear_earlier_demo(out: Path, overwrite: bool) -> None:
    from hdr_mcp.outputs import refuse_nonempty, remove_owned

    if overwrite or (out / MARKER).is_file():
        remove_owned(out, OWNED)
    refuse_nonempty("output_dir", out)


def run_demo(out: Path, *, overwrite: bool = False, log: Any = None) -> dict[str, Any]:
    """Run the demo in ``out`` (created) and return paths and metrics (JSON-safe).

    A folder holding an earlier demo is reused (its files replaced); any other folder that
    holds files is refused unless ``overwrite``.
    """
    out = Path(out).expanduser().resolve()
    _clear_earlier_demo(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("hdr-mcp demo output; `hdr-mcp demo` replaces it\n")
    truth, plate, identity = make_inputs(out)
    if log is not None:
        log.print(
            f"ground truth {truth}\nSDR plate    {plate} (camera-like S-curve, 8-bit sRGB)"
            f"\nidentity     {identity} (plain sRGB decode of the plate)"
        )
    return anyio.run(_drive, out, truth, plate, identity, log)
