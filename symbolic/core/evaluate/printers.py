"""The one path from SymPy to numbers.

* ``exact_function(expr)``: Python source generated from the expression and evaluated with Python ``int`` and
  ``fractions.Fraction`` (floor and ceiling exact), so a byte count of any size comes out as an exact integer: no
  float rounding and no int64 overflow.
* ``vector_function(expr)``: the expression compiled for NumExpr (one fused, multi-threaded pass over the arrays,
  no temporaries) when ``numexpr`` is installed, else ``sympy.lambdify(..., cse=True)`` into NumPy; for grids of
  millions of points (float64: exact below 2**53 bytes, i.e. 8 PiB).
* ``scalar_function(expr)``: the same expression lambdified for Python's ``math`` module (the honest scalar path the
  benchmark compares against).

Every generated function takes the arguments of ``symbols.ARG_ORDER``, in that order; ``call`` maps names to that
order, so callers never depend on which symbols an expression happens to contain.
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

from symbolic.core.evaluate.runtime import as_integer, compile_exact, positional
from symbolic.core.evaluate.float_forms import ARG_IDENTIFIERS, RENAMED_ARGS, FloatCallPrinter, SingleDivision, for_floats
from symbolic.core.evaluate.numba_loop import GridFunction, compiled_grid, grid_outputs
from symbolic.core.symbols import ARG_NAMES, ARG_ORDER

class _ScalarPrinter(SingleDivision, PythonCodePrinter):
    """Python ``math`` source for the scalar path."""

    _floor_function, _ceiling_function = "math.floor", "math.ceil"


class _ExactPrinter(PythonCodePrinter):
    """Python source over ints and Fractions: rationals stay rationals, floor/ceiling are exact."""

    def _print_Rational(self, expr):
        return f"_F({expr.p}, {expr.q})"

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Half(self, expr):
        return "_F(1, 2)"

    def _integer_quotient(self, arg):
        """(numerator, denominator) when ``arg`` is an integer over a positive integer constant, else None: its floor
        is Python's ``//`` on ints, exact and without a Fraction (most floors of the models are H / 8 and the like)."""
        numerator, denominator = arg.as_numer_denom()
        if denominator.is_Integer and denominator > 1 and numerator.is_integer:
            return numerator, denominator
        return None

    def _print_floor(self, expr):
        quotient = self._integer_quotient(expr.args[0])
        if quotient:
            return f"(({self._print(quotient[0])}) // {quotient[1]})"
        return f"_floor({self._print(expr.args[0])})"

    def _print_ceiling(self, expr):
        quotient = self._integer_quotient(expr.args[0])
        if quotient:
            return f"(-((-({self._print(quotient[0])})) // {quotient[1]}))"
        return f"_ceil({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.args
        if exponent.is_Integer and exponent < 0:
            return f"(_F(1) / ({self._print(base)}) ** {-exponent.p})"
        return super()._print_Pow(expr, rational=rational)

    def _print_Mul(self, expr):
        # Python's / on two ints is a float: divide a Fraction instead, so T / s stays exact at any size.
        numerator, denominator = expr.as_numer_denom()
        if denominator != 1:
            return f"(_F({self._print(numerator)}) / ({self._print(denominator)}))"
        return super()._print_Mul(expr)

    def _print_Float(self, expr):
        raise TypeError(f"exact evaluation refuses a float constant ({expr}); use sympy.Rational")


class _VectorPrinter(SingleDivision, NumPyPrinter):
    """NumPy source where Max/Min broadcast element-wise (NumPyPrinter's amax needs equal shapes)."""

    _floor_function, _ceiling_function = "numpy.floor", "numpy.ceil"

    def _print_Max(self, expr):
        return self._fold("numpy.maximum", expr.args)

    def _print_Min(self, expr):
        return self._fold("numpy.minimum", expr.args)

    def _fold(self, function, args):
        code = self._print(args[0])
        for arg in args[1:]:
            code = f"{function}({code}, {self._print(arg)})"
        return code


