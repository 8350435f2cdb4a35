"""Baselines our model is compared with, each kept as in its source: the seed's ``f()`` (``seed``) and ComfyUI's
built-in estimators (``comfyui``). ``baseline_predictions`` is the one entry point ``validate`` calls per row.

Median |relative error| of each baseline against ``peak_allocated_bytes`` on ``data/measurements/sd15_h100.csv``
(H100, SD 1.5; ``tests/measurements/test_baselines.py`` recomputes them from the rows and holds these figures to ``CLAIM_MARGIN``),
over all 16 rows and over the 10 rows without switches (PyTorch SDPA with its default or memory-efficient kernel,
no memory option; sizes 256 to 1024, fp16 and fp32, txt2img and img2img, guidance 1 and 5, 8 and 77 tokens):

- the seed's ``f()``: **31.4%** on all rows, **31.4%** without switches. It under-predicts every row without
  switches (-23% at 256 x 256, -31% at 512, -39% at 768, -42% at 1024, -30% for fp32 given 4 bytes per scalar),
  the math-SDPA row (-56%) and the classic-attention row at 512 (-40%), and over-predicts only batch 2 with VAE
  tiling (+25%: its attention term squares the batch). Why: ``symbolic.measurements.baselines.seed``.
- ComfyUI's estimators added to our weights: **13.1%** on all rows, **12.3%** without switches. It over-predicts
  every SDPA row (+1.6% at 256, +12% at 512, +25% at 768, +36% at 1024, +14% for fp32), by the excess of its VAE
  decode lambda; it knows no diffusers switch (+121% with VAE slicing and +189% with VAE tiling at 1024 x 1024,
  batch 2, where diffusers decodes one image or one tile at a time) and no stored N x N scores (-27% on the
  math-SDPA row). Why: ``symbolic.measurements.baselines.comfyui``.
"""
from __future__ import annotations

import math

from symbolic.measurements.baselines.comfyui import comfyui_bytes, comfyui_estimates
from symbolic.measurements.baselines.seed import seed_formula, seed_formula_bytes
from symbolic.core.checks import MAX_COUNT, guidance_copies, positive_int
from symbolic.core.dtypes import BYTES_PER_ELEMENT

__all__ = ["BASELINES", "CLAIMED_MEDIAN_ABS_ERROR", "CLAIM_MARGIN", "baseline_predictions", "comfyui_bytes",
           "comfyui_estimates", "seed_formula", "seed_formula_bytes"]

#: Baseline name (the key ``baseline_predictions`` returns) -> one line saying what it is.
BASELINES: dict[str, str] = {
    "seed_bytes": "the seed's f() (shared/seeds/004): 1.12 x (weights of 860M + 123M + 35M parameters + UNet skip "
                  "maps + one attention level's QKVO and N^2 + CLIP + a 64-channel full-size VAE map); SD 1.5 only",
    "comfyui_bytes": "ComfyUI v0.3.64's estimators (model_base.memory_required x memory_usage_factor for the 2B "
                     "cond/uncond latent, VAE memory_used_decode / _encode lambdas) added to our weights: weights + "
                     "max of the three",
}
#: (baseline, rows) -> the median |relative error| against measured peak allocated bytes on
#: data/measurements/sd15_h100.csv that the module docstring states; ``CLAIM_MARGIN``: how far (absolute, as a
#: fraction) the value ``tests/measurements/test_baselines.py`` computes from the rows may be from it.
CLAIMED_MEDIAN_ABS_ERROR = {("seed_bytes", "all rows"): 0.314, ("seed_bytes", "no switches"): 0.314,
                            ("comfyui_bytes", "all rows"): 0.131, ("comfyui_bytes", "no switches"): 0.123}
CLAIM_MARGIN = 0.005
#: The prompt the seed's ``L`` stands for when a caller gives none: diffusers pads every prompt to CLIP's 77 tokens.
DEFAULT_PROMPT_TOKENS = 77


def baseline_predictions(model: str, *, height: int, width: int, frames: int | None, batch: int,
                         guidance_scale: float | None, dtype: str | None, task: str | None,
                         prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
                         weights_bytes: int | None = None) -> dict[str, int | None]:
    """Each baseline's predicted peak allocated bytes for one call (rounded up to whole bytes), None where it has none.

    ``seed_bytes``: the seed's ``f(height, width, prompt_tokens, batch=batch, bytes_per_scalar=<dtype's bytes>)``
    for ``sd15`` (both keywords are the seed's own knobs), None for every other model. ``comfyui_bytes``:
    ``comfyui.comfyui_bytes`` (None for CogVideoX and folders). ``guidance_scale`` is checked but read by neither:
    the seed has no CFG batch, and ComfyUI reserves for the cond + uncond batch whatever the scale.
    ``weights_bytes``: our resident weights for the call where the caller has them (else computed by ``estimate``).
    Arguments are checked as ``estimate`` checks them: a ValueError naming the argument."""
    from symbolic.measurements.baselines.comfyui import check_call

    call = check_call(model, height=height, width=width, frames=frames, batch=batch, dtype=dtype, task=task)
    if guidance_scale is not None:
        guidance_copies(guidance_scale)  # a ValueError naming guidance_scale for a bad one
    prompt_tokens = positive_int(prompt_tokens, "prompt_tokens", MAX_COUNT)
    seed = None
    if call.model_id == "sd15":
        seed = math.ceil(seed_formula_bytes(call.height, call.width, prompt_tokens, batch=call.batch,
                                            bytes_per_scalar=BYTES_PER_ELEMENT[call.config.denoiser_dtype]))
    comfy = comfyui_bytes(model, height=call.height, width=call.width, frames=call.frames, batch=call.batch,
                          dtype=dtype, task=task, weights_bytes=weights_bytes)
    return {"seed_bytes": seed, "comfyui_bytes": comfy}
