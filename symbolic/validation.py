"""Argument checks shared by the API and the CLI: one rule, one message naming the argument."""
from __future__ import annotations

import numbers


def positive_int(value: object, argument: str) -> int:
    """Return ``value`` as an int if it is an integer >= 1 (bools are not integers), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{argument}: must be an integer >= 1, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{argument}: must be an integer >= 1, got {value!r}")
    return int(value)


def positive_number(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{argument}: must be a number > 0, got {value!r}")
    if not value > 0:
        raise ValueError(f"{argument}: must be a number > 0, got {value!r}")
    return float(value)


def choice(value: object, argument: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{argument}: must be one of {', '.join(options)}, got {value!r}")
    return value


def guidance_copies(guidance_scale: object) -> int:
    """diffusers' ``do_classifier_free_guidance`` is ``guidance_scale > 1``: the denoiser then runs on a doubled
    batch (or twice), so the guidance multiplier G is 2, else 1."""
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, numbers.Real) or guidance_scale != guidance_scale:
        raise ValueError(f"guidance_scale: must be a number, got {guidance_scale!r}")
    if guidance_scale < 0:
        raise ValueError(f"guidance_scale: must be >= 0, got {guidance_scale!r}")
    return 2 if guidance_scale > 1 else 1
