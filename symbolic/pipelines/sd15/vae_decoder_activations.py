"""VAE decoder activations (``vae.decode`` on the N denoised latents, at full resolution).

Where the decode peaks: the last upsampler (up block 2: 256 channels, from H/2 x W/2 to H x W), while its conv runs:
the decoder frame's ``sample`` holds up block 1's output (512 channels at H/2 x W/2), the block holds its last
resnet's output (256 at H/2 x W/2, the upsampler's input), the upsampler holds the nearest-neighbour
``interpolate`` output (256 at H x W) and the conv writes its output (256 at H x W) beside cuDNN's workspace.
Measured at a 64 x 64 latent (``sd15_h100_peak_composition.json``): 64 + 32 + 128 + 128 + 257.1 MiB. The mid
block's single-head attention at h x w is the other candidate: it wins only where N x N scores are stored and the
image is large.

Batch: N images at once; ``enable_slicing`` decodes them one by one (``z.split(1)``), holding the images already
decoded; ``enable_tiling`` decodes 64 x 64-latent tiles (``tile_latent_min_size``) with stride 48
(``tile_overlap_factor`` 0.25), holding the decoded tiles until they are blended.
"""
from __future__ import annotations

import sympy as sp

from symbolic.kernels import cudnn_conv_workspace
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.pipelines.sd15.shapes import SCALE, latent_h, latent_w, latent_tokens
from symbolic.pipelines.sd15.vae_encoder_activations import (IMAGE_CHANNELS, TILE_LATENT, mid_attention_maps,
                                                             mid_attention_scores)
from symbolic.symbols import N, b
from symbolic.terms import Category, Stage

SOURCE = "diffusers models/autoencoders/vae.py Decoder.forward; unet_2d_blocks.py UpDecoderBlock2D; upsampling.py"
MOMENTS = ("upsampler_conv", "mid_attention")
#: ``tile_overlap_factor``: tiles start every (1 - 0.25) x 64 latent pixels.
TILE_STRIDE = TILE_LATENT * 3 // 4


def decode_batch(config) -> sp.Expr:
    """Latents decoded at once: N, or 1 with VAE slicing."""
    return sp.Integer(1) if "vae_slicing" in config.memory_options else N


def tiled(config) -> bool:
    return "vae_tiling" in config.memory_options


def decoded_latent(config) -> tuple[sp.Expr, sp.Expr]:
    """Latent height and width one decoder pass sees (the whole latent, or the largest tile)."""
    if tiled(config):
        return sp.Min(latent_h, TILE_LATENT), sp.Min(latent_w, TILE_LATENT)
    return latent_h, latent_w


def last_upsampler() -> tuple[int, int, int]:
    """(index, channels of its block, channels of the block before) of the decoder's last upsampling block."""
    rev = arch.vae().channels[::-1]
    index = len(rev) - 2
    return index, rev[index], rev[index - 1]


def upsampler_input_tokens(config) -> sp.Expr:
    """Pixels of the last upsampler's input: the latent grid scaled by 2 per earlier upsampler."""
    index, _, _ = last_upsampler()
    h, w = decoded_latent(config)
    return 4**index * h * w


@SD15_TERMS.register("vae_decode_latents", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE, moments=MOMENTS,
                     source="diffusers pipeline: vae.decode(latents / scaling_factor)")
def vae_decode_latents(config):
    """The N latents and their scaled copy ``latents / scaling_factor`` (the decode's input), 2 x N x 4 x h x w x b."""
    return 2 * N * arch.vae().latent_channels * latent_tokens * b


@SD15_TERMS.register("vae_decoder_held_block_inputs", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                     moments="upsampler_conv", source=SOURCE)
def vae_decoder_held_block_inputs(config):
    """Held while the last upsampler runs: up block 1's output (512 channels, held by the decoder frame) and up
    block 2's last resnet output (256 channels, held by the block), both at H/2 x W/2."""
    _, channels, previous = last_upsampler()
    return decode_batch(config) * (channels + previous) * upsampler_input_tokens(config) * b


