"""diffusers ``ResnetBlock2D`` (models/resnet.py): the building block of the UNet and the VAE."""
from __future__ import annotations

from symbolic.components.layers.tensors import Tensor, conv2d, linear, norm


def resnet_block(name: str, c_in: int, c_out: int, temb_channels: int | None) -> list[Tensor]:
    """norm1 -> SiLU -> conv1 (3x3) [+ time_emb_proj] -> norm2 -> SiLU -> conv2 (3x3), 1x1 conv_shortcut if
    the channel count changes."""
    tensors = conv2d(f"{name}.conv1", c_in, c_out, 3)
    if temb_channels is not None:
        tensors += linear(f"{name}.time_emb_proj", temb_channels, c_out)
    tensors += conv2d(f"{name}.conv2", c_out, c_out, 3)
    if c_in != c_out:
        tensors += conv2d(f"{name}.conv_shortcut", c_in, c_out, 1)
    # nn.Module registration order: norm1, conv1, time_emb_proj, norm2, dropout, conv2, (conv_shortcut).
    ordered = norm(f"{name}.norm1", c_in) + tensors[:2]
    rest = tensors[2:]
    if temb_channels is not None:
        ordered += rest[:2]
        rest = rest[2:]
    return ordered + norm(f"{name}.norm2", c_out) + rest
