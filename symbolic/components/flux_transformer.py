"""diffusers' ``FluxTransformer2DModel`` (models/transformers/transformer_flux.py): the MM-DiT of FLUX.1 [dev] and
[schnell].

Structure (diffusers 0.42, read off ``FluxTransformer2DModel.__init__``, ``FluxTransformerBlock`` and
``FluxSingleTransformerBlock``):

* ``pos_embed`` (``FluxPosEmbed``): no tensors; ``forward`` builds the RoPE cos / sin tables of the joint sequence
  from ``torch.cat((txt_ids, img_ids))`` (float64 frequencies, float32 N x head_dim tables, axes 16 + 56 + 56).
* ``time_text_embed``: ``CombinedTimestepGuidanceTextProjEmbeddings`` when ``guidance_embeds`` (FLUX.1-dev: a second
  256-channel sinusoid MLP for the distilled guidance scale), else ``CombinedTimestepTextProjEmbeddings``
  (FLUX.1-schnell): timestep MLP and the pooled-CLIP MLP.
* ``context_embedder`` (T5 width 4096 -> D), ``x_embedder`` (in_channels 64 = 16 latent channels x a 2 x 2 patch
  packed by the pipeline -> D). The config's ``patch_size`` is 1: the 2 x 2 patching is ``FluxPipeline._pack_latents``.
* ``num_layers`` dual-stream ``FluxTransformerBlock``: ``AdaLayerNormZero`` for image and text (6 D modulation each),
  one joint attention (``FluxAttention``: to_q/k/v, add_q/k/v_proj, per-head RMSNorm of q and k for both streams,
  to_out.0, to_add_out), GELU(tanh) feed-forwards of width 4 D for both streams (``norm2`` / ``norm2_context`` have no
  affine).
* ``num_single_layers`` single-stream ``FluxSingleTransformerBlock``: ``AdaLayerNormZeroSingle`` (3 D), a parallel
  MLP branch (``proj_mlp`` to ``mlp_ratio`` x D = 4 D, GELU(tanh)) and a pre-only attention (q, k, v, RMSNorm'd q, k),
  ``proj_out`` from [attention; MLP] (5 D) back to D.
* ``norm_out`` (``AdaLayerNormContinuous``, 2 D) and ``proj_out`` to patch_size^2 x out_channels.

``_keep_in_fp32_modules`` is not set (ModelMixin's None): a half-precision load casts every tensor; the class has no
buffers at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.layers.tensors import Tensor, linear
from symbolic.components.shapes import StepShape
from symbolic.components.layers.attention import attention_core
from symbolic.components import register

#: ``FluxTransformerBlock``: ``FeedForward(dim, dim_out=dim, activation_fn="gelu-approximate")`` (attention.py),
#: default ``mult=4``.
FF_MULT = 4
#: ``FluxSingleTransformerBlock(..., mlp_ratio=4.0)``: ``mlp_hidden_dim = int(dim * mlp_ratio)``; the model never
#: passes another ratio.
SINGLE_MLP_RATIO = 4.0
#: ``Timesteps(num_channels=256)`` feeds ``TimestepEmbedding(in_channels=256)`` for the timestep and the guidance
#: embedders (embeddings.py, CombinedTimestep[Guidance]TextProjEmbeddings).
TIMESTEP_CHANNELS = 256
#: AdaLN modulation widths (multiples of D) of the ``linear`` in each norm (normalization.py):
#: ``AdaLayerNormZero`` 6, ``AdaLayerNormZeroSingle`` 3, ``AdaLayerNormContinuous`` 2.
MOD_ZERO, MOD_SINGLE, MOD_CONTINUOUS = 6, 3, 2
#: ``apply_rotary_emb`` (embeddings.py, use_real, unbind dim -1): ``(x.float() * cos + x_rotated.float() * sin)``
#: holds three float32 copies of q (or k) at once: the two products and their sum (half inputs: ``x.float()`` is
#: freed after its product; float32 inputs: ``.float()`` is a no-op and the three are the same).
ROPE_FP32_COPIES = 3
#: ``FluxPipeline`` packs 2 x 2 latent pixels into one token (``_pack_latents``): the patch in latent pixels.
PIPELINE_PATCH = 2
#: RoPE tables: cos and sin.
ROPE_TABLES = 2


@register("FluxTransformer2DModel")
@dataclass(frozen=True)
class FluxTransformer2DModel(ComponentBase):
    gguf_blocks = ("transformer_blocks", "single_transformer_blocks")  # double_blocks, single_blocks
    skip_layerwise_casting_patterns = ("pos_embed", "norm")
    config: dict

    kind = "denoiser"
    joint_text = True
    #: Tokens are 2 x 2 latent pixels (packed by the pipeline; the config's ``patch_size`` is 1).
    patch = PIPELINE_PATCH

    # -- config (defaults: FluxTransformer2DModel.__init__)
    @property
    def heads(self) -> int:
        return int(self.config.get("num_attention_heads", 24))

    @property
    def head_dim(self) -> int:
        return int(self.config.get("attention_head_dim", 128))

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def layers(self) -> int:
        return int(self.config.get("num_layers", 19))

    @property
    def single_layers(self) -> int:
        return int(self.config.get("num_single_layers", 38))

    @property
    def guidance_embeds(self) -> bool:
        return bool(self.config.get("guidance_embeds", False))

    @property
    def ff_inner(self) -> int:
        return FF_MULT * self.dim

    @property
    def mlp(self) -> int:
        return int(self.dim * SINGLE_MLP_RATIO)

    # -- tensors, in nn.Module._apply order
    def _qk_norm(self, name: str, prefix: str = "") -> list[Tensor]:
        """``torch.nn.RMSNorm(dim_head)`` on q and k (elementwise_affine: a head_dim weight each)."""
        return [Tensor(f"{name}.norm_{prefix}q.weight", (self.head_dim,)),
                Tensor(f"{name}.norm_{prefix}k.weight", (self.head_dim,))]

    @cached_property
    def tensors(self) -> list[Tensor]:
        c, D = self.config, self.dim
        cin = int(c.get("in_channels", 64))
        cout = int(c.get("out_channels") or cin)
        p = int(c.get("patch_size", 1))
        tt = "time_text_embed"
        out = linear(f"{tt}.timestep_embedder.linear_1", TIMESTEP_CHANNELS, D)
        out += linear(f"{tt}.timestep_embedder.linear_2", D, D)
        if self.guidance_embeds:
            out += linear(f"{tt}.guidance_embedder.linear_1", TIMESTEP_CHANNELS, D)
            out += linear(f"{tt}.guidance_embedder.linear_2", D, D)
        out += linear(f"{tt}.text_embedder.linear_1", int(c.get("pooled_projection_dim", 768)), D)
        out += linear(f"{tt}.text_embedder.linear_2", D, D)
        out += linear("context_embedder", int(c.get("joint_attention_dim", 4096)), D)
        out += linear("x_embedder", cin, D)
        for i in range(self.layers):
            n = f"transformer_blocks.{i}"
            out += linear(f"{n}.norm1.linear", D, MOD_ZERO * D) + linear(f"{n}.norm1_context.linear", D, MOD_ZERO * D)
            a = f"{n}.attn"
            out += self._qk_norm(a)
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                out += linear(f"{a}.{proj}", D, D)
            out += self._qk_norm(a, "added_")
            for proj in ("add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"):
                out += linear(f"{a}.{proj}", D, D)
            for ff in ("ff", "ff_context"):
                out += linear(f"{n}.{ff}.net.0.proj", D, self.ff_inner) + linear(f"{n}.{ff}.net.2", self.ff_inner, D)
        for i in range(self.single_layers):
            n = f"single_transformer_blocks.{i}"
            out += linear(f"{n}.norm.linear", D, MOD_SINGLE * D)
            out += linear(f"{n}.proj_mlp", D, self.mlp) + linear(f"{n}.proj_out", D + self.mlp, D)
            out += self._qk_norm(f"{n}.attn")
            for proj in ("to_q", "to_k", "to_v"):
                out += linear(f"{n}.attn.{proj}", D, D)
        out += linear("norm_out.linear", D, MOD_CONTINUOUS * D)
        out += linear("proj_out", D, p * p * cout)
        return out

    # -- activations
    def moments(self, s: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one step (see ``moment_notes``), beyond the weights, the step's inputs
        and ``resident_inputs``. ``s.video_tokens``: image tokens (H / 16) x (W / 16) (VAE factor 8 x the pipeline's
        2 x 2 packing); ``s.text_tokens``: T5 tokens (``max_sequence_length``, 512 by default); ``s.batch``: the
        forward's batch (B x num_images_per_prompt: FLUX runs one forward per step, a second one of the same batch
        only with true CFG)."""
        if s.backend not in ("flash", "math"):
            raise ValueError(f"FluxTransformer2DModel: backend must be 'flash' or 'math', not {s.backend!r}")
        B, b, D = s.batch, s.b, self.dim
        Ni, Nt = sp.sympify(s.video_tokens), sp.sympify(s.text_tokens)
        N = Ni + Nt
        tok = B * D * b                       # one D-wide row per token, model dtype
        rope32 = ROPE_FP32_COPIES * B * N * D * FP32
        flash = s.backend == "flash"
        core = attention_core(s, self.heads, self.head_dim, N, N)
        # dual-stream block: stream inputs (N), norm1 outputs (N), the normed text q, k and raw text v the processor
        # keeps (3 N_t), the concatenated q, k, v (3 N)
        dual_pre = tok * (N + N + 3 * Nt + 3 * N)
        # single-stream block: block input (N), the cat'ed residual (N), norm output (N), MLP branch (N x mlp)
        single_pre = B * b * (3 * N * D + N * self.mlp)
        return {
            "dual_rotary": dual_pre + tok * N + rope32,
            "dual_attention": dual_pre + (tok * N if flash else 0) + core,
            "dual_feedforward": tok * (5 * Ni + 3 * Nt) + 2 * B * Ni * self.ff_inner * b,
            "dual_context_feedforward": tok * (6 * Ni + 5 * Nt) + 2 * B * Nt * self.ff_inner * b,
            "single_rotary": single_pre + tok * 4 * N + rope32,
            "single_attention": single_pre + tok * 3 * N + (tok * N if flash else 0) + core,
            "single_proj_out": single_pre + B * b * N * (4 * D + self.mlp),
        }

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Live through every block: the RoPE cos / sin tables of the joint sequence (``FluxPosEmbed.forward``: float32,
        (N_t + N_i) x head_dim each, shared by the batch). ``temb`` and the per-block modulation vectors (B x 6 D) are
        negligible and not counted; the image and text streams are counted inside each moment."""
        return ROPE_TABLES * (sp.sympify(s.video_tokens) + s.text_tokens) * self.head_dim * FP32

    @property
    def moment_notes(self) -> dict[str, str]:
        proc = "FluxAttnProcessor.__call__ (transformer_flux.py)"
        return {
            "dual_rotary": (
                f"{proc} in a FluxTransformerBlock, at apply_rotary_emb(query / key, image_rotary_emb, "
                "sequence_dim=1) (embeddings.py): the block's stream inputs (image N_i, text N_t), norm1 / "
                "norm1_context outputs (N), the RMSNorm'd text q, k and the text v still referenced by the "
                "processor's locals (3 N_t), torch.cat'ed q, k, v (3 N; the rotated q replaces the cat'ed one), "
                "x_rotated (N) and three float32 N x D temporaries (x.float() * cos, x_rotated.float() * sin, "
                "their sum)"),
            "dual_attention": (
                "the joint dispatch_attention_fn call (attention_dispatch._native_attention -> "
                "F.scaled_dot_product_attention on (B, heads, N, d) permuted views): the same live set with rotated "
                "q, k; flash: its output (N, in (B, N, heads, d) layout, so flatten(2, 3) is a view) and the float32 "
                "log-sum-exp (B x heads x N); math: symbolic.runtime.kernels.math_sdpa (fp32 scores, probabilities, "
                "_safe_softmax mask, q/k/v copies; the output is not allocated yet). Below ~200 joint tokens the "
                "math kernel's bmm-input copies can exceed this (not modelled: with the default 512 T5 tokens N is always above it)"),
            "dual_feedforward": (
                "FluxTransformerBlock.forward, self.ff(norm_hidden_states): stream inputs (N), norm1_context output "
                "(N_t), both raw attention outputs (to_out / to_add_out, kept by the attention_outputs tuple: N), "
                "gated attn_output, updated hidden_states and the norm2-modulated input (3 N_i), ff.net.0.proj "
                "output and its GELU(tanh) (2 x N_i x 4D)"),
            "dual_context_feedforward": (
                "self.ff_context(norm_encoder_hidden_states): stream inputs and raw attention outputs (2 N), gated "
                "attn_output, norm_hidden_states, ff_output and the final image stream (4 N_i), gated context "
                "attention, updated and normed text (3 N_t), ff_context.net.0.proj output and GELU (2 x N_t x 4D); "
                "leads a dual block only when N_t >> N_i at float32 (e.g. 128 x 128 px with 512 T5 tokens)"),
            "single_rotary": (
                f"FluxSingleTransformerBlock.forward -> {proc} (no encoder stream) at apply_rotary_emb: block input "
                "(N, the previous block's output), torch.cat'ed residual (N), AdaLayerNormZeroSingle output (N), "
                "act_mlp(proj_mlp(...)) computed before the attention (N x 4D), v, RMSNorm'd q and k (3 N), "
                "x_rotated (N) and three float32 N x D temporaries; the step's peak with flash at half precision"),
            "single_attention": (
                "the single block's dispatch_attention_fn call: block input, residual, norm, MLP branch, rotated q "
                "and k, v (6 N + N x 4D); flash: output + float32 log-sum-exp; math: math_sdpa (the step's peak with "
                "math)"),
            "single_proj_out": (
                "gate * self.proj_out(torch.cat([attn_output, mlp_hidden_states], dim=2)): block input, residual, "
                "norm, MLP branch, attn_output (4 N + N x 4D), the cat (N x 5D), proj_out output and the gated "
                "product (2 N); the step's peak with flash at float32 (where the rotary temporaries are no larger "
                "than the activations)"),
        }
