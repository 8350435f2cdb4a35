"""``validate`` on rows of any pipeline (the columns ``scripts/measure_gpu.py`` writes: ``model``, ``frames``)."""
from __future__ import annotations

import pytest

from symbolic.pipelines.api import estimate
from symbolic.measurements.validate import validate_rows

BASE = {"task": "txt2img", "attention": "sdpa", "sdpa_backend": "default", "dtype": "default",
        "guidance_scale": "5.0", "prompt_tokens": "77"}


@pytest.mark.parametrize("model, frames, option", [("sdxl", "", "vae_tiling"), ("flux.1-dev", "", "none"),
                                                   ("wan2.1-t2v-1.3b", "17", "model_cpu_offload+vae_tiling")])
def test_rows_of_any_pipeline_are_predicted_by_its_model(model, frames, option):
    options = tuple(o for o in option.split("+") if o != "none")
    predicted = estimate(model, 512, 512, frames=int(frames) if frames else None, batch=2, guidance_scale=5.0,
                         memory_options=options)
    row = dict(BASE, model=model, frames=frames, memory_option=option, height="512", width="512",
               num_images_per_prompt="2", peak_allocated_bytes=str(predicted["peak_allocated_bytes"]),
               **{f"stage_{s}_peak": str(v) for s, v in predicted["stages"].items()})
    [result] = validate_rows([row])
    assert result.estimate == predicted
    assert set(result.errors) == {"peak_allocated_bytes"} | {f"stage_{s}_peak" for s in predicted["stages"]}
    assert all(e == 0 for e in result.errors.values())
    assert result.baseline_bytes is None  # the seed formula is SD 1.5's


def test_frames_on_an_image_row_is_refused():
    row = dict(BASE, model="sd15", frames="9", memory_option="none", height="512", width="512",
               num_images_per_prompt="1", task="img2img", dtype="fp16")
    with pytest.raises(ValueError, match="row 2: column 'frames'"):
        validate_rows([row])
