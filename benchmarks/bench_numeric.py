"""Speed of the numeric paths for the SD 1.5 peak (issues 4 and 10). Prints points per second and ratios, measured in
one run.

The expression: SD 1.5 img2img's ``peak_allocated`` from the generic path (``pipeline_model("sd15",
task="img2img")``), specialised to guidance on (G = 2) and fp16 (b = 2), over >= 1,000,000 random (H, W, B) points
held as int64 arrays.

* memory floor: a compiled loop (numba, the same generator as the compiled path) that only reads the same three input
  arrays and writes one float64 array as long: no path that reads its inputs and writes its output can be faster;
* compiled: the numba loop of the expression (``numeric.grid_function(expr)``, extra ``fast``), and its share of the
  floor;
* NumPy: the expression lambdified into NumPy with CSE (``numeric.numpy_function``, the fallback), and its share of the
  floor; vectorised: ``numeric.vector_function`` (NumExpr when installed);
* scalar: the same expression lambdified for Python's ``math`` module (``numeric.scalar_function``), once per point on
  a sample: the fastest honest per-point path; the seed's ``f()`` (``baselines.seed_formula``) per point;
* cold start of ``python -m symbolic estimate sd15 --height 512 --width 512 --json``: first with an empty cache
  (derives the model), then warm (the generated code from the disk cache, no SymPy import).

Exactness: the compiled and NumPy results must equal each other on every point and the exact path
(``numeric.exact_function``: Python ints) on a sample, else the benchmark exits 1.

Goals: the grid path (compiled when available, else vectorised) >= 100x f(); warm cold start under 1 s. The last line
is ``vectorized/scalar speedup: <ratio>x`` (the same grid path against the scalar one).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symbolic.measurements.baselines import seed_formula  # noqa: E402
from symbolic.core.evaluate.printers import (arguments, exact_function, grid_function, numpy_function, scalar_function,  # noqa: E402
                              specialize, vector_function)
from symbolic.pipelines.api import pipeline_model  # noqa: E402
from symbolic.core.symbols import symbol  # noqa: E402

#: Points checked against the exact path (Python ints, about 0.1 ms each).
EXACT_SAMPLE = 2000
#: Prompt length the seed's f() is called with: CLIP's padded context (the peak itself does not depend on it).
PROMPT_TOKENS = 77


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cold_start(cache_dir: str) -> float:
    env = dict(os.environ, SYMBOLIC_CACHE_DIR=cache_dir)
    command = [sys.executable, "-m", "symbolic", "estimate", "sd15", "--height", "512", "--width", "512", "--json"]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="grid points (default 1,000,000)")
    parser.add_argument("--sample", type=int, default=20_000, help="points for the per-point paths (default 20,000)")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the two CLI cold-start timings")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    grid = {"H": rng.integers(64, 4096, args.points), "W": rng.integers(64, 4096, args.points),
            "B": rng.integers(1, 9, args.points)}
    fixed = {"G": 2, "b": 2}
    expr = specialize(pipeline_model("sd15", task="img2img").peak_allocated, **fixed)
    grid_args = arguments(dict(fixed, **grid))

    plain = numpy_function(expr)
    numpy_values = plain(*grid_args)
    numpy_time = best_of(3, lambda: plain(*grid_args))
    vector = vector_function(expr)
    backend = "numexpr" if hasattr(vector, "source") else "numpy"
    vector(*grid_args)  # warm-up (first call compiles / allocates)
    vector_time = best_of(3, lambda: vector(*grid_args))
    if not np.array_equal(vector(*grid_args), numpy_values):
        print(f"MISMATCH: the {backend} and numpy paths differ")
        return 1

    exact = exact_function(expr)
    sample = range(min(EXACT_SAMPLE, args.points))
    exact_values = np.array([float(exact(*arguments(dict(fixed, **{k: int(v[i]) for k, v in grid.items()}))))
                             for i in sample])
    if not np.array_equal(numpy_values[: len(exact_values)], exact_values):
        print("MISMATCH: the numpy path differs from the exact path")
        return 1

    fast = grid_function(expr)
    if fast.compiled:
        floor = grid_function(symbol("H") + symbol("W") + symbol("B"))  # reads the same inputs, writes one array
        floor(*grid_args)
        compiled_values = fast(*grid_args)  # first call compiles
        floor_time = best_of(7, lambda: floor(*grid_args))
        compiled_time = best_of(7, lambda: fast(*grid_args))
        if not np.array_equal(compiled_values, numpy_values):
            print("MISMATCH: the compiled and numpy paths differ")
            return 1

    scalar = scalar_function(expr)
    points = [arguments(dict(fixed, H=float(grid["H"][i]), W=float(grid["W"][i]), B=float(grid["B"][i])))
              for i in range(args.sample)]
    scalar_time = best_of(3, lambda: [scalar(*p) for p in points])
    scalar_values = np.array([scalar(*p) for p in points])
    agreement = np.max(np.abs(scalar_values - numpy_values[: args.sample]) / numpy_values[: args.sample])
    if agreement > 1e-12:
        print(f"MISMATCH: vectorised and scalar paths differ by {agreement:.3e} (relative)")
        return 1
    seed_time = best_of(3, lambda: [seed_formula(int(grid["H"][i]), int(grid["W"][i]), PROMPT_TOKENS,
                                                 batch=int(grid["B"][i])) for i in range(args.sample)])

    numpy_rate = args.points / numpy_time
    vector_rate = args.points / vector_time
    scalar_rate = args.sample / scalar_time
    seed_rate = args.sample / seed_time
    print(f"points: {args.points:,} grid (int64 H, W, B), {args.sample:,} per-point; exact on "
          f"{len(exact_values):,} sampled points; max relative disagreement of the scalar path {agreement:.1e}")
    if fast.compiled:
        floor_rate = args.points / floor_time
        compiled_rate = args.points / compiled_time
        print(f"memory floor (numba loop reading H, W, B, writing one array): {floor_rate:>14,.0f} points/s")
        print(f"compiled (numba loop, cse):  {compiled_rate:>14,.0f} points/s  "
              f"{compiled_rate / floor_rate:6.1%} of the memory floor (equal to numpy on every point)")
        print(f"numpy (lambdify, cse):       {numpy_rate:>14,.0f} points/s  "
              f"{numpy_rate / floor_rate:6.1%} of the memory floor")
    else:
        print("compiled path unavailable (numba not importable: pip install -e '.[fast]'); no memory floor measured")
        print(f"numpy (lambdify, cse):       {numpy_rate:>14,.0f} points/s")
    print(f"vectorised ({backend}):        {vector_rate:>14,.0f} points/s")
    print(f"scalar (math, per point):    {scalar_rate:>14,.0f} points/s")
    print(f"seed f() (per point):        {seed_rate:>14,.0f} points/s")
    if not args.no_cold_start:
        with tempfile.TemporaryDirectory() as cache:
            first = cold_start(cache)
            warm = min(cold_start(cache) for _ in range(3))
        print(f"cold start, empty cache:     {first:.3f} s")
        print(f"cold start, warm cache:      {warm:.3f} s  (goal < 1 s)")
    best_rate = compiled_rate if fast.compiled else max(vector_rate, numpy_rate)
    print(f"grid/seed f() speedup: {best_rate / seed_rate:.0f}x  (goal >= 100x)")
    print(f"vectorized/scalar speedup: {best_rate / scalar_rate:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
