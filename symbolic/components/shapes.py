"""What one call of a component sees: a denoiser step (``StepShape``), a VAE decode (``DecodeShape``) and encode
(``EncodeShape``), as SymPy expressions in the pipeline's symbols. The pipeline model builds them; every component
class of that kind reads them."""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symbolic.core.algebra import ceil_ratio


@dataclass(frozen=True)
class StepShape:
    """What one transformer forward sees on one device.

    ``batch``: sequences in the forward (B x G for CogVideoX, whose guidance concatenates [uncond, cond]).
    ``video_tokens``, ``text_tokens``: the full sequence lengths; ``devices``/``parallel`` say how they are split:
    ``ulysses`` and ``ring`` split the sequence over P devices (each device holds ceil(N / P) tokens of every
    token-wise tensor); ``fsdp`` and ``None`` keep the whole sequence on each device.
    """

    batch: sp.Expr
    video_tokens: sp.Expr
    text_tokens: sp.Expr
    b: sp.Expr
    backend: str = "flash"
    parallel: str | None = None
    devices: sp.Expr = sp.Integer(1)
    #: The latent grid (h, w) where a denoiser works at several resolutions (a UNet's stride-2 levels round up).
    grid: tuple[sp.Expr, sp.Expr] | None = None

    @property
    def split(self) -> bool:
        return self.parallel in ("ulysses", "ring")

    def local(self, tokens: sp.Expr) -> sp.Expr:
        return ceil_ratio(tokens, self.devices) if self.split else sp.sympify(tokens)

    @property
    def nv(self) -> sp.Expr:
        return self.local(self.video_tokens)

    @property
    def nt(self) -> sp.Expr:
        return self.local(self.text_tokens)

    @property
    def n(self) -> sp.Expr:
        return self.local(self.video_tokens + self.text_tokens)


@dataclass(frozen=True)
class DecodeShape:
    """What ``vae.decode`` receives: batch ``B``, latent frames ``t``, latent height/width ``h``, ``w`` (sympy
    expressions in the pipeline's symbols), the VAE's bytes per element, attention backend and tiling."""

    batch: sp.Expr
    t: sp.Expr
    h: sp.Expr
    w: sp.Expr
    b: int | sp.Expr
    backend: str = "flash"
    tiling: bool = False
    #: bytes per element as a number (the decode's float32 upcasts depend on it even when ``b`` is a symbol)
    b_value: int = 2
    #: ``vae.enable_slicing()``: the batch is decoded one sample at a time
    slicing: bool = False


@dataclass(frozen=True)
class EncodeShape:
    """What ``vae.encode`` receives: ``batch`` images of ``height`` x ``width`` pixels (sympy expressions; pipelines
    pass sizes rounded down to multiples of ``spatial_compression``), bytes per element ``b``, the attention kernel,
    ``enable_tiling`` / ``enable_slicing``, and ``b`` as a number (``b_value``, as ``DecodeShape``)."""

    batch: sp.Expr
    height: sp.Expr
    width: sp.Expr
    b: int | sp.Expr
    backend: str = "flash"
    tiling: bool = False
    slicing: bool = False
    b_value: int = 2
