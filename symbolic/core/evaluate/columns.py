"""Many points of one configuration at once (``validate``'s bulk path).

A large group of points is evaluated over arrays: all outputs of the configuration lambdified together into NumPy
(``printers.numpy_functions``: one common-subexpression elimination for all of them, float64, floors and ceilings
exact through common denominators; from ``COMPILED_MIN_POINTS`` points the numba-compiled loop of the same
expressions when the extra ``fast`` is installed, equal to it point for point), which is exact for integers below
2**53 bytes (8 PiB). A point whose value is not such an integer (past 2**53, or not integral) is evaluated again with
the exact code (Python ints and Fractions), so the result is the exact one either way. A small group goes straight to
the exact code, point by point: building the vectorised function costs seconds of SymPy, which only a large group
repays, while the exact code comes from the disk cache without SymPy.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

#: Largest integer float64 holds exactly.
EXACT_LIMIT = 2**53
#: Fewest points evaluated over arrays. Measured on this machine for SD 1.5's 24 outputs: the exact code costs about
#: 1 ms per point, building the joint NumPy function about 4 s (once per configuration and process), evaluating it
#: about 1 us per point: the build pays for itself from a few thousand points.
VECTOR_MIN_POINTS = 2000
#: Fewest points evaluated by the numba-compiled loop (``printers.grid_function``, extra ``fast``) instead of NumPy.
#: Measured on this machine for SD 1.5's 24 outputs at 2,000,000 points: compiling costs about 1 s more than
#: building the NumPy function and saves about 0.2 us per point (0.34 against 0.53 us: 24 output arrays to write
#: either way), so it pays from about 5 million points.
COMPILED_MIN_POINTS = 5_000_000


def evaluate_columns(values: Mapping[str, Sequence[int]], arg_names: Sequence[str],
                     exact: Mapping[str, Callable], expressions: Callable[[], Mapping[str, object]],
                     finish: Callable[[object], int]) -> dict[str, list[int]]:
    """``{output name: [value at each point]}``.

    ``values``: symbol name -> integer array, one entry per point, each at most 2**53 in absolute value (float64
    holds it exactly); absent symbols are 1. ``exact``: output name -> the exact function of the arguments
    ``arg_names`` (``symbolic.core.evaluate.runtime.compile_exact`` code); ``expressions()``: output name -> SymPy expression
    (called only for a group of at least ``VECTOR_MIN_POINTS``). ``finish`` turns an exact value into the API's
    integer (the rounding the single-point path applies)."""
    import numpy as np

    from symbolic.core.evaluate.runtime import positional
    from symbolic.core.evaluate.printers import grid_function
    from symbolic.core.symbols import ARG_NAMES

    count = len(next(iter(values.values()))) if values else 0
    for name, array in values.items():
        if len(array) != count:
            raise ValueError(f"values: {name} has {len(array)} entries, not {count}")
    columns = {name: [0] * count for name in exact}

    def exactly(i: int) -> None:
        args = positional(arg_names, {name: int(array[i]) for name, array in values.items()})
        for name, function in exact.items():
            columns[name][i] = finish(function(*args))

    if count < VECTOR_MIN_POINTS:
        for i in range(count):
            exactly(i)
        return columns
    outputs = expressions()
    if set(outputs) != set(exact):
        raise ValueError("expressions: the outputs differ from the exact functions'")
    ones = np.ones(count)
    args = [np.asarray(values[name], dtype=np.float64) if name in values else ones for name in ARG_NAMES]
    names = tuple(outputs)
    results = grid_function(tuple(outputs[name] for name in names), fast=count >= COMPILED_MIN_POINTS)(*args)
    exact_rows = np.zeros(count, dtype=bool)
    floats = {}
    for name, result in zip(names, results):
        result = np.broadcast_to(np.asarray(result, dtype=np.float64), (count,))
        exact_rows |= ~(np.isfinite(result) & (np.abs(result) < EXACT_LIMIT) & (result == np.floor(result)))
        floats[name] = result
    for name, result in floats.items():
        columns[name] = np.where(exact_rows, 0, result).astype(np.int64).tolist()
    for i in np.flatnonzero(exact_rows).tolist():
        exactly(i)
    return columns
