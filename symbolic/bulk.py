"""Many points of one configuration at once (``validate``'s bulk path).

Every output expression is evaluated over arrays of all the points with the vectorised path
(``numeric.vector_function``: NumExpr / NumPy in float64, floors and ceilings exact through common denominators), which
is exact for integers below 2**53 bytes (8 PiB). A point whose value is not such an integer (past 2**53, or not
integral) is evaluated again with the exact path (``numeric.exact_function``, Python ints and Fractions), so the
result is the exact one either way.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

#: Largest integer float64 holds exactly.
EXACT_LIMIT = 2**53


def evaluate_many(outputs: Mapping[str, object], points: Sequence[Mapping[str, int]],
                  finish: Callable[[object], int]) -> list[dict[str, int]]:
    """``[{output name: value}]`` for every point (symbol name -> value; absent symbols are 1). ``finish`` turns an
    exact value into the API's integer (the rounding the single-point path applies)."""
    import numpy as np

    from symbolic.numeric import arguments, exact_function, vector_function
    from symbolic.symbols import ARG_NAMES

    n = len(points)
    if n == 0:
        return []
    args = [np.array([p.get(name, 1) for p in points], dtype=np.float64) for name in ARG_NAMES]
    columns, exact_rows = {}, np.zeros(n, dtype=bool)
    for name, expr in outputs.items():
        values = np.broadcast_to(np.asarray(vector_function(expr)(*args), dtype=np.float64), (n,))
        good = np.isfinite(values) & (np.abs(values) < EXACT_LIMIT) & (values == np.floor(values))
        exact_rows |= ~good
        columns[name] = np.where(good, values, 0).astype(np.int64).tolist()
    rows = [{name: column[i] for name, column in columns.items()} for i in range(n)]
    for i in np.flatnonzero(exact_rows).tolist():
        point = arguments(points[i])
        rows[i] = {name: finish(exact_function(expr)(*point)) for name, expr in outputs.items()}
    return rows
