"""Framework memory that the pipeline's stages share: the cuBLAS workspace."""
from __future__ import annotations

from symbolic.pipelines.sd15.registry import SD15_TERMS
from symbolic.terms import Category, Stage


@SD15_TERMS.register("cublas_workspace", category=Category.WORKSPACE, stage=Stage.RESIDENT,
                     source="torch/csrc/cuda/CublasHandlePool.cpp (getChosenWorkspaceSize); symbolic/framework.py")
def cublas_workspace(config):
    """torch allocates the cuBLAS workspace through the caching allocator on the first matmul (the text encoder's
    first linear layer) and keeps it for the life of the process, so every stage's peak includes it. Its size is
    the framework constant ``cublas_workspace_bytes`` (33 MiB measured on the H100: the first row's text-encoder
    stage grows by exactly 34,603,008 bytes; later rows start with it)."""
    return config.framework.cublas_workspace_bytes
