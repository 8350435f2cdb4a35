"""symbolic.core.evaluate.numba_loop (the numba grid path behind ``printers.grid_function``): equal to the NumPy path on every point and
to SymPy's exact value wherever that is an integer below 2**53; the NumPy fallback when numba is missing.

The compiled-path tests are skipped when numba is not installed (extra ``fast``), unless ``SYMBOLIC_REQUIRE_FAST=1``
makes them run (and fail) there. The reference value of an expression at a point is ``expr.xreplace({symbol:
Integer})``: SymPy's exact substitution (tests/core/test_printers.py ties it to ``subs``).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.core.evaluate import columns
from symbolic.core.evaluate import numba_loop
from symbolic.core.evaluate import printers
from symbolic.core.evaluate.printers import exact_function
from symbolic.pipelines.api import pipeline_model
from symbolic.core.symbols import ARG_NAMES, B, G, H, T, W, b, symbol

SETTINGS = settings(max_examples=25, deadline=None)
EXACT_LIMIT = 2**53
REQUIRE_FAST = os.environ.get("SYMBOLIC_REQUIRE_FAST") == "1"
requires_fast = pytest.mark.skipif(not numba_loop.available() and not REQUIRE_FAST,
                                   reason="numba not installed (pip install -e '.[fast]'); "
                                          "SYMBOLIC_REQUIRE_FAST=1 runs them")

#: (model, configuration, output): SD 1.5's peak (floor, ceiling, Max), FLUX.1-dev's (Rational, Half), Wan 2.1's
#: minimum GPU memory (Piecewise, Min).
MODEL_CASES = [("sd15", {"task": "img2img"}, "peak_allocated"), ("sd15", {"task": "img2img"}, "peak_reserved"),
               ("flux.1-dev", {}, "min_gpu_memory"), ("wan2.1-t2v-1.3b", {}, "min_gpu_memory")]

#: Hand-made expressions covering each construct the printer has a rule for.
SYNTHETIC = {
    "ceiling-floor": sp.ceiling(H * W / 75) + sp.floor((H - 1) / 8) * sp.floor(sp.Rational(1, 3) * W),
    "max-min": sp.Max(H * W, 3 * B * W / 2 + 7, evaluate=False) - sp.Min(H, W, 5 * B),
    "piecewise": sp.Piecewise((H * W, H > W), (2 * W - H, sp.And(H <= W, B > 2)), (W * B, True)),
    "integer-valued-rational": H * (H + 1) / 2 + sp.Rational(7, 4) * (4 * W) + sp.ceiling(sp.Rational(2, 3) * H * B),
    "pow-negative": sp.floor(H**2 / (W + 1)) + B**3,
}

points = st.lists(st.fixed_dictionaries({
    "H": st.integers(8, 4096), "W": st.integers(8, 4096), "B": st.integers(1, 8), "G": st.integers(1, 2),
    "T": st.integers(1, 129), "b": st.sampled_from([1, 2, 4]),
}), min_size=1, max_size=16)


def model_expr(model: str, config: dict, output: str) -> sp.Expr:
    return getattr(pipeline_model(model, **config), output)


def as_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    return {name: np.array([row[name] for row in rows], dtype=np.int64) for name in rows[0]}


def grid_args(values: dict) -> list:
    return printers.arguments({k: v for k, v in values.items() if k in ARG_NAMES})


def reference(expr: sp.Expr, row: dict) -> sp.Rational:
    value = expr.xreplace({symbol(k): sp.Integer(v) for k, v in row.items()})
    assert value.is_Rational, f"substitution did not fold to an exact number: {value}"
    return value


def assert_exact_where_integral(expr: sp.Expr, rows: list[dict], values: np.ndarray) -> None:
    for row, value in zip(rows, np.ravel(values)):
        expected = reference(expr, row)
        if expected.is_Integer and abs(int(expected)) < EXACT_LIMIT:
            assert value == int(expected), (row, value, expected)
        else:
            assert value == pytest.approx(float(expected), rel=1e-12), (row, value, expected)


def compiled_and_numpy(exprs, args):
    fast = printers.grid_function(exprs)
    assert fast.backend == "numba" and fast.compiled
    slow = printers.grid_function(exprs, fast=False)
    assert slow.backend == "numpy" and not slow.compiled
    return fast(*args), slow(*args)


# --- equal to NumPy and to SymPy on random points -------------------------------------------------------------

@requires_fast
@pytest.mark.parametrize("model, config, output", MODEL_CASES, ids=[f"{m}-{o}" for m, _, o in MODEL_CASES])
@SETTINGS
@given(rows=points)
def test_model_outputs_compiled_equal_numpy_and_exact(model, config, output, rows):
    expr = model_expr(model, config, output)
    fast, slow = compiled_and_numpy(expr, grid_args(as_columns(rows)))
    assert np.array_equal(fast, np.broadcast_to(slow, fast.shape))
    assert_exact_where_integral(expr, rows, fast)


@requires_fast
@pytest.mark.parametrize("name", SYNTHETIC)
@SETTINGS
@given(rows=points)
def test_constructs_compiled_equal_numpy_and_exact(name, rows):
    expr = SYNTHETIC[name]
    fast, slow = compiled_and_numpy(expr, grid_args(as_columns(rows)))
    assert np.array_equal(fast, np.broadcast_to(slow, fast.shape))
    assert_exact_where_integral(expr, rows, fast)


@requires_fast
@settings(max_examples=10, deadline=None)
@given(rows=points)
def test_all_outputs_of_a_model_in_one_kernel(rows):
    """A mapping of outputs comes back as a dict, every output as its own grid function gives it."""
    outputs = pipeline_model("sd15", task="img2img").outputs()
    args = grid_args(as_columns(rows))
    together = printers.grid_function(outputs)(*args)
    assert together.keys() == outputs.keys()
    for name in ("peak_allocated_bytes", "nvidia_smi_bytes", "stage:vae_decode", "latent:2"):
        alone = printers.grid_function(outputs[name], fast=False)(*args)
        assert np.array_equal(together[name], np.broadcast_to(alone, together[name].shape)), name


# --- exactness near 2**53 -------------------------------------------------------------------------------------

@requires_fast
@SETTINGS
@given(height=st.integers(2**26 - 2**12, 2**26), width=st.integers(2**27 - 2**12, 2**27 - 1),
       batch=st.integers(1, 2**12))
def test_exact_integers_just_below_2_53(height, width, batch):
    """H*W just below 2**53: the product, a floor of one division of it and a sum stay exact (an ``H*W*(1/7)``
    would not: 1/7 is rounded before the product)."""
    exprs = (H * W - B, sp.floor(H * W / 7), sp.ceiling(H * W / 7))
    row = {"H": height, "W": width, "B": batch}
    got = printers.grid_function(exprs)(*grid_args({k: np.array([v]) for k, v in row.items()}))
    for e, value in zip(exprs, got):
        expected = int(reference(e, row))
        assert expected < EXACT_LIMIT and int(value[0]) == expected, (e, row)


@requires_fast
def test_past_2_53_is_visible_to_the_range_check():
    """A value past 2**53 comes back >= 2**53 (so ``columns`` sends the point to the exact code), never wrapped or
    negative as int64 arithmetic would be past 2**63."""
    big = np.array([2**40, 2**62, 2**63 - 1], dtype=np.int64)
    got = printers.grid_function(H * W * B)(*grid_args({"H": big, "W": big, "B": np.array([1, 7, 3])}))
    assert np.all(got >= EXACT_LIMIT) and np.all(np.isfinite(got))


# --- broadcasting, dtypes, arguments --------------------------------------------------------------------------

@requires_fast
@SETTINGS
@given(heights=st.lists(st.integers(8, 4096), min_size=1, max_size=6),
       widths=st.lists(st.integers(8, 4096), min_size=1, max_size=6), batch=st.integers(1, 8),
       as_float=st.booleans())
def test_broadcast_scalars_and_dtypes_like_numpy(heights, widths, batch, as_float):
    """A column of heights against a row of widths and a scalar batch: the same 2-D grid as NumPy's, for int64 and
    float64 inputs alike."""
    dtype = np.float64 if as_float else np.int64
    expr = SYNTHETIC["ceiling-floor"] + SYNTHETIC["max-min"]
    args = grid_args({"H": np.array(heights, dtype=dtype)[:, None], "W": np.array(widths, dtype=dtype)[None, :],
                      "B": batch})
    fast, slow = compiled_and_numpy(expr, args)
    assert fast.shape == (len(heights), len(widths))
    assert np.array_equal(fast, slow)


@requires_fast
def test_constant_and_scalar_only_expressions():
    assert float(printers.grid_function(sp.Integer(5) * 7)(*grid_args({}))) == 35
    assert float(printers.grid_function(H * W + 1)(*grid_args({"H": 3, "W": 4}))) == 13


def test_grid_function_refuses_what_is_not_an_expression():
    with pytest.raises(ValueError, match="expr_or_outputs"):
        printers.grid_function(None)
    with pytest.raises(ValueError, match="expr_or_outputs"):
        printers.grid_function(())


@requires_fast
def test_compiled_call_refuses_a_wrong_argument_count():
    with pytest.raises(ValueError, match="args"):
        printers.grid_function(H + W)(1, 2)


# --- the fallback without numba (always runs) -----------------------------------------------------------------

def _no_numba():
    raise ImportError("numba hidden by the test")


@SETTINGS
@given(rows=points)
def test_fallback_without_numba_is_the_numpy_path(rows):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(numba_loop, "_import_numba", _no_numba)
        assert not numba_loop.available()
        exprs = (SYNTHETIC["piecewise"], SYNTHETIC["integer-valued-rational"], G * b * T)
        function = printers.grid_function(exprs)
        assert function.backend == "numpy" and not function.compiled
        args = grid_args(as_columns(rows))
        for e, value in zip(exprs, function(*args)):
            assert_exact_where_integral(e, rows, np.broadcast_to(value, (len(rows),)))


# --- bulk: the compiled loop for large groups -----------------------------------------------------------------

@pytest.mark.parametrize("numba_present", [True, False])
def test_bulk_large_group_same_columns_either_path(monkeypatch, numba_present):
    """``evaluate_columns`` over a group past ``COMPILED_MIN_POINTS`` (lowered) asks for the fast path; with or
    without numba its columns are the exact ones."""
    if numba_present and not numba_loop.available() and not REQUIRE_FAST:
        pytest.skip("numba not installed")
    if not numba_present:
        monkeypatch.setattr(numba_loop, "_import_numba", _no_numba)
    monkeypatch.setattr(columns, "VECTOR_MIN_POINTS", 1)
    monkeypatch.setattr(columns, "COMPILED_MIN_POINTS", 1)
    backends = []
    build = printers.grid_function

    def spy(exprs, fast=True):
        function = build(exprs, fast)
        backends.append(function.backend)
        return function

    monkeypatch.setattr(printers, "grid_function", spy)
    rng = np.random.default_rng(7)
    values = {"H": rng.integers(8, 4096, 50), "W": rng.integers(8, 4096, 50), "B": rng.integers(1, 9, 50)}
    outputs = {"ceiling-floor": SYNTHETIC["ceiling-floor"], "rational": SYNTHETIC["integer-valued-rational"]}
    exact = {name: exact_function(e) for name, e in outputs.items()}
    got = columns.evaluate_columns(values, ARG_NAMES, exact, lambda: outputs, lambda v: -(-v // 1))
    assert backends == ["numba" if numba_present else "numpy"]
    for name, e in outputs.items():
        for i, value in enumerate(got[name]):
            row = {k: int(v[i]) for k, v in values.items()}
            assert value == -(-reference(e, row).p // reference(e, row).q), (name, row)
