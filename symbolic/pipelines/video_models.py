"""Peak GPU memory of diffusers' video pipelines: CogVideoX (2B, 5B), Wan 2.1 T2V (1.3B, 14B), HunyuanVideo.

peak_allocated = resident + Max over stages (text_encoder, transformer_step, vae_decode) of the stage's transient,
a stage's transient being the Max over its *moments* of the terms live at that moment (``symbolic.terms``).

Every term below is one decorated function whose docstring is its derivation; the architecture-specific
compositions live in ``symbolic/arch`` (``video_transformer``, ``vae3d``, ``t5``, ``llama``, ``clip``) and were
checked against a meta-device trace of the real diffusers / transformers modules
(``tests/test_video_param_counts_torch.py``). Symbols: T frames, H x W pixels, B videos (``num_videos_per_prompt``
x prompts), G classifier-free-guidance copies, b bytes per element of the model dtype, P devices.

What is modelled, per pipeline (diffusers 0.3x ``pipeline_cogvideox.py``, ``pipeline_wan.py``,
``pipeline_hunyuan_video.py``):

* latents: CogVideoX and HunyuanVideo ``(T - 1) // 4 + 1`` latent frames (causal VAE); WanPipeline first rounds
  ``num_frames`` to ``4k + 1`` (``num_frames // 4 * 4 + 1``), so ``T // 4 + 1``. Latent pixels ``H // 8``.
* tokens: latent frames x (latent H / 2) x (latent W / 2) video tokens; CogVideoX adds 226 T5 tokens to the joint
  attention, HunyuanVideo 256 LLaMA tokens, Wan attends to 512 umT5 tokens by cross-attention.
* guidance: CogVideoX concatenates [uncond, cond] (transformer batch G x B); WanPipeline runs the conditional and
  unconditional passes one after the other (batch B, both text embeddings resident); HunyuanVideo is
  guidance-distilled (``guidance_scale`` is an embedding input, one pass of batch B; ``true_cfg_scale`` is not
  modelled).
* dtypes (diffusers docs): CogVideoX-2B fp16, CogVideoX-5B bf16; Wan bf16 with the VAE loaded in float32;
  HunyuanVideo transformer bf16, text encoders and VAE fp16. An explicit ``dtype`` puts every component in it.
* memory options: ``cpu_offload`` (``enable_model_cpu_offload``: only the running component's weights on the GPU),
  ``vae_tiling`` (``vae.enable_tiling()``), ``text_encoder_cpu`` (the text encoder runs on the CPU, as Wan's
  ``--t5_cpu``).
* many GPUs (``devices`` = P, ``parallel``): ``ulysses`` / ``ring`` sequence parallelism split every token-wise
  activation of the transformer over P devices (weights replicated); ``fsdp`` shards the transformer's and the text
  encoder's blocks over P devices and all-gathers one block at a time (plus the prefetched next). The VAE and the
  text encoder's activations are not split (diffusers runs them whole on every device).
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sympy as sp

from symbolic.algebra import maximum
from symbolic.allocator import load_allocated_bytes
from symbolic.arch.clip import CLIPText
from symbolic.arch.llama import LlamaText
from symbolic.arch.t5 import T5Encoder
from symbolic.arch.tensors import Tensor, load_config
from symbolic.arch.vae3d import CogVideoXVAE, DecodeShape, HunyuanVideoVAE, WanVAE
from symbolic.arch.video_transformer import (CogVideoXTransformer, HunyuanVideoTransformer, StepShape,
                                             WanTransformer)
from symbolic.dtypes import BYTES_PER_ELEMENT, canonical_dtype
from symbolic.framework import Framework, default_framework
from symbolic.numeric import _ARG_IDENTIFIERS, _ExactPrinter, arguments, compile_exact
from symbolic.symbols import ARG_ORDER, B, G, H, P, T, W, b
from symbolic.terms import Category, Stage, StagedModel, Term, TermRegistry
from symbolic.validation import choice, guidance_copies, positive_int

VIDEO_TERMS = TermRegistry("video")

VIDEO_MODELS = ("cogvideox-2b", "cogvideox-5b", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "hunyuanvideo")
MEMORY_OPTIONS = ("cpu_offload", "vae_tiling", "text_encoder_cpu")
PARALLEL_SCHEMES = ("ulysses", "ring", "fsdp")
ATTENTION_BACKENDS = ("default", "flash", "math")
STAGES = (Stage.TEXT_ENCODER, Stage.TRANSFORMER_STEP, Stage.VAE_DECODE)
COMPONENTS = ("transformer", "text_encoder", "vae")
#: The moments of the transformer step and of the decode (each model has a subset of them).
TRANSFORMER_MOMENTS = ("feedforward", "attention", "rotary", "qk_norm", "cross_attention", "single_rotary",
                       "single_attention", "dual_feedforward")
DECODE_MOMENTS = ("first_batch", "second_batch", "last_batch", "frame_head", "frame_conv", "first_frame",
                  "upsample", "mid_attention", "postprocess")

#: ``max_memory_reserved`` over ``max_memory_allocated``: the caching allocator keeps freed segments that later,
#: larger blocks cannot reuse. Assumption carried over from the SD 1.5 fit (``symbolic/pipelines/sd15/model.py``:
#: RESERVED_CACHE_BYTES of cached small segments plus 16/25 of the largest stage transient), not validated on video pipelines:
#: ``peak_reserved = peak_allocated + weights' segment slack + RESERVED_CACHE_BYTES
#: + RESERVED_TRANSIENT_FRACTION x (the largest stage activation)``, a stage's activation being its peak minus the
#: weights resident then (offloaded weights are moved, not allocated as activations).
from symbolic.pipelines.sd15.model import RESERVED_CACHE_BYTES  # noqa: E402
from symbolic.pipelines.sd15.model import RESERVED_DECODE_FRACTION as RESERVED_TRANSIENT_FRACTION  # noqa: E402

HIDDEN_TEXT = 4096   # every text embedding here (T5-XXL, umT5-XXL, LLaMA-3-8B) is 4096 wide
FP32 = 4
INT64 = 8


# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    transformer: str
    vae: str
    text_encoder: str
    default_dtype: str
    #: per-component dtype when no ``dtype`` is given (None: the default dtype)
    text_dtype: str | None
    vae_dtype: str | None
    #: tokens the transformer attends to (max_sequence_length) and the text encoder's input length
    text_tokens: int
    encoder_tokens: int
    #: height and width must be multiples of this: the pipeline's ``check_inputs`` (8), or 16 where the transformer's
    #: 2 x 2 patch embedding needs an even latent side (CogVideoX: an odd side loses a column and the denoising
    #: step fails on the shape mismatch, found by building the real classes in symbolic/harness/build_video.py)
    multiple: int
    source: str


SPECS = {
    "cogvideox-2b": ModelSpec("cogvideox-2b", "cogvideox", "cogvideox_2b_transformer", "cogvideox_2b_vae",
                              "t5_v1_1_xxl_encoder", "fp16", None, None, 226, 226, 16,
                              "THUDM/CogVideoX-2b; diffusers docs load it with torch_dtype=torch.float16"),
    "cogvideox-5b": ModelSpec("cogvideox-5b", "cogvideox", "cogvideox_5b_transformer", "cogvideox_5b_vae",
                              "t5_v1_1_xxl_encoder", "bf16", None, None, 226, 226, 16,
                              "THUDM/CogVideoX-5b; diffusers docs load it with torch_dtype=torch.bfloat16"),
    "wan2.1-t2v-1.3b": ModelSpec("wan2.1-t2v-1.3b", "wan", "wan2.1_t2v_1.3b_transformer", "wan2.1_vae",
                                 "umt5_xxl_encoder", "bf16", None, "fp32", 512, 512, 16,
                                 "Wan-AI/Wan2.1-T2V-1.3B-Diffusers; diffusers docs: VAE float32, pipeline bfloat16"),
    "wan2.1-t2v-14b": ModelSpec("wan2.1-t2v-14b", "wan", "wan2.1_t2v_14b_transformer", "wan2.1_vae",
                                "umt5_xxl_encoder", "bf16", None, "fp32", 512, 512, 16,
                                "Wan-AI/Wan2.1-T2V-14B-Diffusers; diffusers docs: VAE float32, pipeline bfloat16"),
    # HunyuanVideoPipeline: max_sequence_length 256 plus the prompt template's crop_start (95 tokens) go into
    # LLaMA; the first 95 output positions are cropped away.
    "hunyuanvideo": ModelSpec("hunyuanvideo", "hunyuanvideo", "hunyuanvideo_transformer", "hunyuanvideo_vae",
                              "hunyuanvideo_llama_text_encoder", "bf16", "fp16", "fp16", 256, 256 + 95, 16,
                              "hunyuanvideo-community/HunyuanVideo; diffusers docs: transformer bfloat16, "
                              "pipeline (text encoders, VAE) float16"),
}


@dataclass(frozen=True)
class VideoConfig:
    """Everything that changes the *shape* of the equations (values of T, H, W, B, G, P are symbols)."""

    model: str
    dtype: str | None = None
    memory_options: frozenset = frozenset()
    parallel: str | None = None
    attention: str = "flash"
    framework: Framework = field(default_factory=default_framework)

    @property
    def spec(self) -> ModelSpec:
        return SPECS[self.model]

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def transformer_dtype(self) -> str:
        return self.dtype or self.spec.default_dtype

    def _component_dtype(self, default: str | None) -> str:
        return self.dtype or default or self.spec.default_dtype

    @property
    def text_dtype(self) -> str:
        return self._component_dtype(self.spec.text_dtype)

    @property
    def vae_dtype(self) -> str:
        return self._component_dtype(self.spec.vae_dtype)

    def bytes_of(self, dtype: str) -> sp.Expr:
        """``b`` when the component shares the transformer's dtype, else its byte count."""
        return b if dtype == self.transformer_dtype else sp.Integer(BYTES_PER_ELEMENT[dtype])

    @property
    def b_value(self) -> int:
        return BYTES_PER_ELEMENT[self.transformer_dtype]

    def has(self, option: str) -> bool:
        return option in self.memory_options


