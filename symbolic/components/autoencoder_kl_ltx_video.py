"""``AutoencoderKLLTXVideo`` (diffusers ``models/autoencoders/autoencoder_kl_ltx.py``), the VAE of Lightricks'
LTX-Video 0.9.x: exact parameter list and the live bytes of ``vae.decode`` as ``LTXPipeline`` runs it.

Architecture: a 4 x 4 pixel patchify (``patch_size`` 4: 3 x 16 = 48 channels) and three spatio-temporal 2x stages give
32 x 32 x 8 compression into 128 latent channels. Every conv is an ``LTXVideoCausalConv3d``: a 3x3x3 ``nn.Conv3d``
with spatial zero padding and *temporal replicate padding done by copies*: the encoder (causal) prepends two copies
of the first frame, the decoder (``decoder_causal`` false) one copy of the first and one of the last frame, then
``torch.concatenate``s them with the input (F + 2 frames). Norms are ``RMSNorm`` without affine (diffusers
normalization.py: the variance is computed in float32). The decoder's ``LTXVideoUpsampler3d`` is a conv to 8x the
channels followed by a depth-to-space shuffle (a ``permute`` + ``flatten`` copy) that drops the first frame:
F -> 2F - 1 frames, h -> 2h, w -> 2w.

``vae.decode`` decodes the whole video at once (no frame batching: ``use_framewise_decoding`` stays False); with
``enable_tiling()`` it cuts the latent into 16 x 16 tiles (``tile_sample_min_height/width`` 512 px / 32) at a stride
of 14 (448 px / 32), decoding all frames of a tile at once and holding every decoded tile until they are blended.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.core.algebra import maximum
from symbolic.components.layers.tensors import Tensor, linear, norm
from symbolic.components.shapes import DecodeShape
from symbolic.components.layers.tiling import tiles_extent
from symbolic.components.layers.tensors import conv
from symbolic.components import register

#: ``LTXVideoCausalConv3d(kernel_size=3)``: every 3x3x3 conv of the VAE.
KERNEL = 3
#: ``LTXVideoUpsampler3d`` / ``LTXVideoCausalConv3d(stride=(2, 2, 2))``: each scaling stage halves/doubles t, h, w.
STRIDE = 2
#: ``LTXVideoUpsampler3d.forward``: the conv emits stride^3 = 8 x the channels, shuffled into space and time.
SHUFFLE = STRIDE ** 3
#: ``LTXVideo095DownBlock3D.__init__``: the (t, h, w) strides of its ``LTXVideoDownsampler3d`` kinds (space-to-depth:
#: the conv emits out_channels / prod(stride) channels).
DOWNSAMPLER_STRIDES = {"spatial": (1, 2, 2), "temporal": (2, 1, 1), "spatiotemporal": (2, 2, 2)}
#: ``PixArtAlphaCombinedTimestepSizeEmbeddings`` -> ``Timesteps(256)``: the timestep projection width.
TIMESTEP_PROJ_DIM = 256
#: Time-conditioned resnets' ``scale_shift_table`` (shift, scale for norm1 and norm2) and embedder width multiple.
RESNET_ADA_PARAMS = 4
#: The decoder's own ``scale_shift_table`` (shift, scale of norm_out) and its embedder width multiple.
DECODER_ADA_PARAMS = 2
#: ``AutoencoderKLLTXVideo.__init__``: ``tile_sample_min_height/width`` and ``tile_sample_stride_height/width``.
TILE_SAMPLE = 512
TILE_SAMPLE_STRIDE = 448
#: ``LTXVideoCausalConv3d.forward`` (non-causal decoder): one replicated frame before and one after the input;
#: (causal: kernel - 1 = 2 before): 2 frames of copies either way, and the concatenation holds F + 2 frames.
PAD_FRAMES = KERNEL - 1
#: ``video_processor.postprocess_video`` -> ``VaeImageProcessor.postprocess`` -> ``denormalize``, one video of the
#: batch at a time: ``x * 0.5 + 0.5`` and its ``clamp(0, 1)`` (two one-sample temporaries) next to the decoded batch.
POSTPROCESS_SAMPLE_TEMPS = 2
#: ``tiled_decode``: at the final ``torch.cat(result_rows)`` the row concatenations (the output's size) and the
#: result (the output's size) are live next to every decoded tile.
BLEND_OUTPUT_COPIES = 2
#: ``AutoencoderKLLTXVideo.decode`` with ``use_slicing``: the per-sample outputs and their ``torch.cat``.
SLICE_OUTPUT_COPIES = 2

NOTES = {
    "up_norm": "The peak in 16-bit: LTXVideoResnetBlock3d.forward of the decoder's last up block's first resnet "
               "(LTXVideoDecoder3d.forward -> LTXVideoUpBlock3d.forward), at norm2 (diffusers RMSNorm: "
               "hidden_states.to(float32).pow(2)): the up block's input (held by the decoder's loop), the resnet "
               "input (the upsampler's depth-to-space copy: 2 F_in = F + 1 frames; its [:, :, 1:] is a view), conv1's "
               "output and the float32 copy and its square at full resolution (C x F x 64 h w each).",
    "up_conv": "The peak in float32: a causal conv of the same resnet (LTXVideoCausalConv3d.forward): the up block's "
               "input, the resnet input, the SiLU output, the two replicated pad frames, their concatenation (F + 2 "
               "frames) and the conv output, all at full resolution.",
    "upsample": "The last up block's LTXVideoUpsampler3d.forward: the block input, the conv_in resnet's output (the "
                "upsampler input), the conv's 8C-channel output and the permute + flatten copy (C x 2 F_in frames "
                "at 2x the spatial size).",
    "tiles_blend": "With vae_tiling: AutoencoderKLLTXVideo.tiled_decode at torch.cat(result_rows): every decoded "
                   "tile (held in rows; their total area is the tiles' overlapping extent) plus the row "
                   "concatenations and the result (the output's size each).",
    "slices_concat": "With vae_slicing and batch > 1: AutoencoderKLLTXVideo.decode's torch.cat of the per-sample "
                     "outputs (the slices and the concatenation: twice the output).",
    "postprocess": "LTXPipeline.__call__ after vae.decode: video_processor.postprocess_video denormalizes one video "
                   "at a time (VaeImageProcessor.denormalize: x * 0.5 + 0.5, clamp) next to the decoded batch: B + 2 "
                   "one-video outputs in the VAE dtype, before the copy to the host.",
}


@dataclass(frozen=True)
class UpBlock:
    """One ``LTXVideoUpBlock3d`` of the decoder (``LTXVideoDecoder3d.__init__``)."""

    c_in: int
    c_out: int
    layers: int
    upsample: bool
    residual: bool
    factor: int
    inject_noise: bool

    @property
    def conv_in(self) -> bool:
        return self.c_in != self.c_out


@register("AutoencoderKLLTXVideo")
@dataclass(frozen=True)
class LTXVideoVAE(ComponentBase):
    config: dict

    kind = "vae"
    #: ``decode_moments`` / ``encode_moments`` follow ``shape.slicing`` (``enable_slicing()``).
    models_slicing = True
    moment_notes = NOTES

    # -- config (defaults: AutoencoderKLLTXVideo.__init__) ------------------------------------------------------------
    def _get(self, key: str, default):
        value = self.config.get(key)
        return default if value is None else value

    @property
    def latent_channels(self) -> int:
        return int(self._get("latent_channels", 128))

    @property
    def patch(self) -> int:
        return int(self._get("patch_size", 4))

    @property
    def patch_t(self) -> int:
        return int(self._get("patch_size_t", 1))

    @property
    def spatial_compression(self) -> int:
        """``patch_size * 2 ** sum(spatio_temporal_scaling)`` unless ``spatial_compression_ratio`` is set."""
        return int(self._get("spatial_compression_ratio",
                             self.patch * STRIDE ** sum(map(bool, self._get("spatio_temporal_scaling",
                                                                          (True, True, True, False))))))

    @property
    def temporal_compression(self) -> int:
        return int(self._get("temporal_compression_ratio",
                             self.patch_t * STRIDE ** sum(map(bool, self._get("spatio_temporal_scaling",
                                                                            (True, True, True, False))))))

    @property
    def timestep_conditioning(self) -> bool:
        return bool(self._get("timestep_conditioning", False))

    @property
    def out_channels(self) -> int:
        return int(self._get("out_channels", 3))

    # -- tensors ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _causal(name: str, c_in: int, c_out: int, k: int = KERNEL) -> list[Tensor]:
        return conv(f"{name}.conv", c_in, c_out, (k, k, k))

    @staticmethod
    def _embedder(name: str, dim: int) -> list[Tensor]:
        """``PixArtAlphaCombinedTimestepSizeEmbeddings(dim, 0)``: its ``TimestepEmbedding(256, dim)``."""
        return (linear(f"{name}.timestep_embedder.linear_1", TIMESTEP_PROJ_DIM, dim)
                + linear(f"{name}.timestep_embedder.linear_2", dim, dim))

    def _resnet(self, name: str, c_in: int, c_out: int, inject_noise: bool = False, tc: bool = False) -> list[Tensor]:
        """``LTXVideoResnetBlock3d``: norm1/norm2 are RMSNorm without affine (no parameters); children first
        (conv1, conv2, norm3, conv_shortcut), then its own parameters."""
        out = self._causal(f"{name}.conv1", c_in, c_out) + self._causal(f"{name}.conv2", c_out, c_out)
        if c_in != c_out:
            out += norm(f"{name}.norm3", c_in) + self._causal(f"{name}.conv_shortcut", c_in, c_out, 1)
        if inject_noise:
            out += [Tensor(f"{name}.per_channel_scale{k}", (c_in, 1, 1)) for k in (1, 2)]
        if tc:
            out.append(Tensor(f"{name}.scale_shift_table", (RESNET_ADA_PARAMS, c_in)))
        return out

    def _encoder(self) -> list[Tensor]:
        ch = list(self._get("block_out_channels", (128, 256, 512, 512)))
        layers = list(self._get("layers_per_block", (4, 3, 3, 3, 4)))
        scaling = list(self._get("spatio_temporal_scaling", (True, True, True, False)))
        types = list(self._get("down_block_types", ["LTXVideoDownBlock3D"] * 4))
        down_types = list(self._get("downsample_type", ["conv"] * 4))
        cin = int(self._get("in_channels", 3)) * self.patch ** 2
        out = self._causal("encoder.conv_in", cin, ch[0])
        is_095 = types[-1] == "LTXVideo095DownBlock3D"
        n = len(ch) - (1 if is_095 else 0)
        c_out = ch[0]
        for i in range(n):
            c_in = c_out
            c_out = ch[i + 1] if (is_095 or i + 1 < n) else ch[i]
            name = f"encoder.down_blocks.{i}"
            for j in range(layers[i]):
                out += self._resnet(f"{name}.resnets.{j}", c_in, c_in)
            if types[i] == "LTXVideoDownBlock3D":
                if scaling[i]:
                    out += self._causal(f"{name}.downsamplers.0", c_in, c_in)
                if c_in != c_out:
                    out += self._resnet(f"{name}.conv_out", c_in, c_out)
            elif types[i] == "LTXVideo095DownBlock3D":
                if scaling[i]:
                    if down_types[i] == "conv":      # a strided LTXVideoCausalConv3d
                        out += self._causal(f"{name}.downsamplers.0", c_in, c_in)
                    else:                            # LTXVideoDownsampler3d: its .conv is an LTXVideoCausalConv3d
                        stride = math.prod(DOWNSAMPLER_STRIDES[down_types[i]])
                        out += self._causal(f"{name}.downsamplers.0.conv", c_in, c_out // stride)
            else:
                raise ValueError(f"AutoencoderKLLTXVideo: unknown down block type {types[i]!r}")
        for j in range(layers[-1]):
            out += self._resnet(f"encoder.mid_block.resnets.{j}", c_out, c_out)
        return out + self._causal("encoder.conv_out", c_out, self.latent_channels + 1)

    @cached_property
    def up_blocks(self) -> list[UpBlock]:
        ch = list(self._get("decoder_block_out_channels", (128, 256, 512, 512)))[::-1]
        layers = list(self._get("decoder_layers_per_block", (4, 3, 3, 3, 4)))[::-1]
        scaling = list(self._get("decoder_spatio_temporal_scaling", (True, True, True, False)))[::-1]
        noise = list(self._get("decoder_inject_noise", (False,) * 5))[::-1]
        residual = list(self._get("upsample_residual", (False,) * 4))[::-1]
        factor = list(self._get("upsample_factor", (1,) * 4))[::-1]
        blocks, c_out = [], ch[0]
        for i in range(len(ch)):
            c_in = c_out // factor[i]
            c_out = ch[i] // factor[i]
            blocks.append(UpBlock(c_in, c_out, layers[i + 1], bool(scaling[i]), bool(residual[i]), int(factor[i]),
                                  bool(noise[i + 1])))
        return blocks

    def _decoder(self) -> list[Tensor]:
        ch = list(self._get("decoder_block_out_channels", (128, 256, 512, 512)))[::-1]
        layers = list(self._get("decoder_layers_per_block", (4, 3, 3, 3, 4)))[::-1]
        noise = list(self._get("decoder_inject_noise", (False,) * 5))[::-1]
        tc = self.timestep_conditioning
        out = self._causal("decoder.conv_in", self.latent_channels, ch[0])
        if tc:
            out += self._embedder("decoder.mid_block.time_embedder", ch[0] * RESNET_ADA_PARAMS)
        for j in range(layers[0]):
            out += self._resnet(f"decoder.mid_block.resnets.{j}", ch[0], ch[0], bool(noise[0]), tc)
        for i, blk in enumerate(self.up_blocks):
            name = f"decoder.up_blocks.{i}"
            if tc:
                out += self._embedder(f"{name}.time_embedder", blk.c_in * RESNET_ADA_PARAMS)
            if blk.conv_in:
                out += self._resnet(f"{name}.conv_in", blk.c_in, blk.c_out, blk.inject_noise, tc)
            if blk.upsample:
                c_up = blk.c_out * blk.factor
                out += self._causal(f"{name}.upsamplers.0.conv", c_up, c_up * SHUFFLE // blk.factor)
            for j in range(blk.layers):
                out += self._resnet(f"{name}.resnets.{j}", blk.c_out, blk.c_out, blk.inject_noise, tc)
        c_top = self.up_blocks[-1].c_out
        out += self._causal("decoder.conv_out", c_top, self.out_channels * self.patch ** 2)
        if tc:
            out += self._embedder("decoder.time_embedder", c_top * DECODER_ADA_PARAMS)
            out += [Tensor("decoder.timestep_scale_multiplier", ()),
                    Tensor("decoder.scale_shift_table", (DECODER_ADA_PARAMS, c_top))]
        return out

    @cached_property
    def tensors(self) -> list[Tensor]:
        """In ``nn.Module._apply`` order: encoder, decoder, then the model's buffers ``latents_mean`` and
        ``latents_std`` (persistent, latent_channels each)."""
        lat = self.latent_channels
        return self._encoder() + self._decoder() + [Tensor("latents_mean", (lat,)), Tensor("latents_std", (lat,))]

    # -- decode -------------------------------------------------------------------------------------------------------
    @property
    def tile_latent(self) -> int:
        """``tile_sample_min_height // spatial_compression_ratio`` (``_decode``): 16 latent pixels."""
        return TILE_SAMPLE // self.spatial_compression

    @property
    def tile_stride(self) -> int:
        return TILE_SAMPLE_STRIDE // self.spatial_compression

    def _check_decoder(self) -> None:
        if any(blk.residual or blk.factor != 1 for blk in self.up_blocks):
            raise ValueError("AutoencoderKLLTXVideo: decode moments model upsample_residual False and upsample_factor "
                             "1 (LTX-Video 0.9.0); this config uses the 0.9.1+ residual upsamplers")

    def _untiled(self, B: sp.Expr, t: sp.Expr, h: sp.Expr, w: sp.Expr, b: sp.Expr, b_value: int) -> dict:
        """Moments of ``self.decoder(z)`` on B samples of t x h x w latents (the whole video at once)."""
        self._check_decoder()
        blocks = self.up_blocks
        ups = sum(blk.upsample for blk in blocks)
        last = blocks[-1]
        up = 1 if b_value < FP32 else 0
        F = STRIDE ** ups * (t - 1) + 1                   # frames at the top: each upsampler maps f -> 2f - 1
        S = (STRIDE ** 2) ** ups * h * w                  # pixels per frame at the top
        C = last.c_out
        e = B * C * F * S                                 # one top-level activation
        if last.upsample:
            F_in, S_in = (F + 1) / STRIDE, S / STRIDE ** 2
            r0_in = B * C * STRIDE * F_in * S             # the depth-to-space copy: 2 F_in frames
        else:
            F_in, S_in = F, S
            r0_in = e if last.conv_in else 0              # else resnet 0's input is the block input itself
        held = B * last.c_in * F_in * S_in                # the up block's input, held by the decoder loop
        moments = {
            "up_norm": b * (held + r0_in + e) + FP32 * (1 + up) * e,
            "up_conv": b * (held + r0_in + B * C * S * (3 * F + 2 * PAD_FRAMES)),
        }
        if last.upsample:
            up_in = B * C * F_in * S_in if last.conv_in else 0
            shuffled = B * C * SHUFFLE * F_in * S_in      # the conv output, and its depth-to-space copy
            moments["upsample"] = b * (held + up_in + 2 * shuffled)
        return moments

    def output_elements(self, B: sp.Expr, t: sp.Expr, h: sp.Expr, w: sp.Expr) -> sp.Expr:
        """Elements of the decoded video: B x 3 x (8 (t - 1) + 1) frames x 32 h x 32 w."""
        ups = sum(blk.upsample for blk in self.up_blocks)
        F = STRIDE ** ups * (t - 1) + 1
        return B * self.out_channels * F * self.patch ** 2 * (STRIDE ** 2) ** ups * h * w

    def decode_moments(self, shape: DecodeShape) -> dict[str, sp.Expr]:
        """Candidate peaks of ``vae.decode`` and the pipeline's post-processing (see ``moment_notes``).

        Untiled: the decoder runs on the whole video; the peak is in the last up block at full resolution (norm2's
        float32 temporaries in 16-bit, the conv with its pad copies in float32). Tiled (``vae_tiling`` and h or w >
        16 latent pixels): the same moments on a Min(h, 16) x Min(w, 16) tile plus the decoded tiles held so far
        (bounded by all tiles but the current one), and the blend. Sliced (``vae_slicing``): batch 1 at a time plus
        the earlier samples' outputs.
        """
        B, t, b = shape.batch, shape.t, shape.b
        h, w = shape.h, shape.w
        per = sp.Integer(1) if shape.slicing else B
        out_per_px = self.output_elements(sp.Integer(1), t, 1, 1)     # output elements per latent pixel and sample
        untiled = self._untiled(per, t, h, w, b, shape.b_value)
        if shape.tiling:
            T, st = self.tile_latent, self.tile_stride
            th, tw = sp.Min(h, T), sp.Min(w, T)
            area = tiles_extent(h, T, st) * tiles_extent(w, T, st)
            held = per * out_per_px * b * (area - th * tw)
            tiled = {k: v + held for k, v in self._untiled(per, t, th, tw, b, shape.b_value).items()}
            tiled["tiles_blend"] = per * out_per_px * b * (area + BLEND_OUTPUT_COPIES * h * w)
            small = sp.And(h <= T, w <= T)
            moments = {k: sp.Piecewise((untiled[k], small), (tiled[k], True)) for k in untiled}
            moments["tiles_blend"] = sp.Piecewise((0, small), (tiled["tiles_blend"], True))
        else:
            moments = dict(untiled)
        out_bytes = self.output_elements(sp.Integer(1), t, h, w) * b
        if shape.slicing:
            several = sp.Piecewise((1, B > 1), (0, True))
            moments = {k: v + (B - 1) * out_bytes for k, v in moments.items()}
            moments["slices_concat"] = several * SLICE_OUTPUT_COPIES * B * out_bytes
        moments["postprocess"] = (B + POSTPROCESS_SAMPLE_TEMPS) * out_bytes
        return moments

    def decode_peak(self, shape: DecodeShape) -> sp.Expr:
        return maximum(*self.decode_moments(shape).values())

    def encode_moments(self, shape) -> dict[str, sp.Expr]:
        raise ValueError("AutoencoderKLLTXVideo: encoding is not modelled (LTXPipeline is text-to-video; "
                                  "image-to-video conditioning would need it)")
