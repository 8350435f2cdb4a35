"""The expression forms the float paths print (NumPy, numexpr, ``math``, the numba loop): symbols renamed to
identifiers, floor / ceiling arguments over one common denominator, and one division per rational coefficient, so
that float64 code is exact wherever its integers stay below 2**53."""
from __future__ import annotations

import sympy as sp

from symbolic.core.algebra import rebuild
from symbolic.core.symbols import ARG_NAMES, ARG_ORDER

#: The identifier each argument of ``ARG_ORDER`` has in generated code.
ARG_IDENTIFIERS = tuple(f"_{name}" for name in ARG_NAMES)
RENAMED_ARGS = dict(zip(ARG_ORDER, (sp.Symbol(n, **s.assumptions0) for n, s in zip(ARG_IDENTIFIERS, ARG_ORDER))))


class _RatioFloor(sp.Function):
    """floor(numerator / denominator), kept as two arguments so that float code divides once, exactly-rounded."""


class _RatioCeiling(sp.Function):
    """ceiling(numerator / denominator), as ``_RatioFloor``."""


def _as_ratio(node: sp.Expr) -> sp.Expr:
    if isinstance(node, (sp.floor, sp.ceiling)):
        numerator, denominator = sp.together(node.args[0]).as_numer_denom()
        return (_RatioFloor if isinstance(node, sp.floor) else _RatioCeiling)(numerator, denominator)
    return node


def for_floats(expr: sp.Expr) -> sp.Expr:
    """The expression for the float paths: identifiers renamed, and every floor / ceiling argument put over a common
    denominator. With an integer numerator (exact in float64 below 2**53) one correctly rounded division lands on
    the right side of every integer, where a sum of rounded fractions (``T/4 - 1/4``) or common subexpressions
    computed apart may not."""
    return rebuild(sp.sympify(expr), RENAMED_ARGS, _as_ratio)


class SingleDivision:
    """For float printers: print ``(p/q) * x`` as ``(p * x) / q``, one correctly rounded division, so that floor and
    ceiling of a value that is exactly an integer stay exact (``ceiling(L/75)`` at L = 525 is 7, where
    ``ceil((1/75) * 525)`` is 8)."""

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_Rational and coeff.q != 1 and rest != 1:
            return f"(({self._print(coeff.p * rest)}) / {self._print(sp.Integer(coeff.q))})"
        return super()._print_Mul(expr)

    def _ratio(self, expr) -> str:
        numerator, denominator = expr.args
        if denominator == 1:
            return self._print(numerator)
        return f"(({self._print(numerator)}) / ({self._print(denominator)}))"

    def _print__RatioFloor(self, expr):
        return f"{self._module_format(self._floor_function)}({self._ratio(expr)})"

    def _print__RatioCeiling(self, expr):
        return f"{self._module_format(self._ceiling_function)}({self._ratio(expr)})"


class FloatCallPrinter:
    """For float printers that print floor, ceiling, Max and Min as calls (the numexpr string and the numba loop):
    ``_floor_function`` / ``_ceiling_function`` / ``_max_function`` / ``_min_function`` name them; Max and Min of
    several arguments fold into nested two-argument calls."""

    _floor_function: str
    _ceiling_function: str
    _max_function: str
    _min_function: str

    def _print_floor(self, expr):
        return f"{self._floor_function}({self._print(expr.args[0])})"

    def _print_ceiling(self, expr):
        return f"{self._ceiling_function}({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return self._fold(self._max_function, expr.args)

    def _print_Min(self, expr):
        return self._fold(self._min_function, expr.args)

    def _fold(self, function, args):
        code = self._print(args[0])
        for arg in args[1:]:
            code = f"{function}({code}, {self._print(arg)})"
        return code
