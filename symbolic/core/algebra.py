"""Small SymPy helpers shared by the models."""
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
