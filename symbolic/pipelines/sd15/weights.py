"""Resident weights: every parameter and buffer of the components ``from_pretrained`` loads and ``.to("cuda")`` moves.

Counts are derived from the configs (``symbolic/arch``), never typed in. Floating tensors take ``b`` bytes per
element after ``.to(dtype)``; integer buffers (CLIP's ``position_ids``) stay int64.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from symbolic.allocator import load_allocated_bytes
from symbolic.arch.tensors import Tensor
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.symbols import b
from symbolic.terms import Category, Stage

INT64_BYTES = 8


def tensor_bytes(tensors: list[Tensor], b_value: sp.Expr) -> sp.Expr:
    floating = sum(t.numel for t in tensors if t.floating)
    integer = sum(t.numel for t in tensors if not t.floating)
    return floating * b_value + INT64_BYTES * integer


def loaded_components(safety_checker: bool) -> list[list[Tensor]]:
    """Tensors in the order ``DiffusionPipeline.to`` moves them: it walks ``_get_signature_keys``, which returns the
    ``__init__`` argument names sorted, so safety_checker, text_encoder, unet, vae (diffusers pipeline_utils.py);
    the safety checker only when it is loaded."""
    components = [arch.safety_checker().tensors] if safety_checker else []
    return components + [arch.text_encoder().tensors, arch.unet().tensors, arch.vae().tensors]


@SD15_TERMS.register("unet_weights", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                     source="diffusers UNet2DConditionModel(**unet.json); symbolic/arch/unet2d.py")
def unet_weights(config):
    """UNet parameters x b. conv_in, time embedding, 4 down blocks (2 resnets each, a Transformer2DModel per resnet
    in the three CrossAttn blocks, 3 downsamplers), the mid block (resnet, transformer, resnet), 4 up blocks
    (3 resnets each over concatenated skips, transformers in the three CrossAttn blocks, 3 upsamplers), norm and
    conv_out: 859,520,964 parameters."""
    return tensor_bytes(arch.unet().tensors, b)


@SD15_TERMS.register("vae_encoder_weights", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                     source="diffusers AutoencoderKL(**vae.json).encoder + quant_conv")
def vae_encoder_weights(config):
    """VAE encoder + quant_conv parameters x b (34,163,664). Loaded for txt2img too: the whole AutoencoderKL is
    moved to the GPU even when only ``decode`` runs."""
    return tensor_bytes(arch.vae().encoder_tensors, b)


@SD15_TERMS.register("vae_decoder_weights", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                     source="diffusers AutoencoderKL(**vae.json).decoder + post_quant_conv")
def vae_decoder_weights(config):
    """VAE decoder + post_quant_conv parameters x b (49,490,199): conv_in, mid block, 4 up blocks of 3 resnets
    with 3 upsamplers, norm and conv_out."""
    return tensor_bytes(arch.vae().decoder_tensors, b)


@SD15_TERMS.register("text_encoder_weights", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                     source="transformers CLIPTextModel(CLIPTextConfig(**text_encoder.json))")
def text_encoder_weights(config):
    """CLIP ViT-L/14 text tower: token and position embeddings, 12 encoder layers, final norm (123,060,480
    floating parameters x b) plus the int64 ``position_ids`` buffer (77 x 8 bytes)."""
    return tensor_bytes(arch.text_encoder().tensors, b)


@SD15_TERMS.register("safety_checker_weights", category=Category.WEIGHTS, stage=Stage.RESIDENT,
                     source="diffusers StableDiffusionSafetyChecker(CLIPConfig(vision_config=...))")
def safety_checker_weights(config):
    """``from_pretrained`` loads the safety checker by default: a CLIP ViT-L/14 vision tower (24 layers, 257 tokens),
    the visual projection and the concept embeddings: 303,981,588 floating parameters x b plus the int64
    ``position_ids`` buffer (257 x 8 bytes). Zero with ``safety_checker=None``."""
    return tensor_bytes(arch.safety_checker().tensors, b) if config.safety_checker else 0


@lru_cache(maxsize=None)
def load_replay(safety_checker: bool, bytes_per_element: int) -> tuple[int, int, int]:
    """(tensor bytes, allocated bytes, reserved bytes) after replaying the weights' load through the allocator."""
    sizes = [t.numel * (bytes_per_element if t.floating else INT64_BYTES)
             for tensors in loaded_components(safety_checker) for t in tensors]
    allocated, reserved = load_allocated_bytes(sizes)
    return sum(sizes), allocated, reserved


@SD15_TERMS.register("weights_allocator_rounding", category=Category.ALLOCATOR, stage=Stage.RESIDENT,
                     source="c10/cuda/CUDACachingAllocator.cpp; symbolic/allocator.py")
def weights_allocator_rounding(config):
    """Bytes the caching allocator counts as allocated beyond the tensors' own bytes while the weights load: each
    tensor is rounded up to 512 bytes, and a segment tail of at most 1 MiB that is too small to split off is handed
    out with the tensor before it. Computed by replaying the tensors, in ``.to()`` order, through the allocator
    model (a constant for the configured dtype; ~30 MB for SD 1.5 in fp16)."""
    exact_bytes, allocated, _ = load_replay(config.safety_checker, config.bytes_per_element)
    return allocated - exact_bytes
