"""Small SymPy helpers shared by the models: unevaluated Max, rebuilding, rounding dropped, integer division."""
from __future__ import annotations

import sympy as sp


def maximum(*args: sp.Expr) -> sp.Expr:
    """``Max`` of the arguments, unevaluated. SymPy's evaluation of ``Max`` compares every pair of arguments under
    the symbols' assumptions, which costs seconds for the stage sums; the result is the same function."""
    unique = list(dict.fromkeys(sp.sympify(a) for a in args))
    if len(unique) == 1:
        return unique[0]
    return sp.Max(*unique, evaluate=False)


def rebuild(expr: sp.Expr, mapping: dict, simplify_node=None) -> sp.Expr:
    """``expr`` with the ``mapping`` substitutions, rebuilt bottom-up keeping Max and Min unevaluated (see
    ``maximum``); ``simplify_node`` may rewrite each rebuilt node."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    args = [rebuild(a, mapping, simplify_node) for a in expr.args]
    if isinstance(expr, (sp.Max, sp.Min)):
        node = type(expr)(*args, evaluate=False)
    else:
        node = expr.func(*args)
    return simplify_node(node) if simplify_node else node


def drop_rounding(expr) -> sp.Expr:
    """``expr`` with every ``floor(x)`` / ``ceiling(x)`` replaced by ``x`` (innermost first), expanded: an error
    below 1 per occurrence, for reading shapes and leading terms, never for exact bytes."""
    expr = sp.sympify(expr)
    while expr.has(sp.floor, sp.ceiling):
        expr = expr.replace(lambda e: isinstance(e, (sp.floor, sp.ceiling)) and not e.args[0].has(sp.floor, sp.ceiling),
                            lambda e: e.args[0])
    return sp.expand(expr)


def floor_div(k: sp.Expr, n: int) -> sp.Expr:
    """floor(k / n) for an integer k and a constant n. When n is not a power of two it is written
    floor((k + 1/2) / n): equal for every integer k, and the float (NumPy) path, which multiplies by an inexact 1/n,
    then never lands on an integer boundary."""
    return sp.floor(k / n) if n & (n - 1) == 0 else sp.floor((k + sp.Rational(1, 2)) / n)


def ceil_div(k: sp.Expr, n: int) -> sp.Expr:
    """ceiling(k / n) for an integer k and a constant n (see ``floor_div``)."""
    return sp.ceiling(k / n) if n & (n - 1) == 0 else floor_div(k + n - 1, n)


def ceil_ratio(x: sp.Expr, n: sp.Expr) -> sp.Expr:
    """ceiling(x / n) for a symbolic divisor (a device count P): the rounding up of a split over devices."""
    return sp.ceiling(sp.sympify(x) / n)
