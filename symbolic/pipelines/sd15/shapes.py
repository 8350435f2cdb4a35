"""Shapes as SymPy expressions: the pipeline's own rounding of H and W, the latent grid, the batches.

diffusers' ``VaeImageProcessor`` resizes an img2img init image down to multiples of ``vae_scale_factor`` = 8
(``get_default_height_width``), so the latent is floor(H/8) x floor(W/8). txt2img requires multiples of 8
(``check_inputs`` raises otherwise; the API refuses them too), where floor is exact.
"""
from __future__ import annotations

import sympy as sp

from symbolic.pipelines.sd15 import architecture as arch
from symbolic.symbols import G, H, L, N, W

#: Pixels per latent pixel (2 ** (VAE blocks - 1)).
SCALE = arch.vae().scale_factor
#: Tokens per text-encoder call: bos + 75 + eos, padded (``padding="max_length", max_length=77``).
CONTEXT_CHUNK = int(arch.tokenizer()["model_max_length"])
#: Prompt tokens per chunk in long-prompt schemes (77 minus bos and eos).
CHUNK_PROMPT_TOKENS = CONTEXT_CHUNK - 2

latent_h = sp.floor(H / SCALE)
latent_w = sp.floor(W / SCALE)
#: Latent positions: the UNet's tokens at its first level.
latent_tokens = latent_h * latent_w
#: Pixels the VAE sees (the rounded image).
pixels = SCALE**2 * latent_tokens
#: UNet batch: images per prompt, doubled by classifier-free guidance.
unet_batch = G * N


def text_chunks(long_prompt: bool) -> sp.Expr:
    """Text-encoder calls per prompt: 1 (truncation to 77) or ceil(L / 75) in a long-prompt scheme."""
    return sp.ceiling(L / CHUNK_PROMPT_TOKENS) if long_prompt else sp.Integer(1)


def context_tokens(long_prompt: bool) -> sp.Expr:
    """Tokens of the text embedding the UNet cross-attends to."""
    return CONTEXT_CHUNK * text_chunks(long_prompt)
