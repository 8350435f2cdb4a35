"""Budget planning: invert the closed form for the largest square size and the largest batch that fit a GPU.

The peak is a Max of polynomials ``p_i(s)`` (``closed_form.pieces``), so ``peak(s) <= budget`` iff every
``p_i(s) <= budget``: the largest fitting size is the smallest root of the ``p_i(s) = budget`` over the pieces.
That candidate is then confirmed, and corrected where rounding moves it, with the exact evaluation:
``fits(size)`` and ``not fits(size + step)``. Any model: ``model`` (default ``sd15``) and its configuration
arguments pick a ``symbolic.analysis.target.Target``.
"""
from __future__ import annotations

import numbers

from symbolic.analysis.closed_form import along_square, pieces, positive_roots
from symbolic.analysis.target import target
from symbolic.core.checks import positive_int, renamed

#: What "fits" is judged by: the smallest device memory the call completes in (default), or what monitoring shows
#: with memory plentiful (nvidia-smi, reserved), or the allocated peak.
CRITERIA = {"minimum": "min_gpu_memory_bytes", "nvidia-smi": "nvidia_smi_bytes", "reserved": "peak_reserved_bytes",
            "allocated": "peak_allocated_bytes"}
COMMON_SIZES = (512, 768, 1024, 1536, 2048)
#: Sizes are searched up to this side (pixels): 2**16 px is far beyond any GPU of today for SD 1.5.
MAX_SIZE = 65536
MAX_BATCH = 4096
#: Budgets are read up to 2**64 bytes (16 EiB): far above any GPU, and where the searches above end anyway.
MAX_BUDGET = 2**64


def check_budget(budget: object, argument: str = "budget") -> int:
    """``budget`` as an int of bytes in [1, MAX_BUDGET]; an integral float (``24 * 2**30 * 1.0``) is accepted.
    Anything else (bools, inf, nan, 12.5, strings, 0, 10**30) raises a ValueError naming ``argument``."""
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        raise ValueError(f"{argument}: must be a number of bytes (an integer), "
                         f"got {budget!r} ({type(budget).__name__})")
    if not isinstance(budget, numbers.Integral):
        if budget != budget or budget in (float("inf"), float("-inf")) or budget != int(budget):
            raise ValueError(f"{argument}: must be a whole number of bytes, got {budget!r}")
        budget = int(budget)
    if budget < 1:
        raise ValueError(f"{argument}: must be at least one byte, got {budget!r}")
    if budget > MAX_BUDGET:
        raise ValueError(f"{argument}: must be at most 2**64 bytes (16 EiB), got {_digits(budget)}")
    return int(budget)


def _digits(value: int) -> str:
    return str(value) if value < 10**60 else f"a {len(str(value))}-digit number"


def _expression(model, criterion: str):
    return {"min_gpu_memory_bytes": model.min_gpu_memory, "nvidia_smi_bytes": model.nvidia_smi,
            "peak_reserved_bytes": model.peak_reserved, "peak_allocated_bytes": model.peak_allocated}[CRITERIA[criterion]]


def _check_criterion(criterion: str) -> str:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion: must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    return criterion