# --- architectures and shapes -----------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def transformer_of(spec: ModelSpec):
    cls = {"cogvideox": CogVideoXTransformer, "wan": WanTransformer, "hunyuanvideo": HunyuanVideoTransformer}
    return cls[spec.family](load_config("video", spec.transformer))


@lru_cache(maxsize=None)
def vae_of(spec: ModelSpec):
    cls = {"cogvideox": CogVideoXVAE, "wan": WanVAE, "hunyuanvideo": HunyuanVideoVAE}
    return cls[spec.family](load_config("video", spec.vae))


@lru_cache(maxsize=None)
def text_encoder_of(spec: ModelSpec):
    config = load_config("video", spec.text_encoder)
    return LlamaText(config) if spec.family == "hunyuanvideo" else T5Encoder(config)


@lru_cache(maxsize=None)
def clip_of(spec: ModelSpec) -> CLIPText | None:
    return CLIPText(load_config("video", "hunyuanvideo_clip_text_encoder")) if spec.family == "hunyuanvideo" else None


def latent_frames(config: VideoConfig) -> sp.Expr:
    """CogVideoX / HunyuanVideo: the causal rule ``(T - 1) // 4 + 1``. WanPipeline rounds ``num_frames`` to
    ``num_frames // 4 * 4 + 1`` first (a warning, not an error), which gives ``T // 4 + 1``."""
    s_t = 4
    if config.family == "wan":
        return sp.floor(T / s_t) + 1
    return sp.floor((T - 1) / s_t) + 1


def latent_hw() -> tuple[sp.Expr, sp.Expr]:
    """``height // vae_scale_factor_spatial`` (8) in every pipeline's ``prepare_latents``."""
    return sp.floor(H / 8), sp.floor(W / 8)


def video_tokens(config: VideoConfig) -> sp.Expr:
    """Latent frames x (latent H / 2) x (latent W / 2): the 2 x 2 spatial patch of all three transformers (no
    temporal patch)."""
    lh, lw = latent_hw()
    return latent_frames(config) * sp.floor(lh / 2) * sp.floor(lw / 2)


def joint_text_tokens(config: VideoConfig) -> int:
    """Text tokens in the transformer's self-attention sequence (0 for Wan's cross-attention)."""
    return 0 if config.family == "wan" else config.spec.text_tokens


def transformer_batch(config: VideoConfig) -> sp.Expr:
    return B * G if config.family == "cogvideox" else B


