"""The distilled peak: one compact expression per regime, with named coefficients and a tally that sums to it.

Korthikanti et al. (2022, "Reducing Activation Recomputation in Large Transformer Models", section 4) write a
transformer layer's activations as ``sbh(34 + 5as/h)``: one product of the sizes times a short sum whose every
number is a named tensor. The same form for a diffusion pipeline: the peak of a call is the resident weights plus
the largest stage's working set, and which stage (and which moment inside it) is largest depends on the size, so
there is one expression per *regime*:

    peak = M_w + b B H W (c_1 + c_2 + ...) + b B (...) + (...)

each coefficient ``c_i`` the bytes per element and pixel of one named term (a block's tensors, a kernel's
workspace), read off the same SymPy terms the CLI evaluates (``symbolic.pipelines.model``; the VAE's lumped
moments split into their named blocks where the component lists them, ``decode_terms`` / ``encode_terms``).

The distilled form drops the rounding (``floor(H / 8)`` becomes ``H / 8``): it equals the exact model wherever every
rounded quantity is a whole number (sizes multiples of ``size_multiple``, frame counts on the VAE's temporal
stride), and is otherwise the smooth curve through those points. ``check_regime`` proves, symbolically, that the
named addends sum to the model's own expression for that stage and moment, and that the distilled polynomial equals
it exactly at sampled points where the rounding is exact.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp

from symbolic.core.algebra import drop_rounding
from symbolic.core.evaluate.printers import exact, vector
from symbolic.core.symbols import B, H, P, T, W, b
from symbolic.core.terms import Category, Stage

#: The symbols a distilled expression is a polynomial in (its monomials); every other symbol (G) stays inside
#: the coefficients.
MONOMIAL_SYMBOLS = (H, W, T, B, b, P)
#: Label of the resident weights' addend, shown as one symbol ``M_w``.
WEIGHTS = "weights"




def rounded_arguments(expr) -> list[sp.Expr]:
    """The argument of every floor / ceiling in ``expr``, with the rounding inside it dropped."""
    expr = sp.sympify(expr)
    return list(dict.fromkeys(drop_rounding(e.args[0]) for e in expr.atoms(sp.floor, sp.ceiling)))


def size_multiple(expr) -> int:
    """The smallest M such that H and W multiples of M make every rounded argument in ``expr`` that depends on H or
    W alone a whole number (the lcm of the denominators of their coefficients); 1 if nothing is rounded."""
    multiple = 1
    for arg in rounded_arguments(expr):
        for symbol in (H, W):
            if arg.free_symbols == {symbol}:
                coefficient = sp.Rational(sp.Poly(arg, symbol).coeff_monomial(symbol))
                multiple = math.lcm(multiple, int(coefficient.q))
    return multiple


def frame_conditions(expr) -> list[sp.Expr]:
    """The rounded arguments in the frame count T: the distilled form is exact where each is a whole number."""
    return sorted((a for a in rounded_arguments(expr) if a.free_symbols == {T}), key=sp.default_sort_key)


def resolve_branches(expr, point: dict) -> sp.Expr:
    """``expr`` with every Min / Max replaced by the argument that is the min / max at ``point`` and every Piecewise
    by its branch taken there (innermost first): the polynomial piece in force around ``point``."""
    expr = sp.sympify(expr)

    def value(e):
        return exact(e, **{k: v for k, v in point.items() if any(str(s) == k for s in e.free_symbols)})

    def innermost(e):
        return isinstance(e, (sp.Min, sp.Max, sp.Piecewise)) and not any(
            a.has(sp.Min, sp.Max, sp.Piecewise) for a in e.args)

    def pick(e):
        if isinstance(e, sp.Piecewise):
            for branch, condition in e.args:
                subs = {s: point[str(s)] for s in condition.free_symbols if str(s) in point}
                if condition.subs(subs) == sp.true:
                    return branch
            raise ValueError(f"no branch of {e} holds at {point}")
        chooser = min if isinstance(e, sp.Min) else max
        return chooser(e.args, key=value)

    while expr.has(sp.Min, sp.Max, sp.Piecewise):
        expr = expr.replace(innermost, pick)
    return expr


@dataclass(frozen=True)
class Addend:
    """One named term of a regime: its exact bytes (with rounding and branches, as the model has it)."""

    name: str
    category: str
    note: str
    expr: sp.Expr


@dataclass
class Regime:
    """The peak when ``stage`` / ``moment`` is the largest: resident weights + the terms live at that moment."""

    stage: str
    moment: str
    #: The model's own expression for this regime: resident + the moment's sum (exact, with rounding).
    exact: sp.Expr
    addends: list[Addend]
    #: Square sides (pixels, first and last scanned) where this regime is the peak; empty if it never is.
    sides: tuple[int, int] | None = None
    labels: dict[str, int] = field(default_factory=dict)
    #: Where Min / Max / Piecewise branches are read (``resolve_branches``): the symbol values, H and W included.
    point: dict = field(default_factory=dict)

    def distilled(self, expr) -> sp.Expr:
        """``expr`` with the branches in force at ``point`` taken and the rounding dropped."""
        return drop_rounding(resolve_branches(expr, self.point))

    @property
    def resolved(self) -> sp.Expr:
        """The model's expression with the branches at ``point`` taken (rounding kept)."""
        return resolve_branches(self.exact, self.point)

    @property
    def weights(self) -> sp.Expr:
        return sp.Add(*(a.expr for a in self.addends if a.name == WEIGHTS))

    @property
    def poly(self) -> sp.Expr:
        """The distilled expression: the model's, branches at ``point`` taken, rounding dropped."""
        return self.distilled(self.exact)

    @property
    def size_multiple(self) -> int:
        return size_multiple(self.resolved)

    @property
    def frame_conditions(self) -> list[sp.Expr]:
        return frame_conditions(self.resolved)

    @property
    def branched(self) -> bool:
        """True when the model's expression has Min / Max / Piecewise (the distilled form is one piece of it)."""
        return self.exact.has(sp.Min, sp.Max, sp.Piecewise)

    def groups(self) -> list[tuple[sp.Expr, list[tuple[Addend, sp.Expr]]]]:
        """The non-weight addends' polynomials grouped by monomial in ``MONOMIAL_SYMBOLS`` (largest growth first):
        ``[(monomial, [(addend, coefficient), ...]), ...]``; the coefficient may hold G."""
        grouped: dict[sp.Expr, list[tuple[Addend, sp.Expr]]] = {}
        for addend in self.addends:
            if addend.name == WEIGHTS:
                continue
            for monomial, coefficient in split_monomials(self.distilled(addend.expr)).items():
                grouped.setdefault(monomial, []).append((addend, coefficient))
        return sorted(grouped.items(), key=lambda item: _growth(item[0]), reverse=True)

    def tally(self) -> sp.Expr:
        """Weights + the sum, over the groups, of monomial x the sum of its named coefficients."""
        return self.weights + sp.Add(*(monomial * sp.Add(*(c for _, c in pairs)) for monomial, pairs in self.groups()))


