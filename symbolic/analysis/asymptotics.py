"""Asymptotics of a closed form along square images H = W = s (s a multiple of the model's size step: 8 for SD 1.5).

* ``leading_term``: the order and coefficient of the peak as s -> oo: s^2 where every activation is a feature map
  (flash / memory-efficient SDPA: the VAE decode wins), s^4 where an N x N score matrix is stored (N = s^2 / 64
  tokens). Read off the fastest-growing polynomial piece of the Max, and checked with SymPy's ``limit``.
* ``crossovers``: where the activations overtake the weights, where the VAE decode overtakes the denoiser step (or
  the reverse), where attention (score matrices) overtakes the convolution-driven moments. Each is solved exactly on
  the active polynomial pieces (``nroots``) and confirmed with exact evaluation at the neighbouring multiples of 8.
"""
from __future__ import annotations

import sympy as sp

from symbolic.core.algebra import maximum
from symbolic.analysis.closed_form import along_square, large_size_branch, leading, pieces, polynomial, s
from symbolic.core.evaluate.printers import arguments, exact_function
from symbolic.analysis.target import target
from symbolic.core.terms import Category

#: Sizes scanned (pixels, multiples of 8) to locate crossovers before solving them exactly.
SCAN_LIMIT = 32768


def leading_term(model, values: dict, step: int) -> dict:
    """Leading order and coefficient (bytes per pixel-side power) of the allocated peak as s -> oo."""
    peak = along_square(model.peak_allocated, values, step)
    order, coefficient = leading(peak)
    term = coefficient * s**order
    winner = _winning_piece(peak)
    ratio = sp.limit(polynomial(winner).as_expr() / term, s, sp.oo)
    return {"order": int(order), "coefficient": coefficient, "term": term, "limit_ratio": ratio,
            "latex": sp.latex(term)}


def _winning_piece(expr: sp.Expr) -> sp.Expr:
    return max(pieces(expr), key=lambda p: (polynomial(p).degree(), polynomial(p).LC()))


#: Coarse step of the scan (pixels); the bracket it finds is then walked in steps of 8.
COARSE_STEP = 256


def _scan(difference, step: int, stop: int = SCAN_LIMIT) -> int | None:
    """The first multiple of ``step`` where ``difference(size)`` turns from < 0 to >= 0 (None if it never does),
    found on a coarse grid and refined in steps of ``step`` inside the bracket."""
    start = step
    if difference(start) >= 0:
        return start
    low = start
    for high in range(start + COARSE_STEP, stop + 1, COARSE_STEP):
        if difference(high) >= 0:
            for size in range(low + step, high + 1, step):
                if difference(size) >= 0:
                    return size
        low = high
    return None


def _exact_at(expr: sp.Expr, size: int, values: dict) -> int:
    return exact_function(expr)(*arguments(dict(values, H=size, W=size)))


def _crossing(upper_expr, lower_expr, values: dict, step: int) -> dict:
    """Where ``upper_expr`` first reaches ``lower_expr``: the real root of their active pieces near the first
    multiple of ``step`` where the exact difference turns non-negative, and that size, checked exactly."""
    size = _scan(lambda side: _exact_at(upper_expr, side, values) - _exact_at(lower_expr, side, values), step)
    if size is None:
        return {"size": None, "root": None, "note": f"never below {SCAN_LIMIT} px"}
    if size == step:
        return {"size": size, "root": None, "note": "already from the smallest size"}
    # The pieces active just after the crossing, solved exactly for their intersection.
    up = _active_piece(upper_expr, size, values, step)
    low = _active_piece(lower_expr, size, values, step)
    roots = [r for r in sp.Poly(polynomial(up - low), s).nroots() if abs(sp.im(r)) < 1e-9 and 0 < sp.re(r) <= size]
    root = float(max(sp.re(r) for r in roots)) if roots else None
    before = _exact_at(upper_expr, size - step, values) < _exact_at(lower_expr, size - step, values)
    after = _exact_at(upper_expr, size, values) >= _exact_at(lower_expr, size, values)
    return {"size": size, "root": root, "confirmed": bool(before and after)}


