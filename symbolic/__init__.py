"""symbolic: closed-form SymPy equations for the GPU memory of diffusion models, evaluated fast.

Public API (imported lazily, so ``import symbolic`` stays cheap):

* ``estimate_video_latent_memory(...)``: the latent tensor of a video VAE (shape, bytes, transformer tokens).
* ``estimate(model, ...)``: peak GPU memory of one diffusers pipeline call (any bundled id, Hub id or config folder).
* ``estimate_sd15(...)``: ``estimate("sd15", ...)`` with SD 1.5's argument names and the measured rows' defaults.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "estimate_video_latent_memory": "symbolic.analysis.video_latent",
    "estimate_video_latent_memory_preset": "symbolic.analysis.video_latent",
    "VIDEO_PRESETS": "symbolic.analysis.video_presets",
    "estimate_sd15": "symbolic.pipelines.api",
    "estimate_video_pipeline": "symbolic.pipelines.api",
    "estimate": "symbolic.pipelines.api",
    "plan": "symbolic.analysis.planning",
    "validate_rows": "symbolic.measurements.validate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'symbolic' has no attribute {name!r}")
