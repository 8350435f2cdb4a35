"""diffusers' ``AutoencoderKLQwenImage`` (models/autoencoders/autoencoder_kl_qwenimage.py), Qwen-Image's VAE.

It is the Wan 2.1 causal 3D VAE fine-tuned (the file says so): module for module the non-residual
``AutoencoderKLWan`` (same ``CausalConv3d`` / ``RMS_norm`` / ``Resample`` / ``ResidualBlock`` / ``AttentionBlock`` /
``MidBlock`` / ``UpBlock`` classes, the same ``CACHE_T = 2`` feature cache, the same one-latent-frame-at-a-time
``_decode`` with the final ``torch.clamp``). The only differences are the config key of the image channels
(``input_channels`` instead of ``in_channels`` / ``out_channels``), no ``is_residual`` / ``patch_size`` /
``decoder_base_dim`` options, ``spatial_compression_ratio = 2 ** len(temperal_downsample)`` and no clamp in
``tiled_decode``. So the parameter list and the decode moments are ``symbolic.components.video_vae.WanVAE``'s, reused by
composition on a translated config; for an image the pipeline decodes one latent frame (t = 1: WanVAE's
``first_frame`` moment). Only the encoder moment (``vae.encode`` of one frame, img2img / edit pipelines) and the
``enable_slicing()`` bookkeeping are added here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import sympy as sp

from symbolic.components.base import ComponentBase
from symbolic.components.layers.tensors import Tensor
from symbolic.components.video_vae import WanVAE
from symbolic.components.shapes import DecodeShape
from symbolic.components import register

#: ``AutoencoderKLQwenImage.__init__`` defaults (used where a config leaves a key out).
DEFAULT_TEMPORAL_DOWNSAMPLE = (False, True, True)
DEFAULT_INPUT_CHANNELS = 3
DEFAULT_Z_DIM = 16
DEFAULT_NUM_RES_BLOCKS = 2
DEFAULT_DIM_MULT = (1, 2, 4, 4)
DEFAULT_BASE_DIM = 96
#: ``QwenImageCausalConv3d`` pads 2 x padding[0] = 2 frames in front of a 3x3x3 conv's input (``self._padding``): a
#: one-frame input (no cache yet) is padded to 3 frames, and by one pixel on each spatial side.
PADDED_FRAMES = 3
PAD_PIXELS = 2


@register("AutoencoderKLQwenImage")
@dataclass(frozen=True)
class QwenImageVAE(ComponentBase):
    config: dict

    kind = "vae"
    #: ``decode_moments`` / ``encode_moments`` follow ``shape.slicing`` (``enable_slicing()``).
    models_slicing = True
    #: The pipeline's ``vae_scale_factor``'s temporal counterpart: 1 + 4 (t - 1) frames for t latent frames.
    temporal_compression = 4

    @property
    def input_channels(self) -> int:
        return int(self.config.get("input_channels", DEFAULT_INPUT_CHANNELS))

    @cached_property
    def wan(self) -> WanVAE:
        """The same network as ``WanVAE`` sees it (its keys: ``in_channels`` / ``out_channels``, and the Wan 2.1
        defaults filled in from this class's)."""
        c = self.config
        return WanVAE({
            **c,
            "base_dim": c.get("base_dim", DEFAULT_BASE_DIM),
            "z_dim": c.get("z_dim", DEFAULT_Z_DIM),
            "dim_mult": list(c.get("dim_mult", DEFAULT_DIM_MULT)),
            "num_res_blocks": c.get("num_res_blocks", DEFAULT_NUM_RES_BLOCKS),
            "temperal_downsample": list(c.get("temperal_downsample", DEFAULT_TEMPORAL_DOWNSAMPLE)),
            "in_channels": self.input_channels,
            "out_channels": self.input_channels,
        })

    @property
    def spatial_compression(self) -> int:
        """``self.spatial_compression_ratio = 2 ** len(self.temperal_downsample)`` (also the pipeline's
        ``vae_scale_factor``)."""
        return 2 ** len(self.wan.config["temperal_downsample"])

    @property
    def latent_channels(self) -> int:
        return self.wan.z_dim

    @property
    def tensors(self) -> list[Tensor]:
        return self.wan.tensors

    moment_notes = {
        "frame_head": "vae3d.WanVAE.decode_moments (AutoencoderKLQwenImage._decode = AutoencoderKLWan._decode): "
                      "a later latent frame at the decoder head; 0 for an image (t = 1).",
        "frame_conv": "vae3d.WanVAE.decode_moments: a later latent frame inside the last resnet's conv2; 0 for t = 1.",
        "first_frame": "vae3d.WanVAE.decode_moments: the first (for an image, only) latent frame: 1-frame feature "
                       "caches (QwenImageCausalConv3d inputs cloned as feat_cache) of every level, four top-width "
                       "tensors and the causal conv's padded 3-frame input at full resolution "
                       "(autoencoder_kl_qwenimage.py QwenImageResidualBlock.forward, QwenImageCausalConv3d.forward).",
        "postprocess": "vae3d.WanVAE.decode_moments: the decoded image and two temporaries; for QwenImagePipeline "
                       "VaeImageProcessor.postprocess -> denormalize ((x * 0.5 + 0.5).clamp(0, 1)) on "
                       "vae.decode(...)[0][:, :, 0]: 3 image-sized tensors.",
        "sliced_concat": "AutoencoderKLQwenImage.decode with use_slicing and batch > 1: every per-sample decode result "
                         "is kept in decoded_slices and torch.cat copies them: 2 x the decoded batch.",
        "encode_full_resolution": (
            "AutoencoderKLQwenImage._encode (one frame: encoder(x[:, :, :1])) at the last full-resolution "
            "QwenImageResidualBlock's conv2 (QwenImageEncoder3d.forward): the 1-frame feature caches of conv_in "
            "(input channels) and of the 2 x num_res_blocks full-resolution convs (base_dim each), the block input "
            "held by the encoder loop, the activated h, the conv output, and the causal conv's zero-padded input "
            "(3 frames x (H + 2) x (W + 2) x base_dim)."),
    }

    # -- decode ------------------------------------------------------------------------------------------------------
    def _image_bytes(self, batch: sp.Expr, z: DecodeShape) -> sp.Expr:
        frames = 1 + self.temporal_compression * (z.t - 1)
        s = self.spatial_compression
        return batch * self.input_channels * frames * (s * z.h) * (s * z.w) * z.b

    def decode_moments(self, z: DecodeShape) -> dict[str, sp.Expr]:
        """``WanVAE.decode_moments`` (same network, same ``_decode``). With ``slicing`` (``vae.enable_slicing()``)
        each sample is decoded alone (batch 1) while the samples decoded before it are held, then concatenated."""
        if not z.slicing:
            return self.wan.decode_moments(z)
        one = self.wan.decode_moments(replace(z, batch=sp.Integer(1), slicing=False))
        held = self._image_bytes(z.batch - 1, z)
        out = {k: v + held for k, v in one.items() if k != "postprocess"}
        out["sliced_concat"] = 2 * self._image_bytes(z.batch, z)
        out["postprocess"] = self.wan.decode_moments(replace(z, slicing=False))["postprocess"]
        return out

    # -- encode ------------------------------------------------------------------------------------------------------
    def encode_moments(self, x: DecodeShape) -> dict[str, sp.Expr]:
        """``vae.encode`` of ``x.batch`` images of ``x.h * s`` x ``x.w * s`` pixels (``DecodeShape`` in latent units,
        s = spatial_compression; one frame: t = 1). See ``moment_notes['encode_full_resolution']``."""
        mult = list(self.wan.mult)
        if mult[0] != 1:
            raise ValueError("QwenImageVAE.encode_moments: dim_mult[0] != 1 (a shortcut conv at full resolution) "
                             "is not modelled")
        if x.tiling:
            raise NotImplementedError("QwenImageVAE.encode_moments: tiled_encode is not modelled")
        if sp.sympify(x.t) != 1:
            raise NotImplementedError("QwenImageVAE.encode_moments: only one frame (an image) is modelled")
        s = self.spatial_compression
        H, W = s * x.h, s * x.w
        B = sp.Integer(1) if x.slicing else x.batch
        c0 = self.wan.base * mult[0]
        caches = self.input_channels + 2 * self.wan.res_blocks * c0
        working = 3 * c0                                   # block input, activated h, conv output
        return {"encode_full_resolution":
                B * x.b * (H * W * (caches + working) + PADDED_FRAMES * c0 * (H + PAD_PIXELS) * (W + PAD_PIXELS))}
