"""transformers' ``T5EncoderModel`` and ``UMT5EncoderModel`` (the T5-XXL text encoder of CogVideoX, the umT5-XXL one
of Wan 2.1) from their config.json: the exact parameter list and the activation terms of one encoder call.

Parameter list (modeling_t5.py / modeling_umt5.py, encoder only):
* ``shared`` (vocab x d_model); ``encoder.embed_tokens`` is tied to it, so ``.parameters()`` counts it once;
* per block: ``layer.0.SelfAttention.{q,k,v,o}`` (d_model <-> heads x d_kv, no bias), ``layer.0.layer_norm``
  (T5LayerNorm: a weight, no bias), ``layer.1.DenseReluDense.{wi_0, wi_1}`` (gated-gelu: two d_model -> d_ff
  projections) and ``wo`` (d_ff -> d_model), ``layer.1.layer_norm``;
* ``relative_attention_bias`` (num_buckets x heads): in block 0 only for T5, in every block for UMT5;
* ``encoder.final_layer_norm``.

``_keep_in_fp32_modules = ["wo"]`` in both classes: transformers (modeling_utils, ``_get_dtype_plan``) keeps every
``wo`` in float32 when the model is loaded with ``torch_dtype=torch.float16`` (not for bfloat16). CogVideoX-2B runs in
fp16, so 24 x d_ff x d_model = 1.0 G parameters of its text encoder take 4 bytes each.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.algebra import maximum
from symbolic.components.layers.tensors import Tensor, linear
from symbolic.components import register


@register("T5EncoderModel", "UMT5EncoderModel")
@dataclass(frozen=True)
class T5Encoder(ComponentBase):
    library = "transformers"
    keys_not_converted = ("encoder.embed_tokens", "shared", "encoder.final_layer_norm")
    config: dict

    kind = "text_encoder"
    #: transformers applies ``_keep_in_fp32_modules`` only under a float16 load.
    keep_fp32_only_under_fp16 = True
    moment_notes = {"forward": "One encoder forward (``T5Encoder.activation_bytes``: the feed-forward with the "
                               "position bias, or UMT5's per-layer bias at the attention), modeling_t5.py / "
                               "modeling_umt5.py."}

    @property
    def output_dim(self) -> int:
        return self.d_model

    @property
    def d_model(self) -> int:
        return int(self.config["d_model"])

    @property
    def d_ff(self) -> int:
        return int(self.config["d_ff"])

    @property
    def heads(self) -> int:
        return int(self.config["num_heads"])

    @property
    def d_kv(self) -> int:
        return int(self.config["d_kv"])

    @property
    def layers(self) -> int:
        return int(self.config["num_layers"])

    @property
    def is_umt5(self) -> bool:
        return self.config.get("model_type") == "umt5"

    @property
    def gated(self) -> bool:
        return str(self.config.get("feed_forward_proj", "relu")).startswith("gated")

    #: transformers keeps these modules in fp32 under a float16 load (``_keep_in_fp32_modules``).
    keep_fp32_modules = ("wo",)

    @cached_property
    def tensors(self) -> list[Tensor]:
        d, inner = self.d_model, self.heads * self.d_kv
        buckets = int(self.config["relative_attention_num_buckets"])
        out = [Tensor("shared.weight", (int(self.config["vocab_size"]), d))]
        for i in range(self.layers):
            name = f"encoder.block.{i}.layer"
            for proj in ("q", "k", "v"):
                out += linear(f"{name}.0.SelfAttention.{proj}", d, inner, bias=False)
            out += linear(f"{name}.0.SelfAttention.o", inner, d, bias=False)
            if i == 0 or self.is_umt5:
                out.append(Tensor(f"{name}.0.SelfAttention.relative_attention_bias.weight", (buckets, self.heads)))
            out.append(Tensor(f"{name}.0.layer_norm.weight", (d,)))
            if self.gated:
                out += linear(f"{name}.1.DenseReluDense.wi_0", d, self.d_ff, bias=False)
                out += linear(f"{name}.1.DenseReluDense.wi_1", d, self.d_ff, bias=False)
            else:
                out += linear(f"{name}.1.DenseReluDense.wi", d, self.d_ff, bias=False)
            out += linear(f"{name}.1.DenseReluDense.wo", self.d_ff, d, bias=False)
            out.append(Tensor(f"{name}.1.layer_norm.weight", (d,)))
        out.append(Tensor("encoder.final_layer_norm.weight", (d,)))
        return out

    def activation_bytes(self, batch: sp.Expr, tokens: int, b: sp.Expr, wo_fp32: bool) -> sp.Expr:
        """Live bytes at the peak of one encoder call, read off modeling_t5.py / modeling_umt5.py (transformers 5.x,
        SDPA attention) and matched to a meta-device trace:

        * ``feedforward`` (T5's peak): the position bias that block 0 computes and passes to every block
          (L x L x heads), the gated FF's five L x d_ff tensors (``wi_0`` output, its GELU, ``wi_1`` output, the
          product, and ``wo``'s input cast or buffer), and the residual stream: four L x d_model tensors, or, when
          ``wo`` is fp32 (fp16 load), two in the model dtype and two float32 (the fp32 FF output promotes the
          residual sum).
        * ``attention`` (UMT5's peak): UMT5 recomputes the bias in every layer: the embedding output (L, L, heads)
          and its permuted (batch, heads, L, L) copy, next to seven L x d_model tensors (embeddings, normed input,
          q, k, v, output and its reshaped copy) and the float32 log-sum-exp.
        """
        L, d = tokens, self.d_model
        stream = (2 * batch * L * d * b + 2 * batch * L * d * 4) if wo_fp32 else 4 * batch * L * d * b
        ff = 5 * batch * L * self.d_ff * b + stream
        if not self.is_umt5:
            return self.heads * L * L * b + ff
        attention = (1 + batch) * self.heads * L * L * b + 7 * batch * L * d * b + batch * self.heads * L * 4
        return maximum(ff, attention)

    def activation_moments(self, batch: sp.Expr, tokens: int, b: sp.Expr, dtype: str,
                           backend: str = "flash") -> dict[str, sp.Expr]:
        """The protocol's form of ``activation_bytes``: ``wo`` stays float32 under a float16 load."""
        return {"forward": self.activation_bytes(batch, tokens, b, wo_fp32=dtype == "fp16")}