@SD15_TERMS.register("vae_decoder_upsample_interpolate", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                     moments="upsampler_conv", source="diffusers upsampling.py Upsample2D: F.interpolate(x, 2.0)")
def vae_decoder_upsample_interpolate(config):
    """The nearest-neighbour ``interpolate`` output of the last upsampler: 256 channels at H x W."""
    _, channels, _ = last_upsampler()
    return decode_batch(config) * channels * 4 * upsampler_input_tokens(config) * b


@SD15_TERMS.register("vae_decoder_upsample_conv_output", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                     moments="upsampler_conv", source="diffusers upsampling.py Upsample2D: self.conv")
def vae_decoder_upsample_conv_output(config):
    """The last upsampler's 3x3 conv output: 256 channels at H x W."""
    _, channels, _ = last_upsampler()
    return decode_batch(config) * channels * 4 * upsampler_input_tokens(config) * b


@SD15_TERMS.register("vae_decoder_conv_workspace", category=Category.WORKSPACE, stage=Stage.VAE_DECODE,
                     moments="upsampler_conv", source="cuDNN via torch.nn.functional.conv2d; symbolic/kernels.py")
def vae_decoder_conv_workspace(config):
    """cuDNN's workspace for the last upsampler's 256 -> 256 3x3 conv at H x W: two output-sized buffers plus a
    filter copy (``kernels.cudnn_conv_workspace``)."""
    _, channels, _ = last_upsampler()
    output = decode_batch(config) * channels * 4 * upsampler_input_tokens(config)
    return cudnn_conv_workspace(output, channels * channels * 9, b)


@SD15_TERMS.register("vae_decoder_mid_attention_maps", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                     moments="mid_attention", source="diffusers UNetMidBlock2D; attention_processor.py")
def vae_decoder_mid_attention_maps(config):
    """The decoder's mid-block attention at h x w with 512 channels: six maps (conv_in's output held by the
    decoder frame, the attention's residual, group-norm output, q, k, v) per decoded latent."""
    h, w = decoded_latent(config)
    return decode_batch(config) * mid_attention_maps(h * w)


@SD15_TERMS.register("vae_decoder_mid_attention_scores", category=Category.ATTENTION, stage=Stage.VAE_DECODE,
                     moments="mid_attention", source="diffusers attention_processor.py; symbolic/kernels.py")
def vae_decoder_mid_attention_scores(config):
    """(h w)^2 scores of the decoder's single-head attention per decoded latent when the kernel stores them
    (classic: up to 8 bytes per score with the fp32 softmax; math SDPA: 9); none with flash / memory-efficient."""
    h, w = decoded_latent(config)
    return decode_batch(config) * mid_attention_scores(config, h * w)


@SD15_TERMS.register("vae_decoded_slices_held", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                     moments=MOMENTS, source="diffusers autoencoder_kl.py AutoencoderKL.decode (use_slicing)")
def vae_decoded_slices_held(config):
    """With VAE slicing, the images already decoded wait in ``decoded_slices`` while the last one decodes:
    (N - 1) x 3 x H8 x W8 x b."""
    if "vae_slicing" not in config.memory_options:
        return 0
    return (N - 1) * IMAGE_CHANNELS * SCALE**2 * latent_tokens * b


@SD15_TERMS.register("vae_decoded_tiles_held", category=Category.ACTIVATIONS, stage=Stage.VAE_DECODE,
                     moments=MOMENTS, source="diffusers autoencoder_kl.py AutoencoderKL.tiled_decode")
def vae_decoded_tiles_held(config):
    """With VAE tiling on a latent larger than 64, decoded tiles (3 x 512 x 512 each) wait in ``rows`` until
    blending: bounded by all ceil(h/48) x ceil(w/48) tiles but the one decoding, per decoded latent."""
    if not tiled(config):
        return 0
    tiles = sp.ceiling(latent_h / TILE_STRIDE) * sp.ceiling(latent_w / TILE_STRIDE)
    tile_bytes = IMAGE_CHANNELS * (SCALE * TILE_LATENT) ** 2 * b
    held = decode_batch(config) * (tiles - 1) * tile_bytes
    return sp.Piecewise((held, sp.Or(latent_h > TILE_LATENT, latent_w > TILE_LATENT)), (0, True))
