"""The 3D (causal) VAEs of diffusers' video pipelines, from their config.json: exact parameter lists and the live
bytes of ``vae.decode`` as diffusers runs it.

* ``AutoencoderKLCogVideoX`` (autoencoder_kl_cogvideox.py): decodes ``num_latent_frames_batch_size = 2`` latent
  frames at a time (the first batch takes the odd remainder), each causal 3x3x3 conv keeping a *conv cache* of the
  last 2 input frames for the next batch; the decoder's ``CogVideoXSpatialNorm3D`` modulates every norm with two
  1x1x1 causal convs of the (interpolated) latent, whose "cache" is ``inputs[:, :, -k + 1:]`` with k = 1, i.e. the
  whole interpolated latent of the batch.
* ``AutoencoderKLWan`` (autoencoder_kl_wan.py): decodes one latent frame at a time with a feature cache of
  ``CACHE_T = 2`` frames per causal conv, concatenating the output frames as it goes.
* ``AutoencoderKLHunyuanVideo`` (autoencoder_kl_hunyuan_video.py): ``use_framewise_decoding`` decodes temporal
  tiles of ``tile_sample_min_num_frames / 4 + 1 = 5`` latent frames (stride 3) with no cache; the mid-block
  attention builds a frame-causal (N x N) mask over the tile's tokens.

``vae.enable_tiling()`` (the ``vae_tiling`` option) additionally splits each frame into overlapping spatial tiles
(CogVideoX 30 x 45 latent pixels, stride 25 x 36; Wan and HunyuanVideo 32 x 32, stride 24), so the working set is
bounded by the tile while every decoded tile is kept until the tiles are blended.

The peak of a decode is again a *moment*: the compositions below were read off the diffusers source and checked
tensor by tensor against a meta-device trace at several sizes (tests/harness/test_video_param_counts_torch.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.layers.tiling import tiles_extent
from symbolic.components.shapes import DecodeShape
from symbolic.core.algebra import ceil_div, floor_div
from symbolic.components.base import ComponentBase
from symbolic.core.dtypes import FP32
from symbolic.core.algebra import maximum
from symbolic.components.layers.tensors import BlockConfig, Tensor, conv2d, linear, norm
from symbolic.components import register
from symbolic.runtime.kernels import math_sdpa
from symbolic.components.layers.tensors import conv



def _c3(name: str, c_in: int, c_out: int, k: int | tuple[int, int, int] = 3) -> list[Tensor]:
    kernel = (k, k, k) if isinstance(k, int) else k
    return conv(name, c_in, c_out, kernel)


#: Derivation notes of the decode moments the video VAEs list (each class takes the ones it has).
MOMENT_NOTES = {
    "first_batch": "CogVideoX: the first frame batch (2 + t mod 2 latent frames): its conv caches and the top block's "
                   "working set (``CogVideoXVAE.decode_moments``).",
    "second_batch": "CogVideoX: the second frame batch, with the first batch's whole cache set still referenced next "
                    "to the new caches (old + new), and the first batch's output frames.",
    "last_batch": "CogVideoX: the last frame batch: two 2-frame cache sets, the working set and all earlier output "
                  "frames.",
    "frame_head": "Wan: a later latent frame at the decoder head (float32 ``F.normalize``) with the cache set and "
                  "every frame decoded so far.",
    "frame_conv": "Wan: a later latent frame inside the top resnet's causal conv (cache concat and spatial zero "
                  "padding) with the cache set and every frame decoded so far.",
    "first_frame": "Wan: the first latent frame (only moment when there is one).",
    "upsample": "HunyuanVideo: the last spatial upsampler of a temporal tile (17 output frames), with every earlier "
                "tile's output held.",
    "mid_attention": "HunyuanVideo: the mid block's frame-causal attention mask over the tile's tokens (N^2 x (4 + b) "
                     "while it is built), or the math backend's score matrices.",
    "postprocess": "The decoded video and ``postprocess_video``'s denormalize temporaries (3 x output), or all decoded "
                   "tiles and their concatenation.",
}


class VideoVAE:
    """What the three causal video VAEs share as components: 8 x spatial and 4 x temporal compression, no encode
    model (text-to-video only decodes)."""

    kind = "vae"
    spatial_compression = 8
    temporal_compression = 4

    def encode_moments(self, shape) -> dict:
        raise ValueError(f"{type(self).__name__}: encoding (video-to-video) is not modelled")


# --------------------------------------------------------------------------------------------------------------------
@register("AutoencoderKLCogVideoX")
@dataclass(frozen=True)
class CogVideoXVAE(VideoVAE, BlockConfig, ComponentBase):
    config: dict

    moment_notes = {k: MOMENT_NOTES[k] for k in ("first_batch", "second_batch", "last_batch", "postprocess")}

    @property
    def latent_channels(self) -> int:
        return self.latent

    frame_batch = 2          # AutoencoderKLCogVideoX.num_latent_frames_batch_size
    tile_latent = (30, 45)   # tile_sample_min_height/width (sample_height // 2, sample_width // 2) / 8
    tile_stride = (25, 36)   # int(tile * (1 - overlap)), overlap 1/6 (height), 1/5 (width)

    @property
    def layers(self) -> int:
        return self.layers_per_block

    @property
    def latent(self) -> int:
        return int(self.config["latent_channels"])

    @property
    def temporal_levels(self) -> int:
        return int(self.config["temporal_compression_ratio"]).bit_length() - 1

    @staticmethod
    def _encoder_resnet(name: str, c_in: int, c_out: int) -> list[Tensor]:
        out = norm(f"{name}.norm1", c_in) + norm(f"{name}.norm2", c_out)
        out += _c3(f"{name}.conv1.conv", c_in, c_out) + _c3(f"{name}.conv2.conv", c_out, c_out)
        return out + (_c3(f"{name}.conv_shortcut", c_in, c_out, 1) if c_in != c_out else [])

    def _spatial_norm(self, name: str, c: int) -> list[Tensor]:
        return (norm(f"{name}.norm_layer", c) + _c3(f"{name}.conv_y.conv", self.latent, c, 1)
                + _c3(f"{name}.conv_b.conv", self.latent, c, 1))

    def _decoder_resnet(self, name: str, c_in: int, c_out: int) -> list[Tensor]:
        out = self._spatial_norm(f"{name}.norm1", c_in) + self._spatial_norm(f"{name}.norm2", c_out)
        out += _c3(f"{name}.conv1.conv", c_in, c_out) + _c3(f"{name}.conv2.conv", c_out, c_out)
        return out + (_c3(f"{name}.conv_shortcut", c_in, c_out, 1) if c_in != c_out else [])

    @cached_property
    def tensors(self) -> list[Tensor]:
        ch, lat = self.channels, self.latent
        out = _c3("encoder.conv_in.conv", int(self.config["in_channels"]), ch[0])
        c_prev = ch[0]
        for i, c in enumerate(ch):
            for j in range(self.layers):
                out += self._encoder_resnet(f"encoder.down_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c)
            if i < len(ch) - 1:
                out += conv2d(f"encoder.down_blocks.{i}.downsamplers.0.conv", c, c, 3)
            c_prev = c
        for j in range(2):
            out += self._encoder_resnet(f"encoder.mid_block.resnets.{j}", ch[-1], ch[-1])
        out += norm("encoder.norm_out", ch[-1]) + _c3("encoder.conv_out.conv", ch[-1], 2 * lat)
        rev = ch[::-1]
        out += _c3("decoder.conv_in.conv", lat, rev[0])
        for j in range(2):
            out += self._decoder_resnet(f"decoder.mid_block.resnets.{j}", rev[0], rev[0])
        c_prev = rev[0]
        for i, c in enumerate(rev):
            for j in range(self.layers + 1):
                out += self._decoder_resnet(f"decoder.up_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c)
            if i < len(rev) - 1:
                out += conv2d(f"decoder.up_blocks.{i}.upsamplers.0.conv", c, c, 3)
            c_prev = c
        out += self._spatial_norm("decoder.norm_out", rev[-1])
        out += _c3("decoder.conv_out.conv", rev[-1], int(self.config["out_channels"]))
        if self.config.get("use_quant_conv"):
            out += _c3("quant_conv", 2 * lat, 2 * lat, 1)
        if self.config.get("use_post_quant_conv"):
            out += _c3("post_quant_conv", lat, lat, 1)
        return out

    # -- decode ------------------------------------------------------------------------------------------------------
    def frames_per_level(self, f: int) -> list[int]:
        """Frames at each decoder level for a batch of ``f`` latent frames: ``CogVideoXUpsample3D`` with
        ``compress_time`` (the first log2(4) = 2 up blocks) doubles the frames, keeping the first apart when the
        count is odd (F -> 2F - 1); a single frame is not upsampled in time."""
        frames = [f]
        for i in range(len(self.channels) - 1):
            x = frames[-1]
            if i < self.temporal_levels and x > 1:
                x = 2 * x if x % 2 == 0 else 2 * x - 1
            frames.append(x)
        return frames

    def _cache_units(self, f: int) -> tuple[int, int]:
        """(full cache set, the part not yet rewritten at the peak) in element units of one latent pixel (h x w).

        Causal 3x3x3 convs cache 2 frames of their input (``CogVideoXCausalConv3d.forward``: ``inputs[:, :, -2:]
        .clone()``); each ``CogVideoXSpatialNorm3D`` has two k = 1 causal convs (conv_y, conv_b) that cache all F
        frames of the 16-channel interpolated latent. Levels: conv_in, the mid block and up block 0 at the latent
        size, up block i at 4**i of it; norm_out and conv_out at the top."""
        rev, frames, lat = self.channels[::-1], self.frames_per_level(f), self.latent
        total = lat * 2                                            # conv_in
        total += 2 * (2 * rev[0] * 2 + 4 * lat * frames[0])       # mid block: 2 resnets
        c_prev = rev[0]
        for i, c in enumerate(rev):
            area = 4 ** i
            for j in range(self.layers + 1):
                c_in = c_prev if j == 0 else c
                total += area * (2 * c_in + 2 * c + 4 * lat * frames[i])
            c_prev = c
        top = 4 ** (len(rev) - 1)
        total += top * (2 * lat * frames[-1] + 2 * rev[-1])      # norm_out, conv_out
        tail = top * (2 * rev[-1] + 2 * lat * frames[-1] + 2 * rev[-1])  # last conv2, norm_out, conv_out
        return total, total - tail

    def _work_units(self, f: int) -> int:
        """The working set at the peak, inside the last up block's last resnet (top level, F frames): that block's
        input (held by the decoder's loop while the block runs: ``rev[-2]`` channels), seven tensors of the top
        width (the resnet input kept for the residual, the GroupNorm output, conv_y(zq) and conv_b(zq), their
        modulated sum and product, a conv output) and the interpolated latent (twice when F is odd: the first frame
        and the rest are interpolated apart and concatenated)."""
        rev, frames = self.channels[::-1], self.frames_per_level(f)
        F = frames[-1]
        zq = self.latent * (2 if F > 1 and F % 2 == 1 else 1)
        return 4 ** (len(rev) - 1) * F * (rev[-2] + 7 * rev[-1] + zq)

    def output_frames(self, t: sp.Expr) -> sp.Expr:
        """Decoded frames: 4 per latent frame, 4t - 3 when the first batch has an odd count (t odd)."""
        r = t - 2 * sp.floor(t / 2)
        return 4 * t - 3 * r

    def decode_moments(self, z: DecodeShape) -> dict[str, sp.Expr]:
        """Candidate peaks of ``AutoencoderKLCogVideoX._decode`` (frame-batched, conv cache) plus the pipeline's
        post-processing:

        * ``first_batch``: the first frame batch (2 + t mod 2 latent frames, no previous cache): its new caches and
          working set.
        * ``second_batch``: the previous batch's whole cache set (the decoder keeps the old ``conv_cache`` dict
          until it returns) + the new caches + the working set + the first batch's output; exists when t >= 4.
        * ``last_batch``: the same with 2-frame caches on both sides and all earlier output frames; t >= 6.
        * ``postprocess``: the decoded video, ``video_processor.postprocess_video``'s ``x * 0.5 + 0.5`` and its
          clamp (3 x output) before ``.cpu()``.
        With ``vae_tiling`` the sizes are the tile's (30 x 45 latent) and all decoded tiles are held for blending.
        """
        B, t, b = z.batch, z.t, z.b
        h, w = z.h, z.w
        if z.tiling:
            th, tw = sp.Min(h, self.tile_latent[0]), sp.Min(w, self.tile_latent[1])
            tiles_area = tiles_extent(h, *[self.tile_latent[0], self.tile_stride[0]]) * tiles_extent(
                w, self.tile_latent[1], self.tile_stride[1])
        else:
            th, tw, tiles_area = h, w, sp.Integer(0)
        px = B * th * tw * b                         # bytes per element unit (one latent pixel of the tile)
        out_px = B * 64 * b * 3                      # one decoded RGB frame per latent pixel
        r = t - 2 * sp.floor(t / 2)
        total_frames = self.output_frames(t)
        held_tiles = out_px * total_frames * tiles_area
        one = sp.Integer(1)

        def batch_moment(f_prev: int | None, f: int, prior_frames: sp.Expr) -> sp.Expr:
            full, partial = self._cache_units(f)
            old = self._cache_units(f_prev)[0] if f_prev else 0
            return px * (old + partial + self._work_units(f)) + out_px * th * tw * prior_frames + held_tiles

        def by_parity(fn) -> sp.Expr:
            return (one - r) * fn(2) + r * fn(3)

        first = sp.Piecewise((batch_moment(None, 1, 0), t <= 1), (by_parity(lambda f: batch_moment(None, f, 0)), True))
        second = by_parity(lambda f: batch_moment(f, 2, self.frames_per_level(f)[-1]))
        last = batch_moment(2, 2, total_frames - 8)
        moments = {
            "first_batch": first,
            "second_batch": sp.Min(1, sp.floor(t / 4)) * second,
            "last_batch": sp.Min(1, floor_div(t, 6)) * last,
            "postprocess": 3 * out_px * h * w * total_frames + held_tiles,
        }
        return moments


# --------------------------------------------------------------------------------------------------------------------
@register("AutoencoderKLWan")
@dataclass(frozen=True)
class WanVAE(VideoVAE, ComponentBase):
    group_offload_block_modules = ("quant_conv", "post_quant_conv", "encoder", "decoder")
    config: dict

    moment_notes = {k: MOMENT_NOTES[k] for k in ("frame_head", "frame_conv", "first_frame", "postprocess")}

    @property
    def latent_channels(self) -> int:
        return self.z_dim

    tile_latent = (32, 32)   # tile_sample_min_height/width 256 / 8
    tile_stride = (24, 24)   # tile_sample_stride 192 / 8
    cache_frames = 2         # CACHE_T

    @property
    def base(self) -> int:
        return int(self.config["base_dim"])

    @property
    def mult(self) -> list[int]:
        return list(self.config["dim_mult"])

    @property
    def res_blocks(self) -> int:
        return int(self.config["num_res_blocks"])

    @property
    def z_dim(self) -> int:
        return int(self.config["z_dim"])

    @staticmethod
    def _rms(name: str, c: int, images: bool = False) -> Tensor:
        return Tensor(f"{name}.gamma", (c, 1, 1) if images else (c, 1, 1, 1))

    def _resnet(self, name: str, c_in: int, c_out: int) -> list[Tensor]:
        out = [self._rms(f"{name}.norm1", c_in)] + _c3(f"{name}.conv1", c_in, c_out)
        out += [self._rms(f"{name}.norm2", c_out)] + _c3(f"{name}.conv2", c_out, c_out)
        return out + (_c3(f"{name}.conv_shortcut", c_in, c_out, 1) if c_in != c_out else [])

    def _attention(self, name: str, c: int) -> list[Tensor]:
        return ([self._rms(f"{name}.norm", c, images=True)] + conv2d(f"{name}.to_qkv", c, 3 * c, 1)
                + conv2d(f"{name}.proj", c, c, 1))

    def _mid(self, name: str, c: int) -> list[Tensor]:
        return self._resnet(f"{name}.resnets.0", c, c) + self._attention(f"{name}.attentions.0", c) + self._resnet(
            f"{name}.resnets.1", c, c)

    @cached_property
    def tensors(self) -> list[Tensor]:
        if self.config.get("is_residual") or self.config.get("attn_scales") or self.config.get("patch_size"):
            raise ValueError("WanVAE: only the Wan 2.1 VAE (no residual blocks, attention scales or patching)")
        base, mult, z = self.base, self.mult, self.z_dim
        dims = [base * u for u in [1] + mult]
        out = _c3("encoder.conv_in", int(self.config.get("in_channels", 3)), dims[0])
        k = 0
        down = list(self.config["temperal_downsample"])
        for i, (c_in, c_out) in enumerate(zip(dims[:-1], dims[1:])):
            for _ in range(self.res_blocks):
                out += self._resnet(f"encoder.down_blocks.{k}", c_in, c_out)
                c_in, k = c_out, k + 1
            if i != len(mult) - 1:
                out += conv2d(f"encoder.down_blocks.{k}.resample.1", c_out, c_out, 3)
                if down[i]:
                    out += _c3(f"encoder.down_blocks.{k}.time_conv", c_out, c_out, (3, 1, 1))
                k += 1
        out += self._mid("encoder.mid_block", dims[-1])
        out += [self._rms("encoder.norm_out", dims[-1])] + _c3("encoder.conv_out", dims[-1], 2 * z)
        out += _c3("quant_conv", 2 * z, 2 * z, 1) + _c3("post_quant_conv", z, z, 1)
        dec = self.decoder_dims
        out += _c3("decoder.conv_in", z, dec[0]) + self._mid("decoder.mid_block", dec[0])
        for i, (c_in, c_out, mode) in enumerate(self.up_blocks):
            cur = c_in
            for j in range(self.res_blocks + 1):
                out += self._resnet(f"decoder.up_blocks.{i}.resnets.{j}", cur, c_out)
                cur = c_out
            if mode:
                out += conv2d(f"decoder.up_blocks.{i}.upsamplers.0.resample.1", c_out, c_out // 2, 3)
                if mode == "upsample3d":
                    out += _c3(f"decoder.up_blocks.{i}.upsamplers.0.time_conv", c_out, 2 * c_out, (3, 1, 1))
        out += [self._rms("decoder.norm_out", dec[-1])]
        return out + _c3("decoder.conv_out", dec[-1], int(self.config.get("out_channels", 3)))

    @property
    def decoder_dims(self) -> list[int]:
        return [self.base * u for u in [self.mult[-1]] + self.mult[::-1]]

    @property
    def up_blocks(self) -> list[tuple[int, int, str | None]]:
        """(in, out, upsample mode) of ``WanDecoder3d.up_blocks``: in Wan 2.1 an up block after the first takes half
        the channels (the previous upsampler's Conv2d halves them)."""
        dec, up = self.decoder_dims, list(self.config["temperal_downsample"])[::-1]
        blocks = []
        for i, (c_in, c_out) in enumerate(zip(dec[:-1], dec[1:])):
            if i > 0:
                c_in //= 2
            mode = None
            if i != len(self.mult) - 1:
                mode = "upsample3d" if up[i] else "upsample2d"
            blocks.append((c_in, c_out, mode))
        return blocks

    def frames_per_level(self, first: bool) -> list[int]:
        """Frames at each decoder level for one latent frame: ``WanResample`` 'upsample3d' doubles them with its
        ``time_conv`` except on the first chunk (``feat_cache`` still empty: 'Rep')."""
        frames = [1]
        for _, _, mode in self.up_blocks:
            frames.append(frames[-1] * (2 if mode == "upsample3d" and not first else 1))
        return frames

    def _cache_units(self, cache_t: int) -> int:
        """All feature caches (``CACHE_T`` frames of each causal 3x3x3 conv's input, the upsample3d ``time_conv``
        input too; ``feat_cache[idx]`` is replaced in place, so one set is live) per latent pixel."""
        dec = self.decoder_dims
        units = self.z_dim * cache_t + 2 * 2 * dec[0] * cache_t          # conv_in, mid block's 2 resnets
        for i, (c_in, c_out, mode) in enumerate(self.up_blocks):
            convs = (c_in + c_out) + 2 * c_out * self.res_blocks
            if mode == "upsample3d":
                convs += c_out
            units += 4 ** i * convs * cache_t
        return units + 4 ** len(self.up_blocks[:-1]) * dec[-1] * cache_t  # conv_out

    def decode_moments(self, z: DecodeShape) -> dict[str, sp.Expr]:
        """Candidate peaks of ``AutoencoderKLWan._decode`` (one latent frame per ``decoder`` call) and the pipeline's
        post-processing:

        * ``frame_head`` / ``frame_conv``: decoding a later latent frame (4 output frames at the top). Both hold
          the full cache set (2 frames, ``feat_cache[idx]`` replaced in place so one set is live), every frame
          decoded so far (``out``) and the previous chunk's ``out_``. ``frame_head`` is at the decoder head
          (``norm_out``): three tensors of the top width in the VAE dtype (the last resnet's conv output, the
          residual sum and the normed result) and ``WanRMS_norm``'s ``F.normalize`` in float32 (the upcast input
          when the VAE runs in 16 bits, and the result) with its per-pixel norm. ``frame_conv`` is inside the last
          resnet's conv2 (``WanCausalConv3d.forward``): the resnet input, the activated ``h``, its concatenation
          with the 2 cached frames, the spatially zero-padded copy ((8h + 2) x (8w + 2)), the conv output and the
          new cache clone next to the old one. The first dominates in bf16, the second in fp32.
        * ``first_frame`` (only when there is one latent frame): 1-frame caches, a causal conv's padded input.
        * ``postprocess``: the clamped output and its source, then ``postprocess_video``'s two temporaries.
        With ``vae_tiling``: 32 x 32 latent tiles (stride 24), all decoded tiles held until blended.
        """
        B, t, b = z.batch, z.t, z.b
        h, w = z.h, z.w
        if z.tiling:
            th, tw = sp.Min(h, self.tile_latent[0]), sp.Min(w, self.tile_latent[1])
            tiles_area = tiles_extent(h, self.tile_latent[0], self.tile_stride[0]) * tiles_extent(
                w, self.tile_latent[1], self.tile_stride[1])
        else:
            th, tw, tiles_area = h, w, sp.Integer(0)
        top = 4 ** (len(self.up_blocks) - 1)
        c_top = self.decoder_dims[-1]
        frames = 1 + 4 * (t - 1)
        out_px = B * top * b * 3
        held_tiles = out_px * frames * tiles_area
        F = self.frames_per_level(first=False)[-1]
        upcast = 2 if z.b_value < FP32 else 1
        caches = B * th * tw * self._cache_units(self.cache_frames) * b
        prior = out_px * th * tw * frames                   # ``out`` so far and the previous chunk's ``out_``
        head = B * th * tw * top * F * (3 * c_top * b + upcast * c_top * FP32 + FP32)
        conv = B * (th * tw * top * (c_top * b * (4 * F + 2) + c_top * b * self.cache_frames)
                    + c_top * b * (F + 2) * (8 * th + 2) * (8 * tw + 2))
        first = B * (th * tw * (self._cache_units(1) * b + top * 4 * c_top * b)
                     + 3 * c_top * b * (8 * th + 2) * (8 * tw + 2))
        later = sp.Min(1, t - 1)
        return {
            "frame_head": later * (caches + prior + head) + held_tiles,
            "frame_conv": later * (caches + prior + conv) + held_tiles,
            "first_frame": sp.Piecewise((first + held_tiles, t <= 1), (0, True)),
            "postprocess": 3 * out_px * h * w * frames + held_tiles,
        }


# --------------------------------------------------------------------------------------------------------------------
@register("AutoencoderKLHunyuanVideo")
@dataclass(frozen=True)
class HunyuanVideoVAE(VideoVAE, BlockConfig, ComponentBase):
    config: dict

    moment_notes = {k: MOMENT_NOTES[k] for k in ("upsample", "mid_attention", "postprocess")}

    @property
    def latent_channels(self) -> int:
        return self.latent

    tile_latent = (32, 32)      # tile_sample_min_height/width 256 / 8
    tile_stride = (24, 24)      # tile_sample_stride 192 / 8
    tile_frames = 4             # tile_sample_min_num_frames 16 / 4: temporal tiles of 4 + 1 latent frames
    tile_frame_stride = 3       # tile_sample_stride_num_frames 12 / 4

    @property
    def layers(self) -> int:
        return self.layers_per_block

    @property
    def latent(self) -> int:
        return int(self.config["latent_channels"])

    def _resnet(self, name: str, c_in: int, c_out: int) -> list[Tensor]:
        out = norm(f"{name}.norm1", c_in) + _c3(f"{name}.conv1.conv", c_in, c_out)
        out += norm(f"{name}.norm2", c_out) + _c3(f"{name}.conv2.conv", c_out, c_out)
        return out + (_c3(f"{name}.conv_shortcut.conv", c_in, c_out, 1) if c_in != c_out else [])

    def _mid(self, name: str, c: int) -> list[Tensor]:
        attn = norm(f"{name}.attentions.0.group_norm", c)
        for proj in ("to_q", "to_k", "to_v", "to_out.0"):
            attn += linear(f"{name}.attentions.0.{proj}", c, c)
        return self._resnet(f"{name}.resnets.0", c, c) + attn + self._resnet(f"{name}.resnets.1", c, c)

    @property
    def spatial_levels(self) -> int:
        return int(self.config["spatial_compression_ratio"]).bit_length() - 1

    @property
    def temporal_levels(self) -> int:
        return int(self.config["temporal_compression_ratio"]).bit_length() - 1

    @cached_property
    def tensors(self) -> list[Tensor]:
        ch, lat, n = self.channels, self.latent, len(self.channels)
        out = _c3("encoder.conv_in.conv", int(self.config["in_channels"]), ch[0])
        c_prev = ch[0]
        for i, c in enumerate(ch):
            for j in range(self.layers):
                out += self._resnet(f"encoder.down_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c)
            spatial = i < self.spatial_levels
            temporal = i >= n - 1 - self.temporal_levels and i != n - 1
            if spatial or temporal:
                out += _c3(f"encoder.down_blocks.{i}.downsamplers.0.conv.conv", c, c)
            c_prev = c
        out += self._mid("encoder.mid_block", ch[-1])
        out += norm("encoder.conv_norm_out", ch[-1]) + _c3("encoder.conv_out.conv", ch[-1], 2 * lat)
        rev = ch[::-1]
        out += _c3("decoder.conv_in.conv", lat, rev[0]) + self._mid("decoder.mid_block", rev[0])
        c_prev = rev[0]
        for i, c in enumerate(rev):
            for j in range(self.layers + 1):
                out += self._resnet(f"decoder.up_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c)
            if self._upsamples(i)[0] or self._upsamples(i)[1]:
                out += _c3(f"decoder.up_blocks.{i}.upsamplers.0.conv.conv", c, c)
            c_prev = c
        out += norm("decoder.conv_norm_out", rev[-1])
        out += _c3("decoder.conv_out.conv", rev[-1], int(self.config["out_channels"]))
        return out + _c3("quant_conv", 2 * lat, 2 * lat, 1) + _c3("post_quant_conv", lat, lat, 1)

    def _upsamples(self, i: int) -> tuple[bool, bool]:
        """(spatial, temporal) upsampling of decoder up block i (``HunyuanVideoDecoder3D.__init__``)."""
        n = len(self.channels)
        return i < self.spatial_levels, i >= n - 1 - self.temporal_levels and i != n - 1

    def frames_per_level(self, f: sp.Expr) -> list[sp.Expr]:
        """Frames entering each up block for a tile of f latent frames: a temporal upsample keeps the first frame
        and doubles the rest (``HunyuanVideoUpsampleCausal3D``): F -> 2F - 1."""
        frames = [sp.sympify(f)]
        for i in range(len(self.channels) - 1):
            frames.append(2 * frames[-1] - 1 if self._upsamples(i)[1] else frames[-1])
        return frames

    def decode_moments(self, z: DecodeShape) -> dict[str, sp.Expr]:
        """Candidate peaks of ``AutoencoderKLHunyuanVideo._decode`` (temporal tiles of 5 latent frames when there
        are more than 4) and the pipeline's post-processing:

        * ``upsample``: the last spatial upsampler (``HunyuanVideoUpsampleCausal3D`` of the last upsampling block,
          width ``c`` = its channels): the block's input (held by the decoder loop) and its last resnet output at
          the level below, the interpolated rest frames and first frame, their concatenation, its replicate-padded
          copy (F + 2 frames, (8h + 2) x (8w + 2) pixels: ``HunyuanVideoCausalConv3d``) and the conv output; plus
          every earlier tile's decoded output (kept whole: ``decoded[:, :, 1:]`` is a view).
        * ``mid_attention``: ``prepare_causal_attention_mask`` over the tile's N = f x h x w tokens: the bool
          ``x <= y``, then the float32 ``torch.where`` result and its cast (N^2 x (4 + b)); under the math backend
          instead the mask, its ``repeat_interleave`` copy and ``kernels.math_sdpa`` (float32 scores, softmax, mask).
        * ``postprocess``: all tiles plus the concatenated output, or 3 x output in ``postprocess_video``.
        With ``vae_tiling`` each temporal tile is further cut into 32 x 32 latent spatial tiles (stride 24).
        """
        B, t, b = z.batch, z.t, z.b
        h, w = z.h, z.w
        if z.tiling:
            th, tw = sp.Min(h, self.tile_latent[0]), sp.Min(w, self.tile_latent[1])
            area_factor = tiles_extent(h, self.tile_latent[0], self.tile_stride[0]) * tiles_extent(
                w, self.tile_latent[1], self.tile_stride[1])
        else:
            th, tw, area_factor = h, w, h * w
        framewise = sp.Piecewise((1, t > self.tile_frames), (0, True))
        f = framewise * (self.tile_frames + 1) + (1 - framewise) * t
        frames = self.frames_per_level(f)
        rev = self.channels[::-1]
        last_up = max(i for i in range(len(rev)) if any(self._upsamples(i)))
        c, c_in = rev[last_up], rev[last_up - 1] if last_up > 0 else rev[0]
        F_low, F_top = frames[last_up], frames[last_up + 1]
        area_low = 4 ** last_up
        area_top = 4 ** (last_up + 1)
        px = th * tw
        tile_out = 3 * (1 + 4 * (f - 1))                     # decoded frames x RGB of one temporal tile
        prior_tiles = framewise * floor_div(t - self.tile_frames - 1, self.tile_frame_stride)
        prior = B * b * 64 * area_factor * tile_out * prior_tiles
        if z.tiling:                                         # the spatial tiles of the current temporal tile
            prior += B * b * 64 * area_factor * tile_out
        up = B * b * (area_low * px * F_low * (c_in + c) + area_top * px * (3 * F_top) * c
                      + c * (F_top + 2) * (8 * th + 2) * (8 * tw + 2))
        n_mid = f * px
        if z.backend == "math":
            mid = B * 2 * n_mid ** 2 * b + math_sdpa(B * n_mid ** 2, B * n_mid * rev[0], b)
        else:
            mid = B * n_mid ** 2 * (FP32 + b)
        mid += B * b * px * f * rev[0] * 3
        frames_out = 1 + 4 * (t - 1)
        n_tiles = framewise * ceil_div(t, self.tile_frame_stride) + (1 - framewise)
        return {
            "upsample": up + prior,
            "mid_attention": mid + prior,
            "postprocess": maximum(B * b * 64 * area_factor * (n_tiles * tile_out + 3 * frames_out),
                                  3 * B * b * 64 * h * w * 3 * frames_out),
        }