@lru_cache(maxsize=None)
def step_shape(config: VideoConfig) -> StepShape:
    backend = "math" if config.attention == "math" else "flash"
    return StepShape(transformer_batch(config), video_tokens(config), sp.Integer(config.spec.text_tokens),
                     b, backend, config.parallel, P)


@lru_cache(maxsize=None)
def transformer_moments(config: VideoConfig) -> dict[str, sp.Expr]:
    return transformer_of(config.spec).moments(step_shape(config))


@lru_cache(maxsize=None)
def decode_shape(config: VideoConfig) -> DecodeShape:
    lh, lw = latent_hw()
    return DecodeShape(B, latent_frames(config), lh, lw, config.bytes_of(config.vae_dtype),
                       "math" if config.attention == "math" else "flash", config.has("vae_tiling"),
                       BYTES_PER_ELEMENT[config.vae_dtype])


@lru_cache(maxsize=None)
def decode_moments(config: VideoConfig) -> dict[str, sp.Expr]:
    return vae_of(config.spec).decode_moments(decode_shape(config))


def latent_elements(config: VideoConfig) -> sp.Expr:
    lh, lw = latent_hw()
    return B * 16 * latent_frames(config) * lh * lw


# --- weights ----------------------------------------------------------------------------------------------------
_BLOCK = re.compile(r"^(.*?(?:blocks|transformer_blocks|single_transformer_blocks|refiner_blocks|block|layers)\.\d+)\.")


@dataclass(frozen=True)
class WeightBreakdown:
    """A component's tensors split by the bytes per element they take after ``from_pretrained(torch_dtype=...)``."""

    model_dtype: int      # elements in the component's dtype
    fp32: int             # elements kept in float32 (``_keep_in_fp32_modules``, float32 buffers)
    fixed_bytes: int      # bytes of tensors with a fixed dtype (float64 / int64 buffers, float32 buffers)
    largest_block: int    # elements of the largest repeated block (what FSDP all-gathers at once)
    block_elements: int   # elements inside repeated blocks (what FSDP shards)

    def expr(self, b_comp: sp.Expr) -> sp.Expr:
        return self.model_dtype * b_comp + self.fp32 * FP32 + self.fixed_bytes


def _breakdown(tensors: list[Tensor], keep_fp32: tuple[str, ...], fixed: dict[str, int]) -> WeightBreakdown:
    model = fp32 = fixed_bytes = in_blocks = 0
    blocks: dict[str, int] = {}
    for t in tensors:
        if t.name in fixed:
            fixed_bytes += t.numel * fixed[t.name]
        elif not t.floating:
            fixed_bytes += t.numel * INT64
        elif any(k in t.name.split(".") for k in keep_fp32):
            fp32 += t.numel
        else:
            model += t.numel
        match = _BLOCK.match(t.name)
        if match:
            blocks[match.group(1)] = blocks.get(match.group(1), 0) + t.numel
            in_blocks += t.numel
    return WeightBreakdown(model, fp32, fixed_bytes, max(blocks.values(), default=0), in_blocks)


@lru_cache(maxsize=None)
def component_tensors(spec: ModelSpec, component: str) -> tuple[tuple[Tensor, ...], tuple[str, ...], tuple]:
    """(tensors, modules kept in fp32 under a half-precision load, fixed-dtype tensors) of one component."""
    if component == "transformer":
        arch = transformer_of(spec)
        return tuple(arch.tensors), tuple(arch.keep_fp32_modules), tuple(arch.fixed_dtype_bytes.items())
    if component == "vae":
        arch = vae_of(spec)
        return tuple(arch.tensors), tuple(arch.keep_fp32_modules), tuple(arch.fixed_dtype_bytes.items())
    if component == "text_encoder":
        arch = text_encoder_of(spec)
        fixed = tuple(getattr(arch, "fixed_dtype_bytes", {}).items())
        return tuple(arch.tensors), tuple(getattr(arch, "keep_fp32_modules_fp16", ())), fixed
    if component == "text_encoder_2":
        arch = clip_of(spec)
        return (tuple(arch.tensors) if arch else ()), (), ()
    raise KeyError(component)


def component_dtype(config: VideoConfig, component: str) -> str:
    if component == "transformer":
        return config.transformer_dtype
    return config.vae_dtype if component == "vae" else config.text_dtype


@lru_cache(maxsize=None)
def weights_of(config: VideoConfig, component: str) -> WeightBreakdown:
    """Breakdown of one component. transformers keeps ``_keep_in_fp32_modules`` in fp32 only under a float16 load
    (T5's ``wo``); diffusers keeps its modules in fp32 whatever the dtype (Wan's norms, modulation tables, time
    embedder); buffers absent from the checkpoint keep their init dtype."""
    tensors, keep, fixed = component_tensors(config.spec, component)
    dtype = component_dtype(config, component)
    if component.startswith("text_encoder") and dtype != "fp16":
        keep = ()
    if dtype == "fp32":
        keep = ()
    return _breakdown(list(tensors), keep, dict(fixed))


def component_bytes(config: VideoConfig, component: str) -> sp.Expr:
    return weights_of(config, component).expr(config.bytes_of(component_dtype(config, component)))


@lru_cache(maxsize=None)
def allocator_rounding(config: VideoConfig, component: str) -> tuple[int, int]:
    """(allocated - raw, reserved - allocated) bytes of moving the component's tensors to the GPU one by one
    through the caching allocator model (``symbolic.allocator``: 512-byte rounding, un-split block remainders,
    2 / 20 MiB segments)."""
    tensors, keep, fixed = component_tensors(config.spec, component)
    breakdown = weights_of(config, component)
    fixed = dict(fixed)
    dtype_bytes = BYTES_PER_ELEMENT[component_dtype(config, component)]
    keep_active = breakdown.fp32 > 0
    sizes = []
    for t in tensors:
        if t.name in fixed:
            per = fixed[t.name]
        elif not t.floating:
            per = INT64
        elif keep_active and any(k in t.name.split(".") for k in keep):
            per = FP32
        else:
            per = dtype_bytes
        sizes.append(t.numel * per)
    allocated, reserved = load_allocated_bytes(sizes)
    return allocated - sum(sizes), reserved - allocated


def loaded_components(config: VideoConfig) -> tuple[str, ...]:
    return ("transformer", "text_encoder") + (("text_encoder_2",) if config.family == "hunyuanvideo" else ()) + ("vae",)


