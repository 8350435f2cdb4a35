"""transformers' CLIP text encoder (``CLIPTextModel``) and the SD safety checker's vision tower
(``StableDiffusionSafetyChecker``: ``CLIPVisionModel`` + ``visual_projection`` + concept embeddings)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import INT64
from symbolic.components.layers.tensors import EncoderConfig, Tensor, conv2d, linear, norm
from symbolic.components import register
from symbolic.runtime.kernels import math_sdpa



def encoder_layer(name: str, dim: int, intermediate: int) -> list[Tensor]:
    """``CLIPEncoderLayer``: self-attention (q, k, v, out with bias), LN, MLP fc1 -> quick_gelu -> fc2, LN."""
    attn = sum((linear(f"{name}.self_attn.{p}_proj", dim, dim) for p in ("k", "v", "q", "out")), [])
    return (attn + norm(f"{name}.layer_norm1", dim) + linear(f"{name}.mlp.fc1", dim, intermediate)
            + linear(f"{name}.mlp.fc2", intermediate, dim) + norm(f"{name}.layer_norm2", dim))


@register("CLIPTextModel")
@dataclass(frozen=True)
class CLIPText(EncoderConfig, ComponentBase):
    library = "transformers"
    keys_not_converted = ("final_layer_norm.bias",)
    config: dict

    kind = "text_encoder"
    moment_notes = {
        "mlp": "Peak inside a layer's MLP (modeling_clip.py CLIPMLP): the residual and ``layer_norm2``'s output, "
               "``fc1``'s output and quick_gelu's temporaries ``1.702 x`` and ``sigmoid(1.702 x)``: tokens x "
               "(2 d + 3 intermediate) per prompt, plus the int64 ids and the 4-D causal mask.",
        "attention": "Peak inside self-attention (CLIPAttention): residual, ``layer_norm1`` output, q, k, v and the "
                     "output (6 x tokens x d per prompt); with math SDPA its float32 scores, probabilities and mask "
                     "and float32 q, k, v copies (``symbolic.runtime.kernels.math_sdpa``).",
    }

    @property
    def output_dim(self) -> int:
        return self.hidden

    def activation_moments(self, batch: sp.Expr, tokens: int, b: sp.Expr, dtype: str,
                           backend: str = "flash") -> dict[str, sp.Expr]:
        """One forward on ``batch`` prompts of ``tokens`` (77, padded) tokens: the embeddings' int64 ids and the
        causal mask, then the larger of the MLP moment (fc1 / gelu / fc2 outputs beside the residual stream) and the
        attention moment (q, k, v, output and residuals), per prompt, as measured for SD 1.5's text encoder."""
        inputs = batch * tokens * INT64 + tokens**2 * b
        mlp = batch * tokens * (2 * self.hidden + 3 * self.intermediate) * b
        attention = 6 * batch * tokens * self.hidden * b
        if backend == "math":
            attention += math_sdpa(batch * self.heads * tokens**2, batch * tokens * self.hidden, b)
        return {"mlp": inputs + mlp, "attention": inputs + attention}

    @property
    def max_tokens(self) -> int:
        return int(self.config["max_position_embeddings"])

    @cached_property
    def tensors(self) -> list[Tensor]:
        d = self.hidden
        # nn.Module._apply: a module's children, then its own parameters, then its buffers (position_ids).
        out = [Tensor("embeddings.token_embedding.weight", (self.config["vocab_size"], d)),
               Tensor("embeddings.position_embedding.weight", (self.max_tokens, d)),
               Tensor("embeddings.position_ids", (1, self.max_tokens), floating=False)]
        for i in range(self.layers):
            out += encoder_layer(f"encoder.layers.{i}", d, self.intermediate)
        return out + norm("final_layer_norm", d)


@register("StableDiffusionSafetyChecker")
@dataclass(frozen=True)
class SafetyChecker(EncoderConfig, ComponentBase):
    library = "transformers"
    config: dict

    kind = "safety_checker"
    moment_notes = {
        "mlp": "Peak of a vision layer's MLP (transformers modeling_clip.py CLIPMLP), as in the text encoder: residual "
               "and layer-norm output and three intermediate-wide quick_gelu tensors, for 257 tokens per image.",
        "attention": "A vision layer's self-attention: residual, layer-norm output, q, k, v, output (6 x 257 x d per "
                     "image), and with math SDPA the float32 scores for heads x 257^2 per image "
                     "(``symbolic.runtime.kernels.math_sdpa``).",
    }

    def activation_moments(self, batch: sp.Expr, b: sp.Expr, backend: str = "flash") -> dict[str, sp.Expr]:
        """``StableDiffusionSafetyChecker.forward`` on ``batch`` images (the pipeline's inputs excluded): the
        composition of SD 1.5's measured safety-checker terms."""
        mlp = batch * self.tokens * (2 * self.hidden + 3 * self.intermediate) * b
        attention = 6 * batch * self.tokens * self.hidden * b
        if backend == "math":
            attention += math_sdpa(batch * self.heads * self.tokens**2, batch * self.tokens * self.hidden, b)
        return {"mlp": mlp, "attention": attention}

    @property
    def vision(self) -> dict:
        return self.config["vision_config"]

    @property
    def encoder_config(self) -> dict:
        return self.vision

    @property
    def image_size(self) -> int:
        return int(self.vision["image_size"])

    @property
    def tokens(self) -> int:
        """Patches plus the class token: (224 / 14) ** 2 + 1 = 257."""
        return (self.image_size // int(self.vision["patch_size"])) ** 2 + 1

    @cached_property
    def tensors(self) -> list[Tensor]:
        d, v = self.hidden, self.vision
        # nn.Module._apply: the embeddings' children (patch conv, position embedding), then its own parameter
        # (class_embedding), then its buffer (position_ids).
        out = conv2d("vision_model.embeddings.patch_embedding", v["num_channels"], d, v["patch_size"], bias=False)
        out += [Tensor("vision_model.embeddings.position_embedding.weight", (self.tokens, d)),
                Tensor("vision_model.embeddings.class_embedding", (d,)),
                Tensor("vision_model.embeddings.position_ids", (1, self.tokens), floating=False)]
        out += norm("vision_model.pre_layrnorm", d)
        for i in range(self.layers):
            out += encoder_layer(f"vision_model.encoder.layers.{i}", d, self.intermediate)
        out += norm("vision_model.post_layernorm", d)
        proj = int(self.config["projection_dim"])
        concepts, special = int(self.config["concept_embeds"]), int(self.config["special_care_embeds"])
        out += linear("visual_projection", d, proj, bias=False)
        return out + [Tensor("concept_embeds", (concepts, proj)), Tensor("special_care_embeds", (special, proj)),
                      Tensor("concept_embeds_weights", (concepts,)), Tensor("special_care_embeds_weights", (special,))]
