"""Working with a closed form along one size variable: square images H = W = s, s a multiple of the size step.

With s a multiple of the model's size step (the VAE scale times the patch size: 8 for SD 1.5, 16 for FLUX.1),
floor(s / 8) = s / 8 there, so every expression becomes a Max of
polynomials in s (and Piecewise for tiling). ``pieces`` flattens such an expression into the polynomials whose Max it is, which
``asymptotics`` and ``planning`` use to read leading terms and to invert the closed form.
"""
from __future__ import annotations

import itertools

import sympy as sp

from symbolic.core.algebra import drop_rounding, rebuild
from symbolic.core.symbols import ARG_NAMES, H, W, symbol

s = sp.Symbol("s", positive=True)


def along_square(expr: sp.Expr, values: dict, step: int) -> sp.Expr:
    """``expr`` with H = W = s (a multiple of ``step``, the size step of the model studied) and the other symbols
    at ``values`` (names -> numbers; a symbol left out is 1, as the runtime's ``positional`` takes it): floor(s / k)
    is s / k wherever k divides ``step`` (latent sizes, patches); other floors (tile counts) are kept."""
    named = {symbol(name): values.get(name, 1) for name in ARG_NAMES if name not in ("H", "W")}
    named.update({H: s, W: s})

    def exact_division(node):
        if isinstance(node, sp.floor):
            ratio = sp.simplify(node.args[0] / s)
            if ratio.is_Rational and ratio > 0 and (step * ratio).is_integer:
                return node.args[0]
        return node

    return rebuild(sp.sympify(expr), named, exact_division)


def _growth(e: sp.Expr) -> int:
    return sp.degree(drop_rounding(e), s) if e.has(s) else 0


def large_size_branch(expr: sp.Expr) -> sp.Expr:
    """``expr`` as it is for large s: Min(s/8, 64) -> 64 (VAE tiles), Piecewise -> its first branch (our terms put
    the large-size branch first)."""
    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)
    return expr.replace(lambda e: isinstance(e, sp.Min), lambda e: min(e.args, key=_growth))


def pieces(expr: sp.Expr) -> list[sp.Expr]:
    """Max-free expressions whose Max is ``expr`` for large s (Add and positive Mul distribute over Max; Min and
    Piecewise take their large-s branch, ``large_size_branch``)."""
    return _pieces(large_size_branch(sp.sympify(expr)))


def _pieces(expr: sp.Expr) -> list[sp.Expr]:
    if isinstance(expr, sp.Max):
        return [p for arg in expr.args for p in _pieces(arg)]
    if isinstance(expr, sp.Add):
        return [sp.Add(*combo) for combo in itertools.product(*(_pieces(a) for a in expr.args))]
    if isinstance(expr, sp.Mul):
        return [sp.Mul(*combo) for combo in itertools.product(*(_pieces(a) for a in expr.args))]
    if isinstance(expr, (sp.floor, sp.ceiling)):
        return [type(expr)(p) for p in _pieces(expr.args[0])]
    return [expr]


def polynomial(expr: sp.Expr) -> sp.Poly:
    return sp.Poly(sp.expand(drop_rounding(expr)), s)


def leading(expr: sp.Expr) -> tuple[int, sp.Expr]:
    """(order, coefficient) of the fastest-growing piece of ``expr`` as s -> oo."""
    best = (-1, sp.Integer(0))
    for piece in pieces(expr):
        poly = polynomial(piece)
        order = poly.degree()
        coeff = poly.LC()
        if (order, coeff) > best:
            best = (order, coeff)
    return best


def positive_roots(expr: sp.Expr, level: int | float) -> list[float]:
    """Real positive roots in s of expr(s) = level for a Max-free expression (its rounding dropped)."""
    poly = polynomial(expr - level)
    if poly.degree() <= 0:
        return []
    return sorted(float(r) for r in sp.Poly(poly, s).nroots() if abs(sp.im(r)) < 1e-9 and sp.re(r) > 0)