def _fsdp(config: VideoConfig, component: str) -> bool:
    return config.parallel == "fsdp" and component in ("transformer", "text_encoder", "text_encoder_2")


def weights_on_device(config: VideoConfig, component: str) -> sp.Expr:
    """The component's bytes on one device: whole, or under FSDP its repeated blocks sharded over P (each block a
    flat parameter split evenly) with the rest (embeddings, heads) unsharded."""
    if not _fsdp(config, component):
        return component_bytes(config, component)
    w = weights_of(config, component)
    b_comp = config.bytes_of(component_dtype(config, component))
    whole = component_bytes(config, component)
    blocks = w.block_elements * b_comp
    return whole - blocks + sp.ceiling(blocks / P)


def gathered_blocks(config: VideoConfig, component: str) -> sp.Expr:
    """FSDP all-gathers a block's full parameters before its forward and prefetches the next one: two unsharded
    blocks live at once (minus the device's own shard of each)."""
    if not _fsdp(config, component):
        return sp.Integer(0)
    w = weights_of(config, component)
    block = w.largest_block * config.bytes_of(component_dtype(config, component))
    return 2 * (block - sp.ceiling(block / P))


def _resident(config: VideoConfig, component: str) -> bool:
    if component.startswith("text_encoder") and config.has("text_encoder_cpu"):
        return False
    return not config.has("cpu_offload")


def _offloaded(config: VideoConfig, component: str) -> bool:
    if component.startswith("text_encoder") and config.has("text_encoder_cpu"):
        return False
    return config.has("cpu_offload")


def _weights_if(config: VideoConfig, component: str, offloaded: bool) -> sp.Expr:
    """The component's bytes on one device when it is resident (``offloaded=False``) or when it is brought in for
    its own stage only (model CPU offload, ``offloaded=True``); 0 otherwise."""
    if component not in loaded_components(config):
        return sp.Integer(0)
    on = _offloaded(config, component) if offloaded else _resident(config, component)
    return weights_on_device(config, component) if on else sp.Integer(0)


@VIDEO_TERMS.register("weights.transformer", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                      source="symbolic/arch/video_transformer.py")
def weights_transformer(config):
    """The transformer's parameters and buffers: elements x b, plus float32 for Wan's ``_keep_in_fp32_modules``
    (time embedder, modulation tables, norm2) and the RoPE tables, float64 for CogVideoX-2B's non-persistent
    sin-cos table (1 x 17,776 x 1,920, built in float64 and not in the checkpoint, so ``torch_dtype`` never casts it).
    Resident unless model offload is on. Counts: CogVideoX-2B 1,727,913,792, -5B 5,570,283,072, Wan 1.3B
    1,419,258,944, 14B 14,288,753,728, HunyuanVideo 12,821,012,544 (parameters + buffers)."""
    return _weights_if(config, "transformer", False)


@VIDEO_TERMS.register("weights.text_encoder", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                      source="symbolic/arch/t5.py, symbolic/arch/llama.py")
def weights_text_encoder(config):
    """The text encoder: T5-XXL encoder (4,762,310,656; its 24 ``wo`` matrices, 1.0 G, stay float32 under an fp16
    load: transformers ``_keep_in_fp32_modules``), umT5-XXL encoder (5,680,910,336; 256,384-token vocabulary, a
    relative-position table per layer) or LLaMA-3-8B (7,505,186,816 + 128 float32 RoPE buffer elements).
    Resident unless model offload or ``text_encoder_cpu``."""
    return _weights_if(config, "text_encoder", False)


@VIDEO_TERMS.register("weights.text_encoder_2", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                      source="symbolic/arch/clip.py")
def weights_text_encoder_2(config):
    """HunyuanVideo's second text encoder, CLIP ViT-L/14's text tower (123,060,480 parameters + 77 int64
    ``position_ids``): it gives the pooled prompt embedding."""
    return _weights_if(config, "text_encoder_2", False)


@VIDEO_TERMS.register("weights.vae", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                      source="symbolic/arch/vae3d.py")
def weights_vae(config):
    """The whole 3D VAE (encoder too: ``from_pretrained`` loads it and ``.to("cuda")`` moves it although text-to-video
    only decodes): CogVideoX 215,583,907, Wan 2.1 126,892,531 (float32 by default), HunyuanVideo 246,478,803."""
    return _weights_if(config, "vae", False)


@VIDEO_TERMS.register("allocator.weights_rounding", category=Category.ALLOCATOR, stage=Stage.RESIDENT,
                      source="symbolic/allocator.py (c10 CUDACachingAllocator rules)")
def weights_rounding(config):
    """What ``memory_allocated`` counts beyond the raw bytes after the weights are moved: each tensor rounded to
    512 bytes, and blocks whose remainder is too small to split handed out whole (caching-allocator model, each
    resident component packed on its own). Not modelled under FSDP (flat parameters pack differently)."""
    if config.parallel == "fsdp":
        return 0
    return sum(allocator_rounding(config, c)[0] for c in loaded_components(config) if _resident(config, c))


@VIDEO_TERMS.register("workspace.cublas", category=Category.WORKSPACE, stage=Stage.RESIDENT,
                      source="symbolic/framework.py cublas_workspace_bytes")
def cublas_workspace(config):
    """cuBLAS workspace allocated through the caching allocator on the first matmul (in the text encoder) and
    kept: 32 MiB + 1 MiB on Hopper (``Framework.cublas_workspace_bytes``)."""
    return config.framework.cublas_workspace_bytes


# --- offloaded weights (model CPU offload: the running component only) -------------------------------------------
@VIDEO_TERMS.register("offload.text_encoder_weights", category=Category.WEIGHTS, stage=Stage.TEXT_ENCODER,
                      source="diffusers DiffusionPipeline.enable_model_cpu_offload (accelerate cpu_offload_with_hook)")
def offload_text_encoder(config):
    """With model CPU offload a component is moved to the GPU when its forward is called and back when the next
    component's hook fires, so the text-encoder stage holds the text encoder only (for HunyuanVideo the LLaMA
    encoder, whose call is the larger; CLIP follows it alone)."""
    return _weights_if(config, "text_encoder", True)


