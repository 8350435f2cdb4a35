"""A tiny record of the parameter and buffer tensors of a module tree, for exact counts and allocator packing."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    #: False for integer buffers (e.g. CLIP's int64 ``position_ids``), which ``.to(dtype)`` leaves alone.
    floating: bool = True

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def numel(tensors: list[Tensor]) -> int:
    return sum(t.numel for t in tensors)


def nbytes(tensors: list[Tensor], bytes_per_element: int, int_bytes: int = 8) -> int:
    return sum(t.numel * (bytes_per_element if t.floating else int_bytes) for t in tensors)


def linear(name: str, fan_in: int, fan_out: int, bias: bool = True) -> list[Tensor]:
    return [Tensor(f"{name}.weight", (fan_out, fan_in))] + ([Tensor(f"{name}.bias", (fan_out,))] if bias else [])


def conv(name: str, c_in: int, c_out: int, kernel: tuple[int, ...], bias: bool = True) -> list[Tensor]:
    """A convolution of any rank (``nn.Conv2d`` with a rectangular kernel, ``nn.Conv3d``): its weight and bias."""
    weight = Tensor(f"{name}.weight", (c_out, c_in, *kernel))
    return [weight] + ([Tensor(f"{name}.bias", (c_out,))] if bias else [])


def conv2d(name: str, c_in: int, c_out: int, kernel: int, bias: bool = True) -> list[Tensor]:
    return conv(name, c_in, c_out, (kernel, kernel), bias)


def norm(name: str, channels: int) -> list[Tensor]:
    """GroupNorm or LayerNorm with affine weight and bias."""
    return [Tensor(f"{name}.weight", (channels,)), Tensor(f"{name}.bias", (channels,))]


def load_config(family: str, component: str) -> dict:
    """A JSON config shipped with the package (``symbolic/configs/<family>/<component>.json``)."""
    text = resources.files("symbolic.configs").joinpath(family, f"{component}.json").read_text()
    return json.loads(text)


class EncoderConfig:
    """transformers-style encoder config accessors (``hidden_size``, ``intermediate_size``, ``num_hidden_layers``,
    ``num_attention_heads``), read from ``encoder_config`` (the config itself, or a nested one such as CLIP's
    ``vision_config``). Mixed into the architectures' frozen dataclasses."""

    config: dict

    @property
    def encoder_config(self) -> dict:
        return self.config

    @property
    def hidden(self) -> int:
        return int(self.encoder_config["hidden_size"])

    @property
    def intermediate(self) -> int:
        return int(self.encoder_config["intermediate_size"])

    @property
    def layers(self) -> int:
        return int(self.encoder_config["num_hidden_layers"])

    @property
    def heads(self) -> int:
        return int(self.encoder_config["num_attention_heads"])


class BlockConfig:
    """diffusers UNet / VAE config accessors (``block_out_channels``, ``layers_per_block``)."""

    config: dict

    @property
    def channels(self) -> list[int]:
        return list(self.config["block_out_channels"])

    @property
    def layers_per_block(self) -> int:
        return int(self.config["layers_per_block"])
