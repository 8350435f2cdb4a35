"""The distilled equation of a regime (``symbolic.analysis.distill``) as the report prints it: one line per monomial
of sizes, each coefficient numbered by its addend (``DistilledEquation``, ``monomial_pair``)."""
from __future__ import annotations

import sympy as sp

from symbolic.report.display import Display, Row, aligned_html, aligned_latex, expression_piece, operator_piece
from symbolic.report.printing import mathml_identifier


#: Order of the factors in a printed monomial: bytes per element first, then batch, frames, sizes, devices
#: (Korthikanti et al.'s ``s b h`` reading: the sizes, then the short sum).
_FACTOR_ORDER = ("b", "B", "T", "H", "W", "P")


def monomial_pair(monomial) -> tuple[str, str]:
    """(LaTeX, MathML) of a monomial in the order ``b B T H W P`` (``1`` prints nothing); a non-polynomial part
    (a Max kept whole) prints as itself."""
    monomial = sp.sympify(monomial)
    if monomial == 1:
        return "", ""
    powers = monomial.as_powers_dict()
    if not all(isinstance(base, sp.Symbol) and base.name in _FACTOR_ORDER for base in powers):
        return expression_piece(monomial)
    latex, mathml = [], []
    for name in _FACTOR_ORDER:
        for base, power in powers.items():
            if base.name == name:
                if power == 1:
                    latex.append(name)
                    mathml.append(mathml_identifier(name))
                else:
                    latex.append(f"{name}^{{{power}}}")
                    mathml.append(f"<msup>{mathml_identifier(name)}<mn>{power}</mn></msup>")
    return r"\,".join(latex), "<mo>&#x2062;</mo>".join(mathml)


def _labelled(expr, label: int) -> tuple[str, str]:
    latex, mathml = expression_piece(expr)
    return (rf"\underbrace{{{latex}}}_{{({label})}}",
            f"<munder><mrow>{mathml}</mrow><mrow><mtext mathsize=\"70%\">({label})</mtext></mrow></munder>")


class DistilledEquation(Display):
    """``lhs = M_w + monomial (c_1 + c_2 + ...) + ...``: one line per monomial, each coefficient with the number of
    its addend in the tally beneath it (``\\underbrace``)."""

    def __init__(self, lhs, weights_symbol, groups, labels: dict[str, int], annotation: str = "") -> None:
        self.lhs = sp.sympify(lhs)
        rows = [Row([expression_piece(weights_symbol)], self.lhs, "=", annotation)]
        for monomial, pairs in groups:
            mono_latex, mono_mathml = monomial_pair(monomial)
            pieces = [(r"+\;", "<mo>+</mo>")]
            if not mono_latex or len(pairs) == 1 and pairs[0][1] == 1:
                inner = [_labelled(c if mono_latex == "" else monomial, labels[a.name]) for a, c in pairs]
                joined = []
                for i, piece in enumerate(inner):
                    joined += ([operator_piece("+", "+")] if i else []) + [piece]
                pieces += joined if len(joined) == 1 else [(r"\big(", "<mo>(</mo>")] + joined + [(r"\big)", "<mo>)</mo>")]
            else:
                pieces.append((mono_latex + r"\,", mono_mathml))
                pieces.append((r"\big(", "<mo>(</mo>"))
                for i, (addend, coefficient) in enumerate(pairs):
                    if i:
                        pieces.append(operator_piece("+", "+"))
                    pieces.append(_labelled(coefficient, labels[addend.name]))
                pieces.append((r"\big)", "<mo>)</mo>"))
            rows.append(Row(pieces))
        self.rows = rows

    def html(self) -> str:
        return aligned_html(self.rows)

    def latex(self) -> str:
        return aligned_latex(self.rows)

    def text(self) -> str:
        return " ".join("".join(p[0] for p in row.pieces) for row in self.rows)
