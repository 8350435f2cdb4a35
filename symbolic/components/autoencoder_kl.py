"""diffusers ``AutoencoderKL`` (models/autoencoders/autoencoder_kl.py, vae.py) for any config: SD 1.5 / 2.1 and SDXL
(4 latent channels, ``quant_conv`` and ``post_quant_conv``), SD 3.5 and FLUX.1 (16 latent channels,
``shift_factor``, ``use_quant_conv`` / ``use_post_quant_conv`` false).

Exact tensors, and the live bytes of ``vae.decode`` / ``vae.encode`` as named terms at named moments, generalised
from the first, hand-built SD 1.5 model (validated against H100 measurements, ``data/measurements/sd15_h100.csv``,
and equal to it value for value before it was replaced by this class), except the pipeline's own tensors (the latents and their scaled copy around ``vae.decode``, the init image around
``vae.encode``), which are the pipeline's business: :meth:`AutoencoderKL.decode_input` / :meth:`encode_input` give
the bytes of one such tensor.

Decode (``AutoencoderKL.decode`` -> ``_decode`` -> ``Decoder.forward``), two candidate peaks:

* ``upsampler_conv``: the last upsampler (up block ``n - 2`` of ``n``: the last with an ``Upsample2D``) while its
  3x3 conv runs: the decoder frame's ``sample`` (that block's input), the block's last resnet output (the
  upsampler's input), the nearest-neighbour ``interpolate`` output and the conv output, beside cuDNN's workspace
  (measured at the SD 1.5 peak: ``data/measurements/sd15_h100_peak_composition.json``).
* ``mid_attention``: the mid block's single-head attention at the latent size (six latent-size maps of the last
  block's width, plus the N x N scores where the kernel stores them); absent when ``mid_block_add_attention`` is
  false.

Encode (``AutoencoderKL.encode`` -> ``_encode`` -> ``Encoder.forward``), two candidate peaks:

* ``down_resnet_conv``: the second resnet of the first down block, conv2 at full resolution: the encoder frame's
  ``conv_in`` output, the first resnet's output (the second's residual), the SiLU output and the conv2 output,
  beside cuDNN's workspace.
* ``mid_attention``: as for the decoder, at the latent size.

Shapes. ``decode_moments`` takes ``symbolic.components.video_vae.DecodeShape`` (``t`` must be 1: images); ``h``, ``w`` are the
latent height and width. ``encode_moments`` takes :class:`EncodeShape`, whose ``height`` / ``width`` are the pixel
sizes of the image ``vae.encode`` receives (pipelines round them down to multiples of ``spatial_compression``:
``VaeImageProcessor``), so the tiling test (``width > tile_sample_min_size``) reads as in diffusers.
``backend``: ``flash`` (fused SDPA: flash / memory-efficient, no N x N stored; ``efficient`` is accepted as its
synonym), ``math`` (torch's math SDPA) or ``classic`` (diffusers' ``AttnProcessor``).
``tiling`` / ``slicing``: ``vae.enable_tiling()`` / ``vae.enable_slicing()`` with the class's defaults: tiles of
``tile_sample_min_size`` = config ``sample_size`` pixels, ``tile_latent_min_size`` = int(sample_size / 2 ** (n -
1)) latent pixels, ``tile_overlap_factor`` 0.25 (``AutoencoderKL.__init__``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from symbolic.components.shapes import EncodeShape
from symbolic.components.base import ComponentBase
from symbolic.components.layers.resnet import resnet_block
from symbolic.components.layers.tensors import Tensor, conv2d, linear, norm
from symbolic.components.shapes import DecodeShape
from symbolic.core.algebra import ceil_div
from symbolic.components import register
from symbolic.runtime.kernels import classic_scores, cudnn_conv_workspace, math_sdpa
from symbolic.core.terms import Category

# --- the class's defaults (diffusers AutoencoderKL.__init__ signature) ----------------------------------------------
DEFAULT_IN_CHANNELS = 3
DEFAULT_OUT_CHANNELS = 3
DEFAULT_DOWN_BLOCK_TYPES = ("DownEncoderBlock2D",)
DEFAULT_UP_BLOCK_TYPES = ("UpDecoderBlock2D",)
DEFAULT_BLOCK_OUT_CHANNELS = (64,)
DEFAULT_LAYERS_PER_BLOCK = 1
DEFAULT_LATENT_CHANNELS = 4
DEFAULT_NORM_NUM_GROUPS = 32
DEFAULT_SAMPLE_SIZE = 32
DEFAULT_SCALING_FACTOR = 0.18215
DEFAULT_SHIFT_FACTOR = None
DEFAULT_FORCE_UPCAST = True
DEFAULT_USE_QUANT_CONV = True
DEFAULT_USE_POST_QUANT_CONV = True
DEFAULT_MID_BLOCK_ADD_ATTENTION = True
#: ``AutoencoderKL.__init__``: ``self.tile_overlap_factor = 0.25`` (tiles start every (1 - 0.25) x tile).
TILE_OVERLAP_FACTOR = sp.Rational(1, 4)

#: The block types this model reads (vae.py ``Encoder`` / ``Decoder`` via ``get_down_block`` / ``get_up_block``).
DOWN_BLOCK = "DownEncoderBlock2D"
UP_BLOCK = "UpDecoderBlock2D"
#: Each upsampler (``Upsample2D``, ``F.interpolate(scale_factor=2.0)``) quadruples the pixels.
UPSAMPLE_AREA = 4
#: 3x3 convolutions throughout the encoder and decoder (``ResnetBlock2D``, ``Upsample2D``).
CONV_TAPS = 3 * 3
#: Latent-size maps of the mid block's width live at its attention: the mid block's input (held by the caller's
#: frame), the first resnet's output (the attention's residual), the group-norm output, q, k and v
#: (``UNetMidBlock2D.forward``, ``AttnProcessor2_0``).
MID_ATTENTION_MAPS = 6
#: Full-resolution maps of the first block's width at the encoder peak (conv2 of the second resnet of down block 0):
#: ``conv_in``'s output (held by ``Encoder.forward``), the first resnet's output (the residual), the SiLU output and
#: the conv2 output. With one resnet per block the resnet's input *is* ``conv_in``'s output: one map fewer.
ENCODER_FULL_RES_MAPS = 4
#: ``Encoder`` builds ``conv_out`` with ``double_z=True``: mean and log-variance, 2 x latent channels.
DOUBLE_Z = 2

BACKENDS = ("flash", "efficient", "math", "classic")

DECODE_SOURCE = "diffusers models/autoencoders/vae.py Decoder.forward; unet_2d_blocks.py UpDecoderBlock2D; upsampling.py"
ENCODE_SOURCE = "diffusers models/autoencoders/vae.py Encoder.forward; models/resnet.py ResnetBlock2D"
KL_SOURCE = "diffusers models/autoencoders/autoencoder_kl.py AutoencoderKL"


@dataclass(frozen=True)
class VaeTerm:
    """One named term of a decode / encode: its bytes, its category and the moments at which it is live."""

    name: str
    category: Category
    moments: tuple[str, ...]
    expr: sp.Expr
    note: str
    source: str


def _with_moments(terms: list[VaeTerm]) -> dict[str, sp.Expr]:
    names = list(dict.fromkeys(m for t in terms for m in t.moments))
    return {m: sp.Add(*(t.expr for t in terms if m in t.moments)) for m in names}


@register("AutoencoderKL")
@dataclass(frozen=True)
class AutoencoderKL(ComponentBase):
    group_offload_block_modules = ("quant_conv", "post_quant_conv", "encoder", "decoder")
    config: dict

    kind = "vae"
    #: ``decode_moments`` / ``encode_moments`` follow ``shape.slicing`` (``enable_slicing()``).
    models_slicing = True
    temporal_compression = 1

    moment_notes = {
        "upsampler_conv": (
            "vae.decode: the last upsampler's 3x3 conv at the output size (up block n - 2, Upsample2D in "
            "diffusers upsampling.py): Decoder.forward's ``sample`` (the block's input) and the block's last resnet "
            "output at half the output size, the F.interpolate output and the conv output at the output size, and "
            "cuDNN's workspace (symbolic/runtime/kernels.py cudnn_conv_workspace); plus the decoded slices / tiles held."),
        "mid_attention": (
            "vae.decode / vae.encode: the mid block's single-head attention (diffusers unet_2d_blocks.py "
            "UNetMidBlock2D, attention_processor.py AttnProcessor2_0 / AttnProcessor) at the latent size: six maps "
            "of the last block's width and, with the math or classic kernel, the N x N scores "
            "(symbolic/runtime/kernels.py math_sdpa / classic_scores); plus the decoded slices / tiles held."),
        "down_resnet_conv": (
            "vae.encode: conv2 of the second resnet of down block 0 at full resolution (diffusers vae.py "
            "Encoder.forward, resnet.py ResnetBlock2D.forward): conv_in's output, the first resnet's output, the "
            "SiLU output and the conv2 output, and cuDNN's workspace (symbolic/runtime/kernels.py cudnn_conv_workspace)."),
    }

    def __post_init__(self) -> None:
        n = len(self.channels)
        if n < 2:
            raise ValueError("AutoencoderKL: block_out_channels needs at least 2 blocks (the decode peak is modelled "
                             "at the last upsampler)")
        down = list(self.config.get("down_block_types", DEFAULT_DOWN_BLOCK_TYPES))
        up = list(self.config.get("up_block_types", DEFAULT_UP_BLOCK_TYPES))
        if down != [DOWN_BLOCK] * n or up != [UP_BLOCK] * n:
            raise ValueError(f"AutoencoderKL: only {n} x {DOWN_BLOCK} / {UP_BLOCK} blocks are modelled, got "
                             f"{down} / {up}")

    # -- config (missing keys take AutoencoderKL.__init__'s defaults) ------------------------------------------------
    @property
    def channels(self) -> list[int]:
        return [int(c) for c in self.config.get("block_out_channels", DEFAULT_BLOCK_OUT_CHANNELS)]

    @property
    def layers_per_block(self) -> int:
        return int(self.config.get("layers_per_block", DEFAULT_LAYERS_PER_BLOCK))

    @property
    def in_channels(self) -> int:
        return int(self.config.get("in_channels", DEFAULT_IN_CHANNELS))

    @property
    def out_channels(self) -> int:
        return int(self.config.get("out_channels", DEFAULT_OUT_CHANNELS))

    @property
    def latent_channels(self) -> int:
        return int(self.config.get("latent_channels", DEFAULT_LATENT_CHANNELS))

    @property
    def norm_num_groups(self) -> int:
        """GroupNorm groups (no effect on the tensors: affine weight and bias per channel)."""
        return int(self.config.get("norm_num_groups", DEFAULT_NORM_NUM_GROUPS))

    @property
    def use_quant_conv(self) -> bool:
        return bool(self.config.get("use_quant_conv", DEFAULT_USE_QUANT_CONV))

    @property
    def use_post_quant_conv(self) -> bool:
        return bool(self.config.get("use_post_quant_conv", DEFAULT_USE_POST_QUANT_CONV))

    @property
    def mid_attention(self) -> bool:
        return bool(self.config.get("mid_block_add_attention", DEFAULT_MID_BLOCK_ADD_ATTENTION))

    @property
    def force_upcast(self) -> bool:
        """``config.force_upcast``: SDXL-style pipelines run the decode in float32 when the VAE is float16."""
        return bool(self.config.get("force_upcast", DEFAULT_FORCE_UPCAST))

    @property
    def scaling_factor(self) -> float:
        return float(self.config.get("scaling_factor", DEFAULT_SCALING_FACTOR))

    @property
    def shift_factor(self) -> float | None:
        value = self.config.get("shift_factor", DEFAULT_SHIFT_FACTOR)
        return None if value is None else float(value)

    @property
    def spatial_compression(self) -> int:
        """Pixels per latent pixel: 2 ** (blocks - 1) (the pipelines' ``vae_scale_factor``)."""
        return 2 ** (len(self.channels) - 1)

    @property
    def tile_sample_min_size(self) -> int:
        """``AutoencoderKL.tile_sample_min_size`` = config ``sample_size`` (the first entry of a list)."""
        size = self.config.get("sample_size", DEFAULT_SAMPLE_SIZE)
        return int(size[0] if isinstance(size, (list, tuple)) else size)

    @property
    def tile_latent_min_size(self) -> int:
        """``int(sample_size / 2 ** (len(block_out_channels) - 1))``."""
        return int(self.tile_sample_min_size / self.spatial_compression)

    @property
    def tile_latent_stride(self) -> int:
        """``tiled_decode``'s ``overlap_size``: ``int(tile_latent_min_size * (1 - tile_overlap_factor))``."""
        return int(self.tile_latent_min_size * (1 - TILE_OVERLAP_FACTOR))

    # -- tensors -----------------------------------------------------------------------------------------------------
    def _mid_block(self, name: str, c: int) -> list[Tensor]:
        """``UNetMidBlock2D``: [single-head ``Attention`` with a GroupNorm and biased q/k/v/out], two resnets.
        Registration order: attentions, then resnets."""
        attn = []
        if self.mid_attention:
            attn = norm(f"{name}.attentions.0.group_norm", c)
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                attn += linear(f"{name}.attentions.0.{proj}", c, c)
        return attn + resnet_block(f"{name}.resnets.0", c, c, None) + resnet_block(f"{name}.resnets.1", c, c, None)

    @cached_property
    def encoder_tensors(self) -> list[Tensor]:
        """``Encoder``: conv_in, down_blocks (resnets, downsampler but on the last), mid_block, conv_norm_out,
        conv_out (2 x latent channels)."""
        ch = self.channels
        out = conv2d("encoder.conv_in", self.in_channels, ch[0], 3)
        c_prev = ch[0]
        for i, c in enumerate(ch):
            for j in range(self.layers_per_block):
                out += resnet_block(f"encoder.down_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c, None)
            if i < len(ch) - 1:
                out += conv2d(f"encoder.down_blocks.{i}.downsamplers.0.conv", c, c, 3)
            c_prev = c
        out += self._mid_block("encoder.mid_block", ch[-1])
        return out + norm("encoder.conv_norm_out", ch[-1]) + conv2d(
            "encoder.conv_out", ch[-1], DOUBLE_Z * self.latent_channels, 3)

    @cached_property
    def decoder_tensors(self) -> list[Tensor]:
        """``Decoder``: conv_in, up_blocks (layers_per_block + 1 resnets, upsampler but on the last), mid_block,
        conv_norm_out, conv_out. ``Decoder.__init__`` assigns its (empty) up_blocks ModuleList before mid_block:
        ``.to()`` visits them first."""
        rev = self.channels[::-1]
        out = conv2d("decoder.conv_in", self.latent_channels, rev[0], 3)
        c_prev = rev[0]
        for i, c in enumerate(rev):
            for j in range(self.layers_per_block + 1):
                out += resnet_block(f"decoder.up_blocks.{i}.resnets.{j}", c_prev if j == 0 else c, c, None)
            if i < len(rev) - 1:
                out += conv2d(f"decoder.up_blocks.{i}.upsamplers.0.conv", c, c, 3)
            c_prev = c
        out += self._mid_block("decoder.mid_block", rev[0])
        return out + norm("decoder.conv_norm_out", rev[-1]) + conv2d(
            "decoder.conv_out", rev[-1], self.out_channels, 3)

    @property
    def quant_conv_tensors(self) -> list[Tensor]:
        z = DOUBLE_Z * self.latent_channels
        return conv2d("quant_conv", z, z, 1) if self.use_quant_conv else []

    @property
    def post_quant_conv_tensors(self) -> list[Tensor]:
        c = self.latent_channels
        return conv2d("post_quant_conv", c, c, 1) if self.use_post_quant_conv else []

    @property
    def tensors(self) -> list[Tensor]:
        """In ``.to()`` order: ``AutoencoderKL.__init__`` registers encoder, decoder, quant_conv, post_quant_conv
        (the last two are None, and absent, when ``use_quant_conv`` / ``use_post_quant_conv`` are false)."""
        return self.encoder_tensors + self.decoder_tensors + self.quant_conv_tensors + self.post_quant_conv_tensors

    # -- shared pieces of the activation terms -----------------------------------------------------------------------
    @staticmethod
    def _check_backend(backend: str) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"AutoencoderKL: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")

    def _mid_maps(self, tokens: sp.Expr, b) -> sp.Expr:
        return MID_ATTENTION_MAPS * self.channels[-1] * tokens * b

    def _mid_scores(self, tokens: sp.Expr, b, backend: str) -> sp.Expr:
        """Score bytes of the single-head mid attention over ``tokens`` positions: classic ``AttnProcessor`` (the
        VAE's ``Attention`` has ``upcast_softmax=True``), math SDPA, none for fused kernels."""
        if backend == "classic":
            return classic_scores(tokens**2, b, upcast_softmax=True)
        if backend == "math":
            return math_sdpa(tokens**2, self.channels[-1] * tokens, b)
        return sp.Integer(0)

    def _last_upsampler(self) -> tuple[int, int, int]:
        """(index, width, width of its input) of the decoder's last upsampling block (up block n - 2); its input is
        the previous block's output (the mid block's for block 0)."""
        rev = self.channels[::-1]
        index = len(rev) - 2
        return index, rev[index], rev[max(index - 1, 0)]

    # -- decode ------------------------------------------------------------------------------------------------------
    def decode_input(self, z: DecodeShape) -> sp.Expr:
        """Bytes of one latent tensor of the decode's input size (``batch x latent_channels x h x w``): the caller's
        latents and the scaled copy it passes to ``vae.decode`` are each this size (pipeline glue, not in
        ``decode_moments``)."""
        return z.batch * self.latent_channels * z.h * z.w * z.b

    def decode_terms(self, z: DecodeShape) -> list[VaeTerm]:
        """The named terms of ``vae.decode`` (the moments are their sums; see the module note). The
        ``post_quant_conv`` output (one latent-sized tensor held by ``_decode`` through the decoder, where the
        config has one) is not counted, as in the SD 1.5 terms: 0.005% of the ``upsampler_conv`` moment."""
        if sp.sympify(z.t) != 1:
            raise ValueError(f"AutoencoderKL decodes images: DecodeShape.t must be 1, got {z.t}")
        self._check_backend(z.backend)
        b, s = z.b, self.spatial_compression
        batch = sp.Integer(1) if z.slicing else z.batch    # ``decode`` splits the batch with enable_slicing
        tile = self.tile_latent_min_size
        h, w = (sp.Min(z.h, tile), sp.Min(z.w, tile)) if z.tiling else (z.h, z.w)
        index, width, previous = self._last_upsampler()
        tokens_in = UPSAMPLE_AREA**index * h * w           # pixels of the last upsampler's input
        tokens_out = UPSAMPLE_AREA * tokens_in
        both = ("upsampler_conv", "mid_attention") if self.mid_attention else ("upsampler_conv",)
        terms = [
            VaeTerm("vae_decoder_held_block_inputs", Category.ACTIVATIONS, ("upsampler_conv",),
                    batch * (width + previous) * tokens_in * b,
                    f"Held while the last upsampler runs: the input of up block {index} ({previous} channels, held "
                    f"by Decoder.forward's ``sample``) and its last resnet's output ({width} channels, the "
                    "upsampler's input), both at half the output size.", DECODE_SOURCE),
            VaeTerm("vae_decoder_upsample_interpolate", Category.ACTIVATIONS, ("upsampler_conv",),
                    batch * width * tokens_out * b,
                    f"The last upsampler's nearest-neighbour ``F.interpolate`` output: {width} channels at the "
                    "output size.", "diffusers upsampling.py Upsample2D: F.interpolate(x, scale_factor=2.0)"),
            VaeTerm("vae_decoder_upsample_conv_output", Category.ACTIVATIONS, ("upsampler_conv",),
                    batch * width * tokens_out * b,
                    f"The last upsampler's 3x3 conv output: {width} channels at the output size.",
                    "diffusers upsampling.py Upsample2D: self.conv"),
            VaeTerm("vae_decoder_conv_workspace", Category.WORKSPACE, ("upsampler_conv",),
                    cudnn_conv_workspace(batch * width * tokens_out, width * width * CONV_TAPS, b),
                    f"cuDNN's workspace for the last upsampler's {width} -> {width} 3x3 conv at the output size: two "
                    "output-sized buffers plus a filter copy (kernels.cudnn_conv_workspace).",
                    "cuDNN via torch.nn.functional.conv2d; symbolic/runtime/kernels.py"),
        ]
        if self.mid_attention:
            terms += [
                VaeTerm("vae_decoder_mid_attention_maps", Category.ACTIVATIONS, ("mid_attention",),
                        batch * self._mid_maps(h * w, b),
                        f"The decoder's mid-block attention at h x w with {self.channels[-1]} channels: six maps "
                        "(conv_in's output held by the decoder frame, the attention's residual, group-norm output, "
                        "q, k, v) per decoded latent.", "diffusers UNetMidBlock2D; attention_processor.py"),
                VaeTerm("vae_decoder_mid_attention_scores", Category.ATTENTION, ("mid_attention",),
                        batch * self._mid_scores(h * w, b, z.backend),
                        "(h w)^2 scores of the decoder's single-head attention per decoded latent when the kernel "
                        "stores them (classic: up to 8 bytes per score with the fp32 softmax; math SDPA: 9); none "
                        "with flash / memory-efficient.", "diffusers attention_processor.py; symbolic/runtime/kernels.py"),
            ]
        slices = (z.batch - 1) * self.out_channels * s**2 * z.h * z.w * b if z.slicing else sp.Integer(0)
        terms.append(VaeTerm(
            "vae_decoded_slices_held", Category.ACTIVATIONS, both, slices,
            "With VAE slicing, the images already decoded wait in ``decoded_slices`` while the last one decodes: "
            f"(batch - 1) x {self.out_channels} x {s}h x {s}w x b.", f"{KL_SOURCE}.decode (use_slicing)"))
        tiles = sp.Integer(0)
        if z.tiling:
            stride = self.tile_latent_stride
            count = ceil_div(z.h, stride) * ceil_div(z.w, stride)
            held = batch * (count - 1) * self.out_channels * (s * tile) ** 2 * b
            tiles = sp.Piecewise((held, sp.Or(z.h > tile, z.w > tile)), (0, True))
        terms.append(VaeTerm(
            "vae_decoded_tiles_held", Category.ACTIVATIONS, both, tiles,
            f"With VAE tiling on a latent larger than {tile}, decoded tiles ({self.out_channels} x {s * tile} x "
            f"{s * tile} each) wait in ``rows`` until blending: bounded by all ceil(h/{self.tile_latent_stride}) x "
            f"ceil(w/{self.tile_latent_stride}) tiles but the one decoding, per decoded latent.",
            f"{KL_SOURCE}.tiled_decode"))
        return [t for t in terms if t.expr != 0]

    def decode_moments(self, z: DecodeShape) -> dict[str, sp.Expr]:
        """Live bytes at each candidate peak of ``vae.decode`` (``upsampler_conv``, ``mid_attention``), the decode's
        input latent excluded (see ``decode_input``)."""
        return _with_moments(self.decode_terms(z))

    # -- encode ------------------------------------------------------------------------------------------------------
    def encode_input(self, x: EncodeShape) -> sp.Expr:
        """Bytes of the image ``vae.encode`` receives (``batch x in_channels x height x width``; pipeline glue)."""
        return x.batch * self.in_channels * x.height * x.width * x.b

    def encode_terms(self, x: EncodeShape) -> list[VaeTerm]:
        """The named terms of ``vae.encode`` (see the module note). With tiling, ``_tiled_encode`` runs the encoder
        on ``tile_sample_min_size`` tiles one at a time: the same moments on a tile. (Its encoded tiles, each
        2 x latent_channels at the tile's latent size, are held until blended; they are not counted, as in the
        SD 1.5 terms: per tile 2 C / (6 c0 s^2) of the ``down_resnet_conv`` moment, 0.016% for SD 1.5 and 0.07%
        with 16 latent channels.)"""
        self._check_backend(x.backend)
        b, s, c0 = x.b, self.spatial_compression, self.channels[0]
        batch = sp.Integer(1) if x.slicing else x.batch    # ``encode`` splits the batch with enable_slicing
        tile = self.tile_sample_min_size
        height, width = (sp.Min(x.height, tile), sp.Min(x.width, tile)) if x.tiling else (x.height, x.width)
        latent_tokens = sp.floor(height / s) * sp.floor(width / s)
        maps = ENCODER_FULL_RES_MAPS - (1 if self.layers_per_block < 2 else 0)
        both = ("down_resnet_conv", "mid_attention") if self.mid_attention else ("down_resnet_conv",)
        terms = [
            VaeTerm("vae_encoder_full_res_maps", Category.ACTIVATIONS, ("down_resnet_conv",),
                    batch * maps * c0 * height * width * b,
                    f"{maps} full-resolution maps of {c0} channels at the peak (conv_in's output, the first resnet's "
                    "output, the SiLU output, conv2's output; see the module note).", ENCODE_SOURCE),
            VaeTerm("vae_encoder_conv_workspace", Category.WORKSPACE, ("down_resnet_conv",),
                    cudnn_conv_workspace(batch * c0 * height * width, c0 * c0 * CONV_TAPS, b),
                    f"cuDNN's workspace for the {c0} -> {c0} 3x3 conv2 at full resolution: two output-sized buffers "
                    "plus a filter copy (kernels.cudnn_conv_workspace).",
                    "cuDNN via torch.nn.functional.conv2d; symbolic/runtime/kernels.py"),
        ]
        if self.mid_attention:
            terms += [
                VaeTerm("vae_encoder_mid_attention_maps", Category.ACTIVATIONS, ("mid_attention",),
                        batch * self._mid_maps(latent_tokens, b),
                        f"The encoder's mid-block attention runs at the latent resolution with {self.channels[-1]} "
                        "channels: six maps (its input, the first resnet's output, group-norm output, q, k, v).",
                        "diffusers UNetMidBlock2D; attention_processor.py"),
                VaeTerm("vae_encoder_mid_attention_scores", Category.ATTENTION, ("mid_attention",),
                        batch * self._mid_scores(latent_tokens, b, x.backend),
                        "(h w)^2 scores of the single-head attention when the kernel stores them: classic "
                        "``AttnProcessor`` (fp32 softmax: up to 8 bytes per score) or math SDPA (9 bytes per score); "
                        "none with flash / memory-efficient SDPA.",
                        "diffusers attention_processor.py; symbolic/runtime/kernels.py"),
            ]
        slices = sp.Integer(0)
        if x.slicing:
            slices = ((x.batch - 1) * DOUBLE_Z * self.latent_channels * sp.floor(x.height / s)
                      * sp.floor(x.width / s) * b)
        terms.append(VaeTerm(
            "vae_encoded_slices_held", Category.ACTIVATIONS, both, slices,
            "With VAE slicing, the images already encoded wait in ``encoded_slices`` (each 2 x latent channels at "
            "the latent size) while the last one encodes.", f"{KL_SOURCE}.encode (use_slicing)"))
        return [t for t in terms if t.expr != 0]

    def encode_moments(self, x: EncodeShape) -> dict[str, sp.Expr]:
        """Live bytes at each candidate peak of ``vae.encode`` (``down_resnet_conv``, ``mid_attention``), the input
        image excluded (see ``encode_input``)."""
        return _with_moments(self.encode_terms(x))
