"""symbolic.core.evaluate.printers: the exact, vectorised and scalar paths agree with SymPy's own substitution.

The reference value of an expression at a point is ``expr.xreplace({symbol: Integer})``: SymPy's exact substitution
(rebuilt bottom-up with integers, it folds to a SymPy number; ``subs`` gives the same number, only slower on the
SD 1.5 peaks, so it is used once, on a small expression, to tie the two together).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.core.evaluate import printers
from symbolic.pipelines.api import pipeline_model
from symbolic.core.symbols import ARG_NAMES, ARG_ORDER, B, G, H, L, N, W, b, symbol

SETTINGS = settings(max_examples=30, deadline=None)

#: SD 1.5 configurations whose closed forms exercise floor (latents), ceiling (long prompts, tiles), Min (tiles),
#: Piecewise (tiles held), Max (stages, upcast softmax) and Rational (reserved fragmentation).
SD15_CONFIGS = {
    "default": {"task": "img2img"},
    "classic-tiling": {"task": "img2img", "attention": "classic", "memory_options": ("vae_tiling",)},
    "txt2img-long-slicing": {"task": "txt2img", "long_prompt": True,
                             "memory_options": ("vae_slicing", "attention_slicing")},
}
SD15_OUTPUTS = ("peak_allocated", "peak_reserved")
#: (configuration, output) pairs for the random-point comparison; peak_reserved holds peak_allocated's whole Max plus
#: the floor of a Rational, so the costly configuration is compiled for it alone.
SD15_CASES = [("default", "peak_allocated"), ("default", "peak_reserved"), ("classic-tiling", "peak_reserved"),
              ("txt2img-long-slicing", "peak_allocated")]
#: ``auto`` is NumExpr when installed, else NumPy; ``numpy`` is the fallback every install has.
VECTOR_BACKENDS = ("auto", "numpy")


def sd15_expr(config_name: str, output: str) -> sp.Expr:
    return getattr(pipeline_model("sd15", **SD15_CONFIGS[config_name]), output)


def reference(expr: sp.Expr, values: dict) -> sp.Rational:
    """SymPy's exact value of ``expr`` at ``values`` (names -> ints)."""
    value = sp.sympify(expr).xreplace({symbol(k): sp.Integer(v) for k, v in values.items()})
    assert value.is_Rational, f"substitution did not fold to an exact number: {value}"
    return value


def as_python(value: sp.Rational):
    return int(value) if value.is_Integer else Fraction(int(value.p), int(value.q))


def vector_value(expr: sp.Expr, backend: str, values: dict):
    if backend == "auto":
        return printers.vector(expr, **values)
    return printers.vector_function(expr, backend)(*printers.arguments(values))


sd15_points = st.fixed_dictionaries({
    "H": st.integers(8, 4096), "W": st.integers(8, 4096), "B": st.integers(1, 8), "G": st.integers(1, 2),
    "L": st.integers(1, 400), "b": st.sampled_from([1, 2, 4]),
})


# --- SD 1.5 peaks: exact / vector / scalar against SymPy --------------------------------------------------------

@pytest.mark.parametrize("config_name, output", SD15_CASES, ids=[f"{c}-{o}" for c, o in SD15_CASES])
@SETTINGS
@given(point=sd15_points)
def test_sd15_every_path_agrees_with_substitution(config_name, output, point):
    """exact (an int, equal), vector on every backend and scalar (float64: exact below 2**53; the reserved bytes'
    floor(16/25 x ...) may round one byte apart) against SymPy's substitution."""
    expr = sd15_expr(config_name, output)
    expected = as_python(reference(expr, point))
    value = printers.exact(expr, **point)
    assert type(value) is int and value == expected
    for backend in VECTOR_BACKENDS:
        assert float(vector_value(expr, backend, point)) == pytest.approx(expected, rel=1e-12, abs=1), backend
    scalar = printers.scalar_function(expr)(*printers.arguments(point))
    assert float(scalar) == pytest.approx(expected, rel=1e-12, abs=1), "scalar"


@pytest.mark.parametrize("config_name", list(SD15_CONFIGS))
def test_sd15_vector_broadcasts_over_arrays(config_name):
    expr = sd15_expr(config_name, "peak_allocated")
    heights = np.array([8, 256, 517, 1024, 2048])
    widths = np.array([[512], [776]])
    got = printers.vector(expr, H=heights, W=widths, B=2, G=2, L=77, b=2)
    assert got.shape == (2, 5)
    for i, w in enumerate(widths[:, 0]):
        for j, h in enumerate(heights):
            assert got[i, j] == pytest.approx(printers.exact(expr, H=int(h), W=int(w), B=2, G=2, L=77, b=2), rel=1e-12)


