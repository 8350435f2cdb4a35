"""The video pipeline model (symbolic/pipelines/video_models.py): parameter counts, term sums, numeric paths,
monotonicity, sequence parallelism, input validation, speed. SymPy only (the torch cross-checks are in
test_video_param_counts_torch.py)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.core.evaluate import printers
from symbolic.components.clip_text import CLIPText
from symbolic.components.llama_text import LlamaText
from symbolic.components.t5_encoder import T5Encoder
from symbolic.components.layers.tensors import numel
from symbolic.components.video_vae import CogVideoXVAE, HunyuanVideoVAE, WanVAE
from symbolic.components.video_transformer import CogVideoXTransformer, HunyuanVideoTransformer, WanTransformer
from symbolic.pipelines.api import estimate_video_pipeline, pipeline_model as video_model
from hub_configs import video_config
from symbolic.core.symbols import B, G, H, P, T, W, b
from symbolic.core.terms import Stage

VIDEO_MODELS = ("cogvideox-2b", "cogvideox-5b", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "hunyuanvideo")
SYMBOLS = {"T": T, "H": H, "W": W, "B": B, "G": G, "b": b, "P": P}
DEFAULTS = {"cogvideox-2b": (49, 480, 720), "cogvideox-5b": (49, 480, 720), "wan2.1-t2v-1.3b": (81, 480, 832),
            "wan2.1-t2v-14b": (81, 720, 1280), "hunyuanvideo": (129, 720, 1280)}
MULTIPLE = {"cogvideox-2b": 16, "cogvideox-5b": 16, "wan2.1-t2v-1.3b": 16, "wan2.1-t2v-14b": 16, "hunyuanvideo": 16}


# --- parameter counts (derived from the configs; the three required numbers first) -------------------------------
def test_cogvideox_2b_transformer_count():
    assert numel(CogVideoXTransformer(video_config("cogvideox_2b_transformer")).tensors) == 1_727_913_792


def test_wan_1_3b_transformer_count():
    assert numel(WanTransformer(video_config("wan2.1_t2v_1.3b_transformer")).tensors) == 1_419_258_944


def test_cogvideox_vae_count():
    assert numel(CogVideoXVAE(video_config("cogvideox_2b_vae")).tensors) == 215_583_907


@pytest.mark.parametrize("cls, name, count", [
    (CogVideoXTransformer, "cogvideox_5b_transformer", 5_570_283_072),
    (WanTransformer, "wan2.1_t2v_14b_transformer", 14_288_753_728),
    (HunyuanVideoTransformer, "hunyuanvideo_transformer", 12_821_012_544),
    (CogVideoXVAE, "cogvideox_5b_vae", 215_583_907),
    (WanVAE, "wan2.1_vae", 126_892_531),
    (HunyuanVideoVAE, "hunyuanvideo_vae", 246_478_803),
    (T5Encoder, "t5_v1_1_xxl_encoder", 4_762_310_656),
    (T5Encoder, "umt5_xxl_encoder", 5_680_910_336),
    (LlamaText, "hunyuanvideo_llama_text_encoder", 7_505_186_816 + 128),
    (CLIPText, "hunyuanvideo_clip_text_encoder", 123_060_480 + 77),
])
def test_other_counts(cls, name, count):
    """Values read off the real classes on the meta device (test_video_param_counts_torch re-derives them)."""
    assert numel(cls(video_config(name)).tensors) == count


def test_dtype_rules_in_weights():
    """CogVideoX-2B fp16: T5's 24 ``wo`` (24 x 10240 x 4096) stay fp32, the float64 sin-cos table is 8 bytes per
    element; Wan keeps its norms/modulation/time embedder fp32 and loads the VAE in fp32."""
    r = estimate_video_pipeline("cogvideox-2b", 49, 480, 720)
    wo = 24 * 10240 * 4096
    assert r["component_weights_bytes"]["text_encoder"] == (4_762_310_656 - wo) * 2 + wo * 4
    table = 17776 * 1920
    assert r["component_weights_bytes"]["transformer"] == (1_727_913_792 - table) * 2 + table * 8
    bf16 = estimate_video_pipeline("cogvideox-5b", 49, 480, 720)
    assert bf16["component_weights_bytes"]["text_encoder"] == 4_762_310_656 * 2
    wan = estimate_video_pipeline("wan2.1-t2v-1.3b", 81, 480, 832)
    assert wan["component_weights_bytes"]["vae"] == 126_892_531 * 4
    assert 1_419_258_944 * 2 < wan["component_weights_bytes"]["transformer"] < 1_419_258_944 * 2.01


# --- shapes ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, frames, h, w, latent, tokens", [
    ("cogvideox-2b", 49, 480, 720, (1, 16, 13, 60, 90), 13 * 30 * 45 + 226),
    ("wan2.1-t2v-1.3b", 81, 480, 832, (1, 16, 21, 60, 104), 21 * 30 * 52),
    ("wan2.1-t2v-1.3b", 80, 480, 832, (1, 16, 21, 60, 104), 21 * 30 * 52),   # rounded to 81 frames
    ("hunyuanvideo", 129, 720, 1280, (1, 16, 33, 90, 160), 33 * 45 * 80 + 256),
])
def test_latent_and_tokens(model, frames, h, w, latent, tokens):
    r = estimate_video_pipeline(model, frames, h, w)
    assert r["latent_shape"] == latent
    assert r["tokens"] == tokens


# --- terms, moments and stages --------------------------------------------------------------------------------------
CONFIGS = [("cogvideox-2b", {}), ("cogvideox-5b", {"attention_backend": "math"}),
           ("wan2.1-t2v-1.3b", {"memory_options": ("cpu_offload", "vae_tiling")}),
           ("wan2.1-t2v-14b", {"parallel": "ulysses"}), ("hunyuanvideo", {"parallel": "fsdp"}),
           ("hunyuanvideo", {"memory_options": ("vae_tiling", "text_encoder_cpu"), "parallel": "ring"})]


@pytest.mark.parametrize("model, config", CONFIGS)
def test_sum_of_terms_is_stage_expression(model, config):
    """Each stage peak is resident + Max over its moments of the terms live then, term by term; every term has a
    derivation note and a source."""
    m = video_model(model, **config)
    assert all(t.note and t.source for t in m.terms)
    resident = sp.Add(*(t.expr for t in m.terms if t.stage == Stage.RESIDENT))
    assert sp.expand(resident - m.resident) == 0
    for stage in m.stages:
        moments = m.moments(stage)
        for name, expr in moments.items():
            live = [t.expr for t in m.terms if t.stage == stage and name in t.moments]
            assert sp.expand(sp.Add(*live) - expr) == 0
        assert m.stage_peaks[stage] == m.resident + m.transients[stage]
        assert set(m.transients[stage].args if isinstance(m.transients[stage], sp.Max) else [m.transients[stage]]) \
            == set(moments.values())


@pytest.mark.parametrize("model, config", CONFIGS)
def test_api_equals_terms_evaluated(model, config):
    """The API's stage and peak bytes equal the registered terms evaluated one by one (``printers.exact``)."""
    m = video_model(model, **config)
    frames, h, w = DEFAULTS[model]
    devices = 2 if config.get("parallel") else 1
    r = estimate_video_pipeline(model, frames, h, w, devices=devices, **config)
    values = {"T": frames, "H": h, "W": w, "B": 1, "G": 2, "b": 2, "P": devices}

    def ev(expr):
        used = {s.name for s in expr.free_symbols}
        return printers.exact(expr, **{k: v for k, v in values.items() if k in used})

    resident = sum(ev(t.expr) for t in m.terms if t.stage == Stage.RESIDENT)
    for stage in m.stages:
        moments = {name: sum(ev(t.expr) for t in m.terms if t.stage == stage and name in t.moments)
                   for name in m.moments(stage)}
        assert r["stages"][stage] == resident + max(moments.values())
    assert r["peak_allocated_bytes"] == max(r["stages"].values())
    assert r["stages"][r["peak_stage"]] == r["peak_allocated_bytes"]
    for stage in m.stages:
        assert 0 <= r["stage_activation_bytes"][stage] <= r["stages"][stage]
    assert r["peak_allocated_bytes"] <= r["peak_reserved_bytes"] < r["nvidia_smi_bytes"]


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["cogvideox-2b", "wan2.1-t2v-1.3b", "hunyuanvideo"]), st.integers(1, 200),
       st.integers(1, 80), st.integers(1, 80), st.integers(1, 4), st.integers(1, 2), st.sampled_from([2, 4]),
       st.booleans(), st.sampled_from([1, 3, 4]))
def test_vector_matches_subs(model, frames, hl, wl, batch, guidance, bpe, tiling, devices):
    """``printers.vector`` (lambdify, NumPy) against SymPy substitution at random points: ``expr.subs`` for the
    transformer step, ``xreplace`` (all symbols at once: ``subs`` re-evaluates the nested Max symbol by symbol and
    takes seconds) for the peak; and ``printers.exact`` against both."""
    m = video_model(model, memory_options=("vae_tiling",) if tiling else (), parallel="ring")
    point = {"T": frames, "H": 16 * hl, "W": 16 * wl, "B": batch, "G": guidance, "b": bpe, "P": devices}
    mapping = {SYMBOLS[k]: v for k, v in point.items()}
    for expr, substitute in ((m.stage_peaks["transformer_step"], expr_subs), (m.peak_allocated, expr_xreplace)):
        used = {s.name for s in expr.free_symbols}
        vec = printers.vector(expr, **{k: np.array([v]) for k, v in point.items() if k in used})
        sub = substitute(expr, mapping)
        assert float(vec[0]) == pytest.approx(float(sub), rel=1e-12)
        assert printers.exact(expr, **{k: v for k, v in point.items() if k in used}) == sub


def expr_subs(expr, mapping):
    return expr.subs(mapping)


def expr_xreplace(expr, mapping):
    return expr.xreplace(mapping)


# --- monotonicity ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", VIDEO_MODELS)
def test_monotonic_in_size_and_batch(model):
    frames, h, w = DEFAULTS[model]
    m = MULTIPLE[model]
    base = estimate_video_pipeline(model, frames, h, w)["peak_allocated_bytes"]
    for kwargs in ({"height": h + 4 * m}, {"width": w + 4 * m}, {"batch": 2}):
        args = {"frames": frames, "height": h, "width": w, **kwargs}
        assert estimate_video_pipeline(model, **args)["peak_allocated_bytes"] > base
    heights = [estimate_video_pipeline(model, frames, hh, w)["peak_allocated_bytes"] for hh in range(m, 2 * h, 6 * m)]
    assert heights == sorted(heights)


@pytest.mark.parametrize("model", VIDEO_MODELS)
def test_monotonic_in_frames(model):
    """More frames never lower the peak when the latent-frame parity is kept (steps of 8 frames = 2 latent
    frames). CogVideoX's frame batching makes an odd latent count (first batch of 3) peak above the next even
    one (first batch of 2): that is diffusers' behaviour, checked in ``test_cogvideox_parity_effect``."""
    frames, h, w = DEFAULTS[model]
    peaks = [estimate_video_pipeline(model, f, h, w)["peak_allocated_bytes"] for f in range(1, 3 * frames, 8)]
    assert peaks == sorted(peaks)
    steps = [estimate_video_pipeline(model, f, h, w)["stages"]["transformer_step"] for f in range(1, 3 * frames, 4)]
    assert steps == sorted(steps)


def test_cogvideox_parity_effect():
    odd = estimate_video_pipeline("cogvideox-2b", 49, 480, 720)["stage_activation_bytes"]["vae_decode"]
    even = estimate_video_pipeline("cogvideox-2b", 53, 480, 720)["stage_activation_bytes"]["vae_decode"]
    assert even < odd


# --- options --------------------------------------------------------------------------------------------------------
def test_offload_and_tiling_lower_the_peak():
    full = estimate_video_pipeline("cogvideox-2b", 49, 480, 720)
    offload = estimate_video_pipeline("cogvideox-2b", 49, 480, 720, memory_options=("cpu_offload",))
    tiled = estimate_video_pipeline("cogvideox-2b", 49, 480, 720, memory_options=("cpu_offload", "vae_tiling"))
    assert full["peak_allocated_bytes"] > offload["peak_allocated_bytes"] > tiled["peak_allocated_bytes"]
    assert tiled["peak_stage"] == "text_encoder"          # the fp16 T5 with fp32 wo (10.7 GiB) is then the largest
    assert full["weights_bytes"] == offload["weights_bytes"]


def test_guidance_doubles_cogvideox_batch_only():
    cog1 = estimate_video_pipeline("cogvideox-2b", 49, 480, 720, guidance_scale=1.0)
    cog6 = estimate_video_pipeline("cogvideox-2b", 49, 480, 720, guidance_scale=6.0)
    step1 = cog1["stage_activation_bytes"]["transformer_step"]
    assert cog6["stage_activation_bytes"]["transformer_step"] > 1.9 * step1
    hy1 = estimate_video_pipeline("hunyuanvideo", 129, 544, 960, guidance_scale=1.0)
    hy6 = estimate_video_pipeline("hunyuanvideo", 129, 544, 960, guidance_scale=6.0)
    assert hy1["stages"] == hy6["stages"]


def test_math_backend_stores_scores():
    flash = estimate_video_pipeline("wan2.1-t2v-1.3b", 81, 480, 832)
    math = estimate_video_pipeline("wan2.1-t2v-1.3b", 81, 480, 832, attention_backend="math")
    n = 21 * 30 * 52
    scores = 12 * n * n * 9                                    # heads x N x N x 9 bytes (kernels.math_sdpa)
    assert math["stage_activation_bytes"]["transformer_step"] > scores
    assert flash["stage_activation_bytes"]["transformer_step"] < scores / 50


@pytest.mark.parametrize("model, parallel, devices", [
    ("cogvideox-2b", "ulysses", (1, 2, 3, 5, 6)), ("cogvideox-2b", "ring", (1, 2, 4, 8)),
    ("wan2.1-t2v-14b", "ulysses", (1, 2, 4, 8)), ("wan2.1-t2v-14b", "ring", (1, 2, 4, 8)),
    ("hunyuanvideo", "ulysses", (1, 2, 4, 8)), ("hunyuanvideo", "ring", (1, 2, 4, 8))])
@pytest.mark.parametrize("backend", ["default", "math"])
def test_sequence_parallel_decreases_in_devices(model, parallel, devices, backend):
    frames, h, w = DEFAULTS[model]
    runs = [estimate_video_pipeline(model, frames, h, w, devices=p, parallel=parallel, attention_backend=backend)
            for p in devices]
    steps = [r["stage_activation_bytes"]["transformer_step"] for r in runs]
    assert all(a > b_ for a, b_ in zip(steps, steps[1:]))
    peaks = [r["peak_allocated_bytes"] for r in runs]
    assert all(a >= b_ for a, b_ in zip(peaks, peaks[1:]))


def test_fsdp_shards_weights():
    one = estimate_video_pipeline("wan2.1-t2v-14b", 81, 720, 1280, devices=1, parallel="fsdp")
    eight = estimate_video_pipeline("wan2.1-t2v-14b", 81, 720, 1280, devices=8, parallel="fsdp")
    t1, t8 = one["component_weights_bytes"]["transformer"], eight["component_weights_bytes"]["transformer"]
    assert t1 / 8 < t8 < t1 / 6
    assert eight["component_weights_bytes"]["vae"] == one["component_weights_bytes"]["vae"]
    assert eight["stages"]["transformer_step"] < one["stages"]["transformer_step"]


# --- validation -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, argument", [
    ({"model": "sora"}, "model"),
    ({"frames": 0}, "frames"), ({"frames": 1.5}, "frames"), ({"frames": True}, "frames"),
    ({"height": 0}, "height"), ({"height": 484}, "height"), ({"width": -8}, "width"), ({"width": 724}, "width"),
    ({"batch": 0}, "batch"), ({"guidance_scale": -1}, "guidance_scale"), ({"guidance_scale": "x"}, "guidance_scale"),
    ({"dtype": "fp8"}, "dtype"), ({"dtype": "int4"}, "dtype"), ({"memory_options": ("bogus",)}, "memory_options"),
    ({"memory_options": 3}, "memory_options"), ({"devices": 0}, "devices"), ({"parallel": "tensor"}, "parallel"),
    ({"devices": 2}, "parallel"), ({"devices": 4, "parallel": "ulysses"}, "devices"),
    ({"attention_backend": "xformers"}, "attention_backend"),
])
def test_bad_input_names_argument(kwargs, argument):
    args = {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, **kwargs}
    with pytest.raises(ValueError, match=argument):
        estimate_video_pipeline(**args)


def test_wan_needs_multiples_of_16():
    with pytest.raises(ValueError, match="height"):
        estimate_video_pipeline("wan2.1-t2v-1.3b", 81, 488, 832)


# --- speed (the published figures: tests/measurements/test_published.py) ---------------------------------------------
def test_cold_and_warm_speed():
    start = time.perf_counter()
    estimate_video_pipeline("wan2.1-t2v-14b", 81, 720, 1280, devices=4, parallel="ring", attention_backend="math",
                            memory_options=("vae_tiling",))
    cold = time.perf_counter() - start
    start = time.perf_counter()
    estimate_video_pipeline("wan2.1-t2v-14b", 97, 720, 1280, devices=4, parallel="ring", attention_backend="math",
                            memory_options=("vae_tiling",))
    warm = time.perf_counter() - start
    assert cold < 1.0 and warm < 0.05
