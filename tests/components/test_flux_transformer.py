"""``symbolic.components.flux_transformer.FluxTransformer2DModel`` against diffusers' ``FluxTransformer2DModel``.

1. Tensors: names, shapes and ``.to()`` order equal to the real class built on ``meta`` from the bundled FLUX.1-dev
   and FLUX.1-schnell configs (and small variants); exact parameter counts.
2. dtypes: no fp32-kept modules (``_keep_in_fp32_modules`` is None), no buffers (so nothing with a fixed dtype).
3. Live-bytes traces of one real forward on ``meta`` (``symbolic.harness.meta_trace.trace_module``, flash-like or
   math SDPA) with reduced layer counts: the traced peak equals ``Max`` of the moments of the block kinds present plus
   ``resident_inputs`` within 1%. The forward's inputs (packed latents, T5 embeddings, pooled CLIP, timestep, img_ids,
   txt_ids, guidance) are made before the trace and not counted, as the pipeline holds them.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

from symbolic.components.layers.tensors import numel
from symbolic.components.shapes import StepShape
from symbolic.components import from_config
from symbolic.components.flux_transformer import FluxTransformer2DModel

HUB = Path(__file__).resolve().parents[2] / "symbolic" / "configs" / "hub" / "black-forest-labs"
CONFIGS = {repo: json.loads((HUB / repo / "transformer" / "config.json").read_text())
           for repo in ("FLUX.1-dev", "FLUX.1-schnell")}
#: Parameter elements of diffusers' FluxTransformer2DModel on meta (no buffers). dev - schnell = the guidance
#: embedder (256 x 3072 + 3072 + 3072 x 3072 + 3072 = 10,229,760).
COUNTS = {"FLUX.1-dev": 11_901_408_320, "FLUX.1-schnell": 11_891_178_560}
VARIANTS = {
    "small_guidance": {**CONFIGS["FLUX.1-dev"], "num_layers": 2, "num_single_layers": 3, "num_attention_heads": 4,
                       "attention_head_dim": 16, "joint_attention_dim": 32, "pooled_projection_dim": 24},
    "out_channels_patch2": {**CONFIGS["FLUX.1-schnell"], "num_layers": 1, "num_single_layers": 1,
                            "in_channels": 16, "out_channels": 8, "patch_size": 2},
}
#: The text tokens FluxPipeline's T5 sees: ``max_sequence_length`` (default 512; 256 in the schnell model card).
T5_TOKENS = {"FLUX.1-dev": 512, "FLUX.1-schnell": 256}
#: FluxPipeline: VAE factor 8 x the 2 x 2 packing (``_pack_latents``): one token per 16 x 16 pixels.
PIXELS_PER_TOKEN = 16


def _real(config: dict, **override):
    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    with torch.device("meta"):
        return diffusers.FluxTransformer2DModel.from_config({**config, **override})


# --- 1. tensors -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS) + list(VARIANTS))
def test_tensors_equal_the_real_class(name):
    build = pytest.importorskip("symbolic.harness.build_pipeline")
    config = {**CONFIGS, **VARIANTS}[name]
    real = build.tensor_sizes(_real(config))
    ours = from_config(config).tensors
    assert [(t.name, t.shape) for t in real] == [(t.name, t.shape) for t in ours]
    assert numel(ours) == sum(t.numel for t in real)
    if name in COUNTS:
        assert numel(ours) == COUNTS[name]


# --- 2. dtypes and properties ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS))
def test_dtypes_and_properties(name):
    real = _real(CONFIGS[name], num_layers=1, num_single_layers=1)
    ours = from_config(CONFIGS[name])
    assert isinstance(ours, FluxTransformer2DModel) and ours.kind == "denoiser" and ours.joint_text
    assert ours.keep_fp32_modules == tuple(type(real)._keep_in_fp32_modules or ())
    assert ours.fixed_dtype_bytes == {} and not list(real.buffers()) and all(t.floating for t in ours.tensors)
    assert (ours.heads, ours.head_dim, ours.patch) == (real.config.num_attention_heads,
                                                       real.config.attention_head_dim, 2)
    assert ours.dim == real.inner_dim
    assert set(ours.moment_notes) == set(ours.moments(StepShape(1, 4096, 512, 2)))
    assert ours.parallel_schemes == ()  # one device only: the pipeline model refuses a scheme (tests/cli)


# --- 3. live-bytes traces -------------------------------------------------------------------------------------------
DUAL = ("dual_rotary", "dual_attention", "dual_feedforward", "dual_context_feedforward")
SINGLE = ("single_rotary", "single_attention", "single_proj_out")


@pytest.mark.parametrize("name, layers, single, height, width, batch, dtype, backend", [
    ("FLUX.1-dev", 1, 1, 1024, 768, 1, "bf16", "flash"),
    ("FLUX.1-dev", 1, 0, 256, 256, 1, "bf16", "flash"),      # N_t > N_i: the text feed-forward can lead
    ("FLUX.1-dev", 0, 1, 512, 512, 1, "fp32", "flash"),      # fp32: single_proj_out leads
    ("FLUX.1-schnell", 1, 1, 768, 512, 2, "fp16", "flash"),
    ("FLUX.1-dev", 1, 1, 512, 384, 2, "bf16", "math"),
    ("FLUX.1-schnell", 1, 0, 256, 512, 1, "fp32", "math"),
])
def test_step_trace(name, layers, single, height, width, batch, dtype, backend):
    torch = pytest.importorskip("torch")
    meta_trace = pytest.importorskip("symbolic.harness.meta_trace")
    dt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    config = CONFIGS[name]
    model = _real(config, num_layers=layers, num_single_layers=single).to(dt)
    ours = from_config(config)
    n_img = (height // PIXELS_PER_TOKEN) * (width // PIXELS_PER_TOKEN)
    n_txt = T5_TOKENS[name]
    with torch.device("meta"):   # FluxPipeline.__call__'s tensors (prepare_latents, encode_prompt, guidance)
        kwargs = dict(hidden_states=torch.empty(batch, n_img, config["in_channels"], dtype=dt),
                      encoder_hidden_states=torch.empty(batch, n_txt, config["joint_attention_dim"], dtype=dt),
                      pooled_projections=torch.empty(batch, config["pooled_projection_dim"], dtype=dt),
                      timestep=torch.empty(batch, dtype=dt),
                      img_ids=torch.empty(n_img, 3, dtype=dt), txt_ids=torch.empty(n_txt, 3, dtype=dt),
                      guidance=torch.empty(1, dtype=torch.float32).expand(batch) if ours.guidance_embeds else None)
    trace = meta_trace.trace_module(lambda: model(**kwargs, return_dict=False)[0], sdpa_backend=backend, root=model,
                                    record_live=False)
    shape = StepShape(sp.Integer(batch), sp.Integer(n_img), sp.Integer(n_txt), sp.Integer(dt.itemsize), backend)
    moments = ours.moments(shape)
    kinds = (DUAL if layers else ()) + (SINGLE if single else ())
    predicted = int(max(moments[k] for k in kinds) + ours.resident_inputs(shape))
    assert predicted == pytest.approx(trace.peak_bytes, rel=0.01)
