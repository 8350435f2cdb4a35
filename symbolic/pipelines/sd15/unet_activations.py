"""UNet activations during one denoising step (``unet.forward``, batch G x N, latent h x w, h = floor(H/8)).

Where the step peaks: inside the first-level (320-channel, h x w tokens) transformer of the last up block, while
the caller and the block hold, besides the transformer's own tensors (measured block by block at a 64 x 64 latent,
batch 2, ``sd15_h100_peak_composition.json``: 26 maps of 2 x 320 x 4096 x 2 bytes with default SDPA):
* the UNet frame's ``sample``: up block 2's upsampled output, 640 channels at h x w (the last up block's input);
* ``res_samples``: the three level-0 skip connections (conv_in's output and down block 0's two attention outputs),
  held by the UNet frame until the last up block returns;
* the resnet output (the Transformer2DModel's residual) and the transformer block's input (``reshape`` of the
  permuted proj_in output is a copy).
Then either the feed-forward (default SDPA) or the self-attention's score matrix (classic, sliced, math) is the
moment of the peak.
"""
from __future__ import annotations

import sympy as sp

from symbolic.kernels import CLASSIC_SCORE_COPIES, classic_scores, math_sdpa
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.pipelines.sd15.shapes import context_tokens, latent_tokens, unet_batch
from symbolic.symbols import N, b
from symbolic.terms import Category, Stage

SOURCE = "diffusers unets/unet_2d_condition.py, unet_2d_blocks.py CrossAttnUpBlock2D, attention.py"
MOMENTS = ("feed_forward", "self_attention", "cross_attention")
#: GEGLU (``activations.GEGLU``): ``proj`` to 2 x 4 x C, ``gelu(gate)`` (4 x C), ``hidden * gelu(gate)`` (4 x C).
GEGLU_MAPS = 2 * 4 + 4 + 4
#: diffusers ``set_attention_slice("auto")``: half the heads per slice.
AUTO_SLICE_DIVISOR = 2


def level0_map() -> sp.Expr:
    """Bytes of one first-level map: batch x 320 channels x h x w x b."""
    return unet_batch * arch.unet().channels[0] * latent_tokens * b


@SD15_TERMS.register("unet_step_inputs", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP, moments=MOMENTS,
                     source="diffusers pipeline_stable_diffusion*.py denoising loop")
def unet_step_inputs(config):
    """What the denoising loop holds: the latents (N x 4 x h x w), ``latent_model_input`` (the latents concatenated
    for guidance, G N x 4 x h x w) and ``prompt_embeds`` (negative and positive concatenated, G N x 77 x 768)."""
    unet = arch.unet()
    c = unet.config["in_channels"]
    return (N * c * latent_tokens + unet_batch * c * latent_tokens
            + unet_batch * context_tokens(config.long_prompt) * unet.cross_attention_dim) * b


@SD15_TERMS.register("unet_held_block_input", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP, moments=MOMENTS,
                     source=SOURCE)
def unet_held_block_input(config):
    """The last up block's input, held by the UNet frame while the block runs: up block 2's upsampled output,
    640 channels at h x w."""
    rev = arch.unet().channels[::-1]
    return unet_batch * rev[-2] * latent_tokens * b


@SD15_TERMS.register("unet_skip_connections", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP, moments=MOMENTS,
                     source=SOURCE)
def unet_skip_connections(config):
    """The level-0 skip connections the last up block consumes (``layers_per_block + 1`` = 3 of them, 320
    channels at h x w): the UNet frame's ``res_samples`` keeps all three until the block returns."""
    skips = [c for c, level in arch.unet().skip_channels() if level == 0]
    return unet_batch * sum(skips) * latent_tokens * b


@SD15_TERMS.register("unet_transformer_residuals", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP,
                     moments=MOMENTS, source="diffusers transformers/transformer_2d.py")
def unet_transformer_residuals(config):
    """Two level-0 maps held by ``Transformer2DModel``: its residual (the resnet's output) and the transformer
    block's input (the permuted ``proj_in`` output, copied by ``reshape``)."""
    return 2 * level0_map()


