"""The latent tensor of a video VAE: its shape, its bytes and the transformer tokens it becomes.

A 3D VAE maps ``B`` videos of ``T`` frames of ``H x W`` pixels to a latent of shape
``(B, C_lat, T', H', W')``; a DiT then cuts each latent video into patches of ``p_t x p x p`` latent pixels, one
token each. Every size is a ceiling division, so sizes that are not multiples of the compression still count whole
latent pixels (the VAE pads).

Two temporal rules:

* plain (``estimate_video_latent_memory``): ``T' = ceil(T / s_t)``;
* causal (``estimate_video_latent_memory_preset`` for a causal VAE, which encodes the first frame on its own):
  ``T' = 1 + ceil((T - 1) / s_t)``, e.g. CogVideoX 49 frames -> 13, HunyuanVideo 129 -> 33.

The module-level SymPy expressions are the one source of truth; the functions evaluate them exactly (Python ints)
through ``symbolic.core.evaluate.printers.exact``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from symbolic.core.dtypes import BYTES_PER_ELEMENT, canonical_dtype
from symbolic.core.evaluate.runtime import as_integer
from symbolic.core.evaluate.printers import arguments, exact_function
from symbolic.core.symbols import B, C_lat, H, T, W, b, p, p_t, s_sp, s_t
from symbolic.core.units import MiB
from symbolic.core.checks import positive_int, shown
from symbolic.analysis.video_presets import VideoModelPreset, get_preset, video_presets

# --- plain rule (the seed problem) --------------------------------------------------------------------------------
#: Latent frames: ``ceil(T / s_t)``.
LATENT_T = sp.ceiling(T / s_t)
#: Latent height and width: ``ceil(H / s)``, ``ceil(W / s)``.
LATENT_H = sp.ceiling(H / s_sp)
LATENT_W = sp.ceiling(W / s_sp)
#: Elements of the latent tensor ``(B, C_lat, T', H', W')``.
LATENT_ELEMENTS = B * C_lat * LATENT_T * LATENT_H * LATENT_W
#: Bytes of the latent tensor, ``b`` bytes per element.
LATENT_BYTES = LATENT_ELEMENTS * b
#: Patches along the latent height and width.
PATCHES_H = sp.ceiling(LATENT_H / p)
PATCHES_W = sp.ceiling(LATENT_W / p)
#: Tokens of one video with spatial patches ``p x p`` and no temporal patch.
TOKENS = LATENT_T * PATCHES_H * PATCHES_W
#: Tokens of one video with patches ``p_t x p x p`` (plain temporal rule).
PATCHED_TOKENS = sp.ceiling(LATENT_T / p_t) * PATCHES_H * PATCHES_W

# --- causal rule (first frame encoded alone) ----------------------------------------------------------------------
#: Latent frames of a causal VAE: ``1 + ceil((T - 1) / s_t)``.
CAUSAL_LATENT_T = 1 + sp.ceiling((T - 1) / s_t)
CAUSAL_LATENT_ELEMENTS = B * C_lat * CAUSAL_LATENT_T * LATENT_H * LATENT_W
CAUSAL_LATENT_BYTES = CAUSAL_LATENT_ELEMENTS * b
#: Tokens of one video, causal latent frames, patches ``p_t x p x p``.
CAUSAL_TOKENS = sp.ceiling(CAUSAL_LATENT_T / p_t) * PATCHES_H * PATCHES_W


@dataclass(frozen=True)
class LatentEquations:
    """The expressions of one temporal rule, in the order the result reports them."""

    latent_t: sp.Expr
    latent_h: sp.Expr
    latent_w: sp.Expr
    elements: sp.Expr
    memory_bytes: sp.Expr
    tokens: sp.Expr


PLAIN = LatentEquations(LATENT_T, LATENT_H, LATENT_W, LATENT_ELEMENTS, LATENT_BYTES, TOKENS)
PLAIN_PATCHED = LatentEquations(LATENT_T, LATENT_H, LATENT_W, LATENT_ELEMENTS, LATENT_BYTES, PATCHED_TOKENS)
CAUSAL = LatentEquations(CAUSAL_LATENT_T, LATENT_H, LATENT_W, CAUSAL_LATENT_ELEMENTS, CAUSAL_LATENT_BYTES,
                         CAUSAL_TOKENS)

#: The keys of ``estimate_video_latent_memory``'s result, in order.
RESULT_KEYS = ("latent_shape", "num_elements", "memory_bytes", "memory_mb", "tokens_per_video")
#: What ``estimate_video_latent_memory_preset`` accepts in ``**overrides``.
OVERRIDABLE = ("latent_channels", "spatial_compression", "temporal_compression", "patch_size", "patch_size_t",
               "causal")


#: Bytes past which ``memory_mb`` (MiB as a float) cannot be represented.
MAX_FLOAT_BYTES = 2**1000


def _evaluate(equations: LatentEquations, values: Mapping[str, int]) -> dict:
    """Exact values of ``equations`` at ``values`` (every symbol the equations contain is given).

    This is ``symbolic.core.evaluate.printers.exact`` without its per-call argument check (the arguments are validated here, and
    the check walks the expression tree once per symbol): the same compiled exact function, cached per expression.
    Values go in as Fractions so that every division inside a ceiling is exact at any size (the generated code
    divides with Python's ``/``, which on two ints would give a float); results come back as ints.
    """
    args = arguments({name: Fraction(value) for name, value in values.items()})

    def value(expr):
        return as_integer(exact_function(expr)(*args))

    memory_bytes = value(equations.memory_bytes)
    if memory_bytes >= MAX_FLOAT_BYTES:  # exact in bytes, but memory_mb is a float
        raise ValueError(f"num_frames, height, width, batch_size: the latent would take {shown(memory_bytes)} "
                         f"bytes, past the range of memory_mb (a float); give sizes below about 10**300")
    return {
        "latent_shape": (values["B"], values["C_lat"], value(equations.latent_t), value(equations.latent_h),
                         value(equations.latent_w)),
        "num_elements": value(equations.elements),
        "memory_bytes": memory_bytes,
        "memory_mb": round(memory_bytes / MiB, 4),
        "tokens_per_video": value(equations.tokens),
    }


def _point(num_frames, height, width, latent_channels, spatial_compression, temporal_compression, batch_size,
           dtype, patch_size, patch_size_t=1) -> dict[str, int]:
    """Validate every argument (message names the argument) and map them to symbol names."""
    values = {
        "T": positive_int(num_frames, "num_frames"),
        "H": positive_int(height, "height"),
        "W": positive_int(width, "width"),
        "C_lat": positive_int(latent_channels, "latent_channels"),
        "s_sp": positive_int(spatial_compression, "spatial_compression"),
        "s_t": positive_int(temporal_compression, "temporal_compression"),
        "B": positive_int(batch_size, "batch_size"),
    }
    values["b"] = BYTES_PER_ELEMENT[canonical_dtype(dtype, argument="dtype")]
    values["p"] = positive_int(patch_size, "patch_size")
    values["p_t"] = positive_int(patch_size_t, "patch_size_t")
    return values


def estimate_video_latent_memory(num_frames, height, width, latent_channels, spatial_compression,
                                 temporal_compression, batch_size=1, dtype="fp16", patch_size=1) -> dict:
    """Shape, size and transformer tokens of the latent of ``batch_size`` videos (plain ceiling rule).

    Returns ``latent_shape`` ``(batch_size, latent_channels, latent_t, latent_h, latent_w)`` with
    ``latent_t = ceil(num_frames / temporal_compression)`` and ``latent_h/w = ceil(height/width /
    spatial_compression)``; ``num_elements``; ``memory_bytes`` (fp32 4, fp16/bf16 2, fp8 1 bytes per element);
    ``memory_mb`` (MiB, ``memory_bytes / 2**20`` rounded to 4 decimals); ``tokens_per_video``
    ``latent_t * ceil(latent_h / patch_size) * ceil(latent_w / patch_size)``.

    Raises ValueError naming the argument for a non-integer (bools included), a value < 1 or an unknown dtype.
    """
    values = _point(num_frames, height, width, latent_channels, spatial_compression, temporal_compression,
                    batch_size, dtype, patch_size)
    return _evaluate(PLAIN, values)


def estimate_video_latent_memory_preset(preset, num_frames, height, width, batch_size=1, dtype="fp16",
                                        **overrides) -> dict:
    """``estimate_video_latent_memory`` with a real model's latent parameters (``VIDEO_PRESETS``).

    ``preset`` is a name (case-insensitive, aliases such as ``wan`` or ``mochi`` accepted) or a
    ``VideoModelPreset``. ``overrides`` replace preset values: ``latent_channels``, ``spatial_compression``,
    ``temporal_compression``, ``patch_size``, ``patch_size_t``, ``causal``. A causal preset counts latent frames as
    ``1 + ceil((num_frames - 1) / temporal_compression)``; tokens are
    ``ceil(latent_t / patch_size_t) * ceil(latent_h / patch_size) * ceil(latent_w / patch_size)``.

    Returns the five keys of ``estimate_video_latent_memory`` plus ``preset`` (its name) and ``causal``.
    """
    model = get_preset(preset)
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(f"{unknown[0]}: not a preset value that can be overridden; valid: {', '.join(OVERRIDABLE)}")
    params = {name: overrides.get(name, getattr(model, name)) for name in OVERRIDABLE}
    causal = params.pop("causal")
    if not isinstance(causal, bool):
        raise ValueError(f"causal: must be True or False, got {causal!r}")
    values = _point(num_frames, height, width, batch_size=batch_size, dtype=dtype, **params)
    result = _evaluate(CAUSAL if causal else PLAIN_PATCHED, values)
    result["preset"] = model.name
    result["causal"] = causal
    return result


__all__ = [
    "CAUSAL", "CAUSAL_LATENT_BYTES", "CAUSAL_LATENT_ELEMENTS", "CAUSAL_LATENT_T", "CAUSAL_TOKENS", "LATENT_BYTES",
    "LATENT_ELEMENTS", "LATENT_H", "LATENT_T", "LATENT_W", "LatentEquations", "OVERRIDABLE", "PATCHED_TOKENS",
    "PATCHES_H", "PATCHES_W", "PLAIN", "PLAIN_PATCHED", "RESULT_KEYS", "TOKENS", "video_presets",
    "VideoModelPreset", "estimate_video_latent_memory", "estimate_video_latent_memory_preset",
]