def _growth(monomial: sp.Expr) -> tuple:
    if monomial.has(sp.Max, sp.Min, sp.Piecewise):
        return (-1, 0, 0, 0)
    powers = sp.Poly(monomial, *MONOMIAL_SYMBOLS).monoms()[0] if monomial != 1 else (0,) * len(MONOMIAL_SYMBOLS)
    spatial = powers[0] + powers[1] + powers[2]
    return (spatial, powers[3], powers[4], powers[5])


def split_monomials(poly: sp.Expr) -> dict[sp.Expr, sp.Expr]:
    """``poly`` as {monomial in MONOMIAL_SYMBOLS: coefficient}, coefficients factored (they may hold G)."""
    poly = sp.expand(poly)
    if poly == 0:
        return {}
    out: dict[sp.Expr, sp.Expr] = {}
    for part in sp.Add.make_args(poly):
        gens = [s for s in MONOMIAL_SYMBOLS if part.has(s)]
        if part.has(sp.Max, sp.Min, sp.Piecewise):  # not a polynomial (tiling, workspace caps): kept whole
            out[part] = out.get(part, 0) + 1
            continue
        if not gens:
            out[sp.Integer(1)] = out.get(sp.Integer(1), 0) + part
            continue
        for powers, coefficient in sp.Poly(part, *gens).terms():
            monomial = sp.Mul(*(g**k for g, k in zip(gens, powers)))
            out[monomial] = out.get(monomial, 0) + coefficient
    return {monomial: sp.factor(coefficient) for monomial, coefficient in out.items()}