@SD15_TERMS.register("unet_transformer_block_state", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP,
                     moments="feed_forward", source="diffusers attention.py BasicTransformerBlock.forward")
def unet_transformer_block_state(config):
    """In ``BasicTransformerBlock`` at the feed-forward: ``attn_output`` (cross-attention's output, still bound),
    the residual stream ``hidden_states`` and ``norm3``'s output: three level-0 maps."""
    return 3 * level0_map()


@SD15_TERMS.register("unet_geglu", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP,
                     moments="feed_forward", source="diffusers activations.py GEGLU; attention.py FeedForward")
def unet_geglu(config):
    """The GEGLU feed-forward at level 0: ``proj`` output (2 x 4 x 320 channels), ``gelu(gate)`` (4 x 320) and the
    product (4 x 320) coexist: 16 level-0 maps (measured 40 + 20 + 20 MiB at a 64 x 64 latent, batch 2)."""
    return GEGLU_MAPS * level0_map()


@SD15_TERMS.register("unet_self_attention_projections", category=Category.ACTIVATIONS, stage=Stage.UNET_STEP,
                     moments="self_attention", source="diffusers attention_processor.py")
def unet_self_attention_projections(config):
    """At level 0's self-attention: ``norm1``'s output and q, k, v (copies by ``head_to_batch_dim`` in the classic
    processor, views in SDPA; measured: 4 maps beside the scores with classic and math), plus the output buffer
    where it exists while the scores do: ``SlicedAttnProcessor`` pre-allocates it with ``torch.zeros``, and the
    fused kernels write it directly (classic and math allocate it only after the scores)."""
    output_buffer = 1 if config.unet_attention in ("sliced", "fused") else 0
    return (4 + output_buffer) * level0_map()


def unet_heads() -> int:
    return arch.unet().heads


@SD15_TERMS.register("unet_self_attention_scores", category=Category.ATTENTION, stage=Stage.UNET_STEP,
                     moments="self_attention", source="diffusers attention_processor.py; symbolic/kernels.py")
def unet_self_attention_scores(config):
    """N x N scores of level-0 self-attention (N = h w tokens, 8 heads, batch G N), by kernel: classic
    ``AttnProcessor`` keeps 2 score tensors (the ``baddbmm`` input and output, then scores and softmax); the sliced
    processor the same for one slice of heads / 2 rows of the batch x heads dimension; math SDPA fp32 scores and
    probabilities and a one-byte mask (9 bytes per score) plus fp32 q, k, v and scaled q; flash and
    memory-efficient SDPA store none (O(N) memory)."""
    kernel, n = config.unet_attention, latent_tokens
    rows = unet_batch * unet_heads()
    if kernel == "classic":
        return classic_scores(rows * n**2, b)
    if kernel == "sliced":
        return CLASSIC_SCORE_COPIES * (unet_heads() // AUTO_SLICE_DIVISOR) * n**2 * b
    if kernel == "math":
        return math_sdpa(rows * n**2, unet_batch * arch.unet().channels[0] * n, b)
    return 0


@SD15_TERMS.register("unet_cross_attention", category=Category.ATTENTION, stage=Stage.UNET_STEP,
                     moments="cross_attention", source="diffusers attention_processor.py; symbolic/kernels.py")
def unet_cross_attention(config):
    """Level-0 cross-attention to the text: the self-attention's output sum and ``norm2``'s output, q (level-0
    maps), k and v over the 77-token context, and the N x 77 scores where the kernel stores them (only large with
    long prompts and small images)."""
    unet, n = arch.unet(), latent_tokens
    ctx = context_tokens(config.long_prompt)
    c0 = unet.channels[0]
    maps = 3 * level0_map() + 2 * unet_batch * ctx * c0 * b
    rows = unet_batch * unet.heads
    kernel = config.unet_attention
    if kernel == "classic":
        maps += classic_scores(rows * n * ctx, b)
    elif kernel == "sliced":
        maps += CLASSIC_SCORE_COPIES * (unet.heads // AUTO_SLICE_DIVISOR) * n * ctx * b
    elif kernel == "math":
        maps += math_sdpa(rows * n * ctx, unet_batch * c0 * n, b)
    return maps
