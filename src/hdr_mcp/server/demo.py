"""``hdr-mcp demo``: the whole loop on a CPU with no downloads, through a real MCP client.

1. Ground truth: the bundled CC0 HDR sky (``hdr_mcp.data``, scene-linear Rec.709, sun far
   above 1.0) is written as ``ground_truth.exr``.
2. SDR plate: the ground truth is tone-mapped with a known operator, the forward Report
   ITU-R BT.2446-1 Method C curve (SDR white = 1000 cd/m^2, reference white = 100 cd/m^2), clipped
   to SDR white, sRGB-encoded and quantised to 8 bits: ``sdr_plate.png``.
3. An in-process MCP server (jobs run in a thread) and the SDK's client: the client calls
   ``sdr_to_hdr_video`` (method ``classical``, the inverse of step 2's curve) and then
   ``evaluate`` against the ground truth. What the SDR plate clipped (the sun above
   1000 cd/m^2) cannot come back, and the metrics say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import numpy as np

from hdr_mcp.errors import HdrMcpError

NITS_PER_UNIT = 100.0
TARGET_PEAK = 1000.0


def make_inputs(out: Path) -> tuple[Path, Path]:
    """Write the ground-truth EXR and the SDR plate made from it; return their paths."""
    from hdr_mcp.color import encode
    from hdr_mcp.color.inverse_tonemap import tonemap
    from hdr_mcp.data import sample_path
    from hdr_mcp.io import read_image, write_exr, write_sdr

    source = sample_path()
    hdr = read_image(source).pixels[..., :3].astype(np.float32)
    truth = write_exr(
        out / "ground_truth.exr",
        hdr,
        colorspace="lin_rec709",
        metadata={"hdr_mcp/source": f"{source.name} (CC0, Greg Zaal / HDRI Haven)"},
    )
    display = tonemap(
        np.maximum(hdr, 0.0) * NITS_PER_UNIT,
        "bt2446c",
        peak_nits=TARGET_PEAK,
        reference_white_nits=1.0 * NITS_PER_UNIT,
    )
    codes = encode(np.clip(display, 0.0, 1.0).astype(np.float32), "srgb")
    plate = write_sdr(out / "sdr_plate.png", codes, bit_depth=8)
    return Path(truth), Path(plate)


async def _drive(out: Path, truth: Path, plate: Path, log: Any) -> dict[str, Any]:
    from mcp import Client

    from hdr_mcp.server import ServerConfig, build_server

    config = ServerConfig(home=out / ".hdr-mcp", output_dir=out, roots=[out], worker="thread")
    server = build_server(config)

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if log is not None:
            log.print(f"  progress {done:g}/{total or '?'} {message or ''}")

    async with Client(server) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        if log is not None:
            log.print(f"connected to hdr-mcp over MCP; tools: {', '.join(tools)}")
            log.print(f"sdr_to_hdr_video({plate.name}, method='classical')")
        converted = await client.call_tool(
            "sdr_to_hdr_video",
            {"input": str(plate), "output_dir": str(out / "hdr"), "target_peak_nits": TARGET_PEAK,
             "wait_seconds": 110},
            progress_callback=progress,
        )
        conversion = _result(converted, "sdr_to_hdr_video")
        exr = conversion["exr_paths"][0]
        if log is not None:
            log.print(f"evaluate({Path(exr).name}, reference={truth.name})")
        evaluated = await client.call_tool(
            "evaluate",
            {
                "prediction": exr,
                "reference": str(truth),
                "nits_per_unit": NITS_PER_UNIT,
                "output_dir": str(out / "evaluation"),
                "wait_seconds": 110,
            },
            progress_callback=progress,
        )
        evaluation = _result(evaluated, "evaluate")
    return {
        "ground_truth": str(truth),
        "sdr_plate": str(plate),
        "exr": exr,
        "preview": conversion.get("preview_png"),
        "conversion": conversion,
        "evaluation": evaluation,
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
OWNED = (MARKER, "ground_truth.exr", "sdr_plate.png", "hdr", "evaluation", ".hdr-mcp")


def _clear_earlier_demo(out: Path, overwrite: bool) -> None:
    import shutil

    from hdr_mcp.outputs import refuse_nonempty

    if overwrite or (out / MARKER).is_file():
        for name in OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
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
    truth, plate = make_inputs(out)
    if log is not None:
        log.print(f"ground truth {truth}\nSDR plate    {plate} (BT.2446-C tone map, 8-bit sRGB)")
    return anyio.run(_drive, out, truth, plate, log)
