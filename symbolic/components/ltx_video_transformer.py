"""``LTXVideoTransformer3DModel`` (diffusers ``models/transformers/transformer_ltx.py``), the denoiser of
Lightricks' LTX-Video 0.9.x: exact parameter list and the live bytes of one denoising step.

Architecture (read off ``LTXVideoTransformer3DModel.__init__`` / ``forward``): ``proj_in`` (128 latent channels ->
D = heads x head_dim, no patching: ``patch_size`` = ``patch_size_t`` = 1, the VAE already compresses 32 x 32 x 8),
an ``AdaLayerNormSingle`` timestep embedding (6 D modulation vector), ``PixArtAlphaTextProjection`` of the T5 tokens
(caption_channels -> D), and ``num_layers`` blocks (``LTXVideoTransformerBlock``): RMSNorm (no affine) + AdaLN
modulation, self-attention over the video tokens with RMSNorm'd q/k over all heads (``torch.nn.RMSNorm(D)``) and
RoPE, cross-attention to the text tokens (no modulation, key-padding mask), RMSNorm + modulation and a GELU(tanh)
feed-forward of width 4 D. The RoPE tables (``LTXVideoRotaryPosEmbed``) are built *inside* the forward, in float32,
of width D (not head_dim) and per batch element: cos and sin are B x N x D float32 each.

Moments were read off the source named in ``moment_notes`` and checked tensor by tensor against the live-bytes trace
of the real module on the ``meta`` device (``tests/components/test_ltx_video.py``). RMSNorm (``torch.nn.RMSNorm``)
is priced as torch's composite ``rms_norm`` runs it (upcast, two float32 products), which is what the trace sees.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.layers.tensors import Tensor, linear
from symbolic.components.layers.attention import AttentionDims, attention_core
from symbolic.components.shapes import StepShape
from symbolic.components import register
from symbolic.runtime.kernels import MATH_SCORE_BYTES

#: ``FeedForward(dim, mult=4)`` (diffusers attention.py): inner width 4 x dim.
FF_MULT = 4
#: ``AdaLayerNormSingle.linear``: 6 x D modulation values (shift/scale/gate for attention and feed-forward).
ADA_PARAMS = 6
#: ``LTXVideoTransformer3DModel.scale_shift_table``: (2, D) for the output norm's shift and scale.
OUT_ADA_PARAMS = 2
#: ``Timesteps(num_channels=256)`` feeding ``TimestepEmbedding`` (diffusers embeddings.py,
#: ``PixArtAlphaCombinedTimestepSizeEmbeddings``).
TIMESTEP_PROJ_DIM = 256
#: ``LTXVideoRotaryPosEmbed.forward``: ``self.dim // 6`` frequencies per axis, 3 axes (frames, height, width).
ROPE_AXES = 3
ROPE_FREQ_DIVISOR = 2 * ROPE_AXES
#: ``repeat_interleave(2, dim=-1)``: each frequency gives a (cos, cos) / (sin, sin) pair.
ROPE_PAIR = 2
#: ``torch.nn.RMSNorm`` (composite ``rms_norm``): the float32 products ``x * rsqrt(var)`` and ``* weight`` live at
#: once; the ``input.to(float32)`` copy joins them only for 16-bit inputs.
RMS_FP32_PRODUCTS = 2
#: ``apply_rotary_emb``: ``x.float() * cos``, ``x_rotated.float() * sin`` and their sum (or the upcast copy in place of
#: the sum, one op earlier): three float32 N x D tensors at the peak, in every dtype.
ROTARY_FP32_TEMPS = 3

NOTES = {
    "rope_tables": "LTXVideoRotaryPosEmbed.forward (transformer_ltx.py): while the sin table is concatenated with its"
                   " padding, the float32 frequency grid (B x N x 3 (D // 6)) and the interleaved sin (B x N x 6 (D "
                   "// 6)) are live next to the finished cos table; the two B x N x D float32 tables themselves are "
                   "resident_inputs. Never the step's peak; listed for completeness.",
    "self_qk_norm": "LTXVideoAttnProcessor.__call__ (attn1): attn.norm_q / attn.norm_k (torch.nn.RMSNorm over all "
                    "heads, D wide): the block input (held by the model's loop), the modulated norm1 output, q (or "
                    "the normed q), k and v (5 N D b), plus torch's composite rms_norm float32 temporaries (the "
                    "upcast copy for 16-bit inputs and two float32 products).",
    "rotary": "apply_rotary_emb (transformer_ltx.py) on q and k of attn1: block input, modulated norm1 output, normed"
              " q and k, v, x_rotated (the stacked [-x_imag, x_real]; 6 N D b), and three float32 N x D temporaries "
              "(x.float() * cos, x_rotated.float() * sin, their sum).",
    "attention": "attn1's SDPA call (dispatch_attention_fn -> _native_attention -> F.scaled_dot_product_attention): "
                 "block input, modulated norm1 output, rotated q and k, v and the output (6 N D b) plus "
                 "attention_core: flash keeps a float32 log-sum-exp (B x heads x N); the math backend the float32 "
                 "scores and softmax, _safe_softmax's bool mask and the float32 copies of q, k, v and the scaled q "
                 "(kernels.math_sdpa, heads x N x N).",
    "cross_qk_norm": "attn2 (LTXVideoAttnProcessor, cross-attention to the N_t text tokens): attn.norm_q over the "
                     "video queries while the block input, the modulated norm1 output (still referenced by the "
                     "block), the residual after attn1, attn1's output (the block's attn_hidden_states until "
                     "reassigned) and to_q's output (5 N D b), the text keys and values (2 N_t D b) and the additive "
                     "mask (prepare_attention_mask: B x heads x N_t) are live, plus the rms_norm float32 temporaries.",
    "cross_attention": "attn2's SDPA call: the five N x D tensors above with the normed q in place of to_q's output, "
                       "the text k, v, the mask and the output (N D b); flash adds the float32 log-sum-exp, the math "
                       "backend float32 scores + masked scores' softmax + bool mask (9 bytes x heads x N x N_t) and "
                       "the float32 copies of q, k, v and the scaled q.",
    "attention_scores": "math backend only: _scaled_dot_product_attention_math just after the q k^T bmm of attn1: the"
                        " five N x D tensors of 'attention' (no output yet), the float32 copies of q, k, v (16-bit "
                        "inputs), the scaled q and k (with batch > 1 also aten matmul's contiguous clones of both) "
                        "and the float32 scores (heads x N x N); above the softmax moment only for tiny N (N < 4 D / "
                        "(5 heads)).",
    "cross_attention_scores": "math backend only: the same instant in attn2 (scores heads x N x N_t, the scaled text "
                              "keys still live).",
    "feedforward": "LTXVideoTransformerBlock.forward's feed-forward (FeedForward, GELU(tanh)): block input, residual "
                   "after attn2, attn2's output, the modulated norm2 output (4 N D b), ff.net.0.proj's output and its"
                   " GELU (2 x N x 4D b).",
}


@register("LTXVideoTransformer3DModel")
@dataclass(frozen=True)
class LTXVideoTransformer(AttentionDims, ComponentBase):
    gguf_blocks = ("transformer_blocks",)
    skip_layerwise_casting_patterns = ("norm",)
    config: dict

    kind = "denoiser"
    joint_text = False
    moment_notes = NOTES

    # -- config (defaults: LTXVideoTransformer3DModel.__init__) ------------------------------------------------------
    @property
    def layers(self) -> int:
        return int(self.config.get("num_layers", 28))

    @property
    def patch(self) -> int:
        return int(self.config.get("patch_size", 1))

    @property
    def patch_t(self) -> int:
        return int(self.config.get("patch_size_t", 1))

    @property
    def ff_inner(self) -> int:
        return FF_MULT * self.dim

    def _check(self) -> None:
        c = self.config
        if c.get("qk_norm", "rms_norm_across_heads") != "rms_norm_across_heads":
            raise ValueError("LTXVideoTransformer3DModel: only qk_norm='rms_norm_across_heads' exists in diffusers")
        if c.get("activation_fn", "gelu-approximate") not in ("gelu-approximate", "gelu"):
            raise ValueError(f"LTXVideoTransformer3DModel: activation_fn {c.get('activation_fn')!r} is not modelled")

    # -- tensors ------------------------------------------------------------------------------------------------------
    @cached_property
    def tensors(self) -> list[Tensor]:
        """In ``nn.Module._apply`` order: children (proj_in, time_embed, caption_projection, the blocks, proj_out)
        first, then the model's own ``scale_shift_table``."""
        self._check()
        c, D = self.config, self.dim
        cin = int(c.get("in_channels", 128))
        cout = int(c.get("out_channels", 128) or cin)
        caption = int(c.get("caption_channels", 4096))
        cross = int(c.get("cross_attention_dim", 2048))
        bias = bool(c.get("attention_bias", True))
        out_bias = bool(c.get("attention_out_bias", True))
        affine = bool(c.get("norm_elementwise_affine", False))
        out = linear("proj_in", cin, D)
        out += linear("time_embed.emb.timestep_embedder.linear_1", TIMESTEP_PROJ_DIM, D)
        out += linear("time_embed.emb.timestep_embedder.linear_2", D, D)
        out += linear("time_embed.linear", D, ADA_PARAMS * D)
        out += linear("caption_projection.linear_1", caption, D) + linear("caption_projection.linear_2", D, D)
        for i in range(self.layers):
            n = f"transformer_blocks.{i}"
            if affine:
                out.append(Tensor(f"{n}.norm1.weight", (D,)))
            for attn, kv_in in (("attn1", D), ("attn2", cross)):
                out += [Tensor(f"{n}.{attn}.norm_q.weight", (D,)), Tensor(f"{n}.{attn}.norm_k.weight", (D,))]
                out += linear(f"{n}.{attn}.to_q", D, D, bias=bias)
                out += linear(f"{n}.{attn}.to_k", kv_in, D, bias=bias) + linear(f"{n}.{attn}.to_v", kv_in, D, bias=bias)
                out += linear(f"{n}.{attn}.to_out.0", D, D, bias=out_bias)
                if attn == "attn1" and affine:
                    out.append(Tensor(f"{n}.norm2.weight", (D,)))
            out += linear(f"{n}.ff.net.0.proj", D, self.ff_inner) + linear(f"{n}.ff.net.2", self.ff_inner, D)
            out.append(Tensor(f"{n}.scale_shift_table", (ADA_PARAMS, D)))
        out += linear("proj_out", D, cout * self.patch * self.patch * self.patch_t)
        out.append(Tensor("scale_shift_table", (OUT_ADA_PARAMS, D)))
        return out

    @cached_property
    def block_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors if t.name.startswith("transformer_blocks.0.")]

    # -- activations --------------------------------------------------------------------------------------------------
    @staticmethod
    def _shape(s: StepShape) -> StepShape:
        if s.backend not in ("flash", "math"):
            raise ValueError(f"LTXVideoTransformer3DModel: backend {s.backend!r} is not 'flash' or 'math'")
        return s

    @staticmethod
    def _upcast(b: sp.Expr) -> sp.Expr:
        """1 when ``.float()`` / ``.to(float32)`` copies (16-bit activations), 0 for float32 (a no-op)."""
        return sp.Piecewise((1, sp.sympify(b) < FP32), (0, True))

    def moments(self, shape: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one forward (see ``moment_notes``); the largest is in a block, all
        blocks alike. ``shape.batch`` is the forward's batch: 2 x videos under classifier-free guidance (LTXPipeline
        concatenates [uncond, cond] latents and prompt embeddings into one call)."""
        s = self._shape(shape)
        B, b, D, H = s.batch, s.b, self.dim, self.heads
        N, Nt = s.video_tokens, s.text_tokens
        up = self._upcast(b)
        nd = B * N * D                       # elements of one video-token activation
        ada = B * ADA_PARAMS * D * b         # the block's ``ada_values`` (scale_shift_table + temb), live throughout
        mask = B * H * Nt * b                # attn2's additive mask after ``prepare_attention_mask``
        text_kv = 2 * B * Nt * D * b
        rms = (RMS_FP32_PRODUCTS + up) * nd * FP32
        freqs = (D // ROPE_FREQ_DIVISOR) * ROPE_AXES
        self_core = attention_core(s, H, self.head_dim, N, N)
        if s.backend == "math":
            # _scaled_dot_product_attention_math on q (N) and k, v (N_t): float32 scores and softmax + bool mask,
            # float32 copies of q, k, v (16-bit inputs only) and the scaled q.
            cross_core = (MATH_SCORE_BYTES * B * H * N * Nt
                          + FP32 * (nd * (1 + up) + 2 * B * Nt * D * up))
        else:
            cross_core = B * H * N * FP32
        out = {
            "rope_tables": B * N * FP32 * (freqs + ROPE_PAIR * freqs),
            "self_qk_norm": 5 * nd * b + rms + ada,
            "rotary": 6 * nd * b + ROTARY_FP32_TEMPS * nd * FP32 + ada,
            "attention": 6 * nd * b + self_core + ada if s.backend == "flash" else 5 * nd * b + self_core + ada,
            "cross_qk_norm": 5 * nd * b + text_kv + mask + rms + ada,
            "cross_attention": (6 if s.backend == "flash" else 5) * nd * b + text_kv + mask + cross_core + ada,
            "feedforward": 4 * nd * b + 2 * B * N * self.ff_inner * b + ada,
        }
        if s.backend == "math":
            # Just after the scores' bmm, before the scaled k dies: the float32 copies (16-bit inputs), the scaled q
            # and k, and the float32 scores. Larger than the softmax moment only for N below ~4 D / (5 heads).
            # With batch > 1 the bmm also clones the permuted scaled q and k into (B x heads, N, head_dim) blocks
            # (aten matmul's reshape is no view then); with batch 1 the reshape is a view.
            batched = sp.Piecewise((1, B > 1), (0, True))
            out["attention_scores"] = (5 * nd * b + ada + FP32 * (
                B * H * N * N + nd * (3 * up + 2 + 2 * batched)))
            out["cross_attention_scores"] = (5 * nd * b + text_kv + mask + ada + FP32 * (
                B * H * N * Nt + nd * (up + 1 + batched) + B * Nt * D * (2 * up + 1 + batched)))
        return out

    def resident_inputs(self, shape: StepShape) -> sp.Expr:
        """Live through every block: the RoPE cos and sin tables (B x N x D float32 each, built in the forward by
        ``LTXVideoRotaryPosEmbed``), the projected text (B x N_t x D), the additive text mask (B x N_t), the timestep
        embedding ``temb`` (B x 6D) and ``embedded_timestep`` (B x D)."""
        s = self._shape(shape)
        B, b, D = s.batch, s.b, self.dim
        return (2 * B * s.video_tokens * D * FP32 + B * s.text_tokens * D * b + B * s.text_tokens * b
                + B * (ADA_PARAMS + 1) * D * b)
