"""The two torchvision names pycvvdp 0.5.7 imports, for a torch without a matching torchvision.

pycvvdp imports ``torchvision.transforms.GaussianBlur`` (``cvvdp_metric.py``: the PU-dilation
blur, ``GaussianBlur(13, 3)`` with the shipped ``pu_dilate = 3``, and the texture-masking blur)
and ``torchvision.ops.MLP`` (``cvvdp_ml_metric.py``: only the ML variants, which hdr-mcp does
not use). PyPI's torchvision wheels are CUDA builds; beside a CPU-only torch their C extension
cannot load and ``import torchvision`` fails with ``operator torchvision::nms does not exist``.
A CPU torchvision exists only on PyTorch's own index. So when torchvision cannot be imported,
:func:`stand_in` registers this stand-in under the name ``torchvision`` while pycvvdp is
imported.

:class:`GaussianBlur` reproduces torchvision 0.28's (``transforms/transforms.py`` and
``transforms/_functional_tensor.py``: ``gaussian_blur``, ``_get_gaussian_kernel1d``) for a
fixed sigma: kernel ``exp(-0.5 (x / sigma)^2)`` on ``x = linspace(-(k-1)/2, (k-1)/2, k)``,
normalised to sum 1, separable outer product, ``reflect`` padding of ``k // 2`` on each side,
depthwise ``conv2d``. :class:`MLP` raises: the ML variants need the real package.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["stand_in", "torchvision_importable"]


def torchvision_importable() -> bool:
    """True if the real ``torchvision`` imports; a failed attempt leaves no module behind."""
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError, OSError):  # RuntimeError: C extension for another torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


def _build() -> dict[str, types.ModuleType]:
    import torch
    from torch.nn.functional import conv2d, pad

    class GaussianBlur(torch.nn.Module):
        """``torchvision.transforms.GaussianBlur(kernel_size, sigma)`` with a fixed ``sigma``."""

        def __init__(self, kernel_size: int | tuple[int, int], sigma: float = 1.0) -> None:
            super().__init__()
            size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
            if len(size) != 2 or any(k <= 0 or k % 2 == 0 for k in size):
                raise ValueError("kernel_size must be odd and positive")
            if not isinstance(sigma, (int, float)) or sigma <= 0:
                raise ValueError("this stand-in supports one positive sigma, not a range")
            self.kernel_size = tuple(int(k) for k in size)
            self.sigma = (float(sigma), float(sigma))

        @staticmethod
        def _kernel1d(size: int, sigma: float, dtype: Any, device: Any) -> Any:
            half = (size - 1) * 0.5
            x = torch.linspace(-half, half, steps=size, dtype=dtype, device=device)
            pdf = torch.exp(-0.5 * (x / sigma).pow(2))
            return pdf / pdf.sum()

        def forward(self, img: Any) -> Any:
            dtype = img.dtype if torch.is_floating_point(img) else torch.float32
            kx = self._kernel1d(self.kernel_size[0], self.sigma[0], dtype, img.device)
            ky = self._kernel1d(self.kernel_size[1], self.sigma[1], dtype, img.device)
            kernel = torch.mm(ky[:, None], kx[None, :])
            kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
            squeeze = img.ndim < 4
            x = img.unsqueeze(0) if squeeze else img
            out_dtype = x.dtype
            x = x.to(dtype)
            padding = [self.kernel_size[0] // 2] * 2 + [self.kernel_size[1] // 2] * 2
            x = conv2d(pad(x, padding, mode="reflect"), kernel, groups=x.shape[-3])
            if squeeze:
                x = x.squeeze(0)
            return x if out_dtype == dtype else x.round().to(out_dtype)

    class MLP(torch.nn.Module):
        """Placeholder: the ColorVideoVDP ML variants need the real torchvision."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(
                "torchvision.ops.MLP is not available: hdr-mcp's stand-in covers the standard "
                "ColorVideoVDP metric only; install a torchvision built for your torch"
            )

    root = types.ModuleType("torchvision")
    root.__doc__ = "hdr-mcp stand-in (hdr_mcp.metrics._torchvision_shim); not the real torchvision"
    root.__version__ = "0.0+hdr_mcp_shim"
    transforms = types.ModuleType("torchvision.transforms")
    transforms.GaussianBlur = GaussianBlur
    ops = types.ModuleType("torchvision.ops")
    ops.MLP = MLP
    root.transforms, root.ops = transforms, ops
    return {"torchvision": root, "torchvision.transforms": transforms, "torchvision.ops": ops}


@contextlib.contextmanager
def stand_in() -> Iterator[bool]:
    """While the block runs, ``import torchvision`` gives the stand-in if the real one fails.

    Yields True when the stand-in is in place, False when the real torchvision imports. The
    stand-in is removed from :data:`sys.modules` afterwards: modules imported inside the block
    keep the classes they bound (``from torchvision.transforms import GaussianBlur``), while
    later availability checks elsewhere (``importlib.util.find_spec("torchvision")`` in
    transformers or diffusers) see the environment as it really is.
    """
    if torchvision_importable():
        yield False
        return
    modules = _build()
    sys.modules.update(modules)
    try:
        yield True
    finally:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
