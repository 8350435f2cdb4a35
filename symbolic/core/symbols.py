"""Every symbol of the toolkit, defined once, with its assumptions, meaning and LaTeX name.

Symbols are positive integers unless stated. ``ARG_ORDER`` fixes the argument order of every lambdified function, so
that a numeric function built from any expression takes the same positional arguments (pydy's convention).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True)
class SymbolInfo:
    symbol: sp.Symbol
    meaning: str


_REGISTRY: dict[str, SymbolInfo] = {}


def _define(name: str, latex: str, meaning: str, **assumptions) -> sp.Symbol:
    if name in _REGISTRY:
        raise ValueError(f"symbol {name!r} defined twice")
    assumptions = assumptions or {"positive": True, "integer": True}
    # sp.Symbol's name is the LaTeX form, so printed equations read as in the report.
    symbol = sp.Symbol(latex, **assumptions)
    _REGISTRY[name] = SymbolInfo(symbol, meaning)
    return symbol


# --- image pipelines ---------------------------------------------------------------------------------------------
H = _define("H", "H", "image height in pixels, as passed to the pipeline")
W = _define("W", "W", "image width in pixels, as passed to the pipeline")
N = _define("N", "N", "images per prompt (num_images_per_prompt)")
G = _define("G", "G", "classifier-free guidance multiplier: 2 when guidance_scale > 1, else 1")
L = _define("L", "L", "prompt length in tokens, before padding")
b = _define("b", "b", "bytes per element of the model dtype (fp32 4, fp16/bf16 2)")

# --- video pipelines ---------------------------------------------------------------------------------------------
T = _define("T", "T", "number of video frames")
B = _define("B", "B", "batch size (videos)")
C_lat = _define("C_lat", "C_{lat}", "latent channels of the VAE")
s_sp = _define("s_sp", "s", "spatial compression of the VAE")
s_t = _define("s_t", "s_t", "temporal compression of the VAE")
p = _define("p", "p", "spatial patch size of the transformer")
p_t = _define("p_t", "p_t", "temporal patch size of the transformer")
P = _define("P", "P", "number of GPUs a sequence or the weights are split over")

#: The fixed argument order of every lambdified function (a function takes all of them, in this order).
ARG_ORDER: tuple[sp.Symbol, ...] = tuple(info.symbol for info in _REGISTRY.values())
#: Argument names as the Python API spells them, in ``ARG_ORDER``.
ARG_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def symbol(name: str) -> sp.Symbol:
    return _REGISTRY[name].symbol


def meaning(name: str) -> str:
    return _REGISTRY[name].meaning


def infos() -> tuple[SymbolInfo, ...]:
    """Every symbol with its meaning, in ``ARG_ORDER``."""
    return tuple(_REGISTRY.values())


def table() -> list[tuple[str, str, str]]:
    """(name, LaTeX, meaning) of every symbol, for the report."""
    return [(name, sp.latex(info.symbol), info.meaning) for name, info in _REGISTRY.items()]
