"""diffusers' ``QwenImageTransformer2DModel`` (models/transformers/transformer_qwenimage.py, Qwen-Image's 20B MMDiT):
exact parameter list and the live bytes of one denoising step.

Structure (``QwenImageTransformer2DModel.__init__``): ``time_text_embed`` (sinusoidal 256 -> D -> D), ``txt_norm``
(RMSNorm over the 3584-wide Qwen2.5-VL hidden states), ``img_in`` (packed 2x2 latent patch, 64 -> D), ``txt_in``
(3584 -> D), ``num_layers`` dual-stream ``QwenImageTransformerBlock``s (separate image / text weights: AdaLN
modulation ``img_mod`` / ``txt_mod`` (D -> 6D), affine-free LayerNorms, joint attention with per-stream q/k/v,
per-head RMSNorm'd q/k and separate output projections, GELU(tanh) feed-forwards D -> 4D -> D), ``norm_out``
(AdaLayerNormContinuous, D -> 2D) and ``proj_out`` (D -> patch^2 x out_channels). D = heads x head_dim.

RoPE: ``QwenEmbedRope`` builds ``pos_freqs`` / ``neg_freqs`` (4096 x sum(axes_dims_rope)/2 complex64) as plain
attributes in ``__init__``: they are neither parameters nor buffers, so they are not in the checkpoint, not counted
by ``parameters()`` / ``buffers()`` and not moved by ``.to("cuda")``. The first forward copies them to the GPU
(``_get_device_freqs``, an ``lru_cache``), and ``_compute_video_freqs`` (``lru_cache(maxsize=128)``) caches the
image-grid table (N_v x head_dim/2 complex64) there; both caches hold their GPU tensors for the life of the model.
Each forward further concatenates the per-image tables (``torch.cat(vid_freqs)``, a copy even for one image).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import COMPLEX64
from symbolic.components.layers.tensors import Tensor, linear
from symbolic.components.layers.attention import AttentionDims, attention_core
from symbolic.components.shapes import StepShape
from symbolic.components import register

#: ``QwenEmbedRope.__init__``: ``pos_index = torch.arange(4096)`` (and the negative index of the same length).
ROPE_TABLE_ROWS = 4096
#: ``QwenEmbedRope``: the positive and the negative table (``pos_freqs``, ``neg_freqs``), both copied to the device.
ROPE_TABLES = 2
#: ``FeedForward(dim, dim_out=dim, activation_fn="gelu-approximate")`` (attention.py): inner width mult 4.
FF_MULT = 4
#: ``QwenTimestepProjEmbeddings``: ``Timesteps(num_channels=256)`` feeds ``TimestepEmbedding(in_channels=256)``.
TIMESTEP_CHANNELS = 256
#: ``img_mod`` / ``txt_mod``: ``nn.Linear(dim, 6 * dim)`` (shift, scale, gate for norm1 and norm2).
MOD_CHUNKS = 6
#: ``AdaLayerNormContinuous(inner_dim, inner_dim)``: ``linear`` to 2 x inner_dim (scale, shift).
NORM_OUT_CHUNKS = 2


@register("QwenImageTransformer2DModel")
@dataclass(frozen=True)
class QwenImageTransformer(AttentionDims, ComponentBase):
    gguf_blocks = ("transformer_blocks",)  # no rule in lcpp.patch: assumed like the others
    skip_layerwise_casting_patterns = ("pos_embed", "norm")
    config: dict

    kind = "denoiser"
    joint_text = True

    def __post_init__(self):
        extras = [k for k in ("zero_cond_t", "use_additional_t_cond", "use_layer3d_rope", "guidance_embeds")
                  if self.config.get(k)]
        if extras:
            raise ValueError(f"QwenImageTransformer: {extras} (edit / layered variants) are not modelled")

    @property
    def patch(self) -> int:
        return int(self.config.get("patch_size", 2))           # __init__ default patch_size=2

    @property
    def layers(self) -> int:
        return int(self.config.get("num_layers", 60))          # __init__ default num_layers=60

    @property
    def heads(self) -> int:
        return int(self.config.get("num_attention_heads", 24))  # __init__ default 24

    @property
    def head_dim(self) -> int:
        return int(self.config.get("attention_head_dim", 128))  # __init__ default 128

    @property
    def ff_inner(self) -> int:
        return FF_MULT * self.dim

    @property
    def rope_pairs(self) -> int:
        """Complex entries per token of the RoPE tables: sum(axes_dims_rope) / 2 (= head_dim / 2)."""
        return sum(int(a) for a in self.config.get("axes_dims_rope", (16, 56, 56))) // 2

    @cached_property
    def tensors(self) -> list[Tensor]:
        c, D = self.config, self.dim
        cin = int(c.get("in_channels", 64))                    # __init__ default in_channels=64
        cout = int(c.get("out_channels") or cin)               # out_channels or in_channels
        text = int(c.get("joint_attention_dim", 3584))         # __init__ default joint_attention_dim=3584
        hd = self.head_dim
        te = "time_text_embed.timestep_embedder"
        out = linear(f"{te}.linear_1", TIMESTEP_CHANNELS, D) + linear(f"{te}.linear_2", D, D)
        out += [Tensor("txt_norm.weight", (text,))]
        out += linear("img_in", cin, D) + linear("txt_in", text, D)
        for i in range(self.layers):
            n = f"transformer_blocks.{i}"
            out += linear(f"{n}.img_mod.1", D, MOD_CHUNKS * D)
            out += [Tensor(f"{n}.attn.norm_q.weight", (hd,)), Tensor(f"{n}.attn.norm_k.weight", (hd,))]
            for proj in ("to_q", "to_k", "to_v", "add_k_proj", "add_v_proj", "add_q_proj", "to_out.0", "to_add_out"):
                out += linear(f"{n}.attn.{proj}", D, D)
            out += [Tensor(f"{n}.attn.norm_added_q.weight", (hd,)), Tensor(f"{n}.attn.norm_added_k.weight", (hd,))]
            out += linear(f"{n}.img_mlp.net.0.proj", D, self.ff_inner) + linear(f"{n}.img_mlp.net.2", self.ff_inner, D)
            out += linear(f"{n}.txt_mod.1", D, MOD_CHUNKS * D)
            out += linear(f"{n}.txt_mlp.net.0.proj", D, self.ff_inner) + linear(f"{n}.txt_mlp.net.2", self.ff_inner, D)
        out += linear("norm_out.linear", D, NORM_OUT_CHUNKS * D)
        return out + linear("proj_out", D, self.patch * self.patch * cout)

    @cached_property
    def block_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors if t.name.startswith("transformer_blocks.0.")]

    moment_notes = {
        "image_feedforward": (
            "transformer_qwenimage.py QwenImageTransformerBlock.forward, inside img_mlp (attention.py FeedForward, "
            "activations.py GELU.forward: proj output and its tanh-GELU coexist): every local of the block is still "
            "referenced - the caller's block inputs (N_v + N_t) x D, img_normed / img_modulated and txt_normed / "
            "txt_modulated (2 N x D), the attention outputs (N x D), the post-attention residual streams (N x D), "
            "img_normed2 and img_modulated2 (2 N_v x D) - plus 2 x N_v x 4D: (5 N + 10 N_v) x D x b per sample."),
        "text_feedforward": (
            "QwenImageTransformerBlock.forward, inside txt_mlp: as image_feedforward but after the image MLP, whose "
            "img_normed2 / img_modulated2 / img_mlp_output stay referenced and whose new hidden_states replaced the "
            "post-attention one (3 N_v x D more), plus txt_normed2, txt_modulated2 and 2 x N_t x 4D: "
            "(5 N + 3 N_v + 10 N_t) x D x b. The peak when the prompt is long next to the image (10 N_t > 7 N_v)."),
        "attention_output": (
            "QwenDoubleStreamAttnProcessor2_0.__call__ at attn.to_add_out: block inputs, normed + modulated streams "
            "(3 N x D), the per-stream q/k/v after RMSNorm and RoPE (3 N x D: locals of the processor), the joint "
            "q/k/v torch.cat copies (3 N x D), the joint SDPA output (N x D) and both projected outputs (N x D): "
            "11 N x D x b. With batch > 1 the [:, N_t:] / [:, :N_t] slices are not contiguous, so .contiguous() "
            "copies them: max(10 N + 2 N_v, 11 N + N_t) x D x b."),
        "attention": (
            "QwenDoubleStreamAttnProcessor2_0.__call__ at dispatch_attention_fn (attention_dispatch.py "
            "_native_attention -> F.scaled_dot_product_attention over [text; image], no mask when the pipeline "
            "passes encoder_hidden_states_mask=None): block inputs, normed + modulated streams, per-stream and joint "
            "q/k/v (9 N x D x b) and video_transformer.attention_core (flash: output N x D + fp32 log-sum-exp; "
            "math: kernels.math_sdpa, fp32 scores + softmax + mask and fp32 q/k/v copies)."),
    }

    def moments(self, s: StepShape) -> dict[str, sp.Expr]:
        """Live bytes at the candidate peaks of one ``QwenImageTransformer2DModel.forward`` (see ``moment_notes``).
        The per-head RMSNorm (fp32 temporaries) and RoPE (fp32 / complex64 temporaries) moments inside the processor
        are never the largest for fp16/bf16/fp32 (checked against image_feedforward and text_feedforward) and are left
        out. Modulation vectors (B x 6D) are negligible."""
        B, b, D = s.batch, s.b, self.dim
        Nv, Nt = s.video_tokens, s.text_tokens
        N = Nv + Nt
        full = Nv + Nt
        core = attention_core(s, self.heads, self.head_dim, full, full)
        split_copy = sp.Piecewise((0, sp.Le(B, 1)), (1, True))   # .contiguous() copies the output slices if B > 1
        out = {
            "image_feedforward": B * D * b * (5 * N + 2 * Nv) + 2 * B * Nv * self.ff_inner * b,
            "text_feedforward": B * D * b * (5 * N + 3 * Nv + 2 * Nt) + 2 * B * Nt * self.ff_inner * b,
            "attention_output": B * D * b * (11 * N + split_copy * sp.Max(Nt, Nv - Nt)),
            "attention": B * D * b * 9 * N + core,
        }
        if s.backend == "flash":
            out["attention"] += B * D * b * N       # the fused kernel's output (attention_core prices only the LSE)
        return out

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Live through the whole step outside the blocks (``QwenEmbedRope.forward``): the two 4096-row RoPE tables
        copied to the device (``_get_device_freqs``, cached), the image-grid table cached by
        ``_compute_video_freqs`` and its per-forward ``torch.cat`` copy (N_v x head_dim/2 complex64 each; the text
        table is a view of ``pos_freqs``). Independent of the batch. The two tables and the cached grid table stay
        on the GPU after the denoising loop (lru caches on the module)."""
        pairs = self.rope_pairs
        return (ROPE_TABLES * ROPE_TABLE_ROWS * pairs + 2 * s.video_tokens * pairs) * COMPLEX64
