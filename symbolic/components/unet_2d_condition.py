"""diffusers ``UNet2DConditionModel`` (models/unets/unet_2d_condition.py) for any of its Stable Diffusion configs
(SD 1.5, SD 2.1, SDXL): exact parameter tensors, and the live bytes at the moments of one denoising step that can be
its peak.

Config fields read (missing keys take the defaults of ``UNet2DConditionModel.__init__``):

* ``attention_head_dim`` (int or one per level) is, for historical reasons, the number of heads:
  ``num_attention_heads = num_attention_heads or attention_head_dim`` (``__init__``, diffusers issue 2011), and each
  ``Transformer2DModel`` gets ``heads`` heads of ``channels // heads`` dimensions. SD 1.5: 8 heads of 40/80/160;
  SD 2.1 ``[5, 10, 20, 20]`` and SDXL ``[5, 10, 20]``: heads of 64. diffusers raises on a non-null
  ``num_attention_heads``; so does this class.
* ``use_linear_projection``: ``proj_in`` / ``proj_out`` are ``nn.Linear`` (SD 2.1, SDXL) instead of 1x1 convs.
* ``transformer_layers_per_block`` (int, one per level, or one list per level): ``BasicTransformerBlock``\\ s per
  ``Transformer2DModel`` (SDXL ``[1, 2, 10]``; the mid block takes the last level's); the up path reads them
  reversed unless ``reverse_transformer_layers_per_block`` is given.
* ``addition_embed_type: "text_time"`` (SDXL): ``add_time_proj`` (no weights) and ``add_embedding``, a
  ``TimestepEmbedding(projection_class_embeddings_input_dim, time_embed_dim)``.
* ``upcast_attention`` (SD 2.1): changes the classic processor's arithmetic (float32 scores), not the tensors.
* Block types: ``CrossAttnDownBlock2D``, ``DownBlock2D``, ``CrossAttnUpBlock2D``, ``UpBlock2D``;
  ``mid_block_type`` ``UNetMidBlock2DCrossAttn`` or null. Other options (class / encoder-hidden / image embeddings,
  dual or cross-only attention, GLIGEN, fourier time embedding, scale-shift resnets) raise ``ValueError``.

Moments (``moments``): in inference every block's transients die before the next block runs, so the step's peak is
one moment inside one block plus what the UNet frame holds there (``forward``: the current block's input
``sample``, the skip connections ``down_block_res_samples`` and the block's ``res_samples``, which stay referenced
until the up block returns). Each up block is the worst place for its level: it holds the same attention as the down
block of that level with more skips and a wider input, and the mid block holds fewer maps at the lowest level (the
mid block's moments are listed anyway). For SD 1.5's config the level-0 moments are exactly the terms of the first,
hand-built SD 1.5 model (validated on ``data/measurements/sd15_h100.csv``) that this class replaced.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.components.layers.resnet import resnet_block
from symbolic.components.layers.tensors import Tensor, conv2d, linear, norm
from symbolic.components.shapes import StepShape
from symbolic.components import register
from symbolic.runtime.kernels import (CLASSIC_SCORE_COPIES, MATH_FP32_INPUT_QUERY_COPIES,
                              MATH_FP32_QUERY_COPIES, MATH_SCORE_BYTES, classic_scores, math_sdpa)

SOURCE = "diffusers models/unets/unet_2d_condition.py, unets/unet_2d_blocks.py, transformers/transformer_2d.py, " \
         "attention.py, attention_processor.py"

# --- defaults of UNet2DConditionModel.__init__ (diffusers models/unets/unet_2d_condition.py) -------------------------
DEFAULT_IN_CHANNELS = 4
DEFAULT_OUT_CHANNELS = 4
DEFAULT_DOWN_BLOCKS = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
DEFAULT_UP_BLOCKS = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
DEFAULT_MID_BLOCK = "UNetMidBlock2DCrossAttn"
DEFAULT_BLOCK_OUT_CHANNELS = (320, 640, 1280, 1280)
DEFAULT_LAYERS_PER_BLOCK = 2
DEFAULT_NORM_GROUPS = 32
DEFAULT_CROSS_ATTENTION_DIM = 1280
DEFAULT_TRANSFORMER_LAYERS = 1
DEFAULT_ATTENTION_HEAD_DIM = 8
DEFAULT_CONV_KERNEL = 3
#: ``_set_time_proj`` ("positional"): ``time_embed_dim = time_embedding_dim or block_out_channels[0] * 4``.
TIME_EMBED_MULT = 4
#: ``FeedForward(dim, mult=4, activation_fn="geglu")`` in ``BasicTransformerBlock`` (attention.py).
FF_MULT = 4
#: ``GEGLU.proj`` projects to ``2 x inner`` (hidden and gate halves, activations.py).
GEGLU_HALVES = 2
#: GEGLU maps live at once, in units of ``dim``: ``proj`` output (2 x 4), ``gelu(gate)`` (4), their product (4).
GEGLU_MAPS = GEGLU_HALVES * FF_MULT + FF_MULT + FF_MULT
#: diffusers ``set_attention_slice("auto")`` (``enable_attention_slicing()``): slice size = heads // 2.
AUTO_SLICE_DIVISOR = 2

CROSS_ATTN_DOWN, DOWN = "CrossAttnDownBlock2D", "DownBlock2D"
CROSS_ATTN_UP, UP = "CrossAttnUpBlock2D", "UpBlock2D"
BACKENDS = ("flash", "math", "classic", "sliced")

#: Config options that build modules this class does not model: (key, the value that means "off").
_UNSUPPORTED = (
    ("class_embed_type", None), ("num_class_embeds", None), ("encoder_hid_dim", None),
    ("encoder_hid_dim_type", None), ("time_cond_proj_dim", None), ("dual_cross_attention", False),
    ("only_cross_attention", False), ("attention_type", "default"), ("resnet_time_scale_shift", "default"),
    ("time_embedding_type", "positional"), ("class_embeddings_concat", False), ("num_attention_heads", None),
)


def attention(name: str, query_dim: int, context_dim: int, inner_dim: int) -> list[Tensor]:
    """diffusers ``Attention`` in the UNet: to_q, to_k, to_v (no bias), to_out.0 (with bias)."""
    return (linear(f"{name}.to_q", query_dim, inner_dim, False) + linear(f"{name}.to_k", context_dim, inner_dim, False)
            + linear(f"{name}.to_v", context_dim, inner_dim, False) + linear(f"{name}.to_out.0", inner_dim, query_dim))


def basic_transformer_block(name: str, dim: int, cross_dim: int) -> list[Tensor]:
    """``BasicTransformerBlock``: LN, self-attention, LN, cross-attention, LN, GEGLU feed-forward (mult 4)."""
    return (norm(f"{name}.norm1", dim) + attention(f"{name}.attn1", dim, dim, dim)
            + norm(f"{name}.norm2", dim) + attention(f"{name}.attn2", dim, cross_dim, dim)
            + norm(f"{name}.norm3", dim)
            + linear(f"{name}.ff.net.0.proj", dim, 2 * 4 * dim) + linear(f"{name}.ff.net.2", 4 * dim, dim))


def _per_level(value, levels: int) -> list:
    """diffusers' int-to-tuple expansion (``(x,) * len(down_block_types)``)."""
    return [value] * levels if isinstance(value, (int, type(None))) else list(value)


