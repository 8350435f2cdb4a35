"""transformers' ``LlamaModel`` (HunyuanVideo's text encoder: the language tower of llava-llama-3-8b) from its
config.json: the exact parameter and buffer list, and the activation terms of the prompt encoding.

Parameter list (modeling_llama.py): ``embed_tokens`` (vocab x hidden); per decoder layer ``self_attn.{q,k,v,o}_proj``
(no bias; k and v project to ``num_key_value_heads x head_dim``: grouped-query attention), ``mlp.{gate,up}_proj``
(hidden -> intermediate) and ``down_proj``, ``input_layernorm`` and ``post_attention_layernorm`` (RMSNorm weights);
final ``norm``. Buffers: ``rotary_emb.inv_freq`` and ``rotary_emb.original_inv_freq`` (head_dim / 2 each, fp32,
non-persistent: they keep their float32 init dtype).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.components.layers.tensors import EncoderConfig, Tensor, linear
from symbolic.components import register


@register("LlamaModel")
@dataclass(frozen=True)
class LlamaText(EncoderConfig, ComponentBase):
    library = "transformers"
    keys_not_converted = ("norm",)
    config: dict

    kind = "text_encoder"
    moment_notes = {"forward": "HunyuanVideo's prompt encoding with every hidden state returned and the KV cache "
                               "kept (``LlamaText.activation_bytes``), modeling_llama.py."}

    @property
    def output_dim(self) -> int:
        return self.hidden

    def activation_moments(self, batch: sp.Expr, tokens: int, b: sp.Expr, dtype: str,
                           backend: str = "flash") -> dict[str, sp.Expr]:
        return {"forward": self.activation_bytes(batch, tokens, b)}

    @property
    def kv_heads(self) -> int:
        return int(self.config.get("num_key_value_heads") or self.heads)

    @property
    def head_dim(self) -> int:
        return int(self.config.get("head_dim") or self.hidden // self.heads)

    #: Buffers that are not in the checkpoint keep their init dtype (float32): name -> bytes per element.
    fixed_dtype_bytes = {"rotary_emb.inv_freq": 4, "rotary_emb.original_inv_freq": 4}

    @cached_property
    def tensors(self) -> list[Tensor]:
        h, hd = self.hidden, self.head_dim
        out = [Tensor("embed_tokens.weight", (int(self.config["vocab_size"]), h))]
        bias = bool(self.config.get("attention_bias", False))
        mlp_bias = bool(self.config.get("mlp_bias", False))
        for i in range(self.layers):
            name = f"layers.{i}"
            out += linear(f"{name}.self_attn.q_proj", h, self.heads * hd, bias=bias)
            out += linear(f"{name}.self_attn.k_proj", h, self.kv_heads * hd, bias=bias)
            out += linear(f"{name}.self_attn.v_proj", h, self.kv_heads * hd, bias=bias)
            out += linear(f"{name}.self_attn.o_proj", self.heads * hd, h, bias=bias)
            out += linear(f"{name}.mlp.gate_proj", h, self.intermediate, bias=mlp_bias)
            out += linear(f"{name}.mlp.up_proj", h, self.intermediate, bias=mlp_bias)
            out += linear(f"{name}.mlp.down_proj", self.intermediate, h, bias=mlp_bias)
            out += [Tensor(f"{name}.input_layernorm.weight", (h,)),
                    Tensor(f"{name}.post_attention_layernorm.weight", (h,))]
        out.append(Tensor("norm.weight", (h,)))
        return out + [Tensor("rotary_emb.inv_freq", (hd // 2,)), Tensor("rotary_emb.original_inv_freq", (hd // 2,))]

    def activation_bytes(self, batch: sp.Expr, tokens: int, b: sp.Expr) -> sp.Expr:
        """Live bytes at the peak of HunyuanVideo's prompt encoding (pipeline_hunyuan_video.py
        ``_get_llama_prompt_embeds``: ``output_hidden_states=True``, ``use_cache`` left on), read off
        modeling_llama.py and checked with a meta-device trace:

        * every layer's hidden state is returned (layers + 1 tensors of L x hidden);
        * the DynamicCache keeps each layer's keys and values (2 x layers x L x kv_heads x head_dim);
        * the MLP at its peak: gate output, its SiLU, up output and the product (4 x L x intermediate, of which
          three are live at once), plus the layer input and its RMSNorm output (2 x L x hidden).
        """
        L = tokens
        states = (self.layers + 1) * batch * L * self.hidden * b
        cache = 2 * self.layers * batch * L * self.kv_heads * self.head_dim * b
        mlp = 3 * batch * L * self.intermediate * b + 2 * batch * L * self.hidden * b
        return states + cache + mlp