def max_square_size(budget: int, criterion: str = "minimum", num_images_per_prompt: int = 1,
                    guidance_scale: float | None = None, *, model: str, **config_kwargs) -> dict:
    """The largest H = W (a multiple of the model's size step) whose estimate fits ``budget`` bytes; ``size`` None
    if not even one step fits. ``at_search_limit`` is True when ``MAX_SIZE`` itself fits: the search stopped there,
    larger sizes may fit too."""
    budget = check_budget(budget)
    key = CRITERIA[_check_criterion(criterion)]
    goal = target(model, guidance_scale, **config_kwargs)
    step = goal.step

    def fits(steps: int) -> bool:
        return goal.estimate(steps * step, num_images_per_prompt)[key] <= budget

    if fits(MAX_SIZE // step):  # the search limit fits: no root to look for (and none a solver finds easily)
        return {"size": MAX_SIZE // step * step, "closed_form_root": None, "at_search_limit": True}
    expr = along_square(_expression(goal.model(), criterion), goal.values(num_images_per_prompt), step)
    try:
        roots = [r for piece in pieces(expr) for r in positive_roots(piece, budget)]
    except Exception:  # noqa: BLE001 - a root the solver cannot find (mpmath NoConvergence...): bisect without it
        roots = []
    candidate = min(roots) if roots else None
    guess = MAX_SIZE if candidate is None else int(min(candidate, MAX_SIZE) // step) * step
    steps = largest_fitting(fits, guess // step, MAX_SIZE // step)
    return {"size": steps * step if steps else None, "closed_form_root": candidate, "at_search_limit": False}


def largest_fitting(fits, guess: int, upper: int) -> int:
    """The largest n in [1, upper] with ``fits(n)`` (0 if none), for a monotone ``fits``: start at the closed form's
    guess, gallop to a bracket, then bisect. Near-exact guesses cost two or three exact evaluations."""
    guess = max(1, min(upper, guess))
    if fits(guess):
        low, step = guess, 1
        while low + step <= upper and fits(low + step):
            low, step = low + step, step * 2
        high = min(upper + 1, low + step)
    else:
        high, step = guess, 1
        while high - step >= 1 and not fits(high - step):
            high, step = high - step, step * 2
        low = high - step
        if low < 1:
            if not fits(1):
                return 0
            low = 1
    while high - low > 1:  # fits(low) and not fits(high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def max_batch(budget: int, size: int, criterion: str = "minimum", guidance_scale: float | None = None, *,
              model: str, **config_kwargs) -> int:
    """The largest batch (images per prompt, videos) at H = W = size that fits ``budget`` (0 if not even one). The
    peak is a Max of pieces linear in the batch: batch <= min over pieces of (budget - constant part) / slope;
    confirmed exactly. The search stops at ``MAX_BATCH``: a result equal to it means at least that many."""
    budget = check_budget(budget)
    size = positive_int(size, "size")
    key = CRITERIA[_check_criterion(criterion)]
    goal = target(model, guidance_scale, **config_kwargs)

    def fits(n: int) -> bool:
        return goal.estimate(size, n)[key] <= budget

    at_one = goal.estimate(size, 1)[key]
    if at_one > budget:
        return 0
    slope = goal.estimate(size, 2)[key] - at_one
    guess = MAX_BATCH if slope <= 0 else 1 + min(MAX_BATCH, (budget - at_one) // slope)  # exact: ints
    return largest_fitting(fits, guess, MAX_BATCH)


def plan(budget: int, criterion: str = "minimum", sizes=COMMON_SIZES, num_images_per_prompt: int = 1, *,
         model: str, **kwargs) -> dict:
    """``max_square_size`` (at ``num_images_per_prompt``) and ``max_batch`` (keyed by size) for one budget: the
    ``fit`` command's result. ``budget`` is an int of bytes in [1, 2**64]; ``sizes`` positive ints.

    ``search_limits`` gives the largest size and batch searched; ``max_square_size_at_search_limit`` and
    ``max_batch_at_search_limit`` (the sizes whose batch reached ``MAX_BATCH``) say where the search stopped there,
    so larger values may fit as well."""
    budget = check_budget(budget)
    _check_criterion(criterion)
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"sizes: must be a sequence of integers, got {sizes!r}")
    sizes = [positive_int(size, "sizes") for size in sizes]
    num_images_per_prompt = positive_int(num_images_per_prompt, "num_images_per_prompt")
    guidance_scale = kwargs.pop("guidance_scale", None)
    target(model, guidance_scale=guidance_scale, **kwargs)  # refuses an unknown configuration argument by name
    square = max_square_size(budget, criterion, num_images_per_prompt=num_images_per_prompt,
                             guidance_scale=guidance_scale, model=model, **kwargs)
    # A size the pipeline refuses is named as what the caller gave: an entry of ``sizes``.
    batches = {str(size): renamed(lambda size=size: max_batch(budget, size, criterion, guidance_scale=guidance_scale,
                                                             model=model, **kwargs), {"height": "sizes", "width": "sizes"})
               for size in sizes}
    return {"gpu_memory_bytes": budget, "criterion": criterion, "num_images_per_prompt": num_images_per_prompt,
            "max_square_size": square["size"], "closed_form_root": square["closed_form_root"],
            "max_batch": batches, "search_limits": {"size": MAX_SIZE, "batch": MAX_BATCH},
            "max_square_size_at_search_limit": square["at_search_limit"],
            "max_batch_at_search_limit": [size for size, batch in batches.items() if batch >= MAX_BATCH]}