@VIDEO_TERMS.register("offload.transformer_weights", category=Category.WEIGHTS, stage=Stage.TRANSFORMER_STEP,
                      source="diffusers DiffusionPipeline.enable_model_cpu_offload", moments=TRANSFORMER_MOMENTS)
def offload_transformer(config):
    """With model CPU offload the denoising loop holds the transformer only."""
    return _weights_if(config, "transformer", True)


@VIDEO_TERMS.register("offload.vae_weights", category=Category.WEIGHTS, stage=Stage.VAE_DECODE,
                      source="diffusers DiffusionPipeline.enable_model_cpu_offload", moments=DECODE_MOMENTS)
def offload_vae(config):
    """With model CPU offload the decode holds the VAE only (the transformer was moved back when the VAE's hook
    fired)."""
    return _weights_if(config, "vae", True)


# --- text encoder stage -------------------------------------------------------------------------------------------
def _text_on_gpu(config: VideoConfig) -> bool:
    return not config.has("text_encoder_cpu")


@VIDEO_TERMS.register("text_encoder.activations", category=Category.ACTIVATIONS, stage=Stage.TEXT_ENCODER,
                      source="transformers modeling_t5.py / modeling_umt5.py / modeling_llama.py")
def text_encoder_activations(config):
    """One encoder call on the B prompts (the negative prompt is a second call of the same size): T5/umT5 on
    226 / 512 padded tokens (position bias, gated-GELU FF, fp32 residual under an fp16 load with fp32 ``wo``),
    LLaMA on 256 + 95 template tokens with every hidden state returned and its KV cache kept
    (``T5Encoder.activation_bytes``, ``LlamaText.activation_bytes``)."""
    if not _text_on_gpu(config):
        return 0
    enc, spec = text_encoder_of(config.spec), config.spec
    b_te = config.bytes_of(config.text_dtype)
    if isinstance(enc, LlamaText):
        return enc.activation_bytes(B, spec.encoder_tokens, b_te)
    wo_fp32 = config.text_dtype == "fp16"
    return enc.activation_bytes(B, spec.encoder_tokens, b_te, wo_fp32)


@VIDEO_TERMS.register("text_encoder.fsdp_gathered", category=Category.WEIGHTS, stage=Stage.TEXT_ENCODER,
                      source="torch FSDP (all-gather per wrapped block, forward prefetch)")
def text_encoder_gathered(config):
    """Under FSDP the text encoder's current and prefetched blocks are all-gathered to full size."""
    return gathered_blocks(config, "text_encoder") if _text_on_gpu(config) else 0


@VIDEO_TERMS.register("text_encoder.kept_embeddings", category=Category.ACTIVATIONS, stage=Stage.TEXT_ENCODER,
                      source="encode_prompt in pipeline_cogvideox.py / pipeline_wan.py / pipeline_hunyuan_video.py")
def text_encoder_kept(config):
    """Prompt embeddings already computed while the next encoder call runs: the positive prompt's (B x L x 4096)
    while the negative one is encoded (G = 2; CogVideoX, Wan), LLaMA's cropped output while CLIP runs
    (HunyuanVideo: smaller than the LLaMA call itself, counted here next to it as an upper bound)."""
    if not _text_on_gpu(config):
        return 0
    b_te = config.bytes_of(config.text_dtype)
    L = config.spec.text_tokens
    if config.family == "hunyuanvideo":
        return B * L * HIDDEN_TEXT * b_te
    return (G - 1) * B * L * HIDDEN_TEXT * b_te


# --- transformer step ---------------------------------------------------------------------------------------------


@VIDEO_TERMS.register("transformer.step_inputs", category=Category.ACTIVATIONS, stage=Stage.TRANSFORMER_STEP,
                      source="denoising loop of pipeline_cogvideox.py / pipeline_wan.py / pipeline_hunyuan_video.py",
                      moments=TRANSFORMER_MOMENTS)
def transformer_step_inputs(config):
    """Live through the whole step, outside the transformer: the latents and the model input, and the prompt
    embeddings.

    * CogVideoX: latents (B x 13 x 16 x h x w, model dtype), ``torch.cat([latents] * 2)`` (G x B), and
      ``torch.cat([negative_prompt_embeds, prompt_embeds])`` next to the negative half it was built from
      ((2G - 1) x B x 226 x 4096).
    * Wan: latents in float32 (``prepare_latents(..., torch.float32)``), the bf16 model input, both prompt
      embeddings (G x B x 512 x 4096) and, during the unconditional pass, the conditional ``noise_pred``.
    * HunyuanVideo: float32 latents, the model input, prompt embeddings (B x 256 x 4096), the mask and pooled
      CLIP embedding (negligible).
    """
    lat = latent_elements(config)
    L = config.spec.text_tokens
    b_te = config.bytes_of(config.text_dtype)
    if config.family == "cogvideox":
        return lat * b + G * lat * b + (2 * G - 1) * B * L * HIDDEN_TEXT * b_te
    if config.family == "wan":
        return lat * FP32 + lat * b + G * B * L * HIDDEN_TEXT * b_te + (G - 1) * lat * b
    return lat * FP32 + lat * b + B * L * HIDDEN_TEXT * b_te


@VIDEO_TERMS.register("transformer.resident_inputs", category=Category.ACTIVATIONS, stage=Stage.TRANSFORMER_STEP,
                      source="symbolic/arch/video_transformer.py resident_inputs", moments=TRANSFORMER_MOMENTS)
def transformer_resident_inputs(config):
    """Inside the transformer but live across its blocks: rotary tables expanded to the video grid (float32 cos
    and sin, N_v x head_dim, per device), Wan's projected text (512 x D), HunyuanVideo's refined text tokens."""
    return transformer_of(config.spec).resident_inputs(step_shape(config))


@VIDEO_TERMS.register("transformer.fsdp_gathered", category=Category.WEIGHTS, stage=Stage.TRANSFORMER_STEP,
                      source="torch FSDP (all-gather per wrapped block, forward prefetch)",
                      moments=TRANSFORMER_MOMENTS)
def transformer_gathered(config):
    """Under FSDP the running transformer block and the prefetched next one are all-gathered (full size, less the
    device's own shards)."""
    return gathered_blocks(config, "transformer")


def _moment_term(name: str):
    def builder(config: VideoConfig):
        return transformer_moments(config).get(name, 0)
    builder.__name__ = f"transformer_{name}"
    return builder


