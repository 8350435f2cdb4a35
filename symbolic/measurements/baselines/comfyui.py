"""ComfyUI's built-in memory estimators, transcribed as ComfyUI computes them, for the bundled pipelines.

ComfyUI is the closest tool people actually run that predicts a diffusion model's working memory before it runs
one. Read at **Comfy-Org/ComfyUI v0.3.64** (``comfyui_version.py``), commit
``a125cd84b054a57729b5eecab930ca9408719832`` (2025-10-11), https://github.com/Comfy-Org/ComfyUI (the repository
``comfyanonymous/ComfyUI`` moved there). The files and what each contributes:

``comfy/sd.py``, class ``VAE.__init__``
    one pair of lambdas per VAE family, ``memory_used_encode(shape, dtype)`` on the pixel tensor and
    ``memory_used_decode(shape, dtype)`` on the latent tensor, in bytes, each times
    ``model_management.dtype_size(dtype)`` (2 for fp16/bf16, 4 for fp32). ``shape[0]`` (the batch) is never read: a
    lambda is the cost of one sample, and ``VAE.decode`` / ``VAE.encode`` split a batch into chunks of
    ``int(free_memory / memory_used)`` samples, so a batch of B decoded at once costs B x the lambda in ComfyUI's own
    model. The branches used here (the functions ``kl_encode`` ... ``ltxv_decode`` below):

    - default ``AutoencoderKL`` (SD 1.x / 2.x / XL; the 16-channel SD3 and FLUX VAEs take the same branch and keep
      the defaults): encode ``1767 H W``, decode ``2178 h w 64`` (``h w 64 = H W`` for the x8 VAE), the comment says
      "These are for AutoencoderKL and need tweaking (should be lower)";
    - Wan 2.1 VAE (``decoder.middle.0.residual.0.gamma``; Wan 2.1 and Qwen-Image): encode ``6000 H W``, decode
      ``7000 h w 64``: neither reads the frame count;
    - HunyuanVideo VAE (``decoder.conv_in.conv.weight``, 16 channels): encode ``900 max(T, 2) H W``, decode
      ``1500 t h w (4 8 8)``;
    - LTX-Video VAE (``decoder.up_blocks.0.res_blocks.0.conv1.conv.weight``): encode ``70 max(T, 7) H W``, decode
      ``900 t h w (8 8 8)``.

``comfy/model_base.py``, ``BaseModel.memory_required(input_shape, cond_shapes)``
    ``area = input_shape[0] * prod(input_shape[2:])`` (batch x latent frames x latent height x latent width; the
    channels are not read), then two branches. With ``xformers_enabled()`` or
    ``pytorch_attention_flash_attention()`` it returns ``area * dtype_size * 0.01 * memory_usage_factor`` MiB; else
    (split / sub-quadratic attention) ``area * 0.15 * memory_usage_factor`` MiB. **The branch taken here is the
    first**: ``model_management`` sets ``ENABLE_PYTORCH_ATTENTION`` on NVIDIA with torch >= 2 unless split or quad
    attention is asked for, and ``pytorch_attention_flash_attention()`` is then True on NVIDIA, so ComfyUI on an
    H100 with PyTorch SDPA uses ``0.01 * dtype_size * factor`` MiB per latent position. ``dtype`` is the denoiser's
    weight dtype (or its ``manual_cast_dtype``). ``memory_usage_factor_conds`` adds reference latents' areas (FLUX
    Kontext, Qwen-Image edit); plain text-to-image has none.

``comfy/supported_models.py``, each model's ``memory_usage_factor`` (``supported_models_base.BASE``: 2.0)
    SD15 1.0, SD20 (SD 2.1) 1.0, SDXL 0.8, SD3 (SD 3.5 Medium and Large) 1.2, Flux and FluxSchnell 3.1 ("TODO: debug
    why flux mem usage is so weird on windows"), QwenImage 1.8 ("TODO"), HunyuanVideo 1.8 ("TODO"), LTXV
    ``cross_attention_dim / 2048 * 5.5`` ("img2vid is about 2x vs txt2vid"), WAN21_T2V ``dim / 2222`` (0.69 for
    the 1.3B model, 2.30 for the 14B). ComfyUI reads ``dim`` and ``cross_attention_dim`` from weight shapes
    (``model_detection.py``); here they come from the same numbers in the bundled diffusers configs. ComfyUI has
    no CogVideoX model (no ``cogvideo`` anywhere in ``comfy/`` at this commit: it runs through third-party nodes),
    so ``cogvideox-2b`` / ``cogvideox-5b`` get ``None``.

``comfy/sampler_helpers.py``, ``estimate_memory(model, noise_shape, conds)``
    ``memory_required([noise_shape[0] * 2] + noise_shape[1:])``: the denoiser's estimate is always taken for the
    cond + uncond batch 2B, whatever the CFG scale (``samplers.py`` later batches cond and uncond together when
    ``memory_required(batch) * 1.5 < free``, and skips uncond at ``cfg == 1``, but the reservation is for 2B). The
    latent ComfyUI samples: ``[B, 4, H//8, W//8]`` (SD 1.x/2.x/XL, ``EmptyLatentImage``), ``[B, 16, H//8, W//8]``
    (SD3, FLUX), ``[B, 16, (T-1)//4+1, H//8, W//8]`` (Wan 2.1, HunyuanVideo, ``EmptyHunyuanLatentVideo``),
    ``[B, 128, (T-1)//8+1, H//32, W//32]`` (LTX-Video, ``EmptyLTXVLatentVideo``), and for Qwen-Image
    ``EmptySD3LatentImage``'s ``[B, 16, H//8, W//8]`` made 5-D ``[B, 16, 1, H//8, W//8]`` by
    ``comfy/sample.py: fix_empty_latent_channels`` (its ``Wan21`` latent format has 3 latent dimensions).

``comfy/model_management.py``, how the estimates are used
    ``load_models_gpu(models, memory_required)`` frees memory until ``1.1 x (weights to load) +
    max(minimum_inference_memory(), memory_required + extra_reserved_memory())`` is free, where
    ``minimum_inference_memory() = 0.8 GiB + EXTRA_RESERVED_VRAM`` and ``EXTRA_RESERVED_VRAM`` is 400 MiB on Linux
    (600 MiB on Windows, +100 MiB on cards over 15 GiB); a model that does not fit with that headroom is loaded
    partially (``lowvram_model_memory``). The text encoders are loaded with ``memory_required = 0``
    (``CLIP.load_model``: ``load_model_gpu(self.patcher)``): ComfyUI has no activation estimate for them, only that
    reserve. These reserves are headroom for other processes and the CUDA context, not predicted tensors, so they
    are not in ``comfyui_bytes`` (``RESERVE`` names them for a caller who wants ComfyUI's "free memory demanded"
    instead).

How the pieces are combined (``comfyui_bytes``), and why
    ``weights + max(denoiser, B x vae_decode, vae_encode if img2img)``: ComfyUI runs KSampler, then VAEDecode (and
    VAEEncode before them for img2img) one after another, each estimate is the working memory of its own stage, and
    on a GPU as large as an H100 every model stays loaded (``free_memory`` unloads only when short), so the peak is
    the resident weights plus the largest stage estimate: the same ``weights + Max(stages)`` shape as our model.
    ``weights`` is our pipeline's ``weights_bytes`` (every component the measured pipeline holds on the GPU, safety
    checker included): ComfyUI counts weights exactly (``model_management.module_size``: ``nelement() *
    element_size()`` of each state-dict tensor), so using the same number makes the comparison one of the activation
    estimates alone. The img2img encode runs on one image (diffusers encodes the init image once and repeats its
    latent; the ComfyUI workflow does VAEEncode then RepeatLatentBatch). Dtypes: each estimate takes the dtype its
    component runs in in the measured pipeline (``dtype`` for all, or the catalog's per-component dtypes, e.g. Wan's
    float32 VAE); ComfyUI itself would pick bf16 for most VAEs on an H100 (``vae_dtype``), which halves the VAE
    figures for float32 pipelines.

What the numbers are against the H100 measurements of SD 1.5 (``data/measurements/sd15_h100.csv``, img2img,
guidance 5, fp16, batch 1; ours from ``estimate("sd15", ...)``), in MiB:

=================  ===========  ========  ==========  ============  =========  ===========
stage              ComfyUI 512  ours 512  measured    ComfyUI 1024  ours 1024  measured
=================  ===========  ========  ==========  ============  =========  ===========
denoiser (UNet)        163.8      163.4      132.1        655.4        553.7       521.0
VAE decode            1089.0      642.2      610.7       4356.0       2466.4      2435.3
VAE encode             883.5      418.8      386.1       3534.0       1575.3      1542.2
total (+ weights)     3702.5     3279.9     3297.9       6969.5       5104.1      5122.9
=================  ===========  ========  ==========  ============  =========  ===========

(measured stage = the stage's peak minus the row's ``weights_allocated_bytes``; ComfyUI's total uses our weights,
2613.5 MiB.) The denoiser estimate, ``2 x 64 x 64 x 2 x 0.01`` MiB at 512, is right to within 1% of our UNet step
and 24% above the measured one: its 0.01 MiB x bytes per element per latent position is an empirical fit for the
flash-attention UNet (memory linear in the latent area, no N^2) and it holds to 1024 (+18% over ours, +26% over the
measured step there). The VAE decode estimate, ``2178 x 2 = 4356`` bytes per output pixel, is 1.8x the measured
decode (about 2440 bytes per pixel: the 128- and 256-channel full-resolution maps, the upsampled map and the conv
workspace), and the encode estimate, 3534 bytes per pixel, 2.3x the measured encode; the source's own comment says
these "need tweaking (should be lower)". The decode is the peak stage for SD 1.5 under SDPA, so ComfyUI's total
over-predicts by the decode's excess: +1.6% at 256 x 256, +12% at 512, +25% at 768, +36% at 1024, tending to +79%
(4356 / 2435 bytes per pixel) once the decode dwarfs the weights. It counts no N x N scores (the flash branch), so
on the math-SDPA row it under-predicts (-27%). ``symbolic.measurements.baselines`` states the median over the measured rows.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from symbolic.core.checks import MAX_COUNT, positive_int
from symbolic.core.dtypes import BYTES_PER_ELEMENT

#: Where the transcribed formulas come from.
COMFYUI_REPOSITORY = "https://github.com/Comfy-Org/ComfyUI"
COMFYUI_VERSION = "0.3.64"  # comfyui_version.py at the commit below
COMFYUI_COMMIT = "a125cd84b054a57729b5eecab930ca9408719832"

#: ``memory_required`` returns MiB times this (``* (1024 * 1024)`` in model_base.py).
MIB = 1024 * 1024
#: model_management.py: ``EXTRA_RESERVED_VRAM = 400 * 1024 * 1024`` (Linux) and ``minimum_inference_memory() =
#: (1024 * 1024 * 1024) * 0.8 + extra_reserved_memory()``: headroom ComfyUI keeps free, not predicted tensors.
RESERVE = {"extra_reserved_vram": 400 * MIB, "minimum_inference_memory": 0.8 * 1024 * MIB + 400 * MIB}


# --- the lambdas of comfy/sd.py VAE.__init__, as written there (``dtype_size`` for ``dtype_size(dtype)``) ------------

def kl_encode(shape, dtype_size):
    """Default (AutoencoderKL: SD 1.x / 2.x / XL, SD3, FLUX): ``(1767 * shape[2] * shape[3]) * dtype_size``."""
    return (1767 * shape[2] * shape[3]) * dtype_size


def kl_decode(shape, dtype_size):
    """Default (AutoencoderKL): ``(2178 * shape[2] * shape[3] * 64) * dtype_size``."""
    return (2178 * shape[2] * shape[3] * 64) * dtype_size


def wan21_encode(shape, dtype_size):
    """Wan 2.1 VAE (Wan 2.1, Qwen-Image): ``6000 * shape[3] * shape[4] * dtype_size``."""
    return 6000 * shape[3] * shape[4] * dtype_size


def wan21_decode(shape, dtype_size):
    """Wan 2.1 VAE: ``7000 * shape[3] * shape[4] * (8 * 8) * dtype_size``."""
    return 7000 * shape[3] * shape[4] * (8 * 8) * dtype_size


def hunyuan_video_encode(shape, dtype_size):
    """HunyuanVideo VAE (``decoder.conv_in.conv.weight``): ``(900 * max(shape[2], 2) * shape[3] * shape[4]) *
    dtype_size``."""
    return (900 * max(shape[2], 2) * shape[3] * shape[4]) * dtype_size


def hunyuan_video_decode(shape, dtype_size):
    """HunyuanVideo VAE: ``(1500 * shape[2] * shape[3] * shape[4] * (4 * 8 * 8)) * dtype_size``."""
    return (1500 * shape[2] * shape[3] * shape[4] * (4 * 8 * 8)) * dtype_size


def ltxv_encode(shape, dtype_size):
    """LTX-Video VAE: ``(70 * max(shape[2], 7) * shape[3] * shape[4]) * dtype_size``."""
    return (70 * max(shape[2], 7) * shape[3] * shape[4]) * dtype_size


def ltxv_decode(shape, dtype_size):
    """LTX-Video VAE: ``(900 * shape[2] * shape[3] * shape[4] * (8 * 8 * 8)) * dtype_size``."""
    return (900 * shape[2] * shape[3] * shape[4] * (8 * 8 * 8)) * dtype_size


def memory_required(input_shape, memory_usage_factor, dtype_size, *, flash_attention: bool = True):
    """``comfy/model_base.py: BaseModel.memory_required`` without reference latents, in bytes (a float, as there).
    ``flash_attention``: xformers or PyTorch attention on NVIDIA (the default there with torch >= 2); False is the
    split / sub-quadratic attention branch."""
    area = input_shape[0] * math.prod(input_shape[2:])
    if flash_attention:
        return (area * dtype_size * 0.01 * memory_usage_factor) * (1024 * 1024)
    return (area * 0.15 * memory_usage_factor) * (1024 * 1024)


# --- which ComfyUI model, latent and VAE each bundled id maps to ---------------------------------------------------

@dataclass(frozen=True)
class ComfyModel:
    """How ComfyUI sees one bundled pipeline: its ``supported_models`` class and ``memory_usage_factor`` (a number, or
    a function of the denoiser's config where ComfyUI derives it from weight shapes), its sampled latent (channels,
    spatial factor, latent dimensions, temporal factor for ``(T - 1) // s + 1`` frames) and its VAE lambdas."""

    comfy_class: str
    memory_usage_factor: float | Callable[[dict], float]
    latent_channels: int
    spatial: int
    latent_dimensions: int
    temporal: int | None
    encode: Callable
    decode: Callable

    def factor(self, denoiser_config: dict) -> float:
        f = self.memory_usage_factor
        return f(denoiser_config) if callable(f) else f


def _wan_factor(config: dict) -> float:
    # supported_models.py WAN21_T2V.__init__: unet_config.get("dim", 2000) / 2222; ComfyUI's dim is head.modulation's
    # last dimension, diffusers' inner dim num_attention_heads * attention_head_dim (1536 for 1.3B, 5120 for 14B).
    return (config["num_attention_heads"] * config["attention_head_dim"]) / 2222


def _ltxv_factor(config: dict) -> float:
    # supported_models.py LTXV.__init__: (unet_config.get("cross_attention_dim", 2048) / 2048) * 5.5; ComfyUI reads
    # cross_attention_dim from attn2.to_k.weight.shape[1], diffusers' config names the same number.
    return (config["cross_attention_dim"] / 2048) * 5.5


_KL = dict(spatial=8, latent_dimensions=2, temporal=None, encode=kl_encode, decode=kl_decode)
_WAN_VAE = dict(latent_channels=16, spatial=8, latent_dimensions=3, encode=wan21_encode, decode=wan21_decode)

#: Bundled id -> how ComfyUI v0.3.64 estimates it (``supported_models.py`` class and factor, latent node, VAE branch).
COMFY_MODELS: dict[str, ComfyModel] = {
    "sd15": ComfyModel("SD15", 1.0, latent_channels=4, **_KL),
    "sd21": ComfyModel("SD20", 1.0, latent_channels=4, **_KL),
    "sdxl": ComfyModel("SDXL", 0.8, latent_channels=4, **_KL),
    "sd3.5-medium": ComfyModel("SD3", 1.2, latent_channels=16, **_KL),
    "sd3.5-large": ComfyModel("SD3", 1.2, latent_channels=16, **_KL),
    "flux.1-dev": ComfyModel("Flux", 3.1, latent_channels=16, **_KL),
    "flux.1-schnell": ComfyModel("FluxSchnell", 3.1, latent_channels=16, **_KL),
    "qwen-image": ComfyModel("QwenImage", 1.8, temporal=None, **_WAN_VAE),
    "wan2.1-t2v-1.3b": ComfyModel("WAN21_T2V", _wan_factor, temporal=4, **_WAN_VAE),
    "wan2.1-t2v-14b": ComfyModel("WAN21_T2V", _wan_factor, temporal=4, **_WAN_VAE),
    "hunyuanvideo": ComfyModel("HunyuanVideo", 1.8, latent_channels=16, spatial=8, latent_dimensions=3, temporal=4,
                               encode=hunyuan_video_encode, decode=hunyuan_video_decode),
    "ltx-video": ComfyModel("LTXV", _ltxv_factor, latent_channels=128, spatial=32, latent_dimensions=3, temporal=8,
                            encode=ltxv_encode, decode=ltxv_decode),
}
#: Bundled ids ComfyUI has no estimator for, and why.
UNSUPPORTED: dict[str, str] = {
    "cogvideox-2b": "ComfyUI v0.3.64 has no CogVideoX model (it runs through third-party nodes without estimates)",
    "cogvideox-5b": "ComfyUI v0.3.64 has no CogVideoX model (it runs through third-party nodes without estimates)",
}


@dataclass(frozen=True)
class Call:
    """One checked call: the pipeline's configuration (dtypes per role, task) and its sizes."""

    #: The bundled id (None: a folder or Hub id outside the catalog).
    model_id: str | None
    config: object
    height: int
    width: int
    frames: int | None
    batch: int


@lru_cache(maxsize=256)
def _configured(model: str, dtype: str | None, task: str | None) -> tuple:
    """(catalog entry, configuration) of one pipeline setting: resolved once, since ``validate`` asks for the
    baselines of many rows of few settings."""
    from symbolic.pipelines.catalog import resolve
    from symbolic.pipelines.api import make_config

    entry, _ = resolve(model)
    return entry, make_config(model, dtype=None if dtype is None or dtype.strip().lower() == "default" else dtype,
                              task=task)


def check_call(model: object, *, height: object, width: object, frames: object, batch: object, dtype: object,
               task: object) -> Call:
    """Validate the arguments the way ``estimate`` does (a ValueError naming the argument) and resolve dtypes."""
    from symbolic.pipelines.catalog import resolve

    if dtype is not None and not isinstance(dtype, str):
        resolve(model)  # a bad model is named first, as before
        raise ValueError(f"dtype: must be a dtype name (fp16, bf16, fp32) or 'default', got {dtype!r}")
    if isinstance(model, str) and isinstance(task, (str, type(None))):
        entry, config = _configured(model, dtype, task)
    else:  # unhashable or odd arguments: the same one-line ValueErrors, uncached
        entry, config = _configured.__wrapped__(model, dtype, task)
    height = positive_int(height, "height", MAX_COUNT)
    width = positive_int(width, "width", MAX_COUNT)
    batch = positive_int(batch, "batch", MAX_COUNT)
    if config.spec.video:
        frames = positive_int(config.spec.default_frames if frames is None else frames, "frames", MAX_COUNT)
    elif frames is not None:
        raise ValueError(f"frames: {config.source.name} makes images; leave frames out (None), got {frames!r}")
    return Call(None if entry is None else entry.id, config, height, width, frames, batch)


def comfy_model(call: Call) -> ComfyModel | None:
    """The ComfyUI estimator of a checked call's pipeline (None: a bundled id in ``UNSUPPORTED`` or a folder)."""
    return COMFY_MODELS.get(call.model_id)


def latent_shape(comfy: ComfyModel, batch: int, height: int, width: int, frames: int | None) -> list[int]:
    """The latent ComfyUI samples (its empty-latent node, after ``fix_empty_latent_channels``)."""
    h, w = height // comfy.spatial, width // comfy.spatial
    if comfy.latent_dimensions == 2:
        return [batch, comfy.latent_channels, h, w]
    t = 1 if comfy.temporal is None else (frames - 1) // comfy.temporal + 1
    return [batch, comfy.latent_channels, t, h, w]


def pixel_shape(comfy: ComfyModel, height: int, width: int, frames: int | None) -> list[int]:
    """The pixels ``VAE.encode`` sees for one init image (or one video): cropped to multiples of the spatial factor
    (``vae_encode_crop_pixels``), channels first; a 3-D VAE gets ``[1, C, T, H, W]``
    (``movedim(1, 0).unsqueeze(0)``)."""
    h, w = height // comfy.spatial * comfy.spatial, width // comfy.spatial * comfy.spatial
    if comfy.latent_dimensions == 2:
        return [1, 3, h, w]
    return [1, 3, 1 if frames is None else frames, h, w]


@lru_cache(maxsize=256)
def _usage_factor(comfy: ComfyModel, config) -> float:
    """The model's ``memory_usage_factor`` from its denoiser config (read once per configuration)."""
    return comfy.factor(config.source.config(config.spec.denoiser))


def comfyui_estimates(model: str, *, height: int, width: int, frames: int | None = None, batch: int = 1,
                      dtype: str | None = None, task: str | None = None) -> dict | None:
    """ComfyUI's three estimates for one call, in bytes (floats, as ComfyUI computes them), with the shapes and
    factor they came from; None where ComfyUI has no estimator (``UNSUPPORTED``, or a folder that is no bundled id).

    ``denoiser``: ``memory_required`` of the 2B cond + uncond batch (``estimate_memory``); ``vae_decode``: B x the
    per-sample decode lambda; ``vae_encode``: the encode lambda on one init image for img2img, else 0."""
    call = check_call(model, height=height, width=width, frames=frames, batch=batch, dtype=dtype, task=task)
    comfy = comfy_model(call)
    if comfy is None:
        return None
    config = call.config
    denoiser_role = config.spec.denoiser
    factor = _usage_factor(comfy, config)
    latent = latent_shape(comfy, call.batch, call.height, call.width, call.frames)
    cfg_batch = [latent[0] * 2] + latent[1:]  # sampler_helpers.estimate_memory: noise_shape[0] * 2
    vae_size = BYTES_PER_ELEMENT[config.dtype_of("vae")]
    pixels = pixel_shape(comfy, call.height, call.width, call.frames)
    return {
        "comfy_class": comfy.comfy_class,
        "memory_usage_factor": factor,
        "latent_shape": latent,
        "denoiser": memory_required(cfg_batch, factor, BYTES_PER_ELEMENT[config.dtype_of(denoiser_role)]),
        "vae_decode": call.batch * comfy.decode(latent, vae_size),
        "vae_encode": comfy.encode(pixels, vae_size) if config.task == "img2img" else 0,
    }


def comfyui_bytes(model: str, *, height: int, width: int, frames: int | None = None, batch: int = 1,
                  dtype: str | None = None, task: str | None = None, weights_bytes: int | None = None) -> int | None:
    """ComfyUI's prediction comparable with ``peak_allocated_bytes``: ``weights + max(denoiser, vae_decode,
    vae_encode)`` (rounded up to a whole byte); None where ComfyUI has no estimator. ``weights_bytes``: the resident
    weights (default: our ``estimate(...)["weights_bytes"]`` for the same call; ``validate`` passes the one it has)."""
    estimates = comfyui_estimates(model, height=height, width=width, frames=frames, batch=batch, dtype=dtype,
                                  task=task)
    if estimates is None:
        return None
    if weights_bytes is None:
        from symbolic.pipelines.api import estimate

        weights_bytes = estimate(model, height, width, frames=frames, batch=batch,
                                 dtype=None if dtype is None or dtype.strip().lower() == "default" else dtype,
                                 task=task)["weights_bytes"]
    elif isinstance(weights_bytes, bool) or not isinstance(weights_bytes, int) or weights_bytes < 0:
        raise ValueError(f"weights_bytes: must be an integer >= 0, got {weights_bytes!r}")
    return math.ceil(weights_bytes + max(estimates["denoiser"], estimates["vae_decode"], estimates["vae_encode"]))
