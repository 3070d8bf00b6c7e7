"""Transfer functions (scene-linear <-> code value), one module per standard, and their registry.

=============  ===========================================  =====================================
name           module / functions                           parameters (defaults)
=============  ===========================================  =====================================
``linear``     :mod:`.linear` (identity)                    -
``srgb``       :mod:`.srgb` ``eotf_inverse_sRGB``           -
``logc3``      :mod:`.arri` ``log_encoding_ARRILogC3``      - (EI 800, OpenColorIO constants)
``logc4``      :mod:`.arri` ``log_encoding_ARRILogC4``      -
``pq``         :mod:`.st_2084` ``eotf_inverse_ST2084``      ``nits_per_unit=100.0``
``hlg``        :mod:`.bt_2100` ``oetf_BT2100_HLG``          -
``log_gamma``  :mod:`.log_gamma` ``log_encoding_LogGamma``  ``gamma=2.2, max_value=65536.0``
``acescct``    :mod:`.aces` ``log_encoding_ACEScct``        -
``pu21``       :mod:`.pu21` ``log_encoding_PU21``           ``nits_per_unit=100.0``
=============  ===========================================  =====================================

:func:`encode` / :func:`decode` take numpy-compatible input (float32 stays float32, float64 stays
float64, python scalars and lists become float64) or a torch tensor (dtype, device and autograd
kept; gradients are finite everywhere, including 0, negatives and toes). torch is imported only
when a tensor is passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hdr_mcp.color._array import is_torch_tensor
from hdr_mcp.color.transfer_functions import (
    aces,
    arri,
    bt_2100,
    linear,
    log_gamma,
    pu21,
    srgb,
    st_2084,
)
from hdr_mcp.errors import InvalidArgument

__all__ = ["ENCODINGS", "Encoding", "decode", "encode", "encoding", "encodings"]


@dataclass(frozen=True)
class Encoding:
    """One registered transfer function: numpy and torch implementations in both directions."""

    name: str
    description: str
    encode_numpy: Callable[..., Any] = field(repr=False)
    decode_numpy: Callable[..., Any] = field(repr=False)
    encode_torch: Callable[..., Any] = field(repr=False)
    decode_torch: Callable[..., Any] = field(repr=False)
    defaults: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Parameter names and their default values (the only keywords accepted)."""