@pytest.mark.parametrize("output", SD15_OUTPUTS + ("nvidia_smi",))
@pytest.mark.parametrize("config_name", list(SD15_CONFIGS))
def test_sd15_exact_has_no_overflow_at_huge_sizes(config_name, output):
    """A 10^6 x 10^6 image, 10^4 images: far beyond int64 and float64's exact range; still an exact int."""
    expr = sd15_expr(config_name, output)
    point = {"H": 10**6, "W": 10**6, "B": 10**4, "G": 2, "L": 300, "b": 4}
    value = printers.exact(expr, **point)
    assert type(value) is int
    assert value > 2**63
    assert value == int(reference(expr, point))


def test_reference_matches_sympy_subs():
    """``xreplace`` (the reference above) and ``subs`` agree on an SD 1.5 peak at a huge point, so the tests
    compare against SymPy's substitution."""
    expr = sd15_expr("default", "peak_reserved")
    values = {H: 10**6, W: 10**6 + 3, B: 10**4, G: 2, L: 77, b: 2}
    by_subs = expr.subs(values)
    assert by_subs == expr.xreplace(values)
    assert int(by_subs) == printers.exact(expr, **{str(k): v for k, v in values.items()})


# --- the primitives: floor, ceiling, Max, Min, Piecewise, rationals ----------------------------------------------

PRIMITIVES = {
    "floor": sp.floor(H / 3) * 7,
    "ceiling": sp.ceiling(W / 7) + sp.ceiling(H / 48) * sp.ceiling(W / 48),
    "floor-of-floor": sp.floor(sp.floor(H / 8) / 3),
    "max": sp.Max(H, 2 * W, N**2),
    "max-unevaluated": sp.Max(H * W, H + W, evaluate=False),
    "min": sp.Min(H, W) * N,
    "piecewise": sp.Piecewise((H * W, H > W), (W - H, True)),
    "piecewise-or": sp.Piecewise((H, sp.Or(sp.floor(H / 3) > W, N > 2)), (W * 5, True)),
    "piecewise-and": sp.Piecewise((H, sp.And(H > W, N > 2)), (W, True)),
    "rational": sp.Rational(16, 25) * H * W,
    "floor-rational": sp.floor(sp.Rational(16, 25) * H * W),
    "reciprocal": 1 / H + 1 / (W + 1) ** 2,
    "powers": H**2 * W**3 * N,
    "constant": sp.Integer(12345),
}

primitive_points = st.fixed_dictionaries({"H": st.integers(1, 10**4), "W": st.integers(1, 10**4), "N": st.integers(1, 5)})


def values_for(expr: sp.Expr, point: dict) -> dict:
    return {k: v for k, v in point.items() if symbol(k) in expr.free_symbols}


@pytest.mark.parametrize("name", list(PRIMITIVES))
@SETTINGS
@given(point=primitive_points)
def test_primitive_exact(name, point):
    expr = PRIMITIVES[name]
    values = values_for(expr, point)
    value = printers.exact(expr, **values)
    expected = as_python(reference(expr, values))
    assert value == expected
    assert type(value) is type(expected)  # int when integral, Fraction otherwise


#: Primitives whose float evaluation is known to be off by one (see test_float_paths_round_exact_multiples).
FLOAT_INEXACT = {"floor-rational"}