class _NumExprPrinter(FloatCallPrinter, SingleDivision, PythonCodePrinter):
    """A NumExpr expression string: every number a float (NumExpr's integers are 32/64-bit and would overflow)."""

    _floor_function, _ceiling_function, _max_function, _min_function = "floor", "ceil", "maximum", "minimum"

    def _module_format(self, name, register=True):
        return name

    def _print_Integer(self, expr):
        return f"{expr.p}.0"

    def _print_Rational(self, expr):
        return f"({expr.p}.0 / {expr.q}.0)"

    def _print_Half(self, expr):
        return "0.5"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Piecewise(self, expr):
        code = self._print(expr.args[-1].expr)
        for branch in reversed(expr.args[:-1]):
            code = f"where({self._print(branch.cond)}, {self._print(branch.expr)}, {code})"
        return code

    def _print_Or(self, expr):
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def _print_And(self, expr):
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.args
        return f"({self._print(base)})**({self._print(exponent)})"


def _numexpr_function(expr: sp.Expr):
    """NumExpr evaluation after common-subexpression elimination: each shared subexpression is one fused pass
    (NumExpr itself does not eliminate repeats), then the reduced expression is one more."""
    import numexpr
    import numpy

    printer = _NumExprPrinter()
    replacements, (reduced,) = sp.cse(for_floats(expr), symbols=sp.numbered_symbols("_cse"))
    steps = [(str(name), printer.doprint(value)) for name, value in replacements]
    final = printer.doprint(reduced)
    source = "; ".join(f"{name} = {code}" for name, code in steps + [("result", final)])
    used = [i for i, name in enumerate(ARG_IDENTIFIERS) if name in source]

    def evaluate(*args):
        local = {ARG_IDENTIFIERS[i]: numpy.asarray(args[i], dtype=numpy.float64) for i in used}
        for name, code in steps:
            local[name] = numexpr.evaluate(code, local_dict=local, optimization="none")
        # optimization="none": NumExpr's other levels turn x / q into x * (1 / q), which breaks exact division.
        return numexpr.evaluate(final, local_dict=local, optimization="none")

    evaluate.source = source
    return evaluate


class _NamedExactPrinter(_ExactPrinter):
    """The exact printer, printing each symbol as the generated code's argument name directly: renaming the
    expression first (a rebuild with ``RENAMED_ARGS``) re-evaluates every Max, Min and floor of large stage sums,
    which costs seconds per configuration."""

    def _print_Symbol(self, expr):
        return _IDENTIFIER.get(expr, super()._print_Symbol(expr))


_IDENTIFIER = dict(zip(ARG_ORDER, ARG_IDENTIFIERS))


def exact_source(expr: sp.Expr) -> str:
    """The Python source of the exact function of ``expr`` (used by the on-disk cache)."""
    body = _NamedExactPrinter({"fully_qualified_modules": False}).doprint(sp.sympify(expr))
    return f"lambda {', '.join(ARG_IDENTIFIERS)}: {body}"


@lru_cache(maxsize=None)
def exact_function(expr: sp.Expr):
    """A function of all ``ARG_ORDER`` arguments returning the exact value (int or Fraction)."""
    return compile_exact(exact_source(expr))


@lru_cache(maxsize=None)
def vector_function(expr: sp.Expr, backend: str = "auto"):
    """A vectorised function of all ``ARG_ORDER`` arguments; broadcasts over arrays, returns float64.
    ``backend``: ``numexpr``, ``numpy`` or ``auto`` (NumExpr when installed)."""
    if backend not in ("auto", "numexpr", "numpy"):
        raise ValueError(f"backend: must be auto, numexpr or numpy, got {backend!r}")
    if backend in ("auto", "numexpr"):
        try:
            return _numexpr_function(expr)
        except ImportError:
            if backend == "numexpr":
                raise
    return numpy_function(expr)


