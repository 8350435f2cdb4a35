"""The fast grid path: SymPy expressions compiled by numba into one loop over the points (optional extra ``fast``).

The NumPy path (``printers.numpy_functions``) makes one pass over memory per operation of the expression, each
writing a temporary array as long as the grid; a compiled loop reads each input once per point, keeps every
intermediate in registers and writes each output once, so it runs near the memory floor (``benchmarks/
bench_numeric.py`` prints both ratios).

The loop body is Python source that we generate from the expressions with SymPy's printers (never read from
anywhere), after the same rewriting the NumPy path gets (``float_forms.for_floats``: every floor / ceiling argument over
one common denominator) and one common-subexpression elimination over all outputs together. It computes in float64,
operation for operation as the NumPy path does, for these reasons:

* float64 keeps the NumPy path's exactness rule and its range check: every operation on integers below 2**53 is
  exact, and a floor or ceiling of one correctly rounded division of two such integers is the exact one; a result
  past 2**53 or not an integer is visible as such (``columns`` sends those points to the exact code);
* int64 would wrap silently past 2**63 (numba has no overflow check), and a Rational that is not integral (a
  ``Fraction`` result) has no int64 value;
* the compiled path then equals the NumPy path on every point where both are exact, which the tests check.

Inputs may be int64 or float64 arrays (converted per element, in registers) or scalars; they broadcast as NumPy's do.
Without numba (``available()`` is False) ``printers.grid_function`` hands out the NumPy function instead.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from symbolic.core.evaluate.float_forms import ARG_IDENTIFIERS, RENAMED_ARGS, FloatCallPrinter, SingleDivision, for_floats

#: Input dtypes passed to the kernel as they are (numba compiles one specialisation per dtype combination); any other
#: dtype is converted to float64 first, as the NumPy path converts every input.
_NATIVE_DTYPES = ("int64", "float64")


def _import_numba():
    """numba, or ImportError (tests replace this to exercise the fallback)."""
    import numba

    return numba


def available() -> bool:
    """Whether the compiled path can be built here (numba importable)."""
    try:
        _import_numba()
    except ImportError:
        return False
    return True


class _KernelPrinter(FloatCallPrinter, SingleDivision, PythonCodePrinter):
    """Scalar float64 source for a numba loop body: every number a float literal (an integer constant past 2**63
    would not type as int64; the NumPy path converts constants to float64 too), floor / ceiling through NumPy's float
    functions (``math.floor`` returns an int in numba, which would overflow past 2**63)."""

    _floor_function, _ceiling_function, _max_function, _min_function = "np.floor", "np.ceil", "max", "min"

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})

    def _module_format(self, name, register=True):
        if name.startswith("numpy."):
            return "np." + name[len("numpy."):]
        return super()._module_format(name, register)

    def _print_Integer(self, expr):
        return repr(float(expr.p))

    def _print_Rational(self, expr):
        return f"({float(expr.p)!r} / {float(expr.q)!r})"

    def _print_Half(self, expr):
        return "0.5"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_NaN(self, expr):
        return "np.nan"

    def _print_Infinity(self, expr):
        return "np.inf"

    def _print_NegativeInfinity(self, expr):
        return "(-np.inf)"

    def _print_Piecewise(self, expr):
        last = expr.args[-1]
        code = self._print(last.expr) if last.cond == sp.true else "np.nan"  # no branch taken: NaN, as numpy.select's
        branches = expr.args[:-1] if last.cond == sp.true else expr.args
        for branch in reversed(branches):
            code = f"(({self._print(branch.expr)}) if ({self._print(branch.cond)}) else ({code}))"
        return code

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"


def _as_tuple(exprs) -> tuple:
    return tuple(sp.sympify(e) for e in exprs)


@lru_cache(maxsize=None)
def _body(exprs: tuple) -> tuple[tuple[int, ...], list[tuple[str, str]], list[str]]:
    """(indices into ``ARG_ORDER`` of the arguments the expressions use, CSE steps as (name, code), one code per
    output): one common-subexpression elimination over all outputs."""
    rewritten = [for_floats(e) for e in exprs]
    replacements, reduced = sp.cse(rewritten, symbols=sp.numbered_symbols("_cse"))
    printer = _KernelPrinter()
    steps = [(str(name), printer.doprint(value)) for name, value in replacements]
    finals = [printer.doprint(value) for value in reduced]
    free = set().union(*(e.free_symbols for e in rewritten)) if rewritten else set()
    renamed = tuple(RENAMED_ARGS.values())
    used = tuple(i for i, s in enumerate(renamed) if s in free)
    return used, steps, finals


def kernel_source(exprs: tuple, array_inputs: tuple[bool, ...]) -> str:
    """The generated loop: ``kernel(n, <used inputs>, <outputs>)``; ``array_inputs[k]`` says whether the k-th used
    input is an array (read at each point) or a scalar (read once)."""
    used, steps, finals = _body(exprs)
    inputs = [f"{ARG_IDENTIFIERS[i]}_in" for i in used]
    outputs = [f"_out{k}" for k in range(len(finals))]
    lines = [f"def kernel(n, {', '.join(inputs + outputs)}):"]
    for i, is_array in zip(used, array_inputs):
        if not is_array:
            lines.append(f"    {ARG_IDENTIFIERS[i]} = float({ARG_IDENTIFIERS[i]}_in)")
    lines.append("    for _i in range(n):")
    for i, is_array in zip(used, array_inputs):
        if is_array:
            lines.append(f"        {ARG_IDENTIFIERS[i]} = float({ARG_IDENTIFIERS[i]}_in[_i])")
    lines += [f"        {name} = {code}" for name, code in steps]
    lines += [f"        {out}[_i] = {code}" for out, code in zip(outputs, finals)]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=None)
def _kernel(exprs: tuple, array_inputs: tuple[bool, ...]):
    """The numba dispatcher of ``kernel_source`` (compiled at its first call, once per input dtype combination).
    ``error_model="numpy"``: a division by zero gives inf / NaN as NumPy's does, not an exception; no fastmath, so
    every float operation is the IEEE one the exactness argument relies on."""
    import numpy as np

    numba = _import_numba()
    namespace = {"np": np, "math": math}
    exec(compile(kernel_source(exprs, array_inputs), "<symbolic.core.evaluate.numba_loop kernel>", "exec"), namespace)
    return numba.njit(error_model="numpy", fastmath=False, nogil=True)(namespace["kernel"])


class CompiledFunction:
    """A function of all ``ARG_ORDER`` arguments (arrays or scalars, broadcast together) returning one float64 array
    per expression, computed by a numba loop (built by ``grid_function``)."""

    backend = "numba"

    def __init__(self, exprs: tuple):
        self.exprs = exprs
        self.used, _, _ = _body(exprs)

    def __call__(self, *args) -> list:
        import numpy as np

        if len(args) != len(ARG_IDENTIFIERS):
            raise ValueError(f"args: expected {len(ARG_IDENTIFIERS)} arguments in ARG_ORDER, got {len(args)}")
        values = [np.asarray(args[i]) for i in self.used]
        values = [v if v.dtype.name in _NATIVE_DTYPES else v.astype(np.float64) for v in values]
        shape = np.broadcast_shapes(*(v.shape for v in values)) if values else ()
        count = math.prod(shape)
        inputs, array_inputs = [], []
        for value in values:
            if value.ndim == 0:
                inputs.append(float(value))
                array_inputs.append(False)
            else:
                inputs.append(np.ascontiguousarray(np.broadcast_to(value, shape)).reshape(-1))
                array_inputs.append(True)
        outputs = [np.empty(count, dtype=np.float64) for _ in self.exprs]
        _kernel(self.exprs, tuple(array_inputs))(count, *inputs, *outputs)
        return [out.reshape(shape) for out in outputs]


class GridFunction:
    """What ``printers.grid_function`` returns: a function of all ``ARG_ORDER`` arguments (arrays broadcast together)
    giving float64 values in the caller's shape (one array for one expression, a list for a sequence, a dict for a
    mapping); ``backend`` is ``"numba"`` (compiled loop) or ``"numpy"`` (the fallback), ``compiled`` says the same
    as a flag."""

    def __init__(self, function, backend: str, names: tuple | None, single: bool):
        self._function, self.backend, self._names, self._single = function, backend, names, single
        self.compiled = backend == "numba"

    def __call__(self, *args):
        results = list(self._function(*args))
        if self._single:
            return results[0]
        if self._names is not None:
            return dict(zip(self._names, results))
        return results


def grid_outputs(expr_or_outputs) -> tuple[tuple | None, bool, tuple]:
    """(output names or None, whether one expression was given, the expressions) of ``grid_function``'s argument."""
    names, single = None, isinstance(expr_or_outputs, (sp.Basic, int, float))
    if single:
        exprs = _as_tuple([expr_or_outputs])
    elif isinstance(expr_or_outputs, Mapping):
        names = tuple(expr_or_outputs)
        exprs = _as_tuple(expr_or_outputs[name] for name in names)
    elif isinstance(expr_or_outputs, (tuple, list)):
        exprs = _as_tuple(expr_or_outputs)
    else:
        raise ValueError(f"expr_or_outputs: a SymPy expression, a tuple / list or a mapping of them, got "
                         f"{type(expr_or_outputs).__name__}")
    if not exprs:
        raise ValueError("expr_or_outputs: no expression given")
    return names, single, exprs


def compiled_grid(exprs: tuple) -> CompiledFunction | None:
    """The compiled loop of ``exprs``, or None where numba is not installed (the caller falls back to NumPy)."""
    return CompiledFunction(exprs) if available() else None
