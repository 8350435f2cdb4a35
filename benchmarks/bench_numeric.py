"""Speed of the numeric paths for the SD 1.5 peak (issue 4). Prints points per second and ratios, measured in one run.

* vectorised: the peak expression lambdified into NumPy (``numeric.vector_function``), over >= 1,000,000 (H, W, N)
  points at once;
* scalar: the same expression lambdified for Python's ``math`` module (``numeric.scalar_function``), called once per
  point on a sample: the fastest honest per-point path;
* the seed's ``f()`` (``baselines.seed_formula``) per point, as a third reference;
* cold start of ``python -m symbolic estimate sd15 --height 512 --width 512 --json``: first with an empty cache
  (derives the model), then warm (the generated code from the disk cache, no SymPy import).

Goals: vectorised >= 200x the scalar path and >= 100x f(); warm cold start under 1 s. The last line is
``vectorized/scalar speedup: <ratio>x``.
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

from symbolic.baselines import seed_formula  # noqa: E402
from symbolic.numeric import arguments, numpy_function, scalar_function, specialize, vector_function  # noqa: E402
from symbolic.pipelines.sd15.api import make_config  # noqa: E402
from symbolic.pipelines.sd15.model import sd15_model  # noqa: E402


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
    parser.add_argument("--points", type=int, default=1_000_000, help="vectorised points (default 1,000,000)")
    parser.add_argument("--sample", type=int, default=20_000, help="points for the per-point paths (default 20,000)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    height = rng.integers(64, 4096, args.points).astype(np.float64)
    width = rng.integers(64, 4096, args.points).astype(np.float64)
    batch = rng.integers(1, 9, args.points).astype(np.float64)
    # The grid varies H, W, N at guidance on, 77 tokens, fp16: both paths get the expression specialised to that.
    fixed = {"G": 2, "L": 77, "b": 2}
    expr = specialize(sd15_model(make_config()).peak_allocated, **fixed)
    values = dict(fixed, H=height, W=width, N=batch)

    vector = vector_function(expr)
    backend = "numexpr" if hasattr(vector, "source") else "numpy"
    vector_args = arguments(values)
    vector(*vector_args)  # warm-up (first call compiles / allocates)
    vector_time = best_of(5, lambda: vector(*vector_args))
    result = vector(*vector_args)
    plain = numpy_function(expr)
    plain(*vector_args)
    numpy_time = best_of(3, lambda: plain(*vector_args))
    if not np.array_equal(plain(*vector_args), result):
        print("MISMATCH: the numexpr and numpy paths differ")
        return 1

    scalar = scalar_function(expr)
    sample = range(args.sample)
    points = [arguments({"H": float(height[i]), "W": float(width[i]), "N": float(batch[i]), "G": 2, "L": 77, "b": 2})
              for i in sample]
    scalar_time = best_of(3, lambda: [scalar(*p) for p in points])
    scalar_values = np.array([scalar(*p) for p in points])
    agreement = np.max(np.abs(scalar_values - result[: args.sample]) / result[: args.sample])
    if agreement > 1e-12:
        print(f"MISMATCH: vectorised and scalar paths differ by {agreement:.3e} (relative)")
        return 1

    seed_time = best_of(3, lambda: [seed_formula(int(height[i]), int(width[i]), 77, batch=int(batch[i])) for i in sample])

    vector_rate = args.points / vector_time
    scalar_rate = args.sample / scalar_time
    seed_rate = args.sample / seed_time
    with tempfile.TemporaryDirectory() as cache:
        first = cold_start(cache)
        warm = min(cold_start(cache) for _ in range(3))

    print(f"points: {args.points:,} vectorised, {args.sample:,} per-point; max relative disagreement {agreement:.1e}")
    print(f"vectorised ({backend}):     {vector_rate:>14,.0f} points/s")
    print(f"vectorised (numpy, cse):   {args.points / numpy_time:>14,.0f} points/s")
    print(f"scalar (math, per point):  {scalar_rate:>14,.0f} points/s")
    print(f"seed f() (per point):      {seed_rate:>14,.0f} points/s")
    print(f"cold start, empty cache:   {first:.3f} s")
    print(f"cold start, warm cache:    {warm:.3f} s  (goal < 1 s)")
    print(f"vectorized/seed f() speedup: {vector_rate / seed_rate:.0f}x  (goal >= 100x)")
    print(f"vectorized/scalar speedup: {vector_rate / scalar_rate:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
