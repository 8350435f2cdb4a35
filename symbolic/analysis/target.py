"""What ``fit`` and ``asymptotics`` study: one model with its fixed settings, along square sizes and batches.

A ``Target`` gives exact estimates at (side, batch), the SymPy model whose expressions it evaluates, the symbol
values other than H and W, and the size step (sides are multiples of it: the VAE scale for SD 1.5, the pipeline's
``check_inputs`` multiple otherwise). Every bundled id, Hub id or config folder goes through
``symbolic.pipelines.api``.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    #: (side, batch) -> the API's result dict (exact integers)
    estimate: Callable[[int, int], dict]
    #: -> the SymPy model (``peak_allocated``, ``min_gpu_memory``, ``transients``, ``stages``, ``weights``, ...)
    model: Callable[[], object]
    #: batch -> symbol values other than H and W
    values: Callable[[int], dict]
    step: int
    #: the denoiser's stage (``unet_step`` or ``transformer_step``)
    denoiser_stage: str
    describe: str


def target(model: str, guidance_scale: float | None = None, frames: int | None = None,
           **config_kwargs) -> Target:
    """The target for ``model`` with ``config_kwargs`` (the API's configuration arguments of that model; another
    argument is refused with a ValueError naming it)."""
    from symbolic.pipelines.api import make_config

    known = (set(inspect.signature(make_config).parameters) - {"model"}) | {"devices", "prompt_tokens"}
    unknown = sorted(set(config_kwargs) - known)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a configuration argument of {model} (known: {', '.join(sorted(known))})")
    return _pipeline(model, guidance_scale, frames, **config_kwargs)


def _pipeline(model, guidance_scale, frames, **config_kwargs) -> Target:
    from symbolic.pipelines.api import estimate, make_config, values_of
    from symbolic.pipelines.model import vae
    from symbolic.pipelines.api import pipeline_model as model_of

    per_call = ("devices", "prompt_tokens")  # values of symbols, not configuration
    config = make_config(model, **{k: v for k, v in config_kwargs.items() if k not in per_call})
    spec = config.spec
    # txt2img: check_inputs' multiple; img2img resizes the init image down to multiples of the VAE scale.
    step = spec.multiple if config.task == "txt2img" else vae(config).spatial_compression

    def values(batch: int) -> dict:
        found = values_of(config, frames, step, step, batch, guidance_scale, config_kwargs.get("devices", 1),
                          config_kwargs.get("prompt_tokens"))
        return {k: v for k, v in found.items() if k not in ("H", "W")}

    options = "+".join(sorted(config.memory_options)) or "none"
    describe = (f"{config.task} {config.denoiser_dtype} attention={config.attention} options={options}"
                + (f" frames={values(1).get('T')}" if spec.video else ""))
    return Target(config.source.name,
                  lambda side, batch: estimate(model, side, side, frames=frames, batch=batch,
                                               guidance_scale=guidance_scale, **config_kwargs),
                  lambda: model_of(model, **{k: v for k, v in config_kwargs.items() if k not in per_call}),
                  values, step, spec.denoiser_stage, describe)