def _active_piece(expr: sp.Expr, size: int, values: dict, step: int) -> sp.Expr:
    """The polynomial piece of ``along_square(expr)`` that is the Max at ``size``."""
    squared = along_square(expr, values, step)
    at = {s: size}
    candidates = pieces(squared) if not squared.has(sp.Min, sp.Piecewise) else pieces(large_size_branch(squared))
    return max(candidates, key=lambda p: float(polynomial(p).as_expr().subs(at)))


def _attention_and_conv(model, step: int) -> tuple[sp.Expr, sp.Expr]:
    """Max over the moments that hold a score matrix (an ATTENTION term growing like s^4), and Max over the others."""
    attention, convolution = [], []
    for stage in model.stages:
        for moment, expr in model.moments(stage).items():
            terms = [t for t in model.terms_of(stage) if moment in t.moments]
            holds_scores = any(t.category == Category.ATTENTION and sp.degree(
                polynomial(along_square(large_size_branch(t.expr), {}, step)).as_expr(), s) >= 4 for t in terms)
            (attention if holds_scores else convolution).append(expr)
    return (maximum(*attention) if attention else None), maximum(*convolution)


def crossovers(model, values: dict, denoiser_stage: str, step: int) -> dict:
    transients = model.transients
    activations = maximum(*transients.values())
    result = {"activations_over_weights": _crossing(activations, model.weights, values, step)}
    decode, denoise = transients["vae_decode"], transients[denoiser_stage]
    name = f"vae_decode_vs_{denoiser_stage}"
    if _exact_at(decode, step, values) >= _exact_at(denoise, step, values):
        crossing = _crossing(denoise, decode, values, step)
        crossing["direction"] = (f"{denoiser_stage} overtakes vae_decode" if crossing["size"]
                                 else f"vae_decode above {denoiser_stage}")
    else:
        crossing = _crossing(decode, denoise, values, step)
        crossing["direction"] = f"vae_decode overtakes {denoiser_stage}"
    result[name] = crossing
    attention, convolution = _attention_and_conv(model, step)
    if attention is None:
        result["attention_over_convolutions"] = {"size": None, "root": None,
                                                 "note": "no N x N score matrix is stored (flash / efficient SDPA)"}
    else:
        result["attention_over_convolutions"] = _crossing(attention, convolution, values, step)
    return result


def analyse(model: str, num_images_per_prompt: int = 1, guidance_scale: float | None = None,
            frames: int | None = None, **config_kwargs) -> dict:
    """Leading term and crossovers for one configuration of any model (the ``asymptotics`` command's result)."""
    goal = target(model, guidance_scale, frames, **config_kwargs)
    values = goal.values(num_images_per_prompt)
    closed = goal.model()
    lead = leading_term(closed, values, goal.step)
    return {"model": goal.name, "config": goal.describe, "size_step": goal.step, "leading_order": lead["order"],
            "leading_coefficient": str(lead["coefficient"]), "leading_term": str(lead["term"]),
            "leading_term_latex": lead["latex"], "limit_peak_over_leading": str(lead["limit_ratio"]),
            "crossovers": crossovers(closed, values, goal.denoiser_stage, goal.step)}


def kernel_configs(model: str) -> dict:
    """The attention kernels ``--all-backends`` compares: SDPA and math SDPA everywhere; classic attention and
    attention slicing where the denoiser runs diffusers' attention processors (the UNets)."""
    from symbolic.pipelines import catalog

    configs = {"sdpa (flash / efficient)": {}, "math SDPA": {"attention_backend": "math"}}
    if catalog.load(model.strip()).spec.attention_processors:
        configs["classic AttnProcessor"] = {"attention": "classic"}
        configs["attention slicing"] = {"memory_options": ("attention_slicing",)}
    return configs


def per_backend(model: str, **kwargs) -> dict:
    return {name: analyse(model, **dict(kwargs, **extra)) for name, extra in kernel_configs(model).items()}
