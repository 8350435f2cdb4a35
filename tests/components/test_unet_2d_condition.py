"""``symbolic.components.unet_2d_condition`` against the real diffusers ``UNet2DConditionModel``, built on the ``meta``
device from the bundled SD 1.5, SD 2.1 and SDXL configs:

1. parameter counts, names, shapes and ``nn.Module._apply`` order equal the real class's (no buffers, nothing kept
   in float32: ``_keep_in_fp32_modules`` is None);
2. the live-bytes trace of one real ``unet(...)`` call (``symbolic.harness.meta_trace.trace_module``; flash = the fused
   SDPA op with its float32 log-sum-exp, math = aten's math SDPA; classic / sliced = diffusers' ``AttnProcessor`` /
   ``set_attention_slice("auto")``) equals the Max of ``moments`` within 1% at sizes nobody measured, odd latents
   included;
(SD 1.5's UNet step through the pipeline against the hand-built model the H100 rows validated, recorded before it was
deleted: ``tests/pipelines/test_model.py::test_every_stage_equals_the_hand_built_model``.)
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import pytest
import sympy as sp

from symbolic.components.shapes import StepShape
from symbolic.components import component_class, from_config
from symbolic.components.unet_2d_condition import UNet2DConditionModel

HUB = {
    "sd15": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sd21": "stabilityai/stable-diffusion-2-1",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
}
#: Exact parameter counts of the real UNets (no buffers).
COUNTS = {"sd15": 859_520_964, "sd21": 865_910_724, "sdxl": 2_567_463_684}
#: SDXL's pooled text embedding (text_encoder_2's projection) and its six add_time_ids: 1280 + 6 x 256 = 2816.
SDXL_POOLED_DIM = 1280
SDXL_TIME_IDS = 6
TEXT_TOKENS = 77
FP16_BYTES = 2


def hub_config(model: str, component: str = "unet", **override) -> dict:
    text = resources.files("symbolic.configs").joinpath("hub", HUB[model], component, "config.json").read_text()
    return {**json.loads(text), **override}


# --- 0. registry / config handling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("model", HUB)
def test_registered_and_described(model):
    unet = from_config(hub_config(model))
    assert component_class("UNet2DConditionModel") is UNet2DConditionModel
    assert isinstance(unet, UNet2DConditionModel) and unet.kind == "denoiser"
    assert unet.patch == 1 and unet.joint_text is False
    shape = StepShape(sp.Integer(2), sp.Integer(4096), sp.Integer(TEXT_TOKENS), sp.Integer(FP16_BYTES))
    assert set(unet.moment_notes) == set(unet.moments(shape))


def test_per_level_heads():
    assert from_config(hub_config("sd15")).head_dim_per_level == [40, 80, 160, 160]
    sd21, sdxl = from_config(hub_config("sd21")), from_config(hub_config("sdxl"))
    assert sd21.heads_per_level == [5, 10, 20, 20] and set(sd21.head_dim_per_level) == {64}
    assert (sdxl.heads, sdxl.head_dim, sdxl.attention_levels) == (10, 64, [1, 2])


@pytest.mark.parametrize("override", [{"class_embed_type": "timestep"}, {"addition_embed_type": "text"},
                                      {"num_attention_heads": 8}, {"mid_block_type": "UNetMidBlock2DSimpleCrossAttn"},
                                      {"down_block_types": ["AttnDownBlock2D"] * 4}])
def test_unmodelled_options_refused(override):
    with pytest.raises(ValueError):
        from_config(hub_config("sd15", **override))


# --- 1. tensors -----------------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from symbolic.harness.meta_trace import _set_attention, trace_module  # noqa: E402


@lru_cache(maxsize=None)
def real_unet(model: str, overrides: str = "{}"):
    """The real UNet on ``meta`` in fp16 (what ``from_pretrained(torch_dtype=torch.float16)`` gives: no module is
    kept in float32), cached per config."""
    with torch.device("meta"):
        unet = diffusers.UNet2DConditionModel.from_config(hub_config(model, **json.loads(overrides)))
    return unet.to(torch.float16).eval()


@pytest.mark.parametrize("model", HUB)
def test_tensors_equal_the_real_class(model):
    real = real_unet(model)
    ours = from_config(hub_config(model))
    assert [(t.name, t.shape) for t in ours.tensors] == [(n, tuple(p.shape)) for n, p in real.named_parameters()]
    assert list(real.buffers()) == []
    assert sum(t.numel for t in ours.tensors) == sum(p.numel() for p in real.parameters()) == COUNTS[model]
    assert tuple(real._keep_in_fp32_modules or ()) == ours.keep_fp32_modules == ()
    assert ours.fixed_dtype_bytes == {}


# --- 2. moments vs the live-bytes trace -----------------------------------------------------------------------------
#: (model, latent h, latent w, UNet batch, backend, config override for the trace). Moments are per block, so all
#: SDXL traces but one shrink the deeper transformers (moments do not depend on the depth).
SHALLOW_SDXL = json.dumps({"transformer_layers_per_block": [1, 2, 2]})
TRACE_CASES = [
    ("sd15", 40, 56, 2, "flash", "{}"),
    ("sd21", 64, 48, 2, "flash", "{}"),
    ("sd21", 50, 70, 1, "math", "{}"),
    ("sd21", 48, 40, 2, "classic", "{}"),  # upcast_attention: float32 scores and q, k copies
    ("sd21", 64, 64, 2, "sliced", "{}"),
    ("sdxl", 48, 64, 2, "flash", "{}"),  # the real depths: 10 transformer blocks per attention at level 2
    ("sdxl", 32, 32, 4, "flash", SHALLOW_SDXL),
    ("sdxl", 33, 45, 1, "math", SHALLOW_SDXL),
    ("sdxl", 40, 56, 3, "classic", SHALLOW_SDXL),
]


def _trace(model, h, w, batch, backend, overrides):
    unet = real_unet(model, overrides)
    dtype, device = torch.float16, "meta"
    sample = torch.empty(batch, unet.config.in_channels, h, w, dtype=dtype, device=device)
    timestep = torch.empty((), dtype=torch.int64, device=device)
    context = torch.empty(batch, TEXT_TOKENS, unet.config.cross_attention_dim, dtype=dtype, device=device)
    kwargs = {}
    if unet.config.addition_embed_type == "text_time":
        kwargs["added_cond_kwargs"] = {"text_embeds": torch.empty(batch, SDXL_POOLED_DIM, dtype=dtype, device=device),
                                       "time_ids": torch.empty(batch, SDXL_TIME_IDS, dtype=dtype, device=device)}
    fused = backend in ("flash", "math")
    _set_attention(unet, "sdpa" if fused else backend)
    try:
        return trace_module(lambda: unet(sample, timestep, encoder_hidden_states=context, return_dict=False,
                                         **kwargs)[0],
                            stage="unet_step", sdpa_backend=backend if fused else "default", root=unet)
    finally:
        _set_attention(unet, "sdpa")


@pytest.mark.parametrize("model, h, w, batch, backend, overrides", TRACE_CASES,
                         ids=[f"{c[0]}-{c[1]}x{c[2]}-B{c[3]}-{c[4]}" for c in TRACE_CASES])
def test_moments_match_the_trace(model, h, w, batch, backend, overrides):
    traced = _trace(model, h, w, batch, backend, overrides)
    unet = from_config(hub_config(model, **json.loads(overrides)))
    shape = StepShape(sp.Integer(batch), sp.Integer(h * w), sp.Integer(TEXT_TOKENS), sp.Integer(FP16_BYTES), backend)
    moments = {k: int(v) for k, v in unet.moments(shape, grid=(sp.Integer(h), sp.Integer(w))).items()}
    ours = max(moments.values()) + int(unet.resident_inputs(shape))
    assert ours == pytest.approx(traced.peak_bytes, rel=0.01), (max(moments, key=moments.get), traced.summary())


def test_grid_free_tokens_are_exact_on_even_grids():
    unet = from_config(hub_config("sdxl"))
    shape = StepShape(sp.Integer(2), sp.Integer(64 * 96), sp.Integer(TEXT_TOKENS), sp.Integer(FP16_BYTES))
    assert unet.moments(shape) == unet.moments(shape, grid=(sp.Integer(64), sp.Integer(96)))
