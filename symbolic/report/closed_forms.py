"""A configuration's allocated peak in closed form: H = 8h, W = 8w substituted, and the moments that another moment
dominates coefficient by coefficient dropped (``closed_form``, printed by ``closed_form_display``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symbolic.report.display import MaxEquation
from symbolic.report.glossary import h, w
from symbolic.core.algebra import maximum
from symbolic.core.symbols import G, H, W


def latent_form(expr) -> sp.Expr:
    """``expr`` with H = 8h, W = 8w (sizes that are multiples of 8: floor(H/8) = h), simplified."""
    return sp.simplify(sp.sympify(expr).subs({H: 8 * h, W: 8 * w}))


def _nonnegative_coefficients(expr: sp.Expr) -> bool:
    expr = sp.expand(expr)
    if expr == 0:
        return True
    if expr.has(sp.Max, sp.Min, sp.Piecewise, sp.floor, sp.ceiling):
        return False
    try:
        poly = sp.Poly(expr, *sorted(expr.free_symbols, key=lambda s: s.name))
    except sp.PolynomialError:
        return False
    return all(c >= 0 for c in poly.coeffs())


def dominates(upper: sp.Expr, lower: sp.Expr) -> bool:
    """True when ``upper >= lower`` for every G in {1, 2} and all positive values of the other symbols, shown by
    ``upper - lower`` having only non-negative coefficients as a polynomial (a sufficient condition)."""
    difference = sp.sympify(upper) - sp.sympify(lower)
    return all(_nonnegative_coefficients(difference.subs(G, g)) for g in (1, 2))


@dataclass
class Piece:
    stage: str
    moment: str
    expr: sp.Expr
    dominated_by: str = ""


@dataclass
class ClosedForm:
    """The allocated peak of one configuration as R + Max over the moments that are not dominated."""

    resident: sp.Expr
    pieces: list[Piece] = field(default_factory=list)

    @property
    def kept(self) -> list[Piece]:
        return [p for p in self.pieces if not p.dominated_by]

    @property
    def expr(self) -> sp.Expr:
        return self.resident + maximum(*(p.expr for p in self.kept))


def closed_form(model) -> ClosedForm:
    """Every moment's sum in latent form, and which moment (if any) dominates it."""
    pieces = [Piece(getattr(stage, "value", stage), moment, latent_form(expr))
              for stage in model.stages for moment, expr in model.moments(stage).items()]
    for piece in pieces:
        for other in pieces:
            if other is piece or other.dominated_by:
                continue
            if dominates(other.expr, piece.expr) and not (dominates(piece.expr, other.expr)
                                                        and pieces.index(other) > pieces.index(piece)):
                piece.dominated_by = f"{other.stage}/{other.moment}"
                break
    return ClosedForm(sp.simplify(model.resident), pieces)


def closed_form_display(form: ClosedForm, lhs) -> MaxEquation:
    """``lhs = R + max(...)`` over the moments kept, one per line, each annotated with its stage and moment."""
    kept = form.kept
    return MaxEquation(lhs, [p.expr for p in kept], [f"{p.stage} / {p.moment}" for p in kept], head=form.resident)
