"""Running generated exact code without SymPy: the namespace and compiler for ``numeric.exact_source`` output.

Kept free of SymPy imports so that a cached expression (``symbolic.cache``) evaluates in a process that never
imports SymPy (the CLI's cold start).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction


def _floor(x):
    return math.floor(x)


def _ceil(x):
    return math.ceil(x)


EXACT_NAMESPACE = {"_F": Fraction, "_floor": _floor, "_ceil": _ceil, "max": max, "min": min}


def compile_exact(source: str):
    """Compile a ``lambda`` produced by ``numeric.exact_source`` (our own generated code, never user input)."""
    return eval(source, dict(EXACT_NAMESPACE))  # noqa: S307


def as_integer(value):
    """An exact result as ``int`` when it is integral, else the ``Fraction``."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def positional(arg_names: Sequence[str], values: Mapping[str, object]) -> list:
    """Arguments in ``arg_names`` order; names the caller does not give are 1 (absent from the expression)."""
    return [values.get(name, 1) for name in arg_names]
