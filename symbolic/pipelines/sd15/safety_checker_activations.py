"""Safety checker activations (``StableDiffusionSafetyChecker.forward`` on the N decoded images).

``run_safety_checker`` keeps the decoded image tensor on the GPU (it is passed as ``images``) and feeds the CLIP
vision tower a 224 x 224 crop made by the feature extractor: fp32 ``pixel_values`` moved to the GPU, then cast to
the model dtype. The tower runs 257 tokens (16 x 16 patches + class) per image through 24 layers.
"""
from __future__ import annotations

from symbolic.kernels import FP32_BYTES, math_sdpa
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.pipelines.sd15.shapes import SCALE, latent_tokens
from symbolic.pipelines.sd15.vae_encoder_activations import IMAGE_CHANNELS
from symbolic.symbols import N, b
from symbolic.terms import Category, Stage

SOURCE = "diffusers safety_checker.py; transformers modeling_clip.py CLIPVisionTransformer"
MOMENTS = ("mlp", "attention")


@SD15_TERMS.register("safety_checker_inputs", category=Category.ACTIVATIONS, stage=Stage.SAFETY_CHECKER,
                     moments=MOMENTS, source="diffusers pipeline_stable_diffusion.py run_safety_checker")
def safety_checker_inputs(config):
    """The decoded images (N x 3 x H8 x W8 x b) and the CLIP input, N x 3 x 224 x 224 in fp32 and in the model
    dtype."""
    if not config.safety_checker:
        return 0
    size = arch.safety_checker().image_size
    return (N * IMAGE_CHANNELS * SCALE**2 * latent_tokens * b
            + N * IMAGE_CHANNELS * size**2 * (FP32_BYTES + b))


@SD15_TERMS.register("safety_checker_mlp", category=Category.ACTIVATIONS, stage=Stage.SAFETY_CHECKER,
                     moments="mlp", source=SOURCE)
def safety_checker_mlp(config):
    """Peak of a vision layer's MLP, as in the text encoder: residual and layer-norm output (1024 each) and three
    4096-wide quick_gelu tensors, for 257 tokens per image."""
    if not config.safety_checker:
        return 0
    sc = arch.safety_checker()
    return N * sc.tokens * (2 * sc.hidden + 3 * sc.intermediate) * b


@SD15_TERMS.register("safety_checker_attention", category=Category.ATTENTION, stage=Stage.SAFETY_CHECKER,
                     moments="attention", source=SOURCE)
def safety_checker_attention(config):
    """A vision layer's self-attention: residual, layer-norm output, q, k, v, output (6 x 257 x 1024 per image), and
    with math SDPA the fp32 scores for 16 heads x 257^2 per image."""
    if not config.safety_checker:
        return 0
    sc = arch.safety_checker()
    maps = 6 * N * sc.tokens * sc.hidden * b
    if config.sdpa_backend == "math":
        maps += math_sdpa(N * sc.heads * sc.tokens**2, N * sc.tokens * sc.hidden, b)
    return maps
