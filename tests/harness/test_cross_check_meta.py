"""The second witness at the pipeline level: SD 1.5's real diffusers modules (built from the bundled Hub-layout
configs) run on the ``meta`` device under a live-bytes dispatch mode (``symbolic.harness.meta_trace``), at sizes,
batches and kernels nobody measured, against the transients of the generic pipeline model (``pipeline_model("sd15",
...)``, what ``estimate`` reads): the batch (images x guidance copies), the 77 text tokens and the dtype reach the
components as the pipeline wires them.

* UNet step: the trace sees every tensor the step allocates, so the stage's transient without the loop's inputs
  (``denoiser.step_inputs``, which exist before the step) must match it closely (0.5%).
* VAE decode / encode: a third of the real peak is cuDNN's workspace, which the trace cannot see, and the workspace
  moves the real peak to a conv (measured), away from the trace's own peak. So the trace brackets the transient
  without its input (``vae.latents`` / ``vae.encode_input``, allocated before the call):
  ours - workspace <= trace <= ours, the workspace being the VAE component's ``WORKSPACE`` terms at the pipeline's
  shape.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from symbolic.core.dtypes import BYTES_PER_ELEMENT  # noqa: E402
from symbolic.harness import meta_trace  # noqa: E402
from symbolic.harness.build_pipeline import resolve_dtype  # noqa: E402
from symbolic.core.evaluate.printers import exact  # noqa: E402
from symbolic.pipelines import model as build  # noqa: E402
from symbolic.pipelines.api import pipeline_model  # noqa: E402
from symbolic.core.terms import Category  # noqa: E402

UNET_CASES = [
    # (height, width, images per prompt, guidance copies, trace attention, sdpa backend, config); dtype fp16 unless
    # the config says otherwise (nobody measured bf16 or fp32 with math / classic / slicing)
    (512, 512, 1, 2, "sdpa", "default", {}),
    (768, 512, 2, 2, "sdpa", "default", {}),
    (384, 640, 1, 1, "sdpa", "efficient", {"attention_backend": "efficient"}),
    (640, 384, 1, 2, "classic", "default", {"attention": "classic"}),
    (512, 768, 1, 2, "sdpa", "math", {"attention_backend": "math"}),
    (1024, 1024, 2, 2, "sliced", "default", {"memory_options": ("attention_slicing",)}),
    (896, 640, 3, 1, "sliced", "default", {"memory_options": ("attention_slicing",)}),
    (512, 512, 1, 2, "sdpa", "default", {"dtype": "bf16"}),
    (640, 384, 1, 2, "classic", "default", {"attention": "classic", "dtype": "bf16"}),
    (512, 512, 1, 2, "sdpa", "math", {"attention_backend": "math", "dtype": "fp32"}),
    (640, 512, 1, 2, "classic", "default", {"attention": "classic", "dtype": "fp32"}),
]


def _model(**config):
    return pipeline_model("sd15", task="img2img", **{"dtype": "fp16", **config})


def _point(model, height, width, n, g=2):
    return {"H": height, "W": width, "B": n, "G": g, "b": BYTES_PER_ELEMENT[model.config.dtype_of("unet")]}


def _term(model, stage, name):
    (term,) = [t for t in model.terms_of(stage) if t.name == name]
    return term.expr


@pytest.mark.parametrize("height, width, n, g, attention, backend, config", UNET_CASES,
                         ids=[f"{c[0]}x{c[1]}-N{c[2]}-G{c[3]}-{c[4]}-{c[5]}-{c[6].get('dtype', 'fp16')}"
                              for c in UNET_CASES])
def test_unet_step_matches_meta_trace(height, width, n, g, attention, backend, config):
    model = _model(**config)
    dtype = resolve_dtype(model.config.dtype_of("unet"))
    traced = meta_trace.trace_unet_step(height, width, batch=n * g, dtype=dtype, attention=attention,
                                        sdpa_backend=backend)
    point = _point(model, height, width, n, g)
    ours = exact(model.transients["unet_step"], **point) - exact(_term(model, "unet_step", "denoiser.step_inputs"),
                                                                 **point)
    assert ours == pytest.approx(traced.peak_bytes, rel=0.005), traced.summary()


VAE_CASES = [(512, 512, 1), (768, 1024, 1), (640, 384, 2)]
#: stage -> (tracer, the term of the input that exists before the call, the component's terms at the pipeline's shape)
VAE_STAGES = {
    "vae_decode": ("trace_vae_decode", "vae.latents",
                   lambda config: build.vae(config).decode_terms(build.decode_shape(config))),
    "vae_encode": ("trace_vae_encode", "vae.encode_input",
                   lambda config: build.vae(config).encode_terms(build.encode_shape(config))),
}


@pytest.mark.parametrize("stage", list(VAE_STAGES))
@pytest.mark.parametrize("height, width, n", VAE_CASES, ids=[f"{h}x{w}-N{n}" for h, w, n in VAE_CASES])
def test_vae_trace_is_bracketed(stage, height, width, n):
    tracer, input_term, component_terms = VAE_STAGES[stage]
    batch = n if stage == "vae_decode" else 1  # img2img encodes the one init image
    traced = getattr(meta_trace, tracer)(height, width, batch=batch).peak_bytes
    model = _model()
    point = _point(model, height, width, n)
    ours = exact(model.transients[stage], **point) - exact(_term(model, stage, input_term), **point)
    workspace = sum(exact(t.expr, **point) for t in component_terms(model.config)
                    if t.category == Category.WORKSPACE)
    assert workspace > 0
    assert ours - workspace <= traced <= ours
