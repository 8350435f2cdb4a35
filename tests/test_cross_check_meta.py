"""The second witness: the real diffusers modules run on the ``meta`` device under a live-bytes dispatch mode
(``symbolic.harness.meta_trace``), at sizes, batches and kernels nobody measured, against the symbolic terms.

* UNet step: the trace sees every tensor the step allocates, so the symbolic transient (without the loop's inputs,
  which exist before the step) must match it closely (0.5%).
* VAE decode / encode: a third of the real peak is cuDNN's workspace, which the trace cannot see, and the workspace
  moves the real peak to a conv (measured), away from the trace's own peak. So the trace brackets the symbolic
  transient: ours - workspace <= trace <= ours.
"""
from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from symbolic.harness import meta_trace  # noqa: E402
from symbolic.numeric import exact  # noqa: E402
from symbolic.pipelines.sd15.api import make_config  # noqa: E402
from symbolic.pipelines.sd15.model import sd15_model  # noqa: E402
from symbolic.terms import Category, Stage  # noqa: E402

UNET_CASES = [
    # (height, width, images per prompt, guidance copies, trace attention, sdpa backend, config); dtype fp16 unless
    # the config says otherwise (nobody measured bf16 or fp32 with math / classic / slicing)
    (512, 512, 1, 2, "sdpa", "default", {}),
    (768, 512, 2, 2, "sdpa", "default", {}),
    (384, 640, 1, 1, "sdpa", "efficient", {}),
    (640, 384, 1, 2, "classic", "default", {"attention": "classic"}),
    (512, 768, 1, 2, "sdpa", "math", {"sdpa_backend": "math"}),
    (1024, 1024, 2, 2, "sliced", "default", {"memory_options": ("attention_slicing",)}),
    (896, 640, 3, 1, "sliced", "default", {"memory_options": ("attention_slicing",)}),
    (512, 512, 1, 2, "sdpa", "default", {"dtype": "bf16"}),
    (640, 384, 1, 2, "classic", "default", {"attention": "classic", "dtype": "bf16"}),
    (512, 512, 1, 2, "sdpa", "math", {"sdpa_backend": "math", "dtype": "fp32"}),
    (640, 512, 1, 2, "classic", "default", {"attention": "classic", "dtype": "fp32"}),
]
TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


def _values(height, width, n, g):
    return {"H": height, "W": width, "N": n, "G": g, "L": 77, "b": 2}


@pytest.mark.parametrize("height, width, n, g, attention, backend, config", UNET_CASES,
                         ids=[f"{c[0]}x{c[1]}-N{c[2]}-G{c[3]}-{c[4]}-{c[5]}-{c[6].get('dtype', 'fp16')}"
                              for c in UNET_CASES])
def test_unet_step_matches_meta_trace(height, width, n, g, attention, backend, config):
    import torch

    model = sd15_model(make_config(**config))
    dtype = getattr(torch, TORCH_DTYPES[model.config.dtype])
    traced = meta_trace.trace_unet_step(height, width, batch=n * g, dtype=dtype, attention=attention,
                                        sdpa_backend=backend)
    values = dict(_values(height, width, n, g), b=model.config.bytes_per_element)
    inputs = next(t.expr for t in model.terms if t.name == "unet_step_inputs")
    ours = exact(model.transients[Stage.UNET_STEP], **values) - exact(inputs, **values)
    assert ours == pytest.approx(traced.peak_bytes, rel=0.005), traced.summary()


VAE_CASES = [(512, 512, 1), (768, 1024, 1), (640, 384, 2)]


@pytest.mark.parametrize("stage, tracer", [(Stage.VAE_DECODE, "trace_vae_decode"),
                                           (Stage.VAE_ENCODE, "trace_vae_encode")])
@pytest.mark.parametrize("height, width, n", VAE_CASES, ids=[f"{h}x{w}-N{n}" for h, w, n in VAE_CASES])
def test_vae_trace_is_a_lower_bound(stage, tracer, height, width, n):
    batch = n if stage == Stage.VAE_DECODE else 1  # img2img encodes the one init image
    traced = getattr(meta_trace, tracer)(height, width, batch=batch).peak_bytes
    model = sd15_model(make_config())
    values = _values(height, width, n, 2)
    ours = exact(model.transients[stage], **values)
    workspace = sum(exact(t.expr, **values) for t in model.terms_of(stage) if t.category == Category.WORKSPACE)
    assert ours - workspace <= traced <= ours
