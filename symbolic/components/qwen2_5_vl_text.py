"""transformers' ``Qwen2_5_VLForConditionalGeneration`` (models/qwen2_5_vl/modeling_qwen2_5_vl.py), Qwen-Image's text
encoder (Qwen2.5-VL-7B-Instruct): the whole model as ``from_pretrained`` loads it, and the activations of the
text-only forward that ``QwenImagePipeline._get_qwen_prompt_embeds`` runs.

Tensors: ``model.visual`` (the ViT: 3D patch conv without bias, ``depth`` blocks of RMSNorm + fused qkv attention
with biases + gated SiLU MLP with biases, the 2x2 patch merger MLP), ``model.language_model`` (Qwen2 decoder:
embeddings, ``num_hidden_layers`` layers whose q/k/v projections have biases and o_proj not - so
``symbolic.components.llama_text.LlamaText``, with one ``attention_bias`` flag for all four, does not fit - gated SiLU MLP
without biases, two RMSNorms; final norm) and ``lm_head`` (its own weight: ``tie_word_embeddings`` is false in
Qwen-Image's config). Buffers: the vision and text ``inv_freq`` / ``original_inv_freq`` (non-persistent, float32).
The vision tower is loaded onto the GPU with the rest but does not run for a text prompt.

Forward (``output_hidden_states=True``, ``use_cache`` from the config: true): every decoder layer's output is
recorded (``capture_outputs``; the last replaced by the final norm's output), the ``DynamicCache`` keeps every
layer's keys and values, and ``lm_head`` projects *every* token to the 152,064-entry vocabulary (``logits_to_keep``
0): the logits, not the layers, are the largest activation of a short prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.layers.tensors import Tensor, linear
from symbolic.components import register
from symbolic.runtime.kernels import MATH_FP32_INPUT_QUERY_COPIES, MATH_FP32_QUERY_COPIES, MATH_SCORE_BYTES

#: ``QwenImagePipeline.prompt_template_encode_start_idx``: the system-prompt tokens the pipeline drops from the
#: hidden states (pipeline_qwenimage.py ``__init__``).
PROMPT_DROP_IDX = 34
#: Recorded hidden states = the embeddings + one per decoder layer (the last replaced by the final norm output).
INITIAL_HIDDEN_STATE = 1
#: ``DynamicCache``: keys and values.
KV = 2
#: Gated MLP at its peak: SiLU(gate) and up alive when their product is made (``Qwen2MLP.forward``).
MLP_LIVE = 3
#: ``Qwen2_5_VLRotaryEmbedding.forward`` returns cos and sin in the model dtype (``B x L x head_dim`` each).
ROPE_TABLES = 2
#: Qwen2_5_VisionRotaryEmbedding: ``spatial_dim = head_dim // 2`` and ``arange(0, spatial_dim, 2)``.
VISION_ROPE_DIVISOR = 4


@register("Qwen2_5_VLForConditionalGeneration")
@dataclass(frozen=True)
class Qwen2_5_VLText(ComponentBase):
    library = "transformers"
    keys_not_converted = ("lm_head",)
    config: dict

    kind = "text_encoder"
    #: Non-persistent buffers computed in float32 at init (absent from the checkpoint, so torch_dtype never reaches
    #: them).
    fixed_dtype_bytes = {
        "model.visual.rotary_pos_emb.inv_freq": FP32,
        "model.visual.rotary_pos_emb.original_inv_freq": FP32,
        "model.language_model.rotary_emb.inv_freq": FP32,
        "model.language_model.rotary_emb.original_inv_freq": FP32,
    }

    # -- config ------------------------------------------------------------------------------------------------------
    @property
    def text(self) -> dict:
        """transformers 5 reads the decoder from ``text_config`` (the top-level copies are legacy)."""
        return self.config.get("text_config") or self.config

    @property
    def vision(self) -> dict:
        return self.config["vision_config"]

    @property
    def hidden(self) -> int:
        return int(self.text["hidden_size"])

    @property
    def output_dim(self) -> int:
        return self.hidden

    @property
    def layers(self) -> int:
        return int(self.text["num_hidden_layers"])

    @property
    def heads(self) -> int:
        return int(self.text["num_attention_heads"])

    @property
    def kv_heads(self) -> int:
        return int(self.text.get("num_key_value_heads") or self.heads)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads        # Qwen2_5_VLAttention: hidden_size // num_heads

    @property
    def intermediate(self) -> int:
        return int(self.text["intermediate_size"])

    @property
    def vocab(self) -> int:
        return int(self.text["vocab_size"])

    @property
    def tied(self) -> bool:
        return bool(self.config.get("tie_word_embeddings", False))

    # -- tensors -----------------------------------------------------------------------------------------------------
    def _vision_tensors(self) -> list[Tensor]:
        v = self.vision
        h, inter = int(v["hidden_size"]), int(v["intermediate_size"])
        p, pt, cin = int(v["patch_size"]), int(v["temporal_patch_size"]), int(v.get("in_channels", 3))
        merge = int(v["spatial_merge_size"])
        out_dim = int(v["out_hidden_size"])
        pre = "model.visual"
        out = [Tensor(f"{pre}.patch_embed.proj.weight", (h, cin, pt, p, p))]
        for i in range(int(v["depth"])):
            n = f"{pre}.blocks.{i}"
            out += [Tensor(f"{n}.norm1.weight", (h,)), Tensor(f"{n}.norm2.weight", (h,))]
            out += linear(f"{n}.attn.qkv", h, 3 * h) + linear(f"{n}.attn.proj", h, h)
            out += linear(f"{n}.mlp.gate_proj", h, inter) + linear(f"{n}.mlp.up_proj", h, inter)
            out += linear(f"{n}.mlp.down_proj", inter, h)
        merged = h * merge * merge
        out += [Tensor(f"{pre}.merger.ln_q.weight", (h,))]
        out += linear(f"{pre}.merger.mlp.0", merged, merged) + linear(f"{pre}.merger.mlp.2", merged, out_dim)
        rope = h // int(v["num_heads"]) // VISION_ROPE_DIVISOR
        return out + [Tensor(f"{pre}.rotary_pos_emb.inv_freq", (rope,)),
                      Tensor(f"{pre}.rotary_pos_emb.original_inv_freq", (rope,))]

    def _language_tensors(self) -> list[Tensor]:
        h, hd, pre = self.hidden, self.head_dim, "model.language_model"
        out = [Tensor(f"{pre}.embed_tokens.weight", (self.vocab, h))]
        for i in range(self.layers):
            n = f"{pre}.layers.{i}"
            out += linear(f"{n}.self_attn.q_proj", h, self.heads * hd)
            out += linear(f"{n}.self_attn.k_proj", h, self.kv_heads * hd)
            out += linear(f"{n}.self_attn.v_proj", h, self.kv_heads * hd)
            out += linear(f"{n}.self_attn.o_proj", self.heads * hd, h, bias=False)
            out += linear(f"{n}.mlp.gate_proj", h, self.intermediate, bias=False)
            out += linear(f"{n}.mlp.up_proj", h, self.intermediate, bias=False)
            out += linear(f"{n}.mlp.down_proj", self.intermediate, h, bias=False)
            out += [Tensor(f"{n}.input_layernorm.weight", (h,)), Tensor(f"{n}.post_attention_layernorm.weight", (h,))]
        out.append(Tensor(f"{pre}.norm.weight", (h,)))
        return out + [Tensor(f"{pre}.rotary_emb.inv_freq", (hd // 2,)),
                      Tensor(f"{pre}.rotary_emb.original_inv_freq", (hd // 2,))]

    @cached_property
    def tensors(self) -> list[Tensor]:
        out = self._vision_tensors() + self._language_tensors()
        return out if self.tied else out + [Tensor("lm_head.weight", (self.vocab, self.hidden))]

    # -- activations -------------------------------------------------------------------------------------------------
    moment_notes = {
        "lm_head": (
            "modeling_qwen2_5_vl.py Qwen2_5_VLForConditionalGeneration.forward: lm_head over all L tokens "
            "(logits_to_keep=0): B x L x vocab logits, next to the recorded hidden states (utils/output_capturing.py "
            "capture_outputs: embeddings + one per layer, the last replaced by the final norm: layers + 1 tensors "
            "of B x L x hidden) and the DynamicCache (cache_utils.py DynamicLayer.update torch.cat copies: 2 x "
            "layers x B x kv_heads x L x head_dim)."),
        "attention": (
            "Qwen2_5_VLAttention.forward in the last layer (integrations/sdpa_attention.py sdpa_attention_forward: "
            "no mask for one unpadded prompt -> is_causal=True, enable_gqa=True): layers recorded states (the layer "
            "input among them), the input RMSNorm output, the rotated query, the full cache, the cos/sin tables "
            "(2 x B x L x head_dim); flash: the output (B x L x hidden) and the fp32 log-sum-exp (B x heads x L); "
            "math (aten _scaled_dot_product_attention_math): fp32 scores + softmax + _safe_softmax mask "
            "(kernels.MATH_SCORE_BYTES per score), the fp32 query, scaled query and the GQA-expanded fp32 k, v "
            "(4 query-sized; only the scaled query and the expanded k, v in fp32), the fp32 k, v before expansion "
            "(16-bit inputs) and the causal bias (L x L fp32)."),
        "prompt_extract": (
            "pipeline_qwenimage.py QwenImagePipeline._get_qwen_prompt_embeds / _extract_masked_hidden, while the "
            "encoder output (logits, hidden states, cache) is still referenced: hidden_states[bool_mask] (B x L x "
            "hidden), the per-prompt torch.cat with its padding (B x (L - drop_idx) x hidden) and torch.stack "
            "(B x (L - drop_idx) x hidden); drop_idx = 34."),
    }

    def _forward_end(self, B: sp.Expr, L: sp.Expr, b: sp.Expr) -> sp.Expr:
        states = (self.layers + INITIAL_HIDDEN_STATE) * B * L * self.hidden * b
        cache = KV * self.layers * B * self.kv_heads * L * self.head_dim * b
        return states + cache

    def activation_moments(self, batch: sp.Expr, tokens: int, b: sp.Expr, dtype: str,
                           backend: str = "flash") -> dict[str, sp.Expr]:
        """Live bytes during one text-only forward on ``batch`` prompts of ``tokens`` tokens (template included:
        ``tokens`` is the tokenizer's length, drop_idx + prompt + 5 suffix tokens), and the pipeline's extraction of
        the prompt embeddings right after it. ``backend``: the SDPA kernel (``flash`` or ``math``)."""
        B, L, H, hd = batch, sp.sympify(tokens), self.hidden, self.head_dim
        end = self._forward_end(B, L, b)
        logits = B * L * self.vocab * b
        cache = KV * self.layers * B * self.kv_heads * L * hd * b
        layer = (self.layers * H + 2 * H) * B * L * b + cache + ROPE_TABLES * B * L * hd * b
        q_elems = B * self.heads * L * hd
        if backend == "flash":
            core = B * L * H * b + B * self.heads * L * FP32
        elif backend == "math":
            upcast = sp.Piecewise((1, b < FP32), (0, True))
            q_copies = sp.Piecewise((MATH_FP32_QUERY_COPIES, b < FP32),
                                    (MATH_FP32_INPUT_QUERY_COPIES + KV, True))
            core = (MATH_SCORE_BYTES * B * self.heads * L * L + q_copies * q_elems * FP32
                    + upcast * KV * B * self.kv_heads * L * hd * FP32 + L * L * FP32)
        else:
            raise ValueError(f"Qwen2_5_VLText: backend {backend!r} is not modelled (flash, math)")
        kept = L - PROMPT_DROP_IDX
        return {
            "lm_head": end + logits,
            "attention": layer + core,
            "prompt_extract": end + logits + B * H * b * (L + 2 * kept),
        }
