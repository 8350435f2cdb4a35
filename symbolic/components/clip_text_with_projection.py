"""transformers' ``CLIPTextModelWithProjection`` (models/clip/modeling_clip.py, transformers 5.x): a ``CLIPTextModel``
(``text_model``: embeddings, pre-LN encoder layers, ``final_layer_norm``) and ``text_projection`` (hidden_size ->
projection_dim, no bias) applied to the EOS token's final state. SD3 / SD3.5 use two of them (CLIP ViT-L/14 and
OpenCLIP bigG/14), SDXL one (``text_encoder_2``).

Both pipelines call it with ``output_hidden_states=True`` and keep ``hidden_states[-2]`` (the penultimate layer,
``clip_skip=None``) and the projected pooled output (``text_embeds``): ``capture_outputs`` (utils/output_capturing.py)
then keeps every layer's output alive until the call returns (num_hidden_layers + 1 tensors of batch x tokens x
hidden_size, the first one the embeddings' output), which is the dominant activation term of this encoder.

The tensors reuse :class:`symbolic.components.clip_text.CLIPText` (the plain ``CLIPTextModel``), prefixed ``text_model.``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.clip_text import CLIPText
from symbolic.components.layers.tensors import Tensor, linear
from symbolic.components import register
#: aten ``_scaled_dot_product_attention_math`` on CLIP's q, k, v (transposed views of the projections, not contiguous),
#: measured on the meta trace at the Q K^T ``bmm``: float32 copies of q, k, v (only for half inputs), the two
#: ``sqrt(scale)``-scaled q and k^T, and the two contiguous copies ``bmm`` makes of them, each batch x heads x tokens x
#: head_dim, next to the float32 scores and the is_causal float32 ``tokens x tokens`` mask (``where``). The two
#: contiguous copies appear only for batch > 1 (``matmul`` folds (batch, heads) into one dim, which a view of the
#: (B, T, h, d) projection can do only when B = 1).
MATH_UPCAST_COPIES = 3
MATH_SCALED_COPIES = 2
MATH_BMM_COPIES = 2
#: The same kernel at its end (the peak for batch 1): the upcast q, k, v, the scaled q, the float32 output of
#: probabilities x v (the scaled k and the bmm copies are gone), the float32 probabilities and, for half inputs, the
#: output and probabilities cast back to the input dtype.
MATH_END_FP32_COPIES = 2
#: Tensors of batch x tokens x intermediate_size live inside the MLP activation (transformers activations.py):
#: ``QuickGELUActivation`` = ``input * torch.sigmoid(1.702 * input)`` holds the fc1 output, ``1.702 * input`` (or the
#: product) and the sigmoid at once; ``GELUActivation`` (``nn.functional.gelu``) the fc1 output and its GELU.
ACTIVATION_COPIES = {"quick_gelu": 3, "gelu": 2}
#: At the SDPA call: layer_norm1 output, q, k, v (the fused kernels add their output, allocated with the log-sum-exp).
ATTENTION_ROWS = 4
#: At ``out_proj``: layer_norm1 output, q, k, v, the attention output (transformers' sdpa_attention_forward:
#: ``transpose(1, 2).contiguous()`` is a no-op for the fused kernels, whose output has the (B, T, h, d) layout of the
#: transposed ``q_proj`` view; for math it is a copy and the (B, h, T, d) output dies) and ``out_proj``'s output.
ATTENTION_OUTPUT_ROWS = 6
#: In the MLP moment, besides the kept hidden states: the post-attention residual and layer_norm2's output.
MLP_ROWS = 2
#: After the encoder: ``final_layer_norm``'s output (last_hidden_state) next to the kept hidden states.
OUTPUT_ROWS = 1


@register("CLIPTextModelWithProjection")
@dataclass(frozen=True)
class CLIPTextModelWithProjection(ComponentBase):
    library = "transformers"
    keys_not_converted = ("text_projection",)
    config: dict

    kind = "text_encoder"

    @cached_property
    def text(self) -> CLIPText:
        return CLIPText(self.config)

    @property
    def hidden(self) -> int:
        return self.text.hidden

    @property
    def intermediate(self) -> int:
        return self.text.intermediate

    @property
    def layers(self) -> int:
        return self.text.layers

    @property
    def heads(self) -> int:
        return self.text.heads

    @property
    def projection_dim(self) -> int:
        """Width of ``text_embeds`` (the pooled prompt embedding SD3 concatenates to 2048 = 768 + 1280)."""
        return int(self.config.get("projection_dim", 512))

    @property
    def output_dim(self) -> int:
        """Width of the per-token embedding the pipelines keep (``hidden_states[-2]``): hidden_size."""
        return self.hidden

    @property
    def activation(self) -> str:
        act = str(self.config.get("hidden_act", "quick_gelu"))
        if act not in ACTIVATION_COPIES:
            raise ValueError(f"CLIPTextModelWithProjection: hidden_act={act!r} is not modelled")
        return act

    @cached_property
    def tensors(self) -> list[Tensor]:
        # nn.Module._apply: text_model (its children, then its buffer), then text_projection.
        out = [Tensor(f"text_model.{t.name}", t.shape, t.floating) for t in self.text.tensors]
        return out + linear("text_projection", self.hidden, self.projection_dim, bias=False)

    def activation_moments(self, batch: sp.Expr, tokens: int, b: sp.Expr, dtype: str,
                           backend: str = "flash") -> dict[str, sp.Expr]:
        """Live bytes of one ``forward(input_ids, output_hidden_states=True)`` on ``batch`` prompts of ``tokens``
        tokens (77 after the pipelines' max_length padding). ``backend``: ``flash`` (SDPA's fused kernel, the default
        for fp16/bf16 on a recent GPU; is_causal, no mask) or ``math`` (``symbolic.runtime.kernels.math_sdpa``)."""
        if backend not in ("flash", "math"):
            raise ValueError(f"CLIPTextModelWithProjection: backend must be 'flash' or 'math', not {backend!r}")
        row = batch * tokens * self.hidden * b      # one batch x tokens x hidden_size tensor
        kept = self.layers * row                    # embeddings + outputs of layers 0 .. L-2, during layer L-1
        hd = self.hidden // self.heads
        if backend == "flash":
            core = batch * self.heads * tokens * FP32        # float32 log-sum-exp
        else:
            copies = (sp.Piecewise((MATH_UPCAST_COPIES, b < FP32), (0, True)) + MATH_SCALED_COPIES
                      + sp.Piecewise((0, sp.Eq(batch, 1)), (MATH_BMM_COPIES, True)))
            core = (copies * batch * self.heads * tokens * hd * FP32 + batch * self.heads * tokens * tokens * FP32
                    + tokens * tokens * FP32)
        out = {}
        if backend == "math":
            half = sp.Piecewise((1, b < FP32), (0, True))
            q_elems, s_elems = batch * self.heads * tokens * hd, batch * self.heads * tokens * tokens
            out["attention_math_output"] = (kept + ATTENTION_ROWS * row + tokens * tokens * FP32
                                            + (MATH_UPCAST_COPIES * half + MATH_END_FP32_COPIES) * q_elems * FP32
                                            + half * q_elems * b + s_elems * (FP32 + half * b))
        return out | {
            "mlp": kept + MLP_ROWS * row + ACTIVATION_COPIES[self.activation] * batch * tokens * self.intermediate * b,
            "attention": kept + (ATTENTION_ROWS + (1 if backend == "flash" else 0)) * row + core,
            "attention_output": kept + ATTENTION_OUTPUT_ROWS * row,
            "outputs": kept + row + OUTPUT_ROWS * row + batch * (self.hidden + self.projection_dim) * b,
        }

    @property
    def moment_notes(self) -> dict[str, str]:
        return {
            "mlp": "last CLIPEncoderLayer.forward, inside CLIPMLP (modeling_clip.py): the hidden states capture_outputs has "
                   "recorded so far (embeddings output + layers 0..L-2, L tensors), the post-attention residual and "
                   "layer_norm2 output, fc1 output and the activation's temporaries (QuickGELUActivation 3, GELU 2 x "
                   "tokens x intermediate_size)",
            "attention": "last CLIPAttention.forward at the SDPA call (sdpa_attention_forward, is_causal=True, no "
                         "mask): kept states, layer_norm1 output, q, k, v; flash adds its output and float32 "
                         "log-sum-exp; math (aten _scaled_dot_product_attention_math, traced) at the Q K^T bmm: float32 "
                         "q/k/v copies, scaled and contiguous q and k^T, float32 scores and the causal mask",
            "attention_output": "last CLIPAttention.forward at out_proj: kept states, layer_norm1 output, q, k, v, the "
                                "attention output and out_proj's output",
            "attention_math_output": "math only: the end of _scaled_dot_product_attention_math (traced): float32 "
                                     "q/k/v copies and scaled q, float32 probabilities and output, their casts to the "
                                     "input dtype (half inputs), the causal mask",
            "outputs": "after CLIPTextModel.forward's encoder: all L + 1 hidden states, final_layer_norm output, pooled "
                       "EOS row and text_embeds (CLIPTextModelWithProjection.forward)",
        }