def _registry() -> Mapping[str, Encoding]:
    entries = [
        Encoding(
            "linear",
            "identity (scene-linear stored as is)",
            linear.linear_function,
            linear.linear_function,
            linear.linear_function_torch,
            linear.linear_function_torch,
        ),
        Encoding(
            "srgb",
            "IEC 61966-2-1 sRGB, sign-preserving extension beyond [0, 1]",
            srgb.eotf_inverse_sRGB,
            srgb.eotf_sRGB,
            srgb.eotf_inverse_sRGB_torch,
            srgb.eotf_sRGB_torch,
        ),
        Encoding(
            "logc3",
            "ARRI LogC3 EI 800 (OpenColorIO constants)",
            arri.log_encoding_ARRILogC3,
            arri.log_decoding_ARRILogC3,
            arri.log_encoding_ARRILogC3_torch,
            arri.log_decoding_ARRILogC3_torch,
        ),
        Encoding(
            "logc4",
            "ARRI LogC4",
            arri.log_encoding_ARRILogC4,
            arri.log_decoding_ARRILogC4,
            arri.log_encoding_ARRILogC4_torch,
            arri.log_decoding_ARRILogC4_torch,
        ),
        Encoding(
            "pq",
            "SMPTE ST 2084 PQ; scene-linear 1.0 = nits_per_unit cd/m^2",
            st_2084.eotf_inverse_ST2084,
            st_2084.eotf_ST2084,
            st_2084.eotf_inverse_ST2084_torch,
            st_2084.eotf_ST2084_torch,
            MappingProxyType({"nits_per_unit": st_2084.DEFAULT_NITS_PER_UNIT}),
        ),
        Encoding(
            "hlg",
            "ITU-R BT.2100 HLG OETF (E in [0, 1] scene-linear, extrapolated outside)",
            bt_2100.oetf_BT2100_HLG,
            bt_2100.oetf_inverse_BT2100_HLG,
            bt_2100.oetf_BT2100_HLG_torch,
            bt_2100.oetf_inverse_BT2100_HLG_torch,
        ),
        Encoding(
            "log_gamma",
            "DiffHDR log-gamma (x clamped to [0, max_value] when encoding)",
            log_gamma.log_encoding_LogGamma,
            log_gamma.log_decoding_LogGamma,
            log_gamma.log_encoding_LogGamma_torch,
            log_gamma.log_decoding_LogGamma_torch,
            MappingProxyType(
                {
                    "gamma": log_gamma.CONSTANTS_LOG_GAMMA.gamma,
                    "max_value": log_gamma.CONSTANTS_LOG_GAMMA.max_value,
                }
            ),
        ),
        Encoding(
            "acescct",
            "ACEScct (S-2016-001), no 65504 clamp",
            aces.log_encoding_ACEScct,
            aces.log_decoding_ACEScct,
            aces.log_encoding_ACEScct_torch,
            aces.log_decoding_ACEScct_torch,
        ),
        Encoding(
            "pu21",
            "PU21 banding_glare per channel / PU(10000 cd/m^2) (X2HDR); light clamped to "
            "[0.005, 10000] cd/m^2",
            pu21.log_encoding_PU21,
            pu21.log_decoding_PU21,
            pu21.log_encoding_PU21_torch,
            pu21.log_decoding_PU21_torch,
            MappingProxyType({"nits_per_unit": pu21.DEFAULT_NITS_PER_UNIT}),
        ),
    ]
    return MappingProxyType({entry.name: entry for entry in entries})


ENCODINGS: Mapping[str, Encoding] = _registry()
"""Registered encodings by name (read-only)."""


def encodings() -> tuple[str, ...]:
    """Names accepted by :func:`encode` and :func:`decode`."""
    return tuple(ENCODINGS)


def encoding(name: str) -> Encoding:
    """The registered :class:`Encoding` called ``name`` (case-insensitive).

    Raises
    ------
    InvalidArgument
        ``name`` is not registered; the message lists the valid names.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in ENCODINGS:
        raise InvalidArgument("encoding", name, f"unknown encoding; valid: {', '.join(ENCODINGS)}")
    return ENCODINGS[key]


def _checked_params(entry: Encoding, params: dict[str, Any]) -> dict[str, Any]:
    for key, value in params.items():
        if key not in entry.defaults:
            valid = ", ".join(entry.defaults) if entry.defaults else "none"
            raise InvalidArgument(
                key, value, f"not a parameter of encoding {entry.name!r} (valid: {valid})"
            )
    return params


def encode(x, name: str, **params):
    """Scene-linear -> code value with the encoding ``name`` (see the module table).

    Parameters
    ----------
    x
        numpy array / scalar / list (float32 in -> float32 out, float64 -> float64, others ->
        float64) or torch tensor (same dtype and device, differentiable). Any shape.
    name
        One of :func:`encodings`.
    **params
        The encoding's parameters (``nits_per_unit`` for ``pq``; ``gamma``, ``max_value`` for
        ``log_gamma``). Unknown keywords raise :class:`~hdr_mcp.errors.InvalidArgument`.
    """
    entry = encoding(name)
    params = _checked_params(entry, params)
    if is_torch_tensor(x):
        return entry.encode_torch(x, **params)
    return entry.encode_numpy(x, **params)


def decode(y, name: str, **params):
    """Code value -> scene-linear with the encoding ``name``; the inverse of :func:`encode`."""
    entry = encoding(name)
    params = _checked_params(entry, params)
    if is_torch_tensor(y):
        return entry.decode_torch(y, **params)
    return entry.decode_numpy(y, **params)
