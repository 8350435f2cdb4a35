"""diffusers ``UNet2DConditionModel`` (models/unets/unet_2d_condition.py) from its config.

Exact parameter tensors, and the shapes the activation terms need: channels and spatial scale of every level.
SD 1.5's config says ``attention_head_dim: 8``; diffusers reads that legacy field as the number of heads
(``num_attention_heads = attention_head_dim``), so each head has ``channels / 8`` dimensions.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from symbolic.arch.resnet import resnet_block
from symbolic.arch.tensors import BlockConfig, Tensor, conv2d, linear, norm


def attention(name: str, query_dim: int, context_dim: int, inner_dim: int, qkv_bias: bool = False) -> list[Tensor]:
    """diffusers ``Attention``: to_q, to_k, to_v (no bias in the UNet), to_out.0 (with bias)."""
    return (linear(f"{name}.to_q", query_dim, inner_dim, qkv_bias) + linear(f"{name}.to_k", context_dim, inner_dim, qkv_bias)
            + linear(f"{name}.to_v", context_dim, inner_dim, qkv_bias) + linear(f"{name}.to_out.0", inner_dim, query_dim))


def basic_transformer_block(name: str, dim: int, cross_dim: int) -> list[Tensor]:
    """``BasicTransformerBlock``: LN, self-attention, LN, cross-attention, LN, GEGLU feed-forward (mult 4)."""
    return (norm(f"{name}.norm1", dim) + attention(f"{name}.attn1", dim, dim, dim)
            + norm(f"{name}.norm2", dim) + attention(f"{name}.attn2", dim, cross_dim, dim)
            + norm(f"{name}.norm3", dim)
            + linear(f"{name}.ff.net.0.proj", dim, 2 * 4 * dim) + linear(f"{name}.ff.net.2", 4 * dim, dim))


def transformer_2d(name: str, channels: int, cross_dim: int, groups: int = 32) -> list[Tensor]:
    """``Transformer2DModel`` (continuous input, 1x1 conv projections as SD 1.5 has ``use_linear_projection`` off)."""
    return (norm(f"{name}.norm", channels) + conv2d(f"{name}.proj_in", channels, channels, 1)
            + basic_transformer_block(f"{name}.transformer_blocks.0", channels, cross_dim)
            + conv2d(f"{name}.proj_out", channels, channels, 1))


@dataclass(frozen=True)
class UNet2DCondition(BlockConfig):
    config: dict

    @property
    def heads(self) -> int:
        return int(self.config["attention_head_dim"])  # legacy name: the number of heads (see module doc)

    @property
    def cross_attention_dim(self) -> int:
        return int(self.config["cross_attention_dim"])

    @property
    def temb_channels(self) -> int:
        return 4 * self.channels[0]

    def has_attention(self, block_type: str) -> bool:
        return block_type.startswith("CrossAttn")

    @cached_property
    def tensors(self) -> list[Tensor]:
        ch, cross, temb = self.channels, self.cross_attention_dim, self.temb_channels
        out: list[Tensor] = conv2d("conv_in", self.config["in_channels"], ch[0], 3)
        out += linear("time_embedding.linear_1", ch[0], temb) + linear("time_embedding.linear_2", temb, temb)
        c_prev = ch[0]
        for i, block_type in enumerate(self.config["down_block_types"]):
            # CrossAttnDownBlock2D registers its attentions before its resnets.
            block = f"down_blocks.{i}"
            attns: list[Tensor] = []
            resnets: list[Tensor] = []
            for j in range(self.layers_per_block):
                resnets += resnet_block(f"{block}.resnets.{j}", c_prev if j == 0 else ch[i], ch[i], temb)
                if self.has_attention(block_type):
                    attns += transformer_2d(f"{block}.attentions.{j}", ch[i], cross)
            out += attns + resnets
            if i < len(ch) - 1:
                out += conv2d(f"{block}.downsamplers.0.conv", ch[i], ch[i], 3)
            c_prev = ch[i]
        rev = ch[::-1]
        prev_out = rev[0]
        for i, block_type in enumerate(self.config["up_block_types"]):
            block = f"up_blocks.{i}"
            c_out, c_in = rev[i], rev[min(i + 1, len(rev) - 1)]
            attns, resnets = [], []
            for j in range(self.layers_per_block + 1):
                skip = c_in if j == self.layers_per_block else c_out
                resnet_in = prev_out if j == 0 else c_out
                resnets += resnet_block(f"{block}.resnets.{j}", resnet_in + skip, c_out, temb)
                if self.has_attention(block_type):
                    attns += transformer_2d(f"{block}.attentions.{j}", c_out, cross)
            out += attns + resnets
            if i < len(rev) - 1:
                out += conv2d(f"{block}.upsamplers.0.conv", c_out, c_out, 3)
            prev_out = c_out
        # UNet2DConditionModel assigns its up_blocks ModuleList before mid_block: .to() moves them first.
        mid = ch[-1]
        out += transformer_2d("mid_block.attentions.0", mid, cross)
        out += resnet_block("mid_block.resnets.0", mid, mid, temb) + resnet_block("mid_block.resnets.1", mid, mid, temb)
        out += norm("conv_norm_out", ch[0]) + conv2d("conv_out", ch[0], self.config["out_channels"], 3)
        return out

    def skip_channels(self) -> list[tuple[int, int]]:
        """(channels, downsampling level) of every tensor the down path pushes onto ``down_block_res_samples``:
        conv_in's output, each resnet/attention output, each downsampler output (read back by the up path)."""
        ch = self.channels
        skips = [(ch[0], 0)]
        for i in range(len(ch)):
            skips += [(ch[i], i)] * self.layers_per_block
            if i < len(ch) - 1:
                skips.append((ch[i], i + 1))
        return skips
