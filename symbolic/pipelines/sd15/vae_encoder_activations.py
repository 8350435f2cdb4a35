"""VAE encoder activations (img2img only: ``prepare_latents`` runs ``vae.encode`` on the init image at full
resolution, batch 1: one init image, its latent repeated afterwards for the N images).

The peak is inside the second resnet of the first down block, while its ``conv2`` runs at full resolution with
128 channels: the encoder frame holds ``conv_in``'s output, the block holds the first resnet's output, and the
resnet holds the SiLU output (conv2's input) and conv2's output, beside cuDNN's workspace (measured blocks in
``sd15_h100_peak_composition.json``: 4 x 64 MiB + 128.3 MiB at 512 x 512). With ``enable_tiling`` and a side over
512 px, ``tiled_encode`` encodes 512 x 512 tiles one at a time: the same peak on a tile.
"""
from __future__ import annotations

import sympy as sp

from symbolic.kernels import classic_scores, cudnn_conv_workspace, math_sdpa
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.pipelines.sd15.shapes import SCALE, latent_h, latent_w
from symbolic.symbols import b
from symbolic.terms import Category, Stage

SOURCE = "diffusers models/autoencoders/vae.py Encoder.forward; models/resnet.py ResnetBlock2D"
#: ``AutoencoderKL.tile_sample_min_size`` = config ``sample_size`` (512 px) -> 64 latent pixels per tile side.
TILE_LATENT = arch.vae().config["sample_size"] // SCALE
IMAGE_CHANNELS = 3
#: Full-resolution tensors live at the peak: conv_in output, first resnet's output, SiLU output, conv2 output.
FULL_RES_MAPS = 4


def encoded_latent(config) -> tuple[sp.Expr, sp.Expr]:
    """Latent height and width of the image (or tile) one encoder pass sees."""
    if "vae_tiling" in config.memory_options:
        return sp.Min(latent_h, TILE_LATENT), sp.Min(latent_w, TILE_LATENT)
    return latent_h, latent_w


def encoded_pixels(config) -> sp.Expr:
    h, w = encoded_latent(config)
    return SCALE**2 * h * w


def applies(config) -> bool:
    return config.task == "img2img"


@SD15_TERMS.register("vae_encode_input_image", category=Category.ACTIVATIONS, stage=Stage.VAE_ENCODE,
                     moments=("down_resnet_conv", "mid_attention"),
                     source="diffusers pipeline_stable_diffusion_img2img.py prepare_latents")
def vae_encode_input_image(config):
    """The preprocessed init image on the GPU, 3 x H8 x W8 x b (H8, W8: H, W rounded down to multiples of 8)."""
    return IMAGE_CHANNELS * SCALE**2 * latent_h * latent_w * b if applies(config) else 0


@SD15_TERMS.register("vae_encoder_full_res_maps", category=Category.ACTIVATIONS, stage=Stage.VAE_ENCODE,
                     moments="down_resnet_conv", source=SOURCE)
def vae_encoder_full_res_maps(config):
    """Four 128-channel full-resolution maps at the peak (see the module note): 4 x 128 x H8 x W8 x b."""
    c0 = arch.vae().channels[0]
    return FULL_RES_MAPS * c0 * encoded_pixels(config) * b if applies(config) else 0


@SD15_TERMS.register("vae_encoder_conv_workspace", category=Category.WORKSPACE, stage=Stage.VAE_ENCODE,
                     moments="down_resnet_conv", source="cuDNN via torch.nn.functional.conv2d; symbolic/kernels.py")
def vae_encoder_conv_workspace(config):
    """cuDNN's workspace for the 128 -> 128 3x3 conv2 at full resolution: two output-sized buffers plus a filter copy
    (``kernels.cudnn_conv_workspace``)."""
    if not applies(config):
        return 0
    c0 = arch.vae().channels[0]
    return cudnn_conv_workspace(c0 * encoded_pixels(config), c0 * c0 * 9, b)


def mid_attention_maps(latent_tokens: sp.Expr) -> sp.Expr:
    """Six 512-channel latent-resolution maps live in the VAE mid block's attention: the mid block's input (held by
    the caller), the first resnet's output (the attention's residual), the group-norm output, q, k and v."""
    return 6 * arch.vae().channels[-1] * latent_tokens * b


def mid_attention_scores(config, latent_tokens: sp.Expr) -> sp.Expr:
    """Score memory of the VAE's single-head mid-block attention over latent_tokens positions."""
    kernel = config.vae_attention
    if kernel == "classic":  # the VAE's Attention has upcast_softmax=True
        return classic_scores(latent_tokens**2, b, upcast_softmax=True)
    if kernel == "math":
        return math_sdpa(latent_tokens**2, arch.vae().channels[-1] * latent_tokens, b)
    return 0


@SD15_TERMS.register("vae_encoder_mid_attention_maps", category=Category.ACTIVATIONS, stage=Stage.VAE_ENCODE,
                     moments="mid_attention", source="diffusers UNetMidBlock2D; attention_processor.py")
def vae_encoder_mid_attention_maps(config):
    """The encoder's mid-block attention runs at the latent resolution with 512 channels: six maps (see
    ``mid_attention_maps``)."""
    h, w = encoded_latent(config)
    return mid_attention_maps(h * w) if applies(config) else 0


@SD15_TERMS.register("vae_encoder_mid_attention_scores", category=Category.ATTENTION, stage=Stage.VAE_ENCODE,
                     moments="mid_attention", source="diffusers attention_processor.py; symbolic/kernels.py")
def vae_encoder_mid_attention_scores(config):
    """(h w)^2 scores of the single-head attention when the kernel stores them: classic ``AttnProcessor`` (fp32
    softmax: up to 8 bytes per score) or math SDPA (9 bytes per score); none with flash / memory-efficient SDPA."""
    h, w = encoded_latent(config)
    return mid_attention_scores(config, h * w) if applies(config) else 0
