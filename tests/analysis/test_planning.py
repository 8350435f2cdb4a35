"""``fit`` and ``asymptotics`` for any bundled pipeline (the same closed forms the estimates evaluate)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from symbolic.analysis.asymptotics import analyse
from symbolic.pipelines.api import estimate
from symbolic.analysis.planning import max_batch, max_square_size
from symbolic.core.units import GiB

CASES = [("sdxl", {}, 16 * GiB), ("flux.1-dev", {"memory_options": ("cpu_offload",)}, 32 * GiB),
         ("wan2.1-t2v-1.3b", {"frames": 17}, 24 * GiB), ("sd21", {"task": "img2img"}, 12 * GiB)]


@pytest.mark.parametrize("model, settings, budget", CASES, ids=[c[0] for c in CASES])
def test_largest_square_size_is_exact(model, settings, budget):
    found = max_square_size(budget, model=model, **settings)
    size, step = found["size"], 16 if settings.get("task") != "img2img" and model != "sdxl" else 8
    assert size and not found["at_search_limit"] and size % step == 0

    def need(side):
        return estimate(model, side, side, **settings)["min_gpu_memory_bytes"]

    assert need(size) <= budget < need(size + step)


@pytest.mark.parametrize("model, settings, budget", CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_largest_batch_is_exact(model, settings, budget):
    n = max_batch(budget, 512, model=model, **settings)
    assert n >= 1
    assert estimate(model, 512, 512, batch=n, **settings)["min_gpu_memory_bytes"] <= budget
    assert estimate(model, 512, 512, batch=n + 1, **settings)["min_gpu_memory_bytes"] > budget


@pytest.mark.parametrize("model", ["sdxl", "flux.1-dev"])
def test_leading_term_is_the_large_size_limit(model):
    result = analyse(model=model)
    assert result["leading_order"] == 2  # fused attention: every activation is a feature map
    assert result["limit_peak_over_leading"] == "1"
    import sympy as sp

    coefficient = sp.Rational(result["leading_coefficient"])
    side = 16384
    ratio = estimate(model, side, side)["peak_allocated_bytes"] / float(coefficient * side**2)
    assert 0.9 < ratio < 1.2  # the weights and lower orders still count at 16k px


def test_math_attention_grows_like_the_fourth_power():
    assert analyse(model="flux.1-dev", attention_backend="math")["leading_order"] == 4


@pytest.mark.parametrize("argv, flag", [
    (("fit", "flux.1-dev", "--gpu-memory", "24GiB", "--no-safety-checker"), "--no-safety-checker"),
    (("fit", "sd15", "--gpu-memory", "24GiB", "--frames", "9"), "--frames"),
    (("asymptotics", "flux.1-dev", "--attention", "classic"), "classic"),
])
def test_flags_that_do_not_apply_are_refused(argv, flag):
    out = subprocess.run([sys.executable, "-m", "symbolic", *argv], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and flag in out.stderr and out.stderr.count("\n") == 1


def test_fit_command_for_a_video_model():
    out = subprocess.run([sys.executable, "-m", "symbolic", "fit", "wan2.1-t2v-1.3b", "--frames", "17",
                          "--gpu-memory", "24GiB"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("wan2.1-t2v-1.3b in 24.00 GiB (minimum):")
