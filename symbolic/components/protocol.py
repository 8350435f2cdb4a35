"""What every component class provides (duck-typed; ``typing.Protocol`` for the reader and for type checkers).

A component class is a frozen dataclass holding the raw ``config.json`` dict (``config``), registered with
``symbolic.components.register("<_class_name or architectures[0]>")``. Keys missing from the config take the
class's ``__init__`` defaults, as diffusers' ``register_to_config`` and transformers' ``PretrainedConfig`` do:
read them with ``self.config.get(key, DEFAULT)`` where DEFAULT is the real class's default (cite it).

All classes
* ``kind``: ``"denoiser"``, ``"text_encoder"``, ``"vae"`` or ``"safety_checker"``.
* ``tensors``: every parameter and buffer (``symbolic.components.layers.tensors.Tensor``: name as in ``state_dict`` /
  ``named_buffers``, shape, ``floating``), in the order ``nn.Module._apply`` visits them (children first, then a
  module's own parameters, then its buffers): the order ``.to("cuda")`` allocates them. Counts must equal the real
  class's ``sum(p.numel() for p in parameters()) + sum(b.numel() for b in buffers())`` on the meta device.
* ``keep_fp32_modules``: names of modules (one component of the dotted path) kept in float32 under a half-precision
  ``from_pretrained(torch_dtype=...)`` (diffusers' / transformers' ``_keep_in_fp32_modules``).
  ``keep_fp32_only_under_fp16``: True where the library applies them only for ``torch.float16`` (transformers' T5).
* ``fixed_dtype_bytes``: ``{tensor name: bytes per element}`` for tensors whose dtype the load never changes
  (non-persistent buffers built in float32 / float64 and absent from the checkpoint, e.g. RoPE tables).

Denoisers (``kind = "denoiser"``; one call of ``forward`` = one denoising step)
* ``heads``, ``head_dim``: of the self-attention; ``patch``: spatial patch size in latent pixels (1 for a UNet);
  ``joint_text``: True when text tokens join the self-attention sequence (MM-DiT), False for cross-attention.
* ``moments(shape: StepShape) -> dict[str, sympy.Expr]``: live bytes at each moment inside the forward that can be
  the step's peak (in inference a block's transients die before the next block: the peak is the largest moment
  of one block plus what stays live across blocks), excluding the weights and the step's inputs.
* ``resident_inputs(shape) -> sympy.Expr``: bytes live through every moment (RoPE tables, projected text).
* ``moment_notes``: ``{moment name: derivation note naming the diffusers code}``, one per key of ``moments``.

Text encoders (``kind = "text_encoder"``)
* ``output_dim``: width of the embedding the pipeline keeps.
* ``activation_moments(batch, tokens, b, dtype, backend="flash") -> dict[str, sympy.Expr]``: live bytes during one
  forward on ``batch`` prompts of ``tokens`` tokens (``b`` the bytes-per-element expression, ``dtype`` its name,
  ``backend`` the SDPA kernel), with ``moment_notes`` as above.

VAEs (``kind = "vae"``)
* ``spatial_compression``, ``temporal_compression`` (1 for images), ``latent_channels``.
* ``decode_moments(shape: DecodeShape) -> dict`` and ``encode_moments(shape) -> dict`` with ``moment_notes``;
  ``shape.tiling`` / ``shape.slicing`` select ``enable_tiling()`` / ``enable_slicing()`` with the class's real
  default tile sizes.
"""
from __future__ import annotations

from typing import ClassVar, Protocol

import sympy as sp

from symbolic.components.layers.tensors import Tensor


class Component(Protocol):
    config: dict
    kind: ClassVar[str]
    keep_fp32_modules: tuple[str, ...]
    keep_fp32_only_under_fp16: bool
    fixed_dtype_bytes: dict[str, int]

    @property
    def tensors(self) -> list[Tensor]: ...


class Denoiser(Component, Protocol):
    heads: int
    head_dim: int
    patch: int
    joint_text: bool
    moment_notes: dict[str, str]

    def moments(self, shape) -> dict[str, sp.Expr]: ...

    def resident_inputs(self, shape) -> sp.Expr: ...


class TextEncoder(Component, Protocol):
    output_dim: int
    moment_notes: dict[str, str]

    def activation_moments(self, batch: sp.Expr, tokens: int, b: sp.Expr, dtype: str,
                           backend: str = "flash") -> dict[str, sp.Expr]: ...


class VAE(Component, Protocol):
    spatial_compression: int
    temporal_compression: int
    latent_channels: int
    moment_notes: dict[str, str]

    def decode_moments(self, shape) -> dict[str, sp.Expr]: ...

    def encode_moments(self, shape) -> dict[str, sp.Expr]: ...