def _register_moment(name: str, doc: str):
    builder = _moment_term(name)
    builder.__doc__ = doc
    category = Category.ATTENTION if "attention" in name else Category.ACTIVATIONS
    VIDEO_TERMS.register(f"transformer.{name}", category=category, stage=Stage.TRANSFORMER_STEP,
                         source="symbolic/arch/video_transformer.py moments()", moments=(name,))(builder)


_register_moment("feedforward", """Block transients at the feed-forward (CogVideoX, Wan): the FF input, its
    up-projection and GELU (2 x N x F), the down-projection's output and the residual streams (CogVideoX: the
    patch-embedding output is still alive in block 0 because the text and video streams are slices of it).""")
_register_moment("attention", """Block transients at the self-attention SDPA call: q, k, v, the output, the block
    input and norm outputs; with the math backend the float32 upcasts and the two float32 score matrices
    (heads x N x N each: N x N scores per head stored), with Ulysses / ring the all-to-all or ring buffers
    (``attention_core``). Default SDPA (flash / memory-efficient) stores no N x N matrix.""")
_register_moment("rotary", """CogVideoX-5B: ``apply_rotary_emb`` on the video part of q: three float32
    N_v x D temporaries next to the attention inputs.""")
_register_moment("qk_norm", """Wan: the q/k RMSNorm over all heads, computed in float32 (three float32 N x D
    temporaries next to q, k, v and the block input).""")
_register_moment("cross_attention", """Wan: the cross-attention to the 512 text tokens (N queries x 512 keys;
    only large with the math backend).""")
_register_moment("single_rotary", """HunyuanVideo single-stream block: RoPE on the key while the GELU'd MLP
    branch (N x 4D, computed before the attention) is held.""")
_register_moment("single_attention", """HunyuanVideo single-stream block: the SDPA call with the MLP branch held
    (plus the math backend's score matrices).""")
_register_moment("dual_feedforward", """HunyuanVideo dual-stream block: the video stream's feed-forward.""")


# --- VAE decode ---------------------------------------------------------------------------------------------------


@VIDEO_TERMS.register("vae.latents", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                      source="decode_latents / the pipelines' decode block", moments=DECODE_MOMENTS)
def vae_latents(config):
    """The final latents handed to ``vae.decode``: the loop's latents and their cast / scaled copy in the VAE dtype
    (CogVideoX ``1 / scaling_factor * latents``, Wan ``latents / latents_std + latents_mean``, HunyuanVideo
    ``latents / scaling_factor``)."""
    lat = latent_elements(config)
    first = FP32 if config.family in ("wan", "hunyuanvideo") else b
    return lat * first + lat * config.bytes_of(config.vae_dtype)


def _decode_term(name: str):
    def builder(config: VideoConfig):
        return decode_moments(config).get(name, 0)
    builder.__name__ = f"vae_{name}"
    return builder


def _register_decode(name: str, doc: str):
    builder = _decode_term(name)
    builder.__doc__ = doc
    category = Category.ATTENTION if name == "mid_attention" else Category.ACTIVATIONS
    VIDEO_TERMS.register(f"vae.{name}", category=category, stage=Stage.VAE_DECODE,
                         source="symbolic/arch/vae3d.py decode_moments()", moments=(name,))(builder)


_register_decode("first_batch", """CogVideoX: the first frame batch (2 + t mod 2 latent frames): its conv caches
    and the top block's working set (``CogVideoXVAE.decode_moments``).""")
_register_decode("second_batch", """CogVideoX: the second frame batch, with the first batch's whole cache set
    still referenced next to the new caches (old + new), and the first batch's output frames.""")
_register_decode("last_batch", """CogVideoX: the last frame batch: two 2-frame cache sets, the working set and all
    earlier output frames.""")
_register_decode("frame_head", """Wan: a later latent frame at the decoder head (float32 ``F.normalize``) with the
    cache set and every frame decoded so far.""")
_register_decode("frame_conv", """Wan: a later latent frame inside the top resnet's causal conv (cache concat and
    spatial zero padding) with the cache set and every frame decoded so far.""")
_register_decode("first_frame", """Wan: the first latent frame (only moment when there is one).""")
_register_decode("upsample", """HunyuanVideo: the last spatial upsampler of a temporal tile (17 output frames),
    with every earlier tile's output held.""")
_register_decode("mid_attention", """HunyuanVideo: the mid block's frame-causal attention mask over the tile's
    tokens (N^2 x (4 + b) while it is built), or the math backend's score matrices.""")
_register_decode("postprocess", """The decoded video and ``postprocess_video``'s denormalize temporaries (3 x
    output), or all decoded tiles and their concatenation.""")


# ----------------------------------------------------------------------------------------------------------------
STAGE_MOMENTS = {Stage.TEXT_ENCODER: ("peak",), Stage.TRANSFORMER_STEP: TRANSFORMER_MOMENTS,
                 Stage.VAE_DECODE: DECODE_MOMENTS}


