"""diffusers' ``SD3Transformer2DModel`` (models/transformers/transformer_sd3.py): the MM-DiT of SD 3 / 3.5.

Structure (diffusers 0.42, read off ``SD3Transformer2DModel.__init__`` and ``JointTransformerBlock``, attention.py):

* ``pos_embed`` (``PatchEmbed``, embeddings.py): a p x p conv and a *persistent* sin-cos table ``pos_embed``
  (1 x pos_embed_max_size^2 x D, built in float32 but saved in the checkpoint, so ``from_pretrained(torch_dtype=...)``
  casts it like a weight: no fixed dtype); ``forward`` crops it to the latent grid.
* ``time_text_embed`` (``CombinedTimestepTextProjEmbeddings``): 256-channel sinusoid -> MLP, pooled CLIP -> MLP.
* ``context_embedder``: joint_attention_dim (T5 width 4096) -> caption_projection_dim.
* ``num_layers`` ``JointTransformerBlock``: AdaLN-Zero for image (``SD35AdaLayerNormZeroX``, 9 D modulation, on the
  ``dual_attention_layers``) and text tokens, one joint attention over [image; text] (q, k, v and the added
  ``add_q/k/v_proj`` for the text, per-head RMSNorm of q and k when ``qk_norm="rms_norm"``), on dual-attention
  layers a second self-attention ``attn2`` over the image tokens only (SD3.5 medium's MMDiT-X), GELU(tanh)
  feed-forwards of width 4 D for image and text. The last block is ``context_pre_only``: its text stream ends after
  the attention (``AdaLayerNormContinuous`` on the text, no ``to_add_out``, no text feed-forward).
* ``norm_out`` (``AdaLayerNormContinuous``) and ``proj_out`` to p^2 x out_channels.

``_keep_in_fp32_modules`` is not set on the class: a half-precision load casts every tensor.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.layers.tensors import Tensor, conv2d, linear
from symbolic.components.layers.attention import AttentionDims, attention_core
from symbolic.components.shapes import StepShape
from symbolic.components import register

#: ``FeedForward(dim, dim_out=dim, activation_fn="gelu-approximate")`` (attention.py): default ``mult=4``.
FF_MULT = 4
#: ``CombinedTimestepTextProjEmbeddings``: ``Timesteps(num_channels=256)`` feeds ``TimestepEmbedding(in_channels=256)``.
TIMESTEP_CHANNELS = 256
#: AdaLN modulation widths (multiples of D) of the ``linear`` in each block norm (normalization.py):
#: ``SD35AdaLayerNormZeroX`` 9 (shift/scale/gate for attn, mlp, attn2), ``AdaLayerNormZero`` 6,
#: ``AdaLayerNormContinuous`` 2 (scale, shift).
MOD_DUAL, MOD_ZERO, MOD_CONTINUOUS = 9, 6, 2
#: ``RMSNorm.forward`` (normalization.py) holds two float32 copies of its input at once: ``hidden_states.to(float32)``
#: and its ``.pow(2)`` (half inputs), or the float32 ``hidden_states * rsqrt(variance)`` and its product with the
#: weight (float32 inputs, where ``.to(float32)`` is a no-op): 8 bytes per element either way.
RMSNORM_FP32_COPIES = 2


#: Derivation notes of the per-block moments (``SD3Transformer2DModel.moments``), keyed by moment suffix.
BLOCK_MOMENT_NOTES = {
    "qk_norm": "JointAttnProcessor2_0.__call__ (attention_processor.py) at attn.norm_q/norm_k (RMSNorm.forward, "
               "normalization.py): block inputs (image N_v, text N_t), norm1 output(s) (N_v, plus norm_hidden_states2 "
               "on dual layers), norm1_context output (N_t), the image q, k, v (3 N_v), and two float32 N_v x D "
               "copies inside RMSNorm; plus the AdaLN modulation vectors",
    "context_qk_norm": "same processor at norm_added_q/norm_added_k: image q, k (normed), v (3 N_v), text q, k, v (3 "
                       "N_t) and two float32 N_t x D copies",
    "attention": "the joint SDPA call (F.scaled_dot_product_attention in JointAttnProcessor2_0): block inputs and "
                 "norms, torch.cat'ed q, k, v over N = N_v + N_t (3 N), the text projections still referenced by the "
                 "processor's locals (3 N_t); flash: its output (N) and float32 log-sum-exp (B x heads x N); math: "
                 "symbolic.runtime.kernels.math_sdpa (fp32 scores, probabilities, mask, q/k/v copies; the output is not yet "
                 "allocated at that peak)",
    "attention_output": "right after SDPA: hidden_states.transpose(1, 2).reshape(...) copies the (B, heads, N, d) "
                        "output (the fused kernels' output has the query's layout, meta kernel "
                        "meta__scaled_dot_product_flash_attention = empty_like(query)): output + copy (2 N) next to "
                        "q, k, v and the text projections; equals the to_out/to_add_out moment (copy N + N_v + N_t)",
    "attn2_qk_norm": "dual layers (SD35AdaLayerNormZeroX, JointTransformerBlock.forward): attn2.norm_q/norm_k with "
                     "block inputs, norm_hidden_states, norm_hidden_states2, gated attn_output, the updated "
                     "hidden_states (5 N_v), text inputs, norm1_context output and context_attn_output (the last "
                     "block keeps the whole N-token attention copy alive through its text slice), attn2's q, k, v (3 "
                     "N_v) and two float32 copies",
    "attn2": "dual layers: attn2's SDPA over the image tokens only (N_v x N_v) with the same live set, q, k, v and "
             "flash output + log-sum-exp or math_sdpa",
    "attn2_output": "dual layers: attn2 output and its reshape copy (2 N_v) next to q, k, v",
    "feedforward": "JointTransformerBlock.forward, self.ff(norm_hidden_states): block input, gated attn_output(s), "
                   "hidden_states, norm2-modulated input (+ norm_hidden_states2 and attn_output2 on dual layers: (4 + "
                   "2 dual) N_v), text inputs, norm1_context output and context_attn_output (N_t, or N on the "
                   "context_pre_only last block), ff.net.0.proj output and its GELU(tanh) (2 x N_v x 4D)",
    "context_feedforward": "self.ff_context(norm_encoder_hidden_states) (not on the last block): the image stream "
                           "after its feed-forward ((5 + 2 dual) N_v incl. gated ff_output), text input, gated "
                           "context attention, updated and normed text (4 N_t), 2 x N_t x 4D",
}


@dataclass(frozen=True)
class BlockKind:
    name: str
    dual: bool
    last: bool


@register("SD3Transformer2DModel")
@dataclass(frozen=True)
class SD3Transformer2DModel(AttentionDims, ComponentBase):
    gguf_blocks = ("transformer_blocks",)  # joint_blocks
    skip_layerwise_casting_patterns = ("pos_embed", "norm")
    config: dict

    kind = "denoiser"
    joint_text = True

    # -- config (defaults: SD3Transformer2DModel.__init__)
    @property
    def heads(self) -> int:
        return int(self.config.get("num_attention_heads", 18))

    @property
    def head_dim(self) -> int:
        return int(self.config.get("attention_head_dim", 64))

    @property
    def patch(self) -> int:
        return int(self.config.get("patch_size", 2))

    @property
    def layers(self) -> int:
        return int(self.config.get("num_layers", 18))

    @property
    def dual_layers(self) -> frozenset[int]:
        return frozenset(int(i) for i in (self.config.get("dual_attention_layers") or ()))

    @property
    def qk_norm(self) -> str | None:
        norm = self.config.get("qk_norm")
        if norm not in (None, "rms_norm"):
            raise ValueError(f"SD3Transformer2DModel: qk_norm={norm!r} is not modelled (None or 'rms_norm')")
        return norm

    @property
    def ff_inner(self) -> int:
        return FF_MULT * self.dim

    @property
    def block_kinds(self) -> list[BlockKind]:
        """The distinct block kinds of this config (dual attention or not, last block or not)."""
        kinds = {(i in self.dual_layers, i == self.layers - 1) for i in range(self.layers)}
        names = {(True, False): "dual", (False, False): "joint", (False, True): "last", (True, True): "last_dual"}
        return [BlockKind(names[k], *k) for k in sorted(kinds, key=lambda k: (k[1], not k[0]))]

    # -- tensors, in nn.Module._apply order
    def _attention(self, name: str, added: bool, context_pre_only: bool) -> list[Tensor]:
        """``Attention`` (attention_processor.py), children in registration order: norm_q, norm_k, to_q/k/v, the added
        projections, to_out.0, to_add_out, norm_added_q/k."""
        D, hd = self.dim, self.head_dim
        out: list[Tensor] = []
        if self.qk_norm:
            out += [Tensor(f"{name}.norm_q.weight", (hd,)), Tensor(f"{name}.norm_k.weight", (hd,))]
        for proj in ("to_q", "to_k", "to_v"):
            out += linear(f"{name}.{proj}", D, D)
        if added:
            for proj in ("add_k_proj", "add_v_proj", "add_q_proj"):
                out += linear(f"{name}.{proj}", D, D)
        out += linear(f"{name}.to_out.0", D, D)
        if added and not context_pre_only:
            out += linear(f"{name}.to_add_out", D, D)
        if added and self.qk_norm:
            out += [Tensor(f"{name}.norm_added_q.weight", (hd,)), Tensor(f"{name}.norm_added_k.weight", (hd,))]
        return out

    @cached_property
    def tensors(self) -> list[Tensor]:
        c, D, p = self.config, self.dim, self.patch
        cin = int(c.get("in_channels", 16))
        cout = int(c.get("out_channels") or cin)
        grid = int(c.get("pos_embed_max_size", 96))
        out = conv2d("pos_embed.proj", cin, D, p)
        out.append(Tensor("pos_embed.pos_embed", (1, grid * grid, D)))
        tt = "time_text_embed"
        out += linear(f"{tt}.timestep_embedder.linear_1", TIMESTEP_CHANNELS, D)
        out += linear(f"{tt}.timestep_embedder.linear_2", D, D)
        out += linear(f"{tt}.text_embedder.linear_1", int(c.get("pooled_projection_dim", 2048)), D)
        out += linear(f"{tt}.text_embedder.linear_2", D, D)
        out += linear("context_embedder", int(c.get("joint_attention_dim", 4096)),
                      int(c.get("caption_projection_dim", 1152)))
        for i in range(self.layers):
            n, dual, last = f"transformer_blocks.{i}", i in self.dual_layers, i == self.layers - 1
            out += linear(f"{n}.norm1.linear", D, (MOD_DUAL if dual else MOD_ZERO) * D)
            out += linear(f"{n}.norm1_context.linear", D, (MOD_CONTINUOUS if last else MOD_ZERO) * D)
            out += self._attention(f"{n}.attn", added=True, context_pre_only=last)
            if dual:
                out += self._attention(f"{n}.attn2", added=False, context_pre_only=False)
            out += linear(f"{n}.ff.net.0.proj", D, self.ff_inner) + linear(f"{n}.ff.net.2", self.ff_inner, D)
            if not last:
                out += linear(f"{n}.ff_context.net.0.proj", D, self.ff_inner)
                out += linear(f"{n}.ff_context.net.2", self.ff_inner, D)
        out += linear("norm_out.linear", D, MOD_CONTINUOUS * D)
        out += linear("proj_out", D, p * p * cout)
        return out

    # -- activations
    def moments(self, s: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one step, per block kind (see ``moment_notes``). ``s.video_tokens`` is
        the number of image tokens (H / 16) x (W / 16) (VAE factor 8, patch 2), ``s.text_tokens`` the joint text length
        (77 CLIP + 256 T5 = 333 in StableDiffusion3Pipeline), ``s.batch`` the forward's batch (2 x images with CFG)."""
        if s.backend not in ("flash", "math"):
            raise ValueError(f"SD3Transformer2DModel: backend must be 'flash' or 'math', not {s.backend!r}")
        B, b, D = s.batch, s.b, self.dim
        Nv, Nt = sp.sympify(s.video_tokens), sp.sympify(s.text_tokens)
        N = Nv + Nt
        tok = B * D * b          # one D-wide activation row per token, model dtype
        tok32 = B * D * FP32     # the same in float32
        ff = B * b * 2 * self.ff_inner   # ff.net.0.proj output and its GELU, per token
        flash = s.backend == "flash"
        out: dict[str, sp.Expr] = {}
        for k in self.block_kinds:
            dual, last = int(k.dual), int(k.last)
            mod = tok * ((MOD_DUAL if dual else MOD_ZERO) + (MOD_CONTINUOUS if last else MOD_ZERO)) / D
            ctx = N if last else Nt
            base_a = (2 + dual) * Nv + 2 * Nt
            qkv = 3 * N + 3 * Nt
            if self.qk_norm:
                out[f"{k.name}_qk_norm"] = mod + tok * (base_a + 3 * Nv) + RMSNORM_FP32_COPIES * tok32 * Nv
                out[f"{k.name}_context_qk_norm"] = (mod + tok * (base_a + 3 * Nv + 3 * Nt)
                                                    + RMSNORM_FP32_COPIES * tok32 * Nt)
            core = attention_core(s, self.heads, self.head_dim, N, N)
            out[f"{k.name}_attention"] = mod + tok * (base_a + qkv + (N if flash else 0)) + core
            out[f"{k.name}_attention_output"] = mod + tok * (base_a + qkv + 2 * N)
            if dual:
                base2 = 5 * Nv + 2 * Nt + ctx
                if self.qk_norm:
                    out[f"{k.name}_attn2_qk_norm"] = mod + tok * (base2 + 3 * Nv) + RMSNORM_FP32_COPIES * tok32 * Nv
                core2 = attention_core(s, self.heads, self.head_dim, Nv, Nv)
                out[f"{k.name}_attn2"] = mod + tok * (base2 + 3 * Nv + (Nv if flash else 0)) + core2
                out[f"{k.name}_attn2_output"] = mod + tok * (base2 + 5 * Nv)
            out[f"{k.name}_feedforward"] = mod + tok * ((4 + 2 * dual) * Nv + 2 * Nt + ctx) + ff * Nv
            if not last:
                out[f"{k.name}_context_feedforward"] = mod + tok * ((5 + 2 * dual) * Nv + 4 * Nt) + ff * Nt
        return out

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Live through every block: ``temb`` (B x D, ``time_text_embed``'s output). The block inputs (image and
        projected text streams) are counted inside each moment; the cropped position table
        (``PatchEmbed.cropped_pos_embed``, N_v x D) dies inside ``pos_embed``."""
        return s.batch * self.dim * s.b

    @property
    def moment_notes(self) -> dict[str, str]:
        out = {}
        for k in self.block_kinds:
            for moment, note in BLOCK_MOMENT_NOTES.items():
                what = ("dual attention" if k.dual else "joint attention") + (", context_pre_only" if k.last else "")
                out[f"{k.name}_{moment}"] = f"{k.name} block ({what}): {note}"
        return out
