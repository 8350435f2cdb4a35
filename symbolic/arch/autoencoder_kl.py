"""diffusers ``AutoencoderKL`` (models/autoencoders/autoencoder_kl.py, vae.py) from its config."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from symbolic.arch.resnet import resnet_block
from symbolic.arch.tensors import BlockConfig, Tensor, conv2d, linear, norm


def mid_block(name: str, channels: int) -> list[Tensor]:
    """``UNetMidBlock2D``: resnet, single-head self-attention (``Attention`` with a GroupNorm, biased q/k/v), resnet.
    Registration order: attentions, then resnets."""
    attn = (norm(f"{name}.attentions.0.group_norm", channels)
            + linear(f"{name}.attentions.0.to_q", channels, channels)
            + linear(f"{name}.attentions.0.to_k", channels, channels)
            + linear(f"{name}.attentions.0.to_v", channels, channels)
            + linear(f"{name}.attentions.0.to_out.0", channels, channels))
    return attn + resnet_block(f"{name}.resnets.0", channels, channels, None) + resnet_block(
        f"{name}.resnets.1", channels, channels, None)


@dataclass(frozen=True)
class AutoencoderKL(BlockConfig):
    config: dict

    @property
    def latent_channels(self) -> int:
        return int(self.config["latent_channels"])

    @property
    def scale_factor(self) -> int:
        """Pixels per latent pixel: 2 ** (number of blocks - 1) (the pipelines' ``vae_scale_factor``)."""
        return 2 ** (len(self.channels) - 1)

    @cached_property
    def encoder_tensors(self) -> list[Tensor]:
        """Encoder plus ``quant_conv`` (what ``vae.encode`` runs)."""
        return self._encoder + self._quant_conv

    @cached_property
    def decoder_tensors(self) -> list[Tensor]:
        """Decoder plus ``post_quant_conv`` (what ``vae.decode`` runs)."""
        return self._decoder + self._post_quant_conv

    @property
    def tensors(self) -> list[Tensor]:
        """In ``.to()`` order: AutoencoderKL registers encoder, decoder, quant_conv, post_quant_conv."""
        return self._encoder + self._decoder + self._quant_conv + self._post_quant_conv

    @property
    def _quant_conv(self) -> list[Tensor]:
        return conv2d("quant_conv", 2 * self.latent_channels, 2 * self.latent_channels, 1)

    @property
    def _post_quant_conv(self) -> list[Tensor]:
        return conv2d("post_quant_conv", self.latent_channels, self.latent_channels, 1)

    @cached_property
    def _encoder(self) -> list[Tensor]:
        ch = self.channels
        out = conv2d("encoder.conv_in", self.config["in_channels"], ch[0], 3)
        c_prev = ch[0]
        for i, c in enumerate(ch):
            for j in range(self.layers_per_block):
                out += resnet_block(f"encoder.down_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c, None)
            if i < len(ch) - 1:
                out += conv2d(f"encoder.down_blocks.{i}.downsamplers.0.conv", c, c, 3)
            c_prev = c
        out += mid_block("encoder.mid_block", ch[-1])
        return out + norm("encoder.conv_norm_out", ch[-1]) + conv2d(
            "encoder.conv_out", ch[-1], 2 * self.latent_channels, 3)

    @cached_property
    def _decoder(self) -> list[Tensor]:
        rev = self.channels[::-1]
        out = conv2d("decoder.conv_in", self.latent_channels, rev[0], 3)
        c_prev = rev[0]
        for i, c in enumerate(rev):
            for j in range(self.layers_per_block + 1):
                out += resnet_block(f"decoder.up_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c, None)
            if i < len(rev) - 1:
                out += conv2d(f"decoder.up_blocks.{i}.upsamplers.0.conv", c, c, 3)
            c_prev = c
        # Decoder assigns its up_blocks ModuleList before mid_block: .to() moves them first.
        out += mid_block("decoder.mid_block", rev[0])
        return out + norm("decoder.conv_norm_out", rev[-1]) + conv2d(
            "decoder.conv_out", rev[-1], self.config["out_channels"], 3)
