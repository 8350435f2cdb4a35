"""Exact evaluation of an SD 1.5 configuration's expressions at one point, shaped as the API's result."""
from __future__ import annotations

from symbolic.numeric import exact
from symbolic.pipelines.sd15.model import sd15_model


def evaluate(config, values: dict[str, int]) -> dict:
    model = sd15_model(config)
    stages = {stage.value: exact(expr, **values) for stage, expr in model.stage_peaks.items()}
    peak_stage = max(stages, key=stages.get)
    return {
        "peak_allocated_bytes": exact(model.peak_allocated, **values),
        "peak_reserved_bytes": exact(model.peak_reserved, **values),
        "nvidia_smi_bytes": exact(model.nvidia_smi, **values),
        "peak_stage": peak_stage,
        "weights_bytes": exact(model.weights, **values),
        "stages": stages,
    }