def _per_layer(value, layers: int) -> list[int]:
    """``transformer_layers_per_block`` of one block: an int for each of its transformers, or one per layer."""
    return [int(value)] * layers if isinstance(value, int) else [int(v) for v in value]


MOMENT_KINDS = {
    "feed_forward": "GEGLU feed-forward of the level's last BasicTransformerBlock (attention.py "
                    "``BasicTransformerBlock.forward`` step 4, activations.py ``GEGLU``): the UNet frame's block "
                    "input and skips, Transformer2DModel's residual and block input, ``attn_output`` "
                    "(cross-attention's), the residual stream, ``norm3``'s output, and the GEGLU projection (2 x 4D),"
                    " ``gelu(gate)`` (4D) and their product (4D).",
    "self_attention": "Self-attention kernel call (attention_processor.py ``AttnProcessor2_0`` / ``AttnProcessor`` / "
                      "``SlicedAttnProcessor``): frame and Transformer2DModel as above, ``norm1``'s output, q, k, v "
                      "(views for SDPA, ``head_to_batch_dim`` copies for the classic processors), the output (flash "
                      "writes it, the sliced processor pre-allocates it) and the kernel's own bytes: flash's float32 "
                      "log-sum-exp, ``kernels.math_sdpa`` for math, the score pair of "
                      "``Attention.get_attention_scores`` (float32 and with float32 q, k copies when "
                      "``upcast_attention``) for classic / sliced. After the kernel q, k, v stay referenced until the"
                      " processor returns, beside the output, ``to_out``'s output and its division by "
                      "``rescale_output_factor``: at most 6 D-maps beside the frame, below the feed-forward's 19, so "
                      "that moment is not listed.",
    "cross_attention": "Cross-attention kernel call on the text (``attn2``): frame and Transformer2DModel, the "
                       "residual stream after self-attention, ``norm2``'s output, q, the text k and v (text_tokens x "
                       "D), the output and the kernel's bytes for N x text_tokens scores.",
    "resnet": "An up block's ResnetBlock2D (resnet.py ``ResnetBlock2D.forward``) at a level without attention: the "
              "frame's block input and skips, the ``torch.cat`` input, then the largest of: norm1 + SiLU (3 input "
              "maps), conv1 (2 input + 1 output), the tail (input, conv2, ``conv_shortcut``, the sum and its division"
              " by ``output_scale_factor``).",
    "upsampler": "An up block's Upsample2D (upsampling.py ``forward``): frame and skips, the block's last output, the"
                 " nearest ``F.interpolate`` (2x) and the 3x3 conv output at the next level's resolution.",
}