@dataclass(frozen=True)
class VideoModel(StagedModel):
    """The closed-form model of one configuration: its terms, each stage's moments and peak, the peak."""

    config: VideoConfig

    @cached_property
    def terms(self) -> list[Term]:
        return VIDEO_TERMS.bind(self.config)

    stages = STAGES

    @cached_property
    def stage_weights(self) -> dict[Stage, sp.Expr]:
        """Weights (and their allocator rounding) resident during each stage."""
        def weights(terms):
            return sp.Add(*(t.expr for t in terms if t.category == Category.WEIGHTS and not t.name.endswith(
                "fsdp_gathered") or t.category == Category.ALLOCATOR))
        resident = weights(self.terms_of(Stage.RESIDENT))
        return {stage: resident + weights(self.terms_of(stage)) for stage in STAGES}

    @cached_property
    def stage_activations(self) -> dict[Stage, sp.Expr]:
        return {stage: self.stage_peaks[stage] - self.stage_weights[stage] for stage in STAGES}

    @cached_property
    def weights(self) -> sp.Expr:
        """Parameters and buffers of every loaded component, per device (whether resident or offloaded)."""
        return sp.Add(*(self.component_weights[c] for c in COMPONENTS))

    @cached_property
    def component_weights(self) -> dict[str, sp.Expr]:
        config = self.config
        text = weights_on_device(config, "text_encoder")
        if config.family == "hunyuanvideo":
            text += weights_on_device(config, "text_encoder_2")
        return {"transformer": weights_on_device(config, "transformer"), "text_encoder": text,
                "vae": weights_on_device(config, "vae")}

    @cached_property
    def weights_segment_slack(self) -> int:
        if self.config.parallel == "fsdp":
            return 0
        return sum(allocator_rounding(self.config, c)[1] for c in loaded_components(self.config)
                   if _resident(self.config, c))

    @cached_property
    def peak_reserved(self) -> sp.Expr:
        fragmentation = sp.floor(RESERVED_TRANSIENT_FRACTION * maximum(*self.stage_activations.values()),
                                 evaluate=False)
        return self.peak_allocated + self.weights_segment_slack + RESERVED_CACHE_BYTES + fragmentation

    @cached_property
    def nvidia_smi(self) -> sp.Expr:
        fw = self.config.framework
        return self.peak_reserved + fw.cuda_context_bytes + fw.driver_extra_bytes

    @cached_property
    def latent_shape(self) -> tuple[sp.Expr, ...]:
        lh, lw = latent_hw()
        return (B, sp.Integer(16), latent_frames(self.config), lh, lw)

    @cached_property
    def tokens(self) -> sp.Expr:
        """Sequence length of the transformer's self-attention (video tokens + joint text tokens)."""
        return video_tokens(self.config) + joint_text_tokens(self.config)

    def outputs(self) -> dict[str, sp.Expr]:
        out = {"peak_allocated_bytes": self.peak_allocated, "peak_reserved_bytes": self.peak_reserved,
               "nvidia_smi_bytes": self.nvidia_smi, "weights_bytes": self.weights, "tokens": self.tokens}
        out.update({f"stage:{s.value}": e for s, e in self.stage_peaks.items()})
        out.update({f"activation:{s.value}": e for s, e in self.stage_activations.items()})
        out.update({f"component:{c}": e for c, e in self.component_weights.items()})
        out.update({f"latent:{i}": e for i, e in enumerate(self.latent_shape)})
        return out


@lru_cache(maxsize=None)
def _video_model(config: VideoConfig) -> VideoModel:
    return VideoModel(config)


# --- validation and API -------------------------------------------------------------------------------------------
def _memory_options(memory_options: object) -> frozenset:
    if memory_options is None:
        return frozenset()
    if isinstance(memory_options, str):
        memory_options = (memory_options,)
    if not isinstance(memory_options, Iterable):
        raise ValueError(f"memory_options: must be a collection of {', '.join(MEMORY_OPTIONS)}, got {memory_options!r}")
    options = frozenset(memory_options)
    unknown = sorted(str(o) for o in options if o not in MEMORY_OPTIONS)
    if unknown:
        raise ValueError(f"memory_options: unknown option(s) {', '.join(unknown)}; known: {', '.join(MEMORY_OPTIONS)}")
    return options


def make_config(model: object, dtype: object = None, memory_options: object = (), parallel: object = None,
                attention_backend: object = "default", framework: Framework | None = None) -> VideoConfig:
    model = choice(model, "model", VIDEO_MODELS)
    dtype = None if dtype is None else canonical_dtype(dtype, argument="dtype", allowed=("fp32", "fp16", "bf16"))
    if parallel is not None:
        parallel = choice(parallel, "parallel", PARALLEL_SCHEMES)
    backend = choice(attention_backend, "attention_backend", ATTENTION_BACKENDS)
    extra = {} if framework is None else {"framework": framework}
    return VideoConfig(model, dtype, _memory_options(memory_options), parallel,
                       "math" if backend == "math" else "flash", **extra)


def video_model(model: str, **config) -> VideoModel:
    """The SymPy model of one configuration (cached): ``video_model("cogvideox-2b", dtype=None,
    memory_options=(), parallel=None, attention_backend="default")``. Its ``terms`` (name, category, stage,
    expression, derivation note), ``moments(stage)``, ``stage_peaks``, ``peak_allocated``, ``peak_reserved`` and
    ``nvidia_smi`` are expressions in T, H, W, B, G, b, P."""
    return _video_model(make_config(model, **config))


def _values(config: VideoConfig, frames, height, width, batch, guidance_scale, devices) -> dict[str, int]:
    frames = positive_int(frames, "frames")
    height = positive_int(height, "height")
    width = positive_int(width, "width")
    batch = positive_int(batch, "batch")
    devices = positive_int(devices, "devices")
    m = config.spec.multiple
    if height % m:
        raise ValueError(f"height: {config.model} needs a multiple of {m} (VAE scale x patch size), got {height}")
    if width % m:
        raise ValueError(f"width: {config.model} needs a multiple of {m} (VAE scale x patch size), got {width}")
    if devices > 1 and config.parallel is None:
        raise ValueError(f"parallel: devices={devices} needs a scheme, one of {', '.join(PARALLEL_SCHEMES)}")
    if config.parallel == "ulysses" and transformer_of(config.spec).heads % devices:
        raise ValueError(f"devices: Ulysses splits the {transformer_of(config.spec).heads} attention heads of "
                         f"{config.model}; {devices} does not divide them")
    return {"T": frames, "H": height, "W": width, "B": batch, "G": guidance_copies(guidance_scale),
            "b": config.b_value, "P": devices}


