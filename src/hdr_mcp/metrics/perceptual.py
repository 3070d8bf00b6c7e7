"""ColorVideoVDP (Mantiuk et al., SIGGRAPH 2024) as an optional perceptual metric.

``pycvvdp`` (PyPI ``cvvdp``, tested against 0.5.7's API) is not a dependency of hdr-mcp: its wheel
asks for ``torchvision``, and a plain ``pip install cvvdp`` replaces a CPU-only torch with a
multi-GB CUDA build. It is imported lazily, only when :func:`cvvdp` is called; when it is missing
the error carries the install commands from :func:`cvvdp_install_instructions`.

Why each package in those commands: ``pycvvdp/__init__.py`` imports ``cvvdp_metric`` (torch,
``torchvision.transforms.GaussianBlur``, tqdm), ``cvvdp_ml_metric`` (einops, huggingface_hub),
``video_source_file`` (``ffmpeg`` from ffmpeg-python, imageio) and ``third_party.loadmat``
(scipy); matplotlib and PyEXR are optional there. The PyPI package named ``ffmpeg`` that cvvdp's
metadata also lists is an unrelated project that shadows ffmpeg-python's module, so it is left out.

torchvision: PyPI's wheels are CUDA builds whose C extension cannot load beside a CPU-only torch
(``import torchvision`` raises ``operator torchvision::nms does not exist``), and a CPU build is
only on PyTorch's own index. pycvvdp needs one torchvision function on the path we use,
``transforms.GaussianBlur``; when torchvision does not import, :func:`require_pycvvdp` imports
pycvvdp with a bit-identical stand-in (:mod:`hdr_mcp.metrics._torchvision_shim`). Verified recipe
on CPU torch 2.13.0 (the commands of :func:`cvvdp_install_instructions`)::

    pip install --no-deps cvvdp==0.5.7
    pip install "scipy>=1.10" "ffmpeg-python>=0.2" "imageio>=2.19.5" "einops>=0.8.1" \
        "huggingface_hub>=0.33.4" tqdm

(cvvdp 0.5.7's ``pu_psnr_y(display_name=...)`` raises NameError; hdr-mcp computes PU21-PSNR
itself, :mod:`hdr_mcp.metrics.fidelity`, and uses pycvvdp for the JOD only.)
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from hdr_mcp.errors import HdrMcpError, InvalidArgument
from hdr_mcp.metrics._checks import as_rgb, positive_scale, same_shape

__all__ = ["CVVDP_LINEAR_DISPLAYS", "cvvdp", "cvvdp_install_instructions"]

#: ColorVideoVDP display models that take absolute linear BT.709 RGB in cd/m^2 (others expect
#: display-encoded code values): name -> description from its ``display_models.json``.
CVVDP_LINEAR_DISPLAYS = {
    "standard_hdr_linear": "30-inch 4K HDR monitor, 1500 cd/m^2 peak, 10 lux, 2x display height",
    "standard_hdr_linear_dark": "as standard_hdr_linear in a dark room (0 lux)",
    "standard_hdr_linear_zoom": "30-inch 4K HDR monitor, 10000 cd/m^2 peak, seen from 0.25 m",
}

_CVVDP_VERSION = "0.5.7"
_CVVDP_RUNTIME_DEPS = (
    '"scipy>=1.10" "ffmpeg-python>=0.2" "imageio>=2.19.5" "einops>=0.8.1" '
    '"huggingface_hub>=0.33.4" tqdm'
)


def cvvdp_install_instructions() -> str:
    """Shell commands that install ColorVideoVDP without touching the installed torch."""
    return (
        "ColorVideoVDP is optional and not installed (python package 'pycvvdp'). Install it "
        "without letting pip replace your torch:\n"
        f"    pip install --no-deps cvvdp=={_CVVDP_VERSION}\n"
        f"    pip install {_CVVDP_RUNTIME_DEPS}\n"
        "No torchvision is needed: when it is missing, or cannot load beside your torch (PyPI's "
        "CUDA builds beside a CPU torch), hdr-mcp supplies the one torchvision function pycvvdp "
        "uses (GaussianBlur). Do not run a plain 'pip install cvvdp': its torchvision "
        "requirement pulls a CUDA torch."
    )


def require_pycvvdp() -> Any:
    """The ``pycvvdp`` module, or an :class:`HdrMcpError` saying how to install it safely.

    If ``torchvision`` cannot be imported, pycvvdp is imported with the stand-in of
    :mod:`hdr_mcp.metrics._torchvision_shim` (verified to give the same JOD, see its tests).
    """
    if "pycvvdp" in sys.modules:  # imported already (or marked missing with None)
        try:
            import pycvvdp
        except ImportError as e:
            raise HdrMcpError(f"{cvvdp_install_instructions()}\n(import failed: {e})") from e
        return pycvvdp
    from hdr_mcp.metrics._torchvision_shim import stand_in

    try:
        with stand_in():
            import pycvvdp
    except ImportError as e:
        raise HdrMcpError(f"{cvvdp_install_instructions()}\n(import failed: {e})") from e
    return pycvvdp


def cvvdp(
    pred: object,
    ref: object,
    *,
    nits_per_unit: float = 100.0,
    colorspace: str = "lin_rec709",
    display: str = "standard_hdr_linear",
    fps: float | None = None,
    device: str | None = None,
) -> float:
    """ColorVideoVDP quality in JOD (just-objectionable differences; 10 = identical, lower worse).

    Parameters
    ----------
    pred, ref
        Scene-linear RGB of equal shape: one image ``(H, W, 3)`` or a video ``(F, H, W, 3)``.
        Converted from ``colorspace`` to linear BT.709 and scaled by ``nits_per_unit`` to cd/m^2,
        the input of the linear display models. The display model clips to its range
        (e.g. 0.005..1500 cd/m^2 for ``standard_hdr_linear``).
    display
        One of :data:`CVVDP_LINEAR_DISPLAYS` (it sets peak luminance, ambient light and viewing
        geometry, which change the score).
    fps
        Frame rate, required for video input.
    device
        torch device string (``"cpu"``, ``"cuda"``); None lets pycvvdp choose.

    Raises
    ------
    HdrMcpError
        pycvvdp is not installed (the message says how to install it safely).
    """
    if display not in CVVDP_LINEAR_DISPLAYS:
        raise InvalidArgument(
            "display", display, f"valid linear display models: {', '.join(CVVDP_LINEAR_DISPLAYS)}"
        )
    scale = positive_scale(nits_per_unit)
    p = as_rgb(pred, "pred")
    r = as_rgb(ref, "ref")
    same_shape(p, r)
    if p.ndim == 3:
        dim_order, frames_per_second = "HWC", 0.0
    elif p.ndim == 4:
        if fps is None:
            raise InvalidArgument("fps", fps, "a positive frame rate is required for video input")
        dim_order, frames_per_second = "FHWC", positive_scale(fps, "fps", maximum=math.inf)
    else:
        raise InvalidArgument("pred", p.shape, "expected (H, W, 3) or (F, H, W, 3)")

    if colorspace != "lin_rec709":
        from hdr_mcp.color import rgb_to_rgb_matrix

        m = np.asarray(rgb_to_rgb_matrix(colorspace, "lin_rec709"), np.float64)
        p, r = p @ m.T, r @ m.T
    test = np.ascontiguousarray(p * scale, dtype=np.float32)
    reference = np.ascontiguousarray(r * scale, dtype=np.float32)

    pycvvdp = require_pycvvdp()
    kwargs: dict[str, Any] = {"display_name": display, "quiet": True}
    if device is not None:
        import torch

        kwargs["device"] = torch.device(device)
    metric = pycvvdp.cvvdp(**kwargs)
    q_jod, _stats = metric.predict(
        test, reference, dim_order=dim_order, frames_per_second=frames_per_second
    )
    return float(q_jod.item() if hasattr(q_jod, "item") else q_jod)
