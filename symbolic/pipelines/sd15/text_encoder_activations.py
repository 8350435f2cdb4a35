"""CLIP text encoder activations (transformers ``CLIPTextModel``, run by ``StableDiffusionPipeline.encode_prompt``).

The tokenizer pads to 77 tokens (``padding="max_length", max_length=77, truncation=True``): every call sees 77
tokens and batch 1 (one prompt), whatever the prompt's length. With guidance the encoder runs a second time for the
negative prompt while the positive embedding, already repeated for the N images, is held.
"""
from __future__ import annotations

import sympy as sp

from symbolic.kernels import math_sdpa
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.pipelines.sd15.shapes import CONTEXT_CHUNK, context_tokens, text_chunks
from symbolic.symbols import G, N, b
from symbolic.terms import Category, Stage

INT64_BYTES = 8
SOURCE = "transformers/models/clip/modeling_clip.py (CLIPEncoderLayer, CLIPMLP); diffusers encode_prompt"


@SD15_TERMS.register("text_encoder_held_embeddings", category=Category.ACTIVATIONS, stage=Stage.TEXT_ENCODER,
                     moments=("mlp", "attention"), source="diffusers pipeline_stable_diffusion.py encode_prompt")
def text_encoder_held_embeddings(config):
    """Embeddings held while the last call runs: with guidance (G = 2), the positive prompt's embedding repeated for
    the N images (``prompt_embeds.repeat(1, N, 1)``), N x tokens x 768 x b; in a long-prompt scheme also the
    earlier 77-token chunks of the prompt being encoded."""
    d = arch.text_encoder().hidden
    return ((G - 1) * N * context_tokens(config.long_prompt) + (text_chunks(config.long_prompt) - 1) * CONTEXT_CHUNK) * d * b


@SD15_TERMS.register("text_encoder_inputs", category=Category.ACTIVATIONS, stage=Stage.TEXT_ENCODER,
                     moments=("mlp", "attention"), source=SOURCE)
def text_encoder_inputs(config):
    """The 77 int64 token ids and the 4-D causal mask (1 x 1 x 77 x 77 in the model dtype) that
    ``CLIPTextTransformer`` builds for every call."""
    return CONTEXT_CHUNK * INT64_BYTES + CONTEXT_CHUNK**2 * b


@SD15_TERMS.register("text_encoder_mlp", category=Category.ACTIVATIONS, stage=Stage.TEXT_ENCODER,
                     moments="mlp", source=SOURCE)
def text_encoder_mlp(config):
    """Peak inside a layer's MLP: the residual (the layer input) and ``layer_norm2``'s output (d each), ``fc1``'s
    output and quick_gelu's temporaries ``1.702 x`` and ``sigmoid(1.702 x)`` (then the product), three
    intermediate-sized tensors: 77 x (2 x 768 + 3 x 3072) x b."""
    enc = arch.text_encoder()
    return CONTEXT_CHUNK * (2 * enc.hidden + 3 * enc.intermediate) * b


@SD15_TERMS.register("text_encoder_attention", category=Category.ATTENTION, stage=Stage.TEXT_ENCODER,
                     moments="attention", source=SOURCE)
def text_encoder_attention(config):
    """Peak inside self-attention: residual, ``layer_norm1`` output, q, k, v and the output (6 x 77 x 768 x b). With
    the math SDPA kernel forced, also its fp32 scores, probabilities and mask for 12 heads x 77^2 and the fp32
    copies of q, k, v and the scaled q; the default kernels store no score matrix."""
    enc = arch.text_encoder()
    maps = 6 * CONTEXT_CHUNK * enc.hidden * b
    if config.sdpa_backend == "math":
        maps += math_sdpa(enc.heads * CONTEXT_CHUNK**2, CONTEXT_CHUNK * enc.hidden, b)
    return maps
