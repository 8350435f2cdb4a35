"""Video diffusion transformers of diffusers, from their config.json: exact parameter and buffer lists, and the live
bytes of one denoising step at its peak.

* ``CogVideoXTransformer3DModel`` (models/transformers/cogvideox_transformer_3d.py): joint attention over
  [226 text tokens, video tokens], expert AdaLN (``CogVideoXLayerNormZero``), GELU(tanh) feed-forward; 2B uses a
  fixed 3D sin-cos position table (a float64 buffer), 5B rotary embeddings.
* ``WanTransformer3DModel`` (transformer_wan.py): self-attention over video tokens with RoPE and RMSNorm'd q/k
  (``rms_norm_across_heads``), cross-attention to 512 umT5 tokens, fp32 LayerNorm/modulation, GELU(tanh) FFN.
* ``HunyuanVideoTransformer3DModel`` (transformer_hunyuan_video.py): token refiner, 20 dual-stream blocks
  (separate weights for text and video tokens, joint attention) and 40 single-stream blocks (parallel attention +
  MLP over the concatenated sequence), RoPE on video tokens.

The step's activation memory is not a sum over layers: in inference every block's transients are freed before the
next block runs, so the peak is the largest *moment* inside one block (plus what stays live across blocks). Each
model lists its moments; the pipeline takes their ``Max``. The compositions below were read off the diffusers source
named in each docstring and checked tensor by tensor with a meta-device trace (``tests/harness/test_video_param_counts_torch.py``).

Attention backends: ``flash`` (torch SDPA's default on a recent GPU with fp16/bf16: flash or memory-efficient
kernels; only the output and a float32 log-sum-exp per query are stored) and ``math`` (aten
``_scaled_dot_product_attention_math``: q, k, v are upcast to float32 - torch's default
``allow_fp16_bf16_reduction_math_sdp(False)`` - and the float32 score matrix and its softmax are live at once).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.layers.attention import AttentionDims, attention_core
from symbolic.components.shapes import StepShape
from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.layers.tensors import Tensor, conv, linear, norm
from symbolic.components import register



def moments_to_expr(moments: dict[str, sp.Expr]) -> sp.Expr:
    return sp.Max(*moments.values()) if len(moments) > 1 else next(iter(moments.values()))


#: Derivation notes of the moments the video transformers list (each class takes the ones it has).
MOMENT_NOTES = {
    "feedforward": "Block transients at the feed-forward (CogVideoX, Wan): the FF input, its up-projection and GELU "
                   "(2 x N x F), the down-projection's output and the residual streams (CogVideoX: the "
                   "patch-embedding output is still alive in block 0 because the text and video streams are slices "
                   "of it).",
    "attention": "Block transients at the self-attention SDPA call: q, k, v, the output, the block input and norm "
                 "outputs; with the math backend the float32 upcasts and the two float32 score matrices (heads x N x "
                 "N each), with Ulysses / ring the all-to-all or ring buffers (``attention_core``). Default SDPA "
                 "(flash / memory-efficient) stores no N x N matrix.",
    "rotary": "CogVideoX-5B: ``apply_rotary_emb`` on the video part of q: three float32 N_v x D temporaries next to "
              "the attention inputs.",
    "qk_norm": "Wan: the q/k RMSNorm over all heads, computed in float32 (three float32 N x D temporaries next to q, "
               "k, v and the block input).",
    "cross_attention": "Wan: the cross-attention to the 512 text tokens (N queries x 512 keys; only large with the "
                       "math backend).",
    "single_rotary": "HunyuanVideo single-stream block: RoPE on the key while the GELU'd MLP branch (N x 4D, "
                     "computed before the attention) is held.",
    "single_attention": "HunyuanVideo single-stream block: the SDPA call with the MLP branch held (plus the math "
                        "backend's score matrices).",
    "dual_feedforward": "HunyuanVideo dual-stream block: the video stream's feed-forward.",
}


# --------------------------------------------------------------------------------------------------------------------
@register("CogVideoXTransformer3DModel")
@dataclass(frozen=True)
class CogVideoXTransformer(AttentionDims, ComponentBase):
    #: ``StepShape`` splits the sequence (Ulysses, ring) or the weights (FSDP) over P devices for this step.
    parallel_schemes = ("ulysses", "ring", "fsdp")
    skip_layerwise_casting_patterns = ("patch_embed", "norm")
    config: dict

    kind = "denoiser"
    joint_text = True
    moment_notes = {k: MOMENT_NOTES[k] for k in ("feedforward", "attention", "rotary")}

    @property
    def ff_inner(self) -> int:
        """``FeedForward(dim, mult=4)``: inner dim 4 x dim."""
        return 4 * self.dim

    @property
    def layers(self) -> int:
        return int(self.config["num_layers"])

    @property
    def patch(self) -> int:
        return int(self.config["patch_size"])

    @property
    def patch_t(self) -> int | None:
        return self.config.get("patch_size_t")

    @property
    def text_tokens(self) -> int:
        return int(self.config["max_text_seq_length"])

    @property
    def rope(self) -> bool:
        return bool(self.config.get("use_rotary_positional_embeddings", False))

    @property
    def sincos_table(self) -> bool:
        return not self.rope and not self.config.get("use_learned_positional_embeddings", False)

    #: ``patch_embed.pos_embedding`` is a non-persistent buffer built by ``get_3d_sincos_pos_embed`` in float64;
    #: it is not in the checkpoint, so ``from_pretrained(torch_dtype=...)`` leaves it float64.
    fixed_dtype_bytes = {"patch_embed.pos_embedding": 8}

    @cached_property
    def tensors(self) -> list[Tensor]:
        c, D, te = self.config, self.dim, int(self.config["time_embed_dim"])
        p, pt, cin, cout = self.patch, self.patch_t, int(c["in_channels"]), int(c["out_channels"] or c["in_channels"])
        bias = bool(c.get("patch_bias", True))
        if pt is None:
            out = conv("patch_embed.proj", cin, D, (p, p), bias=bias)
        else:
            out = linear("patch_embed.proj", cin * p * p * pt, D, bias=bias)
        out += linear("patch_embed.text_proj", int(c["text_embed_dim"]), D)
        out += linear("time_embedding.linear_1", D, te) + linear("time_embedding.linear_2", te, te)
        if c.get("ofs_embed_dim"):
            ofs = int(c["ofs_embed_dim"])
            out += linear("ofs_embedding.linear_1", ofs, ofs) + linear("ofs_embedding.linear_2", ofs, ofs)
        qkv_bias = bool(c.get("attention_bias", True))
        for i in range(self.layers):
            n = f"transformer_blocks.{i}"
            out += linear(f"{n}.norm1.linear", te, 6 * D) + norm(f"{n}.norm1.norm", D)
            out += norm(f"{n}.attn1.norm_q", self.head_dim) + norm(f"{n}.attn1.norm_k", self.head_dim)
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                out += linear(f"{n}.attn1.{proj}", D, D, bias=qkv_bias if proj != "to_out.0" else True)
            out += linear(f"{n}.norm2.linear", te, 6 * D) + norm(f"{n}.norm2.norm", D)
            out += linear(f"{n}.ff.net.0.proj", D, self.ff_inner) + linear(f"{n}.ff.net.2", self.ff_inner, D)
        out += norm("norm_final", D)
        out += linear("norm_out.linear", te, 2 * D) + norm("norm_out.norm", D)
        out += linear("proj_out", D, p * p * (pt or 1) * cout)
        if self.sincos_table:
            frames = (int(c["sample_frames"]) - 1) // int(c["temporal_compression_ratio"]) + 1
            tokens = frames * (int(c["sample_height"]) // p) * (int(c["sample_width"]) // p)
            out.append(Tensor("patch_embed.pos_embedding", (1, self.text_tokens + tokens, D)))
        return out

    @cached_property
    def block_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors if t.name.startswith("transformer_blocks.0.")]

    def moments(self, s: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one step (the largest is the step's peak), all inside block 0, where
        ``embeds`` (the patch-embedding output [text; video], N x D) is still alive because ``hidden_states`` and
        ``encoder_hidden_states`` are slices of it (cogvideox_transformer_3d.py ``forward``):

        * ``feedforward``: ``CogVideoXBlock.forward`` step 4: embeds, the new residual streams (N_v + N_t), the
          kept ``norm_encoder_hidden_states`` (N_t), the concatenated normed input (N), ``ff.net.0.proj`` output and
          its GELU (2 x N x 4D), and ``ff.net.2`` output (N).
        * ``rotary`` (5B): ``CogVideoXAttnProcessor2_0`` applies ``apply_rotary_emb`` to the video part of q:
          embeds, norm1's outputs (N_v + N_t), the processor's concatenated input (N), LayerNorm'd q and k and v
          (3N), ``x_rotated`` (N_v) and three float32 N_v x D temporaries (``x.float() * cos``,
          ``x_rotated.float()``, their product with sin).
        * ``attention``: at the SDPA call: embeds, norm1's outputs, the concatenated input, q, k, v and the output
          (7N), plus ``attention_core``.
        """
        B, b, D = s.batch, s.b, self.dim
        N, Nv, Nt = s.n, s.nv, s.nt
        core = attention_core(s, self.heads, self.head_dim, s.video_tokens + s.text_tokens,
                              s.video_tokens + s.text_tokens)
        out = {
            "feedforward": B * b * (D * (N + Nv + 2 * Nt + 2 * N) + 2 * N * self.ff_inner),
            "attention": B * b * D * 7 * N + core,
        }
        if self.rope:
            out["rotary"] = B * b * D * (5 * N + 2 * Nv + Nt) + 3 * B * Nv * D * FP32
        return out

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Tensors live through the whole step outside the blocks: the rotary tables (cos, sin: N_v x head_dim,
        float32, built by the pipeline's ``_prepare_rotary_positional_embeddings``) for 5B, the timestep embedding
        and modulation vectors (negligible)."""
        return 2 * s.nv * self.head_dim * FP32 if self.rope else sp.Integer(0)


# --------------------------------------------------------------------------------------------------------------------
@register("WanTransformer3DModel")
@dataclass(frozen=True)
class WanTransformer(AttentionDims, ComponentBase):
    #: ``StepShape`` splits the sequence (Ulysses, ring) or the weights (FSDP) over P devices for this step.
    parallel_schemes = ("ulysses", "ring", "fsdp")
    gguf_blocks = ("blocks",)
    skip_layerwise_casting_patterns = ("patch_embedding", "condition_embedder", "norm")
    config: dict

    kind = "denoiser"
    joint_text = False
    moment_notes = {k: MOMENT_NOTES[k] for k in ("feedforward", "attention", "qk_norm", "cross_attention")}

    @property
    def ffn(self) -> int:
        return int(self.config["ffn_dim"])

    @property
    def layers(self) -> int:
        return int(self.config["num_layers"])

    @property
    def patch_thw(self) -> tuple[int, int, int]:
        return tuple(int(x) for x in self.config["patch_size"])

    @property
    def patch(self) -> int:
        return self.patch_thw[1]

    #: ``WanTransformer3DModel._keep_in_fp32_modules``: diffusers' loader keeps parameters whose dotted name has one
    #: of these components in float32 whatever ``torch_dtype`` is (model_loading_utils.load_model_dict_into_meta).
    keep_fp32_modules = ("rope", "time_embedder", "scale_shift_table", "norm1", "norm2", "norm3")
    #: The RoPE tables are non-persistent float32 buffers (and "rope" is kept in fp32 anyway).
    fixed_dtype_bytes = {"rope.freqs_cos": 4, "rope.freqs_sin": 4}

    @cached_property
    def tensors(self) -> list[Tensor]:
        c, D = self.config, self.dim
        cin, cout = int(c["in_channels"]), int(c["out_channels"])
        freq, text = int(c["freq_dim"]), int(c["text_dim"])
        rope_len = int(c.get("rope_max_seq_len", 1024))
        out = [Tensor("rope.freqs_cos", (rope_len, self.head_dim)), Tensor("rope.freqs_sin", (rope_len, self.head_dim))]
        out += conv("patch_embedding", cin, D, self.patch_thw)
        ce = "condition_embedder"
        out += linear(f"{ce}.time_embedder.linear_1", freq, D) + linear(f"{ce}.time_embedder.linear_2", D, D)
        out += linear(f"{ce}.time_proj", D, 6 * D)
        out += linear(f"{ce}.text_embedder.linear_1", text, D) + linear(f"{ce}.text_embedder.linear_2", D, D)
        if c.get("image_dim"):
            raise ValueError("WanTransformer: image conditioning (I2V) is not modelled")
        for i in range(self.layers):
            n = f"blocks.{i}"
            out.append(Tensor(f"{n}.scale_shift_table", (1, 6, D)))
            for attn in ("attn1", "attn2"):
                for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                    out += linear(f"{n}.{attn}.{proj}", D, D)
                out += [Tensor(f"{n}.{attn}.norm_q.weight", (D,)), Tensor(f"{n}.{attn}.norm_k.weight", (D,))]
            if c.get("cross_attn_norm", True):
                out += norm(f"{n}.norm2", D)
            out += linear(f"{n}.ffn.net.0.proj", D, self.ffn) + linear(f"{n}.ffn.net.2", self.ffn, D)
        out += linear("proj_out", D, cout * self.patch_thw[0] * self.patch_thw[1] * self.patch_thw[2])
        out.append(Tensor("scale_shift_table", (1, 2, D)))
        return out

    @cached_property
    def block_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors if t.name.startswith("blocks.0.")]

    def moments(self, s: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one ``WanTransformerBlock.forward`` (batch B: diffusers' WanPipeline
        runs the conditional and the unconditional pass one after the other, not as a batch of 2):

        * ``feedforward``: block input, residual after cross-attention, norm3 output (``.type_as``), ``ffn.net.0``
          output and its GELU (2 x N x ffn_dim), ``ffn.net.2`` output: 4 N D b + 2 N ffn b.
        * ``qk_norm``: inside ``attn1.norm_k`` (``RMSNorm`` over all heads, diffusers normalization.py, computed in
          float32): block input, norm1 output, normalised q, raw k and v (5 N D b) and three float32 N x D
          temporaries (the fp32 copy of k, k x rsqrt(var), times the weight).
        * ``attention``: at the self-attention SDPA call: block input, norm1 output, rotated q and k, v, output
          (6 N D b) plus ``attention_core``.
        * ``cross_attention``: the cross-attention SDPA call (N queries, 512 keys: only the math backend makes it
          large): block input, residual, norm2 output, q, output (5 N D b), the text k, v (2 x 512 x D b) and
          ``attention_core``.
        """
        B, b, D, N = s.batch, s.b, self.dim, s.nv
        n_full = s.video_tokens
        self_core = attention_core(s, self.heads, self.head_dim, n_full, n_full)
        cross_core = attention_core(StepShape(B, s.nv, s.text_tokens, b, s.backend), self.heads, self.head_dim,
                                    s.nv, s.text_tokens, self_attention=False)
        return {
            "feedforward": B * b * (4 * N * D + 2 * N * self.ffn),
            "qk_norm": 5 * B * N * D * b + 3 * B * N * D * FP32,
            "attention": 6 * B * N * D * b + self_core,
            "cross_attention": 5 * B * N * D * b + 2 * B * s.text_tokens * D * b + cross_core,
        }

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Live through the step outside the blocks: the RoPE tables ``WanRotaryPosEmbed`` expands to the video grid
        (cos and sin, N x head_dim float32) and the projected text (512 x D)."""
        return 2 * s.nv * self.head_dim * FP32 + s.batch * s.text_tokens * self.dim * s.b


# --------------------------------------------------------------------------------------------------------------------
@register("HunyuanVideoTransformer3DModel")
@dataclass(frozen=True)
class HunyuanVideoTransformer(AttentionDims, ComponentBase):
    #: ``StepShape`` splits the sequence (Ulysses, ring) or the weights (FSDP) over P devices for this step.
    parallel_schemes = ("ulysses", "ring", "fsdp")
    gguf_blocks = ("transformer_blocks", "single_transformer_blocks")
    skip_layerwise_casting_patterns = ("x_embedder", "context_embedder", "norm")
    config: dict

    kind = "denoiser"
    joint_text = True
    moment_notes = {k: MOMENT_NOTES[k] for k in ("attention", "single_rotary", "single_attention", "dual_feedforward")}

    @property
    def mlp(self) -> int:
        return int(self.dim * float(self.config["mlp_ratio"]))

    @property
    def patch(self) -> int:
        return int(self.config["patch_size"])

    @property
    def patch_t(self) -> int:
        return int(self.config["patch_size_t"])


    @cached_property
    def tensors(self) -> list[Tensor]:
        c, D, hd = self.config, self.dim, self.head_dim
        text, pooled = int(c["text_embed_dim"]), int(c["pooled_projection_dim"])
        p, pt = self.patch, self.patch_t
        out = conv("x_embedder.proj", int(c["in_channels"]), D, (pt, p, p))
        ce = "context_embedder"
        out += linear(f"{ce}.time_text_embed.timestep_embedder.linear_1", 256, D)
        out += linear(f"{ce}.time_text_embed.timestep_embedder.linear_2", D, D)
        out += linear(f"{ce}.time_text_embed.text_embedder.linear_1", text, D)
        out += linear(f"{ce}.time_text_embed.text_embedder.linear_2", D, D)
        out += linear(f"{ce}.proj_in", text, D)
        for i in range(int(c["num_refiner_layers"])):
            n = f"{ce}.token_refiner.refiner_blocks.{i}"
            out += norm(f"{n}.norm1", D)
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                out += linear(f"{n}.attn.{proj}", D, D)
            out += norm(f"{n}.norm2", D)
            out += linear(f"{n}.ff.net.0.proj", D, self.mlp) + linear(f"{n}.ff.net.2", self.mlp, D)
            out += linear(f"{n}.norm_out.linear", D, 2 * D)
        tt = "time_text_embed"
        out += linear(f"{tt}.timestep_embedder.linear_1", 256, D) + linear(f"{tt}.timestep_embedder.linear_2", D, D)
        out += linear(f"{tt}.text_embedder.linear_1", pooled, D) + linear(f"{tt}.text_embedder.linear_2", D, D)
        if c.get("guidance_embeds", True):
            out += linear(f"{tt}.guidance_embedder.linear_1", 256, D) + linear(f"{tt}.guidance_embedder.linear_2", D, D)
        for i in range(int(c["num_layers"])):
            n = f"transformer_blocks.{i}"
            out += linear(f"{n}.norm1.linear", D, 6 * D) + linear(f"{n}.norm1_context.linear", D, 6 * D)
            out += [Tensor(f"{n}.attn.norm_q.weight", (hd,)), Tensor(f"{n}.attn.norm_k.weight", (hd,))]
            for proj in ("to_q", "to_k", "to_v", "add_k_proj", "add_v_proj", "add_q_proj", "to_out.0", "to_add_out"):
                out += linear(f"{n}.attn.{proj}", D, D)
            out += [Tensor(f"{n}.attn.norm_added_q.weight", (hd,)), Tensor(f"{n}.attn.norm_added_k.weight", (hd,))]
            out += linear(f"{n}.ff.net.0.proj", D, self.mlp) + linear(f"{n}.ff.net.2", self.mlp, D)
            out += linear(f"{n}.ff_context.net.0.proj", D, self.mlp) + linear(f"{n}.ff_context.net.2", self.mlp, D)
        for i in range(int(c["num_single_layers"])):
            n = f"single_transformer_blocks.{i}"
            out += [Tensor(f"{n}.attn.norm_q.weight", (hd,)), Tensor(f"{n}.attn.norm_k.weight", (hd,))]
            for proj in ("to_q", "to_k", "to_v"):
                out += linear(f"{n}.attn.{proj}", D, D)
            out += linear(f"{n}.norm.linear", D, 3 * D)
            out += linear(f"{n}.proj_mlp", D, self.mlp) + linear(f"{n}.proj_out", D + self.mlp, D)
        out += linear("norm_out.linear", D, 2 * D)
        out += linear("proj_out", D, pt * p * p * int(c["out_channels"]))
        return out

    @cached_property
    def block_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors if t.name.startswith("transformer_blocks.0.")]

    def moments(self, s: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one step. The largest are in a single-stream block
        (``HunyuanVideoSingleTransformerBlock.forward``), where the MLP branch ``act_mlp(proj_mlp(norm))`` is
        computed *before* the attention and kept for the final ``torch.cat([attn_output, mlp_hidden_states])``:

        * ``single_rotary``: ``apply_rotary_emb`` on the video part of the key: the block input [video; text] and
          its modulated norm (2N), q and k after RMSNorm and the rotated q (3N... counted as 2 RMSNorm outputs,
          the projection v and the rotated q: 4N), the GELU'd MLP branch (N x mlp), ``x_rotated`` and the video
          hidden states it is built from (2 N_v) and three float32 N_v x D temporaries.
        * ``single_attention``: at the SDPA call: block input, norm, q, k, v, output (6N), the MLP branch
          (N x mlp), plus ``attention_core``.
        * ``dual_feedforward``: a dual-stream block's video FF: the residual streams (N), the normed input, ``ff``
          projection and GELU (2 N_v x mlp), output (N_v).
        """
        B, b, D = s.batch, s.b, self.dim
        N, Nv = s.n, s.nv
        full = s.video_tokens + s.text_tokens
        core = attention_core(s, self.heads, self.head_dim, full, full)
        return {
            "single_rotary": B * b * (6 * N * D + 2 * Nv * D + N * self.mlp) + 3 * B * Nv * D * FP32,
            "single_attention": B * b * (6 * N * D + N * self.mlp) + core,
            "dual_feedforward": B * b * (3 * N * D + 2 * Nv * self.mlp),
        }

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Live through the step outside the blocks: the RoPE tables (cos, sin: N_v x head_dim float32,
        ``HunyuanVideoRotaryPosEmbed``) and the refined text tokens (N_t x D)."""
        return 2 * s.nv * self.head_dim * FP32 + s.batch * s.nt * self.dim * s.b
