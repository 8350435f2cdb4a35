"""Attention shared by the transformer components: the bytes the SDPA kernel adds at its call (``attention_core``,
with the sequence-parallel schemes) and the config accessors of a diffusers attention model (``AttentionDims``)."""
from __future__ import annotations

import sympy as sp

from symbolic.components.shapes import StepShape
from symbolic.core.algebra import ceil_ratio
from symbolic.core.dtypes import FP32
from symbolic.runtime.kernels import math_sdpa


def attention_core(shape: StepShape, heads: int, head_dim: int, n_q_full: sp.Expr, n_k_full: sp.Expr,
                   self_attention: bool = True) -> sp.Expr:
    """Bytes the attention kernel itself adds at the SDPA call, beyond q, k, v and its output (per device).

    * flash / memory-efficient: the float32 log-sum-exp, heads x N_q.
    * math (``symbolic.runtime.kernels.math_sdpa``, measured on an H100 for SD 1.5): float32 copies of q, k, v and the
      scaled q (4 x N x heads x head_dim x 4 bytes) and two float32 score matrices (the scores and their softmax)
      plus ``_safe_softmax``'s one-byte mask: 9 bytes per score element, heads x N_q x N_k.
    Sequence parallelism (self-attention only; diffusers runs cross-attention without it):
    * Ulysses (all-to-all): the all-to-all turns [N / P tokens, all heads] into [N tokens, heads / P]; the scores
      are heads / P x N x N, and the received q, k, v (3 x N x D / P) are live next to the sent ones.
    * ring: each device keeps its N / P queries and receives key/value blocks of N / P tokens from its neighbours
      (double-buffered: 4 x N / P x D); flash keeps a float32 output accumulator (N / P x D) and log-sum-exp; the
      math path materialises heads x N / P x N / P scores per step.
    """
    B, b, P, D = shape.batch, shape.b, shape.devices, heads * head_dim
    par = shape.parallel if self_attention else None
    if par == "ulysses":
        hq, nq, nk, extra = sp.ceiling(sp.Integer(heads) / P), n_q_full, n_k_full, 3 * B * ceil_ratio(n_q_full, P) * D * b
    elif par == "ring":
        hq, nq, nk = sp.Integer(heads), ceil_ratio(n_q_full, P), ceil_ratio(n_k_full, P)
        extra = 4 * B * nk * D * b + B * nq * D * FP32
    else:
        hq, nq, nk, extra = sp.Integer(heads), n_q_full, n_k_full, sp.Integer(0)
    if shape.backend == "math":
        return extra + math_sdpa(B * hq * nq * nk, B * hq * nq * head_dim, b)
    return extra + B * hq * nq * FP32


class AttentionDims:
    """diffusers transformer config accessors: heads, head dim, model width = heads x head dim."""

    config: dict

    @property
    def heads(self) -> int:
        return int(self.config["num_attention_heads"])

    @property
    def head_dim(self) -> int:
        return int(self.config["attention_head_dim"])

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim
