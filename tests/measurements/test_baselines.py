"""The baselines (``symbolic.measurements.baselines``): the seed's ``f()`` against the seed's own code, ComfyUI's estimators against
literal transcriptions of its lambdas and methods, unsupported ids, argument errors, and the median errors the
package's docstring states, recomputed from the measured rows."""
from __future__ import annotations

import csv
import inspect
import math
import statistics
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbolic.measurements.baselines as baselines
from symbolic.measurements.baselines import comfyui, seed
from symbolic.pipelines.catalog import CATALOG

SETTINGS = settings(max_examples=40, deadline=None)
ROOT = Path(__file__).resolve().parents[2]
SEED_FILE = ROOT.parent / "shared" / "seeds" / "004_62e69552237fbd8c.txt"
MEASURED = ROOT / "data" / "measurements" / "sd15_h100.csv"


# --- the seed's f(), copied verbatim from ../shared/seeds/004_62e69552237fbd8c.txt (cell In [8]); only its name is
# --- changed, from f to seed_f, so the module's own f is not the oracle of itself --------------------------------
def seed_f(h: int, w: int, prompt_length: int, **kwargs):
    """
    Estimate peak VRAM usage for Stable Diffusion v1.x inference (FP16).
    This follows a slightly simplified analytic approach based on
    UNet/VAE/CLIP sizes and attention scaling.
    """

    # ---------------------- basic configurable knobs ----------------------
    # Most users won't change these, but exposing them makes the function reusable.
    B = kwargs.get("bytes_per_scalar", 2)             # FP16 → 2 bytes
    f = kwargs.get("vae_downsample", 8)               # SD uses 8× downsample for latents
    P_unet = kwargs.get("unet_params", 860e6)         # typical SD UNet param count
    P_clip = kwargs.get("clip_params", 123e6)         # CLIP params
    P_vae = kwargs.get("vae_params", 35e6)            # VAE params (approx)
    C0 = kwargs.get("base_channels", 320)             # UNet base channel count
    level_muls = kwargs.get("channel_muls", [1, 2, 4, 8])  # UNet multipliers per stage
    include_attn_n2 = kwargs.get("include_attn_n2", True)  # whether to include n^2 attention
    k_overhead = kwargs.get("overhead_factor", 0.12)        # overhead for CUDA buffers, etc.
    D_text = kwargs.get("text_dim", 768)                     # CLIP embedding dim
    batch = kwargs.get("batch", 1)

    # ---------------------- latent resolution ----------------------
    # images get compressed to (H/8 x W/8) by the VAE encoder.
    h_l = max(1, h // f)
    w_l = max(1, w // f)
    S = h_l * w_l       # number of spatial tokens in latent
    L = prompt_length   # number of CLIP tokens processed

    # ---------------------- model weights (always resident) ----------------------
    # straightforward: total FP16 parameter memory
    mem_weights = B * (P_unet + P_clip + P_vae)

    # ---------------------- UNet stored activations ----------------------
    # each downsampling stage reduces spatial dims by 2 → S / 4^i
    S_lvls = [max(1, S // (4**i)) for i in range(len(level_muls))]
    # channel count increases with depth (e.g., 320, 640, 1280, 2560)
    C_lvls = [C0 * m for m in level_muls]

    # sum of feature map sizes that stay alive due to skip connections
    act_scalars = 0
    for c, s_ in zip(C_lvls, S_lvls):
        act_scalars += batch * c * s_
    mem_acts = B * act_scalars

    # ---------------------- attention temporary buffers ----------------------
    # for each level, estimate the temporary memory needed in attention ops:
    # Q,K,V,output projections → around 4 * d * n
    # cross-attn (n * L)
    # optional self-attn (n^2) – large but depends on implementation
    att_sizes = []
    for c, s_ in zip(C_lvls, S_lvls):
        n = batch * s_
        d = c
        qkv_out = 4 * d * n
        cross = n * L
        self_mat = n * n if include_attn_n2 else 0
        att_sizes.append(B * (qkv_out + cross + self_mat))

    mem_attn_peak = max(att_sizes) if att_sizes else 0

    # ---------------------- CLIP activations ----------------------
    # small relative to UNet, but included for completeness
    mem_clip = B * (L * D_text + L * L)

    # ---------------------- VAE activations ----------------------
    # rough upper bound: a few full-res conv maps during decoding
    vae_feat_ch = kwargs.get("vae_act_channels", 64)
    mem_vae = B * batch * vae_feat_ch * h * w

    # ---------------------- sum before overhead ----------------------
    mem_pre = mem_weights + mem_acts + mem_attn_peak + mem_clip + mem_vae

    # ---------------------- framework overhead ----------------------
    mem_total = mem_pre * (1 + k_overhead)

    # return bytes + GB for readability along with breakdown
    return {
        "bytes": mem_total,
        "GB": mem_total / (1024**3),
        "breakdown": {
            "weights_bytes": mem_weights,
            "activations_bytes": mem_acts,
            "attention_peak_bytes": mem_attn_peak,
            "clip_bytes": mem_clip,
            "vae_bytes": mem_vae
        }
    }


def _seed_text() -> str:
    text = SEED_FILE.read_text(encoding="utf-8")
    start = text.index("def f(h: int")
    return text[start:text.index("\n\n\nIn [4]", start)].rstrip()


@pytest.mark.skipif(not SEED_FILE.is_file(), reason="the seed file lives in ../shared, outside the repository")
@pytest.mark.parametrize("source", ["oracle", "module"])
def test_seed_copies_are_verbatim(source):
    """Both copies (this test's oracle and the package's ``seed.f``) are character for character the seed's."""
    function = seed_f if source == "oracle" else seed.f
    text = inspect.getsource(function).rstrip().replace("def seed_f(", "def f(", 1)
    assert text == _seed_text()


@pytest.mark.parametrize("h, w", [(4, 4), (256, 256), (512, 512), (500, 700), (768, 1024), (1024, 1024), (2048, 1536)])
@pytest.mark.parametrize("prompt_length", [1, 8, 50, 77, 154])
@pytest.mark.parametrize("batch", [1, 2, 4])
def test_seed_formula_is_the_seed(h, w, prompt_length, batch):
    assert seed.seed_formula(h, w, prompt_length, batch=batch) == seed_f(h, w, prompt_length, batch=batch)
    assert seed.seed_formula_bytes(h, w, prompt_length, batch=batch) == seed_f(h, w, prompt_length, batch=batch)["bytes"]


@SETTINGS
@given(h=st.integers(1, 4096), w=st.integers(1, 4096), prompt_length=st.integers(1, 300), batch=st.integers(1, 8),
       bytes_per_scalar=st.sampled_from([1, 2, 4]), include_attn_n2=st.booleans())
def test_seed_formula_is_the_seed_anywhere(h, w, prompt_length, batch, bytes_per_scalar, include_attn_n2):
    kwargs = dict(batch=batch, bytes_per_scalar=bytes_per_scalar, include_attn_n2=include_attn_n2)
    assert seed.seed_formula(h, w, prompt_length, **kwargs) == seed_f(h, w, prompt_length, **kwargs)


def test_seed_printed_examples():
    """The three results the seed notebook printed (cells In [4] to In [6])."""
    assert seed.seed_formula(512, 512, 77)["bytes"] == pytest.approx(2373583226.5600004, rel=1e-15)
    assert seed.seed_formula(256, 256, 50)["bytes"] == pytest.approx(2296582624.0, rel=1e-15)
    assert seed.seed_formula(4, 4, 50)["bytes"] == pytest.approx(2280447713.6000004, rel=1e-15)


# --- ComfyUI v0.3.64 (commit a125cd84), transcribed literally: the lambdas of comfy/sd.py VAE.__init__, the body of
# --- comfy/model_base.py BaseModel.memory_required, sampler_helpers.estimate_memory's 2x batch, the empty-latent
# --- nodes' shapes. model_management is a stub with ComfyUI's dtype_size and the flags of NVIDIA + PyTorch SDPA. ----

DTYPE_SIZE = {"float16": 2, "bfloat16": 2, "float32": 4}
model_management = types.SimpleNamespace(
    dtype_size=lambda dtype: DTYPE_SIZE[dtype],
    xformers_enabled=lambda: False,
    pytorch_attention_flash_attention=lambda: True,
)
comfy = types.SimpleNamespace(model_management=model_management)

LAMBDAS = {  # comfy/sd.py, VAE.__init__ (name of our function -> ComfyUI's lambda as written)
    "kl_encode": lambda shape, dtype: (1767 * shape[2] * shape[3]) * model_management.dtype_size(dtype),
    "kl_decode": lambda shape, dtype: (2178 * shape[2] * shape[3] * 64) * model_management.dtype_size(dtype),
    "wan21_encode": lambda shape, dtype: 6000 * shape[3] * shape[4] * model_management.dtype_size(dtype),
    "wan21_decode": lambda shape, dtype: 7000 * shape[3] * shape[4] * (8 * 8) * model_management.dtype_size(dtype),
    "hunyuan_video_decode": lambda shape, dtype: (1500 * shape[2] * shape[3] * shape[4] * (4 * 8 * 8)) * model_management.dtype_size(dtype),
    "hunyuan_video_encode": lambda shape, dtype: (900 * max(shape[2], 2) * shape[3] * shape[4]) * model_management.dtype_size(dtype),
    "ltxv_decode": lambda shape, dtype: (900 * shape[2] * shape[3] * shape[4] * (8 * 8 * 8)) * model_management.dtype_size(dtype),
    "ltxv_encode": lambda shape, dtype: (70 * max(shape[2], 7) * shape[3] * shape[4]) * model_management.dtype_size(dtype),
}


class BaseModelOracle:
    """comfy/model_base.py ``BaseModel.memory_required`` (body verbatim) on a model with no reference latents."""

    def __init__(self, memory_usage_factor, dtype):
        self.memory_usage_factor = memory_usage_factor
        self.memory_usage_factor_conds = ()
        self.memory_usage_shape_process = {}
        self.manual_cast_dtype = None
        self._dtype = dtype

    def get_dtype(self):
        return self._dtype

    def memory_required(self, input_shape, cond_shapes={}):
        input_shapes = [input_shape]
        for c in self.memory_usage_factor_conds:
            shape = cond_shapes.get(c, None)
            if shape is not None:
                if c in self.memory_usage_shape_process:
                    out = []
                    for s in shape:
                        out.append(self.memory_usage_shape_process[c](s))
                    shape = out

                if len(shape) > 0:
                    input_shapes += shape

        if comfy.model_management.xformers_enabled() or comfy.model_management.pytorch_attention_flash_attention():
            dtype = self.get_dtype()
            if self.manual_cast_dtype is not None:
                dtype = self.manual_cast_dtype
            #TODO: this needs to be tweaked
            area = sum(map(lambda input_shape: input_shape[0] * math.prod(input_shape[2:]), input_shapes))
            return (area * comfy.model_management.dtype_size(dtype) * 0.01 * self.memory_usage_factor) * (1024 * 1024)
        else:
            #TODO: this formula might be too aggressive since I tweaked the sub-quad and split algorithms to use less memory.
            area = sum(map(lambda input_shape: input_shape[0] * math.prod(input_shape[2:]), input_shapes))
            return (area * 0.15 * self.memory_usage_factor) * (1024 * 1024)


#: supported_models.py: class -> memory_usage_factor, or a function of the unet_config ComfyUI detects.
FACTORS = {"SD15": 1.0, "SD20": 1.0, "SDXL": 0.8, "SD3": 1.2, "Flux": 3.1, "FluxSchnell": 3.1, "QwenImage": 1.8,
           "HunyuanVideo": 1.8,
           "WAN21_T2V": lambda unet_config: unet_config.get("dim", 2000) / 2222,
           "LTXV": lambda unet_config: (unet_config.get("cross_attention_dim", 2048) / 2048) * 5.5}
#: What ComfyUI's model_detection.py reads from the weights, in the bundled diffusers configs' words.
DETECTED = {"WAN21_T2V": lambda c: {"dim": c["num_attention_heads"] * c["attention_head_dim"]},
            "LTXV": lambda c: {"cross_attention_dim": c["cross_attention_dim"]}}
#: Bundled id -> ComfyUI class, the empty-latent node's torch.zeros shape, and the VAE branch.
LATENTS = {
    "sd15": ("SD15", lambda batch_size, length, height, width: [batch_size, 4, height // 8, width // 8], "kl"),
    "sd21": ("SD20", lambda batch_size, length, height, width: [batch_size, 4, height // 8, width // 8], "kl"),
    "sdxl": ("SDXL", lambda batch_size, length, height, width: [batch_size, 4, height // 8, width // 8], "kl"),
    "sd3.5-medium": ("SD3", lambda batch_size, length, height, width: [batch_size, 16, height // 8, width // 8], "kl"),
    "sd3.5-large": ("SD3", lambda batch_size, length, height, width: [batch_size, 16, height // 8, width // 8], "kl"),
    "flux.1-dev": ("Flux", lambda batch_size, length, height, width: [batch_size, 16, height // 8, width // 8], "kl"),
    "flux.1-schnell": ("FluxSchnell", lambda batch_size, length, height, width: [batch_size, 16, height // 8, width // 8], "kl"),
    # EmptySD3LatentImage, then fix_empty_latent_channels' unsqueeze(2) for the 3-D Wan21 latent format
    "qwen-image": ("QwenImage", lambda batch_size, length, height, width: [batch_size, 16, 1, height // 8, width // 8], "wan21"),
    "wan2.1-t2v-1.3b": ("WAN21_T2V", lambda batch_size, length, height, width: [batch_size, 16, ((length - 1) // 4) + 1, height // 8, width // 8], "wan21"),
    "wan2.1-t2v-14b": ("WAN21_T2V", lambda batch_size, length, height, width: [batch_size, 16, ((length - 1) // 4) + 1, height // 8, width // 8], "wan21"),
    "hunyuanvideo": ("HunyuanVideo", lambda batch_size, length, height, width: [batch_size, 16, ((length - 1) // 4) + 1, height // 8, width // 8], "hunyuan_video"),
    "ltx-video": ("LTXV", lambda batch_size, length, height, width: [batch_size, 128, ((length - 1) // 8) + 1, height // 32, width // 32], "ltxv"),
}
TORCH_DTYPE = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


@SETTINGS
@given(name=st.sampled_from(sorted(LAMBDAS)), data=st.data(), dtype=st.sampled_from(sorted(DTYPE_SIZE)))
def test_vae_lambdas_are_comfyuis(name, data, dtype):
    dims = 4 if name.startswith("kl") else 5  # image latents / pixels are 4-D, the 3-D VAEs' 5-D
    shape = data.draw(st.lists(st.integers(1, 4096), min_size=dims, max_size=dims))
    assert getattr(comfyui, name)(shape, DTYPE_SIZE[dtype]) == LAMBDAS[name](shape, dtype)


@SETTINGS
@given(shape=st.lists(st.integers(1, 512), min_size=4, max_size=5), factor=st.floats(0.01, 10),
       dtype=st.sampled_from(sorted(DTYPE_SIZE)), flash=st.booleans())
def test_memory_required_is_comfyuis(shape, factor, dtype, flash):
    saved = model_management.pytorch_attention_flash_attention
    model_management.pytorch_attention_flash_attention = lambda: flash  # False: split / sub-quadratic attention
    try:
        expected = BaseModelOracle(factor, dtype).memory_required(shape)
    finally:
        model_management.pytorch_attention_flash_attention = saved
    assert comfyui.memory_required(shape, factor, DTYPE_SIZE[dtype], flash_attention=flash) == expected


def test_every_bundled_id_is_mapped_once():
    assert set(comfyui.COMFY_MODELS) | set(comfyui.UNSUPPORTED) == set(CATALOG)
    assert not set(comfyui.COMFY_MODELS) & set(comfyui.UNSUPPORTED)
    assert set(LATENTS) == set(comfyui.COMFY_MODELS)


@SETTINGS
@given(model=st.sampled_from(sorted(LATENTS)), height=st.integers(32, 2048), width=st.integers(32, 2048),
       frames=st.integers(1, 200), batch=st.integers(1, 4), dtype=st.sampled_from(["fp16", "bf16", "fp32", None]))
def test_estimates_follow_comfyui(model, height, width, frames, batch, dtype):
    """Each estimate is ComfyUI's own computation on the latent ComfyUI would sample for the call."""
    from symbolic.pipelines.api import make_config

    config = make_config(model, dtype=dtype)
    video = config.spec.video
    got = comfyui.comfyui_estimates(model, height=height, width=width, frames=frames if video else None,
                                    batch=batch, dtype=dtype)
    comfy_class, empty_latent, vae = LATENTS[model]
    factor = FACTORS[comfy_class]
    if callable(factor):
        factor = factor(DETECTED[comfy_class](config.source.config(config.spec.denoiser)))
    latent = empty_latent(batch, frames if video else 1, height, width)
    noise_shape = latent  # sampler_helpers.estimate_memory(model, noise_shape, conds)
    denoiser = BaseModelOracle(factor, TORCH_DTYPE[config.dtype_of(config.spec.denoiser)])
    assert got["comfy_class"] == comfy_class
    assert got["latent_shape"] == latent
    assert got["denoiser"] == denoiser.memory_required([noise_shape[0] * 2] + list(noise_shape[1:]))
    assert got["vae_decode"] == batch * LAMBDAS[f"{vae}_decode"](latent, TORCH_DTYPE[config.dtype_of("vae")])
    assert got["vae_encode"] == 0  # txt2img (the spec's first task for every bundled id)


@SETTINGS
@given(model=st.sampled_from(["sd15", "sd21", "sdxl"]), height=st.integers(8, 2048), width=st.integers(8, 2048),
       batch=st.integers(1, 4))
def test_img2img_encodes_one_cropped_image(model, height, width, batch):
    got = comfyui.comfyui_estimates(model, height=height, width=width, batch=batch, dtype="fp16", task="img2img")
    pixels = [1, 3, height // 8 * 8, width // 8 * 8]  # vae_encode_crop_pixels, movedim(-1, 1)
    assert got["vae_encode"] == LAMBDAS["kl_encode"](pixels, "float16")


@pytest.mark.parametrize("task", ["txt2img", "img2img"])
@pytest.mark.parametrize("size, batch", [(256, 1), (512, 2), (1024, 1)])
def test_total_is_weights_plus_largest_stage(size, batch, task):
    from symbolic.pipelines.api import estimate

    got = comfyui.comfyui_estimates("sd15", height=size, width=size, batch=batch, dtype="fp16", task=task)
    largest = max(got["denoiser"], got["vae_decode"], got["vae_encode"])
    assert comfyui.comfyui_bytes("sd15", height=size, width=size, batch=batch, dtype="fp16", task=task,
                                 weights_bytes=123) == math.ceil(123 + largest)
    weights = estimate("sd15", size, size, batch=batch, dtype="fp16", task=task)["weights_bytes"]
    assert comfyui.comfyui_bytes("sd15", height=size, width=size, batch=batch, dtype="fp16",
                                 task=task) == math.ceil(weights + largest)


# --- the entry point ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(comfyui.UNSUPPORTED))
def test_unsupported_ids_give_none(model):
    assert comfyui.comfyui_estimates(model, height=480, width=720, frames=49) is None
    assert baselines.baseline_predictions(model, height=480, width=720, frames=49, batch=1, guidance_scale=6.0,
                                          dtype=None, task=None) == {"seed_bytes": None, "comfyui_bytes": None}


@pytest.mark.parametrize("model", ["sdxl", "flux.1-schnell", "sd21"])
def test_seed_is_sd15_only(model):
    got = baselines.baseline_predictions(model, height=512, width=512, frames=None, batch=1, guidance_scale=5.0,
                                         dtype="fp16", task=None, weights_bytes=0)
    assert got["seed_bytes"] is None and got["comfyui_bytes"] > 0


@SETTINGS
@given(size=st.sampled_from([256, 512, 768, 1024]), prompt_tokens=st.integers(1, 154), batch=st.integers(1, 3),
       dtype=st.sampled_from(["fp16", "fp32"]))
def test_seed_bytes_is_the_seeds_f(size, prompt_tokens, batch, dtype):
    got = baselines.baseline_predictions("sd15", height=size, width=size, frames=None, batch=batch,
                                         guidance_scale=5.0, dtype=dtype, task="img2img",
                                         prompt_tokens=prompt_tokens, weights_bytes=0)
    expected = seed_f(size, size, prompt_tokens, batch=batch, bytes_per_scalar={"fp16": 2, "fp32": 4}[dtype])
    assert got["seed_bytes"] == math.ceil(expected["bytes"])


GOOD = dict(height=512, width=512, frames=None, batch=1, guidance_scale=5.0, dtype="fp16", task="img2img")


@pytest.mark.parametrize("model, change, argument", [
    ("nope", {}, "model"),
    ("sd15", {"height": 0}, "height"),
    ("sd15", {"width": -8}, "width"),
    ("sd15", {"width": 512.0}, "width"),
    ("sd15", {"batch": 0}, "batch"),
    ("sd15", {"batch": True}, "batch"),
    ("sd15", {"frames": 16}, "frames"),
    ("wan2.1-t2v-1.3b", {"frames": 0, "task": None}, "frames"),
    ("sd15", {"dtype": "fp64"}, "dtype"),
    ("sd15", {"dtype": 2}, "dtype"),
    ("sd15", {"task": "inpaint"}, "task"),
    ("flux.1-dev", {"task": "img2img"}, "task"),
    ("sd15", {"guidance_scale": -1.0}, "guidance_scale"),
    ("sd15", {"guidance_scale": float("nan")}, "guidance_scale"),
    ("sd15", {"prompt_tokens": 0}, "prompt_tokens"),
    ("sd15", {"weights_bytes": -1}, "weights_bytes"),
])
def test_bad_arguments_are_named(model, change, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        baselines.baseline_predictions(model, **{**GOOD, **change})


def test_baselines_are_described():
    assert set(baselines.BASELINES) == {"seed_bytes", "comfyui_bytes"}
    assert all(isinstance(v, str) and v for v in baselines.BASELINES.values())


# --- the docstring's claim, recomputed from the measured rows ------------------------------------------------------

def _no_switches(row: dict) -> bool:
    return row["attention"] == "sdpa" and row["sdpa_backend"] in ("default", "efficient") and \
        row["memory_option"] == "none"


#: How the docstring names each subset of rows.
PHRASES = {"all rows": "on all rows", "no switches": "without switches"}


def test_median_errors_are_what_the_docstring_says():
    rows = list(csv.DictReader(MEASURED.open(encoding="utf-8")))
    assert len(rows) == 16
    errors = {name: {"all rows": [], "no switches": []} for name in baselines.BASELINES}
    for row in rows:
        got = baselines.baseline_predictions(
            "sd15", height=int(row["height"]), width=int(row["width"]), frames=None,
            batch=int(row["num_images_per_prompt"]), guidance_scale=float(row["guidance_scale"]), dtype=row["dtype"],
            task=row["task"], prompt_tokens=int(row["prompt_tokens"]))
        for name, predicted in got.items():
            error = abs(predicted / int(row["peak_allocated_bytes"]) - 1)
            errors[name]["all rows"].append(error)
            if _no_switches(row):
                errors[name]["no switches"].append(error)
    assert len(errors["seed_bytes"]["no switches"]) == 10
    for (name, subset), claimed in baselines.CLAIMED_MEDIAN_ABS_ERROR.items():
        median = statistics.median(errors[name][subset])
        print(f"{name:14} {subset:12} median |error| {median:.2%} (docstring: {claimed:.1%})")
        assert abs(median - claimed) <= baselines.CLAIM_MARGIN, (name, subset, median)
        assert f"**{claimed:.1%}** {PHRASES[subset]}" in baselines.__doc__, (name, subset)