@pytest.mark.parametrize("backend", ["numexpr", "numpy"])
@pytest.mark.parametrize("name", [n for n in PRIMITIVES if n not in FLOAT_INEXACT])
@SETTINGS
@given(point=primitive_points)
def test_primitive_vector_and_scalar(name, backend, point):
    if backend == "numexpr":
        pytest.importorskip("numexpr")
    expr = PRIMITIVES[name]
    values = values_for(expr, point)
    expected = float(reference(expr, values))
    args = printers.arguments(values)
    assert float(printers.vector_function(expr, backend)(*args)) == pytest.approx(expected, rel=1e-12)
    assert float(printers.scalar_function(expr)(*args)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("expr, values, expected", [
    (H / 2, {"H": 4}, 2),
    (H / 3, {"H": 4}, Fraction(4, 3)),
    (sp.floor(H / 3), {"H": 4}, 1),
    (sp.ceiling(H / 3), {"H": 4}, 2),
    (sp.floor(-H / 3), {"H": 4}, -2),
    (sp.ceiling(-H / 3), {"H": 4}, -1),
    ((H + 1) ** -2, {"H": 2}, Fraction(1, 9)),
    # Fractions keep floor exact where float64 would round: (2**60 + 1) / 2**60 > 1 exactly.
    (sp.floor((H + 1) * sp.Rational(1, 2**60)) * 2 + sp.ceiling((H + 1) * sp.Rational(1, 2**60)), {"H": 2**60}, 4),
], ids=["half-int", "third", "floor", "ceiling", "floor-negative", "ceiling-negative", "negative-power", "beyond-float"])
def test_exact_known_values(expr, values, expected):
    value = printers.exact(expr, **values)
    assert value == expected and type(value) is type(expected)


def test_exact_huge_values_are_python_ints():
    expr = H**5 * W**5 * N**3
    value = printers.exact(expr, H=10**6, W=10**6, N=10**4)
    assert type(value) is int
    assert value == 10**72 == int(expr.subs({H: 10**6, W: 10**6, N: 10**4}))


@pytest.mark.parametrize("expr", [sp.Float("0.5") * H, H + sp.Float(1.0), sp.Max(H, sp.Float("2.5") * W)],
                         ids=["times", "plus", "in-max"])
def test_exact_refuses_float_constants(expr):
    with pytest.raises(TypeError, match="float"):
        printers.exact(expr, H=3, W=5)


def test_missing_and_unknown_symbols_are_named():
    with pytest.raises(ValueError, match=r"\bW\b"):
        printers.exact(H + W, H=1)
    with pytest.raises(ValueError, match=r"\bW\b"):
        printers.vector(H + W, H=np.arange(1, 4))
    with pytest.raises(ValueError, match="bogus"):
        printers.exact(H, H=1, bogus=2)


def test_argument_order_is_fixed():
    """Every generated function takes all of ARG_ORDER positionally; unnamed symbols default to 1."""
    assert len(ARG_ORDER) == len(ARG_NAMES) == len(set(ARG_NAMES))
    args = printers.arguments({"W": 5, "L": 9})
    assert args[ARG_NAMES.index("W")] == 5 and args[ARG_NAMES.index("L")] == 9
    assert sum(1 for a in args if a == 1) == len(ARG_NAMES) - 2
    expr = 100 * W + L  # the position of W and L, not the symbols the expression holds, decides
    assert printers.exact_function(expr)(*args) == 509
    assert printers.scalar_function(expr)(*args) == 509
    assert float(printers.vector_function(expr)(*args)) == 509


def test_vector_backend_is_checked():
    with pytest.raises(ValueError, match="backend"):
        printers.vector_function(H, "fortran")


def test_numpy_backend_returns_float64_for_integer_arrays():
    expr = H**3 * W**3
    got = printers.vector_function(expr, "numpy")(*printers.arguments({"H": np.array([10**4]), "W": np.array([10**4])}))
    assert got.dtype == np.float64
    assert got[0] == pytest.approx(1e24, rel=1e-12)


FLOAT_PATHS = {
    "numexpr": lambda expr, args: printers.vector_function(expr, "numexpr")(*args),
    "numpy": lambda expr, args: printers.vector_function(expr, "numpy")(*args),
    "scalar": lambda expr, args: printers.scalar_function(expr)(*args),
}
ROUNDING_CASES = {
    # ceiling(L / 75): long-prompt chunks. 525 tokens are exactly 7 chunks; (1/75) * 525 = 7.000000000000001 in float.
    "ceiling-chunks": (sp.ceiling(L / 75), {"L": 525}, 7),
    # floor(16/25 x ...): the reserved bytes' fragmentation. 0.64 * 1003 * 725 = 465391.99999999994 in float.
    "floor-fraction": (sp.floor(sp.Rational(16, 25) * H * W), {"H": 1003, "W": 725}, 465392),
}


@pytest.mark.parametrize("path", list(FLOAT_PATHS))
@pytest.mark.parametrize("case", list(ROUNDING_CASES))
def test_float_paths_round_exact_multiples(case, path):
    if path == "numexpr":
        pytest.importorskip("numexpr")
    expr, values, expected = ROUNDING_CASES[case]
    assert printers.exact(expr, **values) == expected
    assert float(FLOAT_PATHS[path](expr, printers.arguments(values))) == expected


def test_sd15_long_prompt_vector_at_chunk_boundary():
    from symbolic.core.terms import Stage

    expr = pipeline_model("sd15", long_prompt=True).stage_peaks[Stage.TEXT_ENCODER]
    point = {"H": 512, "W": 512, "B": 1, "G": 2, "L": 525, "b": 2}
    assert float(printers.vector(expr, **point)) == printers.exact(expr, **point)


def test_scalar_function_uses_math_not_numpy():
    """The scalar path returns plain Python numbers (the math module), not NumPy scalars."""
    value = printers.scalar_function(sp.floor(H / 3) + sp.Max(H, W))(*printers.arguments({"H": 10, "W": 4}))
    assert type(value) in (int, float) and value == 13
    assert math.isfinite(value)