@lru_cache(maxsize=None)
def numpy_function(expr: sp.Expr):
    """``lambdify`` into NumPy with common-subexpression elimination; arguments are cast to float64 first, so integer
    arrays cannot overflow int64."""
    import numpy

    function = sp.lambdify(RENAMED_ARGS.values(), for_floats(expr), modules="numpy", printer=_VectorPrinter, cse=True)

    def evaluate(*args):
        return function(*(numpy.asarray(a, dtype=numpy.float64) for a in args))

    return evaluate


@lru_cache(maxsize=None)
def numpy_functions(exprs: tuple):
    """Several expressions lambdified together into NumPy with one common-subexpression elimination (the outputs of
    one model share most of their terms: evaluating them together is about 4x faster than one by one); a function of
    all ``ARG_ORDER`` arguments returning one float64 array per expression. Arguments are cast to float64 first."""
    import numpy

    function = sp.lambdify(RENAMED_ARGS.values(), [for_floats(e) for e in exprs], modules="numpy", printer=_VectorPrinter,
                           cse=True)

    def evaluate(*args):
        return function(*(numpy.asarray(a, dtype=numpy.float64) for a in args))

    return evaluate


def grid_function(expr_or_outputs, fast: bool = True):
    """The grid evaluation of one expression (one float64 array back), a tuple of them (a list) or a mapping of names
    to them (a dict), all outputs with one common-subexpression elimination: a numba-compiled loop near the memory
    floor when ``fast`` and numba (extra ``fast``) is installed, else ``numpy_functions``. Its ``backend`` attribute
    (``"numba"`` / ``"numpy"``) and ``compiled`` flag say which; both are exact below 2**53 (``symbolic.core.evaluate.numba_loop``)."""
    names, single, exprs = grid_outputs(expr_or_outputs)
    compiled = compiled_grid(exprs) if fast else None
    if compiled is not None:
        return GridFunction(compiled, "numba", names, single)
    return GridFunction(numpy_functions(exprs), "numpy", names, single)


@lru_cache(maxsize=None)
def scalar_function(expr: sp.Expr):
    """A function of all ``ARG_ORDER`` arguments over Python floats, through the ``math`` module."""
    return sp.lambdify(RENAMED_ARGS.values(), for_floats(expr), modules="math",
                       printer=_ScalarPrinter({"fully_qualified_modules": False}), cse=True)


def specialize(expr: sp.Expr, **values) -> sp.Expr:
    """``expr`` with some symbols fixed (e.g. G, L, b for a grid over H, W, N). With numeric coefficients SymPy's
    ``Max`` drops the arguments another dominates, so the specialised expression is smaller: the benchmark feeds it
    to both the vectorised and the scalar paths."""
    from symbolic.core.symbols import symbol

    return sp.sympify(expr).xreplace({symbol(name): sp.Integer(value) for name, value in values.items()})


def arguments(values: Mapping[str, object]) -> list:
    """Positional arguments in ``ARG_ORDER`` from a name -> value mapping; absent names get 1 (a symbol that the
    expression does not contain never reaches its value; one that it does contain must be given)."""
    unknown = set(values) - set(ARG_NAMES)
    if unknown:
        raise ValueError(f"unknown symbol name(s): {', '.join(sorted(unknown))}")
    return positional(ARG_NAMES, values)


@lru_cache(maxsize=None)
def _needed(expr: sp.Expr) -> tuple[str, ...]:
    free = expr.free_symbols
    return tuple(n for n, s in zip(ARG_NAMES, ARG_ORDER) if s in free)


def _require(expr: sp.Expr, values: Mapping[str, object]) -> None:
    missing = [n for n in _needed(expr) if n not in values]
    if missing:
        raise ValueError(f"missing value(s) for symbol(s): {', '.join(missing)}")


def exact(expr: sp.Expr, **values) -> int | Fraction:
    """Exact value of ``expr`` at one point; an integer result comes back as ``int``."""
    expr = sp.sympify(expr)
    _require(expr, values)
    return as_integer(exact_function(expr)(*arguments(values)))


def vector(expr: sp.Expr, **values):
    """Vectorised value of ``expr`` over NumPy arrays (broadcast together)."""
    expr = sp.sympify(expr)
    _require(expr, values)
    return vector_function(expr)(*arguments(values))
