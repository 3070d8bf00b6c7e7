"""SDR harness: real HDR -> SDR by the ways footage is really made -> inverse tone mapping -> score.

An inverse tone-mapping operator is only worth something on SDR it did not make itself. This
harness takes real scene-linear HDR photographs, renders SDR from them through several forward
paths (:mod:`hdr_mcp.color.sdr_rendering`, each also 8-bit quantised and JPEG-compressed),
expands each SDR back with the operators under test and scores the result against the HDR it
came from.

Definitions (every figure depends on them, so they are part of the result):

1. **Scene exposure.** Each HDR is scaled so its log-average luminance (Reinhard et al. 2002
   eq. 1, ``exp(mean(ln(1e-6 + Y)))``, BT.709 Y) is 0.18: the "key" an auto-exposing camera
   aims for. Scene 1.0 is then diffuse white.
2. **Forward path** (:class:`ForwardPath`): ``rendering`` (a name of
   :data:`hdr_mcp.color.sdr_rendering.RENDERINGS`) at ``exposure_ev``, giving display light in
   [0, 1]; sRGB-encoded (IEC 61966-2-1); then ``codec``: ``"float"`` (no quantisation),
   ``"8bit"`` (rounded to 1/255) or ``"jpeg"`` (8-bit, Pillow baseline JPEG, quality
   :data:`JPEG_QUALITY`, 4:2:0 chroma), decoded back to code values.
3. **Inverse methods** see only those code values. They are decoded with the sRGB EOTF to
   relative display light ``E`` (SDR white = 1) and expanded. ``identity`` is ``E`` itself.
4. **Exposure alignment.** An SDR has no absolute scale, so the prediction is multiplied by
   one scale ``s`` fitted in log luminance over the **mid-tones**: the pixels whose SDR display
   luminance ``Y_E`` lies in [:data:`MIDTONE_LOW`, :data:`MIDTONE_HIGH`] (about codes 0.15 to
   0.74) and whose largest SDR channel is below 0.9, with ``ln s = mean(ln Y_ref - ln Y_pred)``
   over them (the least-squares fit in log luminance). With fewer than 0.5 % of pixels in
   that band, every pixel with ``0 < Y_E < 0.9`` is used. Applied to the prediction only.
5. **Scores** with scene 1.0 (diffuse white) at :data:`NITS_PER_UNIT` = 203 cd/m^2 (BT.2408
   reference white), both images in linear BT.709: PU21-PSNR
   (:func:`hdr_mcp.metrics.fidelity.pu21_psnr`, PU21 ``banding_glare`` on RGB in cd/m^2,
   peak 256) and mean Delta E ITP (ITU-R BT.2124). ``gain`` = PU21-PSNR of the method minus
   that of ``identity`` on the same SDR, in dB.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hdr_mcp.errors import InvalidArgument

__all__ = [
    "FAST_PATHS",
    "FORWARD_PATHS",
    "JPEG_QUALITY",
    "MIDTONE_HIGH",
    "MIDTONE_LOW",
    "NITS_PER_UNIT",
    "ForwardPath",
    "HarnessRow",
    "alignment_scale",
    "default_methods",
    "expose_to_key",
    "load_images",
    "make_sdr",
    "markdown_table",
    "pipeline_method",
    "run_harness",
    "score_prediction",
    "summarise",
]

Codec = Literal["float", "8bit", "jpeg"]
CODECS: tuple[str, ...] = ("float", "8bit", "jpeg")
#: JPEG quality of the ``jpeg`` codec (Pillow, 4:2:0): what cameras and web exports use.
JPEG_QUALITY = 90
#: cd/m^2 of scene 1.0 (diffuse white), Report ITU-R BT.2408 reference white.
NITS_PER_UNIT = 203.0
#: Mid-tone band of SDR display luminance used for the exposure alignment.
MIDTONE_LOW, MIDTONE_HIGH = 0.02, 0.5
_KEY = 0.18
_Y709 = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class ForwardPath:
    """One way to make SDR from scene light: a rendering, an exposure and a codec."""

    rendering: str
    exposure_ev: float = 0.0
    codec: Codec = "float"

    @property
    def name(self) -> str:
        ev = f"{self.exposure_ev:+g}EV " if self.exposure_ev else ""
        return f"{self.rendering} {ev}{self.codec}".replace("  ", " ")


def _paths(
    renderings: Iterable[tuple[str, float]], codecs: Sequence[str]
) -> tuple[ForwardPath, ...]:
    return tuple(ForwardPath(r, ev, c) for r, ev in renderings for c in codecs)


_RENDERINGS = (
    ("clip", 0.0),
    ("clip", 1.0),
    ("clip", 2.0),
    ("reinhard", 0.0),
    ("reinhard_extended", 0.0),
    ("hable", 0.0),
    ("aces_fitted", 0.0),
    ("bt2446a", 0.0),
    ("bt2446c", 0.0),
    ("camera", 0.0),
)
#: Every rendering x every codec: the full table of ``tools/bench_sdr_harness.py``.
FORWARD_PATHS: tuple[ForwardPath, ...] = _paths(_RENDERINGS, CODECS)
#: The subset the test suite runs: every rendering, 8-bit only (the most common delivery).
FAST_PATHS: tuple[ForwardPath, ...] = _paths(_RENDERINGS, ("8bit",))


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _Y709.astype(rgb.dtype)


def expose_to_key(scene: np.ndarray, key: float = _KEY) -> np.ndarray:
    """Scale scene-linear RGB so its log-average luminance is ``key`` (Reinhard 2002 eq. 1)."""
    y = np.maximum(_luminance(np.asarray(scene, np.float64)), 0.0)
    log_average = math.exp(float(np.mean(np.log(1e-6 + y))))
    return (np.asarray(scene, np.float64) * (key / log_average)).astype(np.float32)


def _jpeg_round_trip(codes8: np.ndarray) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(codes8, "RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=2)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def make_sdr(scene_keyed: np.ndarray, path: ForwardPath) -> np.ndarray:
    """SDR code values (float32 in [0, 1], sRGB-encoded) of a keyed scene through ``path``."""
    from hdr_mcp.color.sdr_rendering import render_sdr
    from hdr_mcp.color.transfer_functions.srgb import eotf_inverse_sRGB

    if path.codec not in CODECS:
        raise InvalidArgument("codec", path.codec, f"choose one of: {', '.join(CODECS)}")
    display = render_sdr(scene_keyed, path.rendering, exposure_ev=path.exposure_ev)
    codes = np.asarray(eotf_inverse_sRGB(display.astype(np.float32)), np.float32)
    if path.codec == "float":
        return codes
    codes8 = np.clip(np.rint(codes * 255.0), 0, 255).astype(np.uint8)
    if path.codec == "jpeg":
        codes8 = _jpeg_round_trip(codes8)
    return codes8.astype(np.float32) / np.float32(255.0)


def alignment_scale(pred: np.ndarray, ref: np.ndarray, sdr_display: np.ndarray) -> float:
    """The exposure-alignment scale ``s`` of the module docstring (step 4)."""
    y_e = _luminance(sdr_display)
    top = np.max(sdr_display, axis=-1)
    y_p = _luminance(np.asarray(pred, np.float64))
    y_r = _luminance(np.asarray(ref, np.float64))
    usable = (y_p > 0) & (y_r > 0)
    mask = usable & (y_e >= MIDTONE_LOW) & (y_e <= MIDTONE_HIGH) & (top < 0.9)
    if np.count_nonzero(mask) < 0.005 * mask.size:
        mask = usable & (y_e > 0) & (top < 0.9)
    if not np.any(mask):
        mask = usable
    if not np.any(mask):
        return 1.0
    return math.exp(float(np.mean(np.log(y_r[mask]) - np.log(y_p[mask]))))


def score_prediction(
    pred: np.ndarray, ref: np.ndarray, sdr_display: np.ndarray
) -> dict[str, float]:
    """PU21-PSNR (dB) and Delta E ITP of ``pred`` against ``ref`` after exposure alignment."""
    from hdr_mcp.metrics.fidelity import delta_e_itp, pu21_psnr

    scale = alignment_scale(pred, ref, sdr_display)
    aligned = np.asarray(pred, np.float64) * scale
    ref64 = np.asarray(ref, np.float64)
    return {
        "pu21_psnr": pu21_psnr(aligned, ref64, nits_per_unit=NITS_PER_UNIT),
        "delta_e_itp": delta_e_itp(aligned, ref64, nits_per_unit=NITS_PER_UNIT),
        "scale": scale,
    }


Method = Callable[[np.ndarray], np.ndarray]


def default_methods(peak_nits: float = 1000.0) -> dict[str, Method]:
    """``identity``, ``bt2446c``, ``power`` and ``auto``: display light ``E`` -> HDR (any scale).

    The named operators run with ``peak_nits`` and BT.2408's 203 cd/m^2 reference white, as
    :func:`hdr_mcp.color.inverse_tonemap.inverse_tonemap`; ``auto`` analyses the frame itself
    (a one-frame shot) with :func:`hdr_mcp.color.inverse_tonemap.analyse_shot`.
    """
    from hdr_mcp.color import inverse_tonemap as itm

    white = itm.BT2408_REFERENCE_WHITE_NITS

    def auto(e: np.ndarray) -> np.ndarray:
        analysis = itm.analyse_shot([e])
        return itm.expand(e, analysis, peak_nits=peak_nits, reference_white_nits=white)

    return {
        "identity": lambda e: e,
        "bt2446c": lambda e: itm.inverse_tonemap(
            e, "bt2446c", peak_nits=peak_nits, reference_white_nits=white
        ),
        "power": lambda e: itm.inverse_tonemap(
            e, "power", peak_nits=peak_nits, reference_white_nits=white
        ),
        "auto": auto,
    }


def pipeline_method(workdir: str | Path, **options: Any) -> Method:
    """The method ``sdr_to_hdr_video`` runs with its defaults (or ``options``), end to end.

    Each SDR is written as a 16-bit PNG of its sRGB code values (8-bit codes survive exactly:
    ``c * 257``), converted by :func:`hdr_mcp.pipelines.sdr_to_hdr.convert` into ``workdir``
    and read back: the figures include the pipeline's own steps (transfer choice, shot
    analysis, scene-linear scaling, half floats), not only the operator.
    """
    from hdr_mcp.color.transfer_functions.srgb import eotf_inverse_sRGB
    from hdr_mcp.io import read_image, write_sdr
    from hdr_mcp.pipelines.sdr_to_hdr import convert

    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    options = {"preview": False, "overwrite": True, **options}

    def run(e: np.ndarray) -> np.ndarray:
        codes = np.asarray(eotf_inverse_sRGB(np.clip(e, 0.0, 1.0)), np.float32)
        plate = write_sdr(folder / "plate.png", codes, bit_depth=16)
        result = convert(plate, output_dir=folder / "hdr", **options)
        return read_image(result["exr_paths"][0]).rgb().astype(np.float32)

    return run


@dataclass(frozen=True)
class HarnessRow:
    """One (image, forward path, method) score."""

    image: str
    path: str
    method: str
    pu21_psnr: float
    delta_e_itp: float
    gain_db: float
    scale: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_images(paths: Iterable[str | Path]) -> dict[str, np.ndarray]:
    """Read scene-linear images (lin_rec709 RGB float32), keyed by file stem."""
    from hdr_mcp.io import read_image

    images = {}
    for p in paths:
        image = read_image(p)
        if image.info.colorspace not in (None, "lin_rec709"):
            from hdr_mcp.color import convert_colorspace

            rgb = convert_colorspace(image.rgb(), image.info.colorspace, "lin_rec709")
        else:
            rgb = image.rgb()
        images[Path(p).stem] = np.ascontiguousarray(rgb, dtype=np.float32)
    return images


def run_harness(
    images: Mapping[str, np.ndarray],
    paths: Sequence[ForwardPath] = FAST_PATHS,
    methods: Mapping[str, Method] | None = None,
) -> list[HarnessRow]:
    """Score every method on every image through every forward path (module docstring)."""
    from hdr_mcp.color.transfer_functions.srgb import eotf_sRGB

    methods = dict(default_methods() if methods is None else methods)
    if "identity" not in methods:
        methods = {"identity": lambda e: e, **methods}
    rows: list[HarnessRow] = []
    for image_name, scene in images.items():
        ref = expose_to_key(scene)
        for path in paths:
            codes = make_sdr(ref, path)
            display = np.asarray(eotf_sRGB(codes), np.float32)
            scores = {
                name: score_prediction(m(display), ref, display) for name, m in methods.items()
            }
            base = scores["identity"]["pu21_psnr"]
            for name, s in scores.items():
                rows.append(
                    HarnessRow(
                        image_name,
                        path.name,
                        name,
                        s["pu21_psnr"],
                        s["delta_e_itp"],
                        s["pu21_psnr"] - base,
                        s["scale"],
                    )
                )
    return rows


def summarise(rows: Sequence[HarnessRow]) -> dict[str, dict[str, dict[str, float]]]:
    """Per method and forward path: mean PU21-PSNR, mean Delta E ITP, mean and worst gain.

    Also ``"all"`` per method: means over every row and the worst single (image, path) gain,
    and ``worst_path_gain``: the lowest per-path mean gain.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == method]
        per_path: dict[str, dict[str, float]] = {}
        for path in dict.fromkeys(r.path for r in mine):
            group = [r for r in mine if r.path == path]
            per_path[path] = {
                "pu21_psnr": float(np.mean([r.pu21_psnr for r in group])),
                "delta_e_itp": float(np.mean([r.delta_e_itp for r in group])),
                "gain_db": float(np.mean([r.gain_db for r in group])),
                "worst_gain_db": float(np.min([r.gain_db for r in group])),
            }
        per_path["all"] = {
            "pu21_psnr": float(np.mean([r.pu21_psnr for r in mine])),
            "delta_e_itp": float(np.mean([r.delta_e_itp for r in mine])),
            "gain_db": float(np.mean([r.gain_db for r in mine])),
            "worst_gain_db": float(np.min([r.gain_db for r in mine])),
            "worst_path_gain_db": float(min(v["gain_db"] for v in per_path.values())),
        }
        out[method] = per_path
    return out


def markdown_table(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """A markdown table: one row per forward path, per method PU21-PSNR / gain / Delta E ITP."""
    methods = list(summary)
    paths = [p for p in next(iter(summary.values())) if p != "all"]
    header = "| forward path | " + " | ".join(
        f"{m} PU21 dB (gain) / dE ITP" if m != "identity" else "identity PU21 dB / dE ITP"
        for m in methods
    )
    lines = [header + " |", "|---|" + "---|" * len(methods)]

    def cell(m: str, p: str) -> str:
        s = summary[m][p]
        if m == "identity":
            return f"{s['pu21_psnr']:.2f} / {s['delta_e_itp']:.1f}"
        return f"{s['pu21_psnr']:.2f} ({s['gain_db']:+.2f}) / {s['delta_e_itp']:.1f}"

    for p in [*paths, "all"]:
        label = "**mean of all paths**" if p == "all" else p
        lines.append(f"| {label} | " + " | ".join(cell(m, p) for m in methods) + " |")
    worst = "| **worst path (mean gain)** | " + " | ".join(
        "" if m == "identity" else f"{summary[m]['all']['worst_path_gain_db']:+.2f} dB"
        for m in methods
    )
    lines.append(worst + " |")
    return "\n".join(lines)
