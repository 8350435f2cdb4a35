"""Budget planning: invert the closed form for the largest square size and the largest batch that fit a GPU.

The peak is a Max of polynomials ``p_i(s)`` (``closed_form.pieces``), so ``peak(s) <= budget`` iff every
``p_i(s) <= budget``: the largest fitting size is the smallest root of the ``p_i(s) = budget`` over the pieces.
That candidate is then confirmed, and corrected where rounding moves it, with the exact evaluation:
``fits(size)`` and ``not fits(size + 8)``.
"""
from __future__ import annotations

import math

from symbolic.closed_form import SIZE_STEP, along_square, pieces, positive_roots
from symbolic.pipelines.sd15.api import estimate_sd15, make_config, point
from symbolic.pipelines.sd15.model import sd15_model

CRITERIA = {"nvidia-smi": "nvidia_smi_bytes", "reserved": "peak_reserved_bytes", "allocated": "peak_allocated_bytes"}
COMMON_SIZES = (512, 768, 1024, 1536, 2048)
#: Sizes are searched up to this side (pixels): 2**16 px is far beyond any GPU of today for SD 1.5.
MAX_SIZE = 65536
MAX_BATCH = 4096


def _expression(model, criterion: str):
    return {"nvidia_smi_bytes": model.nvidia_smi, "peak_reserved_bytes": model.peak_reserved,
            "peak_allocated_bytes": model.peak_allocated}[CRITERIA[criterion]]


def _check_criterion(criterion: str) -> str:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion: must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    return criterion


def max_square_size(budget: int, criterion: str = "nvidia-smi", num_images_per_prompt: int = 1,
                    guidance_scale: float = 7.5, **config_kwargs) -> dict:
    """The largest H = W (multiple of 8) whose estimate fits ``budget`` bytes; ``size`` None if not even 8 fits."""
    key = CRITERIA[_check_criterion(criterion)]
    config = make_config(**config_kwargs)
    values = point(config, 8, 8, num_images_per_prompt, guidance_scale, 77)
    expr = along_square(_expression(sd15_model(config), criterion), values)
    roots = [r for piece in pieces(expr) for r in positive_roots(piece, budget)]
    candidate = min(roots) if roots else None

    def fits(steps: int) -> bool:
        side = steps * SIZE_STEP
        return estimate_sd15(side, side, num_images_per_prompt=num_images_per_prompt, guidance_scale=guidance_scale,
                             **config_kwargs)[key] <= budget

    guess = MAX_SIZE if candidate is None else int(candidate // SIZE_STEP) * SIZE_STEP
    steps = largest_fitting(fits, guess // SIZE_STEP, MAX_SIZE // SIZE_STEP)
    return {"size": steps * SIZE_STEP if steps else None, "closed_form_root": candidate}


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


def max_batch(budget: int, size: int, criterion: str = "nvidia-smi", guidance_scale: float = 7.5,
              **config_kwargs) -> int:
    """The largest images-per-prompt N at H = W = size that fits ``budget`` (0 if not even one). The peak is a Max of
    pieces linear in N: N <= min over pieces of (budget - constant part) / slope; confirmed exactly."""
    key = CRITERIA[_check_criterion(criterion)]

    def fits(n: int) -> bool:
        return estimate_sd15(size, size, num_images_per_prompt=n, guidance_scale=guidance_scale,
                             **config_kwargs)[key] <= budget

    at_one = estimate_sd15(size, size, num_images_per_prompt=1, guidance_scale=guidance_scale, **config_kwargs)[key]
    if at_one > budget:
        return 0
    at_two = estimate_sd15(size, size, num_images_per_prompt=2, guidance_scale=guidance_scale, **config_kwargs)[key]
    slope = at_two - at_one
    guess = MAX_BATCH if slope <= 0 else 1 + math.floor((budget - at_one) / slope)
    return largest_fitting(fits, guess, MAX_BATCH)


def plan(budget: int, criterion: str = "nvidia-smi", sizes=COMMON_SIZES, **kwargs) -> dict:
    """``max_square_size`` and ``max_batch`` (keyed by size) for one budget: the ``fit`` command's result."""
    guidance_scale = kwargs.pop("guidance_scale", 7.5)
    square = max_square_size(budget, criterion, guidance_scale=guidance_scale, **kwargs)
    return {"gpu_memory_bytes": budget, "criterion": criterion, "max_square_size": square["size"],
            "closed_form_root": square["closed_form_root"],
            "max_batch": {str(size): max_batch(budget, size, criterion, guidance_scale=guidance_scale, **kwargs)
                          for size in sizes}}
