"""The symbols the report introduces (h, w, R, a, M_w, n, the stage activations), each with its one meaning, and the
glossary that lists the printed symbols and refuses one that would mean two things."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp

from symbolic.report.printing import PRINTED_NAMES, mathml_identifier, register_symbol, sub_symbol, to_latex
from symbolic.core import symbols as package


@dataclass(frozen=True)
class Glossed:
    """A symbol as the report prints it, with its one meaning."""

    symbol: sp.Symbol
    meaning: str

    @property
    def printed(self) -> str:
        return to_latex(self.symbol)


#: The report's own symbols (their meanings: ``REPORT_SYMBOLS``).
h = register_symbol("h", "h", mathml_identifier("h"), positive=True, integer=True)
w = register_symbol("w", "w", mathml_identifier("w"), positive=True, integer=True)
R = register_symbol("R", "R", mathml_identifier("R"))
SQUARE_SIDE = register_symbol("a", "a", mathml_identifier("a"), positive=True, integer=True)
WEIGHTS_SYMBOL = register_symbol("M_w", "M_{w}", f"<msub>{mathml_identifier('M')}{mathml_identifier('w')}</msub>")
SEQUENCE = register_symbol("n", "n", mathml_identifier("n"), positive=True, integer=True)
#: Symbols the report itself introduces (not in ``symbolic.core.symbols``), by SymPy name -> meaning. Each prints
#: differently from every package symbol (checked by ``glossary``): the stage activations are ``A``, not ``T``
#: (frames), the square side is ``a``, not ``s`` (the VAE's spatial compression), the sequence length of an
#: attention is ``n``, not ``N``.
REPORT_SYMBOLS = {
    "h": "latent height, floor(H / 8) for the 8x-downsampling VAEs (H = 8h for multiples of 8)",
    "w": "latent width, floor(W / 8) (W = 8w)",
    "R": "resident bytes: weights, their allocator rounding and the cuBLAS workspace, live in every stage",
    "a": "side of a square image, H = W = a (asymptotics, planning)",
    "M_w": "bytes of the resident weights (parameters and buffers of every component on the GPU)",
    "n": "sequence length of an attention (tokens); n x n scores where a kernel stores them",
}


def stage_symbol(stage: str, moment: str | None = None) -> sp.Symbol:
    """``A_stage`` (a stage's activation: its peak minus the resident bytes) or ``A_stage,moment``."""
    return sub_symbol("A", stage, *([moment] if moment else []))


def glossary(exprs: Iterable, extra: Iterable[str] = ()) -> list[Glossed]:
    """The symbols the report prints: the free symbols of ``exprs`` (package symbols and the report's own) plus the
    report symbols named in ``extra``, each with its meaning; a ValueError when two of them print the same."""
    meanings: dict[str, str] = {info.symbol.name: info.meaning for info in package.infos()}
    report = {name: sym for name, sym in ((n, sp.Symbol(n)) for n in REPORT_SYMBOLS)}
    used: dict[str, sp.Symbol] = {}
    for expr in exprs:
        for sym in sp.sympify(expr).free_symbols:
            used.setdefault(sym.name, sym)
    for name in extra:
        used.setdefault(name, report[name])
    out, printed = [], {}
    for name, sym in sorted(used.items(), key=lambda item: _glossary_order(item[0])):
        if name.startswith("A[") or name.startswith("["):
            continue  # stage activations and term names: defined where they are used
        meaning = REPORT_SYMBOLS.get(name) or meanings.get(name)
        if meaning is None:
            raise ValueError(f"symbol {name!r} has no meaning in symbolic.core.symbols or REPORT_SYMBOLS")
        entry = Glossed(sym, meaning)
        if entry.printed in printed and printed[entry.printed] != meaning:
            raise ValueError(f"symbol {entry.printed!r} would mean two things: {printed[entry.printed]!r} and "
                             f"{meaning!r}")
        printed[entry.printed] = meaning
        out.append(entry)
    return out


def _glossary_order(name: str) -> tuple:
    order = ["H", "W", "T", "B", "G", "b", "P", "L", "M_w", "h", "w", "R", "a", "n"]
    return (order.index(name) if name in order else len(order), name)


def check_one_meaning() -> None:
    """Raise ValueError if a report symbol prints like a package symbol with another meaning."""
    printed = {sp.latex(info.symbol): info.meaning for info in package.infos()}
    for name, meaning in REPORT_SYMBOLS.items():
        latex = PRINTED_NAMES[name].latex if name in PRINTED_NAMES else name
        if latex in printed and printed[latex] != meaning:
            raise ValueError(f"report symbol {latex!r} prints like the package's, which means {printed[latex]!r}")


#: Prose in derivation notes that uses a package symbol for something else: rewritten where the report prints it.
_PROSE_SYMBOLS = ((re.compile(r"\bN x N\b"), "n x n"), (re.compile(r"\bN\s*\u00d7\s*N\b"), "n \u00d7 n"))


def prose(text: str) -> str:
    """A derivation note as the report prints it: ``N x N`` (the package's N is the image count) becomes ``n x n``."""
    for pattern, replacement in _PROSE_SYMBOLS:
        text = pattern.sub(replacement, text)
    return text