@register("UNet2DConditionModel")
@dataclass(frozen=True)
class UNet2DConditionModel(ComponentBase):
    skip_layerwise_casting_patterns = ("norm",)
    config: dict

    kind = "denoiser"
    patch = 1
    joint_text = False

    def __post_init__(self) -> None:
        for key, off in _UNSUPPORTED:
            if self.config.get(key, off) != off:
                raise ValueError(f"UNet2DConditionModel: {key}={self.config[key]!r} is not modelled")
        add = self.config.get("addition_embed_type")
        if add not in (None, "text_time"):
            raise ValueError(f"UNet2DConditionModel: addition_embed_type={add!r} is not modelled")
        for t in self.down_types:
            if t not in (CROSS_ATTN_DOWN, DOWN):
                raise ValueError(f"UNet2DConditionModel: down block {t!r} is not modelled")
        for t in self.up_types:
            if t not in (CROSS_ATTN_UP, UP):
                raise ValueError(f"UNet2DConditionModel: up block {t!r} is not modelled")
        if self.mid_type not in (DEFAULT_MID_BLOCK, None):
            raise ValueError(f"UNet2DConditionModel: mid block {self.mid_type!r} is not modelled")

    # --- config ---------------------------------------------------------------------------------------------------
    @property
    def down_types(self) -> list[str]:
        return list(self.config.get("down_block_types", DEFAULT_DOWN_BLOCKS))

    @property
    def up_types(self) -> list[str]:
        return list(self.config.get("up_block_types", DEFAULT_UP_BLOCKS))

    @property
    def mid_type(self) -> str | None:
        return self.config.get("mid_block_type", DEFAULT_MID_BLOCK)

    @property
    def levels(self) -> int:
        return len(self.down_types)

    @property
    def channels(self) -> list[int]:
        return [int(c) for c in self.config.get("block_out_channels", DEFAULT_BLOCK_OUT_CHANNELS)]

    @property
    def layers_per_block(self) -> list[int]:
        return [int(x) for x in _per_level(self.config.get("layers_per_block", DEFAULT_LAYERS_PER_BLOCK), self.levels)]

    @property
    def groups(self) -> int | None:
        return self.config.get("norm_num_groups", DEFAULT_NORM_GROUPS)

    @property
    def cross_attention_dims(self) -> list[int]:
        return [int(x) for x in _per_level(self.config.get("cross_attention_dim", DEFAULT_CROSS_ATTENTION_DIM),
                                           self.levels)]

    @property
    def cross_attention_dim(self) -> int:
        """Width of ``encoder_hidden_states`` (the text embedding the pipeline passes)."""
        return self.cross_attention_dims[0]

    @property
    def heads_per_level(self) -> list[int]:
        """Heads of every level's attention (``num_attention_heads = num_attention_heads or attention_head_dim``)."""
        heads = self.config.get("num_attention_heads") or self.config.get("attention_head_dim",
                                                                             DEFAULT_ATTENTION_HEAD_DIM)
        return [int(h) for h in _per_level(heads, self.levels)]

    @property
    def head_dim_per_level(self) -> list[int]:
        """``Transformer2DModel(heads, channels // heads, ...)``."""
        return [c // h for c, h in zip(self.channels, self.heads_per_level)]

    @property
    def inner_dims(self) -> list[int]:
        """Transformer width of every level: heads x head dim (the channel count when heads divide it)."""
        return [h * d for h, d in zip(self.heads_per_level, self.head_dim_per_level)]

    @property
    def transformer_layers(self) -> list:
        return _per_level(self.config.get("transformer_layers_per_block", DEFAULT_TRANSFORMER_LAYERS), self.levels)

    @property
    def down_attention(self) -> list[bool]:
        return [t == CROSS_ATTN_DOWN for t in self.down_types]

    @property
    def up_attention_levels(self) -> list[bool]:
        """Whether the up block of each level (indexed by level, 0 = full latent resolution) has attention."""
        n = self.levels
        return [self.up_types[n - 1 - level] == CROSS_ATTN_UP for level in range(n)]

    @property
    def attention_levels(self) -> list[int]:
        return [level for level, has in enumerate(self.up_attention_levels) if has]

    @property
    def heads(self) -> int:
        """Heads of the self-attention over the most tokens (the highest-resolution level with attention)."""
        return self.heads_per_level[self._top_attention_level]

    @property
    def head_dim(self) -> int:
        return self.head_dim_per_level[self._top_attention_level]

    @property
    def _top_attention_level(self) -> int:
        levels = [lv for lv in range(self.levels) if self.down_attention[lv] or self.up_attention_levels[lv]]
        return levels[0] if levels else self.levels - 1

    @property
    def time_embed_dim(self) -> int:
        return int(self.config.get("time_embedding_dim") or self.channels[0] * TIME_EMBED_MULT)

    @property
    def use_linear_projection(self) -> bool:
        return bool(self.config.get("use_linear_projection", False))

    @property
    def upcast_attention(self) -> bool:
        return bool(self.config.get("upcast_attention") or False)

    # --- tensors --------------------------------------------------------------------------------------------------
    def _transformer(self, name: str, level: int, depth: int) -> list[Tensor]:
        """``Transformer2DModel`` (continuous input): GroupNorm, proj_in, ``depth`` BasicTransformerBlocks,
        proj_out (1x1 convs, or linears with ``use_linear_projection``)."""
        c, d, cross = self.channels[level], self.inner_dims[level], self.cross_attention_dims[level]
        proj = linear if self.use_linear_projection else (lambda n, i, o: conv2d(n, i, o, 1))
        out = norm(f"{name}.norm", c) + proj(f"{name}.proj_in", c, d)
        for k in range(depth):
            out += basic_transformer_block(f"{name}.transformer_blocks.{k}", d, cross)
        return out + proj(f"{name}.proj_out", d, c)

    def _up_depths(self, i: int) -> list[int]:
        layers = self.layers_per_block[::-1][i] + 1
        reverse = self.config.get("reverse_transformer_layers_per_block")
        value = reverse[i] if reverse is not None else self.transformer_layers[::-1][i]
        return _per_layer(value, layers)

    @cached_property
    def tensors(self) -> list[Tensor]:
        """Every parameter in ``nn.Module._apply`` order: conv_in, time_embedding, add_embedding, down_blocks,
        up_blocks, mid_block (``__init__`` assigns the empty ``up_blocks`` ModuleList before ``mid_block``), conv_out.
        Cross-attention blocks register ``attentions`` before ``resnets``."""
        c = self.config
        ch, temb, n = self.channels, self.time_embed_dim, self.levels
        k_in = int(c.get("conv_in_kernel", DEFAULT_CONV_KERNEL))
        out = conv2d("conv_in", int(c.get("in_channels", DEFAULT_IN_CHANNELS)), ch[0], k_in)
        out += linear("time_embedding.linear_1", ch[0], temb) + linear("time_embedding.linear_2", temb, temb)
        if c.get("addition_embed_type") == "text_time":
            add_in = int(c["projection_class_embeddings_input_dim"])
            out += linear("add_embedding.linear_1", add_in, temb) + linear("add_embedding.linear_2", temb, temb)
        for i, block_type in enumerate(self.down_types):
            block, lpb = f"down_blocks.{i}", self.layers_per_block[i]
            depths = _per_layer(self.transformer_layers[i], lpb)
            attns: list[Tensor] = []
            resnets: list[Tensor] = []
            for j in range(lpb):
                resnets += resnet_block(f"{block}.resnets.{j}", ch[max(i - 1, 0)] if j == 0 else ch[i], ch[i], temb)
                if block_type == CROSS_ATTN_DOWN:
                    attns += self._transformer(f"{block}.attentions.{j}", i, depths[j])
            out += attns + resnets
            if i < n - 1:
                out += conv2d(f"{block}.downsamplers.0.conv", ch[i], ch[i], 3)
        rev = ch[::-1]
        for i, block_type in enumerate(self.up_types):
            block, level = f"up_blocks.{i}", n - 1 - i
            layers = self.layers_per_block[::-1][i] + 1
            depths = self._up_depths(i)
            attns, resnets = [], []
            for j in range(layers):
                skip = rev[min(i + 1, n - 1)] if j == layers - 1 else rev[i]
                resnet_in = rev[max(i - 1, 0)] if j == 0 else rev[i]
                resnets += resnet_block(f"{block}.resnets.{j}", resnet_in + skip, rev[i], temb)
                if block_type == CROSS_ATTN_UP:
                    attns += self._transformer(f"{block}.attentions.{j}", level, depths[j])
            out += attns + resnets
            if i < n - 1:
                out += conv2d(f"{block}.upsamplers.0.conv", rev[i], rev[i], 3)
        if self.mid_type is not None:
            out += self._transformer("mid_block.attentions.0", n - 1, self._mid_depth)
            out += resnet_block("mid_block.resnets.0", ch[-1], ch[-1], temb)
            out += resnet_block("mid_block.resnets.1", ch[-1], ch[-1], temb)
        if self.groups is not None:
            out += norm("conv_norm_out", ch[0])
        k_out = int(c.get("conv_out_kernel", DEFAULT_CONV_KERNEL))
        return out + conv2d("conv_out", ch[0], int(c.get("out_channels", DEFAULT_OUT_CHANNELS)), k_out)

    @property
    def _mid_depth(self) -> int:
        """``UNetMidBlock2DCrossAttn(transformer_layers_per_block=transformer_layers_per_block[-1], num_layers=1)``."""
        return _per_layer(self.transformer_layers[-1], 1)[0]

    # --- the step's moments ---------------------------------------------------------------------------------------
    def skips(self) -> list[tuple[int, int]]:
        """(channels, level) of every tensor the down path pushes onto ``down_block_res_samples``: conv_in's output,
        each down block's resnet / attention outputs, each downsampler's output (at the next level)."""
        ch = self.channels
        out = [(ch[0], 0)]
        for i in range(self.levels):
            out += [(ch[i], i)] * self.layers_per_block[i]
            if i < self.levels - 1:
                out.append((ch[i], i + 1))
        return out

    def held_skips(self, i: int) -> list[tuple[int, int]]:
        """Skips referenced while up block ``i`` runs: its own ``res_samples`` and the ones left for later blocks."""
        consumed = sum(self.layers_per_block[::-1][k] + 1 for k in range(i))
        all_skips = self.skips()
        return all_skips[:len(all_skips) - consumed]

    @staticmethod
    def level_tokens(shape: StepShape, level: int, grid: tuple[sp.Expr, sp.Expr] | None = None) -> sp.Expr:
        """Tokens at ``level``: each downsampler (3x3, stride 2, padding 1) maps h to ceil(h / 2), and the up path
        interpolates back to the skip's size. With the latent ``grid`` (h, w): ceil(h / 2^level) ceil(w / 2^level);
        without it ``video_tokens / 4^level`` (exact when 2^level divides h and w)."""
        if grid is not None:
            h, w = grid
            return sp.ceiling(sp.sympify(h) / 2**level) * sp.ceiling(sp.sympify(w) / 2**level)
        return sp.sympify(shape.video_tokens) / 4**level

    def _attention_kernel(self, s: StepShape, level: int, n_q: sp.Expr, n_k: sp.Expr, self_attn: bool) -> sp.Expr:
        """Bytes the kernel adds at the call, beyond its q, k, v inputs (see ``MOMENT_KINDS``)."""
        B, b = s.batch, s.b
        heads, d = self.heads_per_level[level], self.inner_dims[level]
        if s.backend == "flash":
            return B * n_q * d * b + B * heads * n_q * FP32  # output + float32 log-sum-exp
        if s.backend == "math":
            if self_attn:
                return math_sdpa(B * heads * n_q * n_k, B * d * n_q, b)
            # float32 q, k, v and the scaled q: two query-sized and two key-sized copies
            q_copies = MATH_FP32_QUERY_COPIES - 2
            copies = sp.Piecewise(((q_copies * n_q + 2 * n_k) * B * d, b < FP32),
                                  (MATH_FP32_INPUT_QUERY_COPIES * B * d * n_q, True))
            return MATH_SCORE_BYTES * B * heads * n_q * n_k + copies * FP32
        # classic / sliced: Attention.get_attention_scores on (rows x n_q x n_k) scores
        if s.backend == "classic":
            rows, out_buffer = B * heads, 0
        else:
            rows, out_buffer = sp.Integer(heads // AUTO_SLICE_DIVISOR), B * n_q * d * b
        if self.upcast_attention:
            # query.float(), key.float() of the slice, then the float32 baddbmm input + output
            upcast = sp.Piecewise(((rows * (n_q + n_k) * (d // heads)) * FP32, b < FP32), (0, True))
            return out_buffer + CLASSIC_SCORE_COPIES * FP32 * rows * n_q * n_k + upcast
        return out_buffer + classic_scores(rows * n_q * n_k, b)

    def moments(self, s: StepShape, grid: tuple[sp.Expr, sp.Expr] | None = None) -> dict[str, sp.Expr]:
        """Live bytes at each candidate peak (names ``up{i}_<kind>``, ``mid_<kind>``; kinds in ``MOMENT_KINDS``).
        ``s.batch`` is the UNet batch (G x N), ``s.video_tokens`` the latent h x w, ``s.text_tokens`` the context
        length; ``grid``: the latent (h, w), for exact token counts at odd sizes (see ``level_tokens``); default
        ``s.grid``."""
        grid = grid if grid is not None else s.grid
        if s.backend not in BACKENDS:
            raise ValueError(f"UNet2DConditionModel: backend must be one of {BACKENDS}, got {s.backend!r}")
        B, b = s.batch, s.b
        n, rev = self.levels, self.channels[::-1]
        tokens = [self.level_tokens(s, level, grid) for level in range(n)]

        def maps(channels, level):
            return B * channels * tokens[level] * b

        out: dict[str, sp.Expr] = {}
        for i in range(n):
            level = n - 1 - i
            c = rev[i]
            block_input = rev[max(i - 1, 0)]
            held = sum(maps(cs, lv) for cs, lv in self.held_skips(i)) + maps(block_input, level)
            if self.up_types[i] == CROSS_ATTN_UP:
                out.update({f"up{i}_{k}": held + v for k, v in self._transformer_moments(s, level, tokens).items()})
            else:
                layers = self.layers_per_block[::-1][i] + 1
                for j in range(layers):
                    skip = rev[min(i + 1, n - 1)] if j == layers - 1 else rev[i]
                    c_in = (block_input if j == 0 else c) + skip
                    shortcut = 1 if c_in != c else 0
                    units = max(3 * c_in, 2 * c_in + c, c_in + (3 + shortcut) * c)
                    out[f"up{i}_resnet{j}"] = held + maps(units, level)
            if i < n - 1:
                out[f"up{i}_upsampler"] = held + maps(c, level) + 2 * maps(c, level - 1)
        if self.mid_type is not None:
            held = sum(maps(cs, lv) for cs, lv in self.skips())  # the mid block's input is the last skip
            out.update({f"mid_{k}": held + v for k, v in self._transformer_moments(s, n - 1, tokens).items()})
        return out

    def _transformer_moments(self, s: StepShape, level: int, tokens: list[sp.Expr]) -> dict[str, sp.Expr]:
        """Transformer2DModel's moments at ``level`` over what its caller holds: its residual (the resnet output, C)
        and the BasicTransformerBlock's input (D)."""
        B, b, T = s.batch, s.b, s.text_tokens
        N, c, d = tokens[level], self.channels[level], self.inner_dims[level]
        unit = B * N * b
        frame = unit * (c + d)
        return {
            "feed_forward": frame + unit * d * (3 + GEGLU_MAPS),
            "self_attention": frame + unit * d * 4 + self._attention_kernel(s, level, N, N, True),
            "cross_attention": frame + unit * d * 3 + 2 * B * T * d * b + self._attention_kernel(s, level, N, T, False),
        }

    def resident_inputs(self, s: StepShape) -> sp.Expr:
        """Nothing of activation size lives through the whole step besides the step's inputs (latents, text
        embeddings: the pipeline's): the time embeddings (``emb``, SDXL's ``add_embeds``) are batch x a few thousand
        elements, not counted."""
        return sp.Integer(0)

    @property
    def moment_notes(self) -> dict[str, str]:
        notes = {}
        for name in self.moments(StepShape(sp.Integer(1), sp.Integer(64), sp.Integer(77), sp.Integer(2))):
            kind = name.split("_", 1)[1]
            key = "resnet" if kind.startswith("resnet") else kind
            where = "mid block" if name.startswith("mid") else f"up block {name[2:].split('_')[0]}"
            notes[name] = f"{where}: {MOMENT_KINDS[key]} ({SOURCE})"
        return notes