# --- the addends of one stage moment --------------------------------------------------------------------------------

def _vae_blocks(model, stage: str, moment: str) -> list[Addend] | None:
    """The VAE's named blocks live at ``moment`` where the component lists them (``decode_terms`` /
    ``encode_terms``), None otherwise."""
    from symbolic.pipelines import model as build

    config = model.config
    vae = build.vae(config)
    try:
        if stage == "vae_decode" and hasattr(vae, "decode_terms"):
            terms = vae.decode_terms(build.decode_shape(config))
        elif stage == "vae_encode" and hasattr(vae, "encode_terms"):
            terms = vae.encode_terms(build.encode_shape(config))
        else:
            return None
    except (AttributeError, ValueError):
        return None
    return [Addend(t.name, getattr(t.category, "value", str(t.category)), t.note, t.expr)
            for t in terms if moment in t.moments]


def addends_of(model, stage: str, moment: str) -> list[Addend]:
    """The named terms live at ``stage`` / ``moment``, resident ones included: the weights as one addend, every other
    term by its name, a VAE moment split into the component's named blocks (when they sum to it)."""
    resident = model.terms_of(Stage.RESIDENT)
    weights = sp.Add(*(t.expr for t in resident if t.category == Category.WEIGHTS))
    out = [Addend(WEIGHTS, Category.WEIGHTS.value, "parameters and buffers of every resident component", weights)]
    out += [Addend(t.name, t.category.value, t.note, t.expr) for t in resident if t.category != Category.WEIGHTS]
    for term in model.terms_of(stage):
        if moment not in term.moments:
            continue
        blocks = None
        if term.name.startswith(("vae.moments.", "vae.encode_moments.")):
            blocks = _vae_blocks(model, stage, moment)
            if blocks is not None and sp.expand(sp.Add(*(a.expr for a in blocks)) - term.expr) != 0:
                blocks = None   # the split does not sum to the lump: keep the lump
        out += blocks if blocks else [Addend(term.name, term.category.value, term.note, term.expr)]
    return [a for a in out if sp.sympify(a.expr) != 0]


def regime_of(model, stage: str, moment: str, point: dict | None = None) -> Regime:
    return Regime(stage, moment, model.resident + model.moments(stage)[moment], addends_of(model, stage, moment),
                  point=dict(point or {}))


# --- which regime is the peak ---------------------------------------------------------------------------------------

def candidates(model) -> list[tuple[str, str]]:
    return [(stage, moment) for stage in model.stages for moment in model.moments(stage)]


