"""Exact evaluation of an SD 1.5 configuration at one point, shaped as the API's result.

The expressions come from ``model.py``; their generated exact code is cached on disk (``symbolic.cache``), so a
process that finds the cache warm evaluates them without importing SymPy.
"""
from __future__ import annotations

from functools import lru_cache

from symbolic.cache import load_or_build
from symbolic.exact_runtime import as_integer, compile_exact, positional

def api_outputs(config) -> dict:
    """The expressions behind the API's result, by output name (what the cache stores and ``shape`` reads)."""
    from symbolic.pipelines.sd15.model import sd15_model

    model = sd15_model(config)
    outputs = {"peak_allocated_bytes": model.peak_allocated, "peak_reserved_bytes": model.peak_reserved,
               "nvidia_smi_bytes": model.nvidia_smi, "min_gpu_memory_bytes": model.min_gpu_memory,
               "weights_bytes": model.weights}
    outputs.update({f"stage:{stage.value}": expr for stage, expr in model.stage_peaks.items()})
    outputs.update({f"activation:{stage.value}": expr for stage, expr in model.stage_activations.items()})
    outputs.update({f"component:{role}": expr for role, expr in model.component_weights.items()})
    return outputs


def _build(config) -> dict:
    from symbolic.numeric import exact_source
    from symbolic.symbols import ARG_NAMES

    return {"args": list(ARG_NAMES),
            "outputs": {name: exact_source(expr) for name, expr in api_outputs(config).items()}}


@lru_cache(maxsize=None)
def compiled(config) -> tuple[tuple[str, ...], dict]:
    entry = load_or_build("sd15", repr(config), lambda: _build(config), ("args", "outputs"))
    return tuple(entry["args"]), {name: compile_exact(src) for name, src in entry["outputs"].items()}


def evaluate(config, values: dict[str, int]) -> dict:
    arg_names, functions = compiled(config)
    args = positional(arg_names, values)
    return shape({name: as_integer(fn(*args)) for name, fn in functions.items()})


@lru_cache(maxsize=None)
def _layout(names: tuple[str, ...]) -> dict[str, tuple[tuple[str, str], ...]]:
    """For each prefix (``stage:``, ``component:``, ``activation:``): (key, output name) of its outputs, in order."""
    return {prefix: tuple((name.split(":", 1)[1], name) for name in names if name.startswith(prefix))
            for prefix in ("stage:", "component:", "activation:")}


def shape(out: dict) -> dict:
    """The API's result from the outputs' values (one point)."""
    layout = _layout(tuple(out))
    stages = {key: out[name] for key, name in layout["stage:"]}
    return {"peak_allocated_bytes": out["peak_allocated_bytes"], "peak_reserved_bytes": out["peak_reserved_bytes"],
            "nvidia_smi_bytes": out["nvidia_smi_bytes"], "min_gpu_memory_bytes": out["min_gpu_memory_bytes"],
            "peak_stage": max(stages, key=stages.get), "weights_bytes": out["weights_bytes"], "stages": stages,
            "component_weights_bytes": {key: out[name] for key, name in layout["component:"]},
            "stage_activation_bytes": {key: out[name] for key, name in layout["activation:"]}}
