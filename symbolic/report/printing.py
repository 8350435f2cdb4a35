"""Text and math for the report's two outputs: LaTeX and HTML escaping, the registry of how the report's symbols
print, and the MathML (``to_mathml``) and LaTeX (``to_latex``) printers."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from xml.dom import minidom

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter

# --- escaping ------------------------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
#: Non-ASCII characters the prose may contain, in LaTeX (pdflatex with T1 fonts; anything else is refused).
_LATEX_UNICODE = {
    "\u00d7": r"$\times$", "\u2212": "-", "\u2013": "--", "\u2014": "---", "\u2026": r"\dots{}", "\u2248": r"$\approx$",
    "\u2264": r"$\le$", "\u2265": r"$\ge$", "\u00b2": r"$^2$", "\u00b3": r"$^3$", "\u00b7": r"$\cdot$",
    "\u2192": r"$\to$", "\u2019": "'", "\u2018": "`", "\u201c": "``", "\u201d": "''", "\u00a0": "~", "\u221e": r"$\infty$",
    "\u00b5": r"$\mu$", "\u00e9": r"\'e", "\u2032": "'",
}


def latex_escape(text: str) -> str:
    out = []
    for char in str(text):
        if char in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[char])
        elif ord(char) < 128:
            out.append(char)
        elif char in _LATEX_UNICODE:
            out.append(_LATEX_UNICODE[char])
        else:
            out.append("?")
    return "".join(out)


def latex_text(text: str) -> str:
    """Prose in LaTeX: escaped, with break points after underscores (identifiers in tables and notes)."""
    return latex_escape(text).replace(r"\_", r"\_\allowbreak{}")


def latex_code(text: str) -> str:
    """Inline code in LaTeX: monospace, breakable after ``_``, ``.``, ``/`` and ``,`` (long identifiers)."""
    escaped = latex_escape(text)
    for sep in (r"\_", ".", "/", ","):
        escaped = escaped.replace(sep, sep + r"\allowbreak{}")
    return r"\texttt{" + escaped + "}"


def html_escape(text: str) -> str:
    return html.escape(str(text), quote=True)


# --- names and printers ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PrintedName:
    """How a symbol prints: LaTeX, and presentation MathML."""

    latex: str
    mathml: str


#: Symbols introduced by the report (term names, stage transients, the report's own letters), by SymPy name.
PRINTED_NAMES: dict[str, PrintedName] = {}


def register_symbol(symbol_name: str, latex: str, mathml: str, **assumptions) -> sp.Symbol:
    """A SymPy symbol (positive unless ``assumptions`` say otherwise) that prints as ``latex`` and ``mathml``."""
    PRINTED_NAMES[symbol_name] = PrintedName(latex, mathml)
    return sp.Symbol(symbol_name, **(assumptions or {"positive": True}))


def mathml_identifier(text: str) -> str:
    """``<mi>text</mi>``, escaped."""
    return f"<mi>{html_escape(text)}</mi>"


def term_symbol(name: str) -> sp.Symbol:
    """A symbol standing for a term (or any named quantity) by its name: ``\\mathrm{unet\\_geglu}``."""
    return register_symbol(f"[{name}]", r"\mathrm{" + latex_escape(name) + "}", mathml_identifier(name))


def sub_symbol(base: str, *subscripts: str) -> sp.Symbol:
    """``base`` with upright subscripts separated by commas, e.g. T_{vae_decode, upsampler_conv}."""
    latex = base + "_{" + r",\,".join(r"\mathrm{" + latex_escape(s) + "}" for s in subscripts) + "}"
    inner = "<mo>,</mo>".join(mathml_identifier(s) for s in subscripts)
    mathml = f"<msub>{mathml_identifier(base)}<mrow>{inner}</mrow></msub>"
    return register_symbol(f"{base}[{','.join(subscripts)}]", latex, mathml)


_SUBSCRIPT = re.compile(r"^([A-Za-z]+)_\{([A-Za-z0-9]+)\}$")


class _Printer(MathMLPresentationPrinter):
    """sympy's presentation MathML printer, with the report's names and a readable Piecewise."""

    def _element(self, xml: str):
        return self.dom.importNode(minidom.parseString(xml).documentElement, True)

    def _text(self, tag: str, text: str):
        node = self.dom.createElement(tag)
        node.appendChild(self.dom.createTextNode(html_escape(text)))
        return node

    def _print_Symbol(self, sym, style="plain"):
        if sym.name in PRINTED_NAMES:
            return self._element(PRINTED_NAMES[sym.name].mathml)
        match = _SUBSCRIPT.match(sym.name)  # symbols.py names symbols by their LaTeX, e.g. C_{lat}
        if match:
            return self._element(f"<msub>{mathml_identifier(match.group(1))}{mathml_identifier(match.group(2))}</msub>")
        return super()._print_Symbol(sym, style)

    def _print_Piecewise(self, expr):
        row = self.dom.createElement("mrow")
        row.appendChild(self._text("mo", "{"))
        table = self.dom.createElement("mtable")
        for value, condition in expr.args:
            tr = self.dom.createElement("mtr")
            first = self.dom.createElement("mtd")
            first.appendChild(self._print(value))
            second = self.dom.createElement("mtd")
            if condition == sp.true:
                second.appendChild(self._text("mtext", "\u2003otherwise"))
            else:
                inner = self.dom.createElement("mrow")
                inner.appendChild(self._text("mtext", "\u2003if\u2002"))
                inner.appendChild(self._print(condition))
                second.appendChild(inner)
            tr.appendChild(first)
            tr.appendChild(second)
            table.appendChild(tr)
        row.appendChild(table)
        return row


def to_mathml(expr) -> str:
    """Presentation MathML of ``expr`` (the inside of a ``<math>`` element)."""
    return _Printer({}).doprint(sp.sympify(expr))


def to_latex(expr) -> str:
    expr = sp.sympify(expr)
    names = {s: PRINTED_NAMES[s.name].latex for s in expr.free_symbols
             if isinstance(s, sp.Symbol) and s.name in PRINTED_NAMES}
    return sp.latex(expr, symbol_names=names)
