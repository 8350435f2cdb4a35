"""Memory that kernels take beyond their outputs: cuDNN convolution workspaces and attention score matrices.

These are the framework's behaviour, not the architecture's, so their constants are named here with the
measurement each comes from (``data/measurements/sd15_h100_peak_composition.json``, H100, torch 2.11, cuDNN 9).
"""
from __future__ import annotations

from symbolic.core.dtypes import FP32

import sympy as sp

#: cuDNN's workspace for a large 3x3 convolution holds two output-sized buffers plus a copy of the filter. Measured:
#: the blocks allocated inside ``conv2d`` at the VAE peaks are 2 x output + filter + 147 bytes at 512 and 1024 px,
#: encoder (128 -> 128 channels: 134,512,787 = 2 x 67,108,864 + 294,912 + 147) and decoder (256 -> 256 channels:
#: 269,615,251 = 2 x 134,217,728 + 1,179,648 + 147). The algorithm is cuDNN's heuristic choice for large spatial
#: sizes; at the UNet's latent sizes no such block is live at the step's peak.
CUDNN_WORKSPACE_OUTPUT_COPIES = 2
#: The 147 bytes beyond output copies and filter in the same measured blocks (alignment / descriptors).
CUDNN_WORKSPACE_EXTRA_BYTES = 147

#: Bytes per score element live at once in the classic ``AttnProcessor`` (``Attention.get_attention_scores``):
#: ``torch.empty`` (the ``baddbmm`` input, beta = 0) and the ``baddbmm`` output coexist, then scores and softmax
#: probabilities: two score-sized tensors of the model dtype. Measured: two 512 MiB blocks at a 64 x 64 latent
#: (batch 2 x 8 heads x 4096^2 x 2 bytes).
CLASSIC_SCORE_COPIES = 2
#: torch's math SDPA upcasts fp16/bf16 to fp32 and keeps the fp32 scores and the fp32 softmax at once, plus the
#: one-byte mask of ``_safe_softmax`` (fully masked rows): measured 2 x 1 GiB + 256 MiB at a 64 x 64 latent, batch 2 x
#: 8 heads, and four fp32 query-sized buffers (the upcast q, k, v and the scaled q: 4 x 10 MiB).
MATH_SCORE_BYTES = 4 + 4 + 1
MATH_FP32_QUERY_COPIES = 4
#: With fp32 inputs nothing is upcast: only the scaled query is a new fp32 buffer (the meta-device trace of the
#: real UNet at fp32 shows 3 query-sized buffers fewer than at fp16/bf16).
MATH_FP32_INPUT_QUERY_COPIES = 1


def cudnn_conv_workspace(output_elements: sp.Expr, filter_elements: int, b: sp.Expr) -> sp.Expr:
    """Workspace of one large cuDNN convolution (see the constants above)."""
    return (CUDNN_WORKSPACE_OUTPUT_COPIES * output_elements + filter_elements) * b + CUDNN_WORKSPACE_EXTRA_BYTES


def classic_scores(score_elements: sp.Expr, b: sp.Expr, upcast_softmax: bool = False) -> sp.Expr:
    """Score bytes live at once in ``AttnProcessor``. With ``upcast_softmax`` (the VAE's attention) the scores are cast
    to fp32 before the softmax: the peak is the larger of the baddbmm pair (2b), the cast (b + 4) and the fp32
    scores with fp32 probabilities (8) per element."""
    if upcast_softmax:
        return score_elements * sp.Max(CLASSIC_SCORE_COPIES * b, b + FP32, 2 * FP32)
    return CLASSIC_SCORE_COPIES * score_elements * b


def math_sdpa(score_elements: sp.Expr, query_elements: sp.Expr, b: sp.Expr) -> sp.Expr:
    """Bytes the math SDPA kernel holds beyond its inputs of ``b`` bytes per element: fp32 scores and probabilities,
    the safe-softmax mask, and the fp32 copies of q, k, v and the scaled query (only the scaled query when the
    inputs are fp32 already)."""
    copies = sp.Piecewise((MATH_FP32_QUERY_COPIES, b < FP32), (MATH_FP32_INPUT_QUERY_COPIES, True))
    return MATH_SCORE_BYTES * score_elements + copies * FP32 * query_elements