def find_regimes(model, values: dict, sides, default: tuple[int, int] | None = None) -> list[Regime]:
    """The regimes that are the peak somewhere along square images H = W = side (``sides`` in pixels, ascending;
    ``values``: the other symbols), in the order they take over, each with the sides where it is the peak. Each
    regime's branches are read at ``default`` (H, W) when that size falls in its range of sides, else at the middle
    of its range."""
    sides = np.asarray(list(sides), dtype=float)
    pairs = candidates(model)
    grid = np.vstack([np.broadcast_to(np.asarray(vector(model.moments(stage)[moment],
                                                        **dict(values, H=sides, W=sides)), dtype=float), sides.shape)
                      for stage, moment in pairs])
    winner = grid.argmax(axis=0)
    regimes: dict[int, Regime] = {}
    for index, side in zip(winner, sides):
        if index not in regimes:
            regimes[index] = regime_of(model, *pairs[index])
            regimes[index].sides = (int(side), int(side))
        else:
            regimes[index].sides = (regimes[index].sides[0], int(side))
    for regime in regimes.values():
        low, high = regime.sides
        if default is not None and low <= min(default) and max(default) <= high:
            height, width = default
        else:
            middle = [int(s) for s in sides if low <= s <= high]
            height = width = middle[len(middle) // 2]
        regime.point = dict(values, H=height, W=width)
    return list(regimes.values())


def label_addends(regimes: list[Regime]) -> None:
    """Number the non-weight addends 1, 2, ... across the regimes (the same term keeps its number)."""
    numbers: dict[str, int] = {}
    for regime in regimes:
        for addend in regime.addends:
            if addend.name != WEIGHTS and addend.name not in numbers:
                numbers[addend.name] = len(numbers) + 1
        regime.labels = numbers


# --- checks ---------------------------------------------------------------------------------------------------------

def check_regime(model, regime: Regime, values: dict, points: int = 12, seed: int = 0) -> None:
    """Raise AssertionError unless (1) the named addends sum to the model's expression for the regime, identically;
    (2) the tally of named coefficients equals the distilled polynomial, identically; (3) the distilled polynomial
    equals the model's exact expression at random sizes where the rounding is exact (multiples of
    ``size_multiple``, frames with every rounded frame argument whole)."""
    exact_expr = model.resident + model.moments(regime.stage)[regime.moment]
    assert sp.expand(sp.Add(*(a.expr for a in regime.addends)) - exact_expr) == 0, \
        f"{regime.stage}/{regime.moment}: the named addends do not sum to the model's expression"
    assert sp.expand(regime.tally() - regime.poly) == 0, \
        f"{regime.stage}/{regime.moment}: the tally of named coefficients differs from the distilled form"
    rng = random.Random(seed)
    multiple = regime.size_multiple
    frames = _whole_frames(regime.frame_conditions)
    if regime.frame_conditions and not frames:
        return  # no frame count makes every rounding exact: the distilled form is a smooth curve, not exact anywhere
    exact_expr = regime.resolved
    for _ in range(points):
        point = dict(values, H=multiple * rng.randint(1, max(1, 4096 // multiple)),
                     W=multiple * rng.randint(1, max(1, 4096 // multiple)), B=rng.randint(1, 4))
        if "G" in point:
            point["G"] = rng.randint(1, 2)
        if frames:
            point["T"] = rng.choice(frames)
        assert exact(regime.poly, **point) == exact(exact_expr, **point), \
            f"{regime.stage}/{regime.moment}: the distilled form differs from the model at {point}"


def _whole_frames(conditions: list[sp.Expr], limit: int = 257) -> list[int]:
    if not conditions:
        return []
    return [t for t in range(1, limit) if all(sp.sympify(c).subs(T, t).is_integer for c in conditions)]


def distilled_peak(regimes: list[Regime], point: dict) -> Fraction:
    """The distilled estimate at one point: the largest regime polynomial there (exact rational)."""
    return max(Fraction(exact(r.poly, **point)) for r in regimes)


def approximation_errors(regimes: list[Regime], results, values_of_row) -> list[dict]:
    """For each ``symbolic.measurements.validate.RowResult`` of the regimes' configuration: the distilled estimate, the exact
    model's and the measured peak allocated bytes, and the relative errors (distilled vs measured, distilled vs
    exact). ``values_of_row(result)`` gives the row's symbol values."""
    out = []
    for result in results:
        measured = result.measured.get("peak_allocated_bytes")
        if measured is None:
            continue
        point = values_of_row(result)
        distilled = float(distilled_peak(regimes, point))
        model = result.estimate["peak_allocated_bytes"]
        out.append({"result": result, "distilled": distilled, "model": model, "measured": measured,
                    "error": distilled / measured - 1, "versus_model": distilled / model - 1})
    return out


__all__ = ["Addend", "Regime", "addends_of", "approximation_errors", "check_regime", "distilled_peak",
           "find_regimes", "frame_conditions", "label_addends", "regime_of", "size_multiple",
           "resolve_branches", "split_monomials"]