def _as_int(value) -> int:
    return int(value) if getattr(value, "denominator", 1) == 1 else int(-(-value.numerator // value.denominator))


class _NamedExactPrinter(_ExactPrinter):
    """``numeric``'s exact printer, printing each symbol as the generated code's argument name directly: renaming
    the expression first (``numeric._with_identifiers``' ``xreplace``) rebuilds it and re-evaluates every Max, Min
    and floor of the stage sums, which costs seconds per configuration."""

    def _print_Symbol(self, expr):
        return _IDENTIFIER.get(expr, super()._print_Symbol(expr))


_IDENTIFIER = dict(zip(ARG_ORDER, _ARG_IDENTIFIERS))


@lru_cache(maxsize=None)
def exact_callable(expr: sp.Expr):
    """The exact function of ``expr`` (numeric's printer and namespace: ints and Fractions, exact floor/ceiling)
    taking ``numeric.arguments(values)``."""
    body = _NamedExactPrinter({"fully_qualified_modules": False}).doprint(sp.sympify(expr))
    return compile_exact(f"lambda {', '.join(_ARG_IDENTIFIERS)}: {body}")


def _evaluate(expr: sp.Expr, values: dict[str, int]) -> int:
    return _as_int(exact_callable(expr)(*arguments(values)))


def estimate_video_pipeline(model: str, frames: int, height: int, width: int, batch: int = 1,
                            guidance_scale: float = 6.0, dtype: str | None = None, memory_options=(),
                            devices: int = 1, parallel: str | None = None, attention_backend: str = "default",
                            framework: Framework | None = None) -> dict:
    """Peak GPU memory (bytes, per device) of one text-to-video call of a diffusers video pipeline.

    Returns ``peak_allocated_bytes`` (``torch.cuda.max_memory_allocated``), ``peak_reserved_bytes`` (the caching
    allocator's segments: allocated + weights' segment slack + a cached pool + 16/25 of the largest stage
    activation, an assumption carried over from the SD 1.5 fit), ``nvidia_smi_bytes`` (reserved + CUDA context +
    driver extra),
    ``peak_stage``, ``weights_bytes`` (all components, per device), ``stages`` (each stage's peak allocated bytes,
    resident weights included), ``component_weights_bytes`` (transformer, text_encoder, vae),
    ``stage_activation_bytes`` (stage peak minus the weights resident then), ``latent_shape``
    (B, C, T', H', W') and ``tokens`` (the transformer's self-attention sequence length).
    """
    config = make_config(model, dtype, memory_options, parallel, attention_backend, framework)
    values = _values(config, frames, height, width, batch, guidance_scale, devices)
    return evaluate(config, values)


def evaluate(config: VideoConfig, values: dict[str, int]) -> dict:
    m = _video_model(config)
    out = {name: _evaluate(expr, values) for name, expr in _compiled_outputs(config).items()}
    stages = {s.value: out[f"stage:{s.value}"] for s in STAGES}
    return {
        "model": config.model,
        "dtype": config.transformer_dtype,
        "peak_allocated_bytes": out["peak_allocated_bytes"],
        "peak_reserved_bytes": out["peak_reserved_bytes"],
        "nvidia_smi_bytes": out["nvidia_smi_bytes"],
        "peak_stage": max(stages, key=stages.get),
        "weights_bytes": out["weights_bytes"],
        "stages": stages,
        "component_weights_bytes": {c: out[f"component:{c}"] for c in COMPONENTS},
        "stage_activation_bytes": {s.value: out[f"activation:{s.value}"] for s in STAGES},
        "latent_shape": tuple(out[f"latent:{i}"] for i in range(len(m.latent_shape))),
        "tokens": out["tokens"],
    }


@lru_cache(maxsize=None)
def _compiled_outputs(config: VideoConfig) -> dict[str, sp.Expr]:
    return _video_model(config).outputs()


# --- published figures --------------------------------------------------------------------------------------------
GB = 10**9
GiB = 2**30


def published_figures() -> list[dict]:
    """Published peak-memory figures with their settings, and whether our model's settings match them."""
    return [
        {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, "dtype": "fp16", "memory_options": (),
         "published_gb": 33, "unit": "GiB (torch.cuda.max_memory_allocated / 1024**3, printed as GB)",
         "source": "diffusers PR #9150 / CogVideoX pipeline docs (memory optimization section), diffusers fp16",
         "comparable": True, "note": "no optimization: every component on the GPU"},
        {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, "dtype": "fp16",
         "memory_options": ("cpu_offload",), "published_gb": 19, "unit": "GiB (max_memory_allocated)",
         "source": "diffusers CogVideoX docs: 'requires about 19 GB ... to decode 49 frames', "
                   "pipe.enable_model_cpu_offload()",
         "comparable": True, "note": "model CPU offload"},
        {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, "dtype": "fp16",
         "memory_options": ("cpu_offload", "vae_tiling"), "published_gb": 11, "unit": "GiB (max_memory_allocated)",
         "source": "diffusers CogVideoX docs: model CPU offload + pipe.vae.enable_tiling()",
         "comparable": True, "note": "model CPU offload and VAE tiling"},
        {"model": "wan2.1-t2v-1.3b", "frames": 81, "height": 480, "width": 832, "dtype": None,
         "memory_options": ("cpu_offload", "text_encoder_cpu"), "published_gb": 8.19, "unit": "GB (VRAM)",
         "source": "Wan-Video/Wan2.1 README: T2V-1.3B at 480P with --offload_model True --t5_cpu",
         "comparable": False, "note": "Wan's own code base (not diffusers): its own VAE and offload; compared "
                                      "with our cpu_offload + text_encoder_cpu"},
        {"model": "hunyuanvideo", "frames": 129, "height": 720, "width": 1280, "dtype": None,
         "memory_options": ("vae_tiling",), "published_gb": 60, "unit": "GB (GPU peak memory)",
         "source": "Tencent/HunyuanVideo README, requirements table (batch 1, 720px1280px129f)",
         "comparable": False, "note": "Tencent's code base (flash-attn, VAE tiling on, its own text-encoder "
                                      "handling); compared with our diffusers model with vae_tiling"},
        {"model": "hunyuanvideo", "frames": 129, "height": 544, "width": 960, "dtype": None,
         "memory_options": ("vae_tiling",), "published_gb": 45, "unit": "GB (GPU peak memory)",
         "source": "Tencent/HunyuanVideo README, requirements table (batch 1, 544px960px129f)",
         "comparable": False, "note": "as above"},
    ]


def published_comparison() -> list[dict]:
    """Each published figure next to our estimate under the same settings."""
    rows = []
    for fig in published_figures():
        est = estimate_video_pipeline(fig["model"], fig["frames"], fig["height"], fig["width"], dtype=fig["dtype"],
                                      memory_options=fig["memory_options"])
        unit = GiB if fig["unit"].startswith("GiB") else GB
        ours = est["peak_allocated_bytes"] / unit
        rows.append({**fig, "ours_allocated": round(ours, 2),
                     "ours_reserved": round(est["peak_reserved_bytes"] / unit, 2),
                     "ours_nvidia_smi": round(est["nvidia_smi_bytes"] / unit, 2), "peak_stage": est["peak_stage"],
                     "ratio": round(ours / fig["published_gb"], 3)})
    return rows
