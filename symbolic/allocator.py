"""A model of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, default settings), used where
its rounding and packing decide what ``torch.cuda.memory_allocated()`` reports.

Rules modelled (constants named as in the C++ source):
* every request is rounded up to a multiple of ``kMinBlockSize`` = 512 bytes;
* requests of at most ``kSmallSize`` = 1 MiB come from the small pool, whose segments are ``kSmallBuffer`` = 2 MiB;
  larger ones from the large pool: ``kLargeBuffer`` = 20 MiB segments below ``kMinLargeAlloc`` = 10 MiB, else the
  request rounded up to ``kRoundLarge`` = 2 MiB;
* a request takes the smallest cached free block that fits (best fit); a block is split only if the remainder is
  at least 512 bytes (small pool) or more than 1 MiB (large pool): otherwise the whole block is handed out and
  *counted as allocated*. That un-split remainder is why loading 1,370 M fp16 parameters allocates ~30 MB more
  than 2 bytes x parameters (the replay; the measured load is 12 MB more again) (data/measurements/sd15_h100.csv, first row: 2,783,117,312 bytes).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable

K_MIN_BLOCK = 512
K_SMALL_SIZE = 1 << 20
K_SMALL_BUFFER = 2 << 20
K_LARGE_BUFFER = 20 << 20
K_MIN_LARGE_ALLOC = 10 << 20
K_ROUND_LARGE = 2 << 20


def round_size(nbytes: int) -> int:
    return max(K_MIN_BLOCK, -(-nbytes // K_MIN_BLOCK) * K_MIN_BLOCK)


def segment_size(size: int) -> int:
    if size <= K_SMALL_SIZE:
        return K_SMALL_BUFFER
    if size < K_MIN_LARGE_ALLOC:
        return K_LARGE_BUFFER
    return -(-size // K_ROUND_LARGE) * K_ROUND_LARGE


class CachingAllocator:
    """Allocations only (no frees): enough for loading weights, where nothing is freed on the GPU."""

    def __init__(self) -> None:
        self.free = {True: [], False: []}  # small pool?, sorted list of free block sizes
        self.allocated = 0
        self.reserved = 0

    def malloc(self, nbytes: int) -> int:
        size = round_size(nbytes)
        small = size <= K_SMALL_SIZE
        pool = self.free[small]
        i = bisect.bisect_left(pool, size)
        if i < len(pool):
            block = pool.pop(i)
        else:
            block = segment_size(size)
            self.reserved += block
        remaining = block - size
        if (small and remaining >= K_MIN_BLOCK) or (not small and remaining > K_SMALL_SIZE):
            bisect.insort(pool, remaining)
            block = size
        self.allocated += block
        return block


def load_allocated_bytes(tensor_nbytes: Iterable[int]) -> tuple[int, int]:
    """(allocated, reserved) bytes after allocating these tensors in order on a fresh allocator."""
    allocator = CachingAllocator()
    for nbytes in tensor_nbytes:
        allocator.malloc(nbytes)
    return allocator.allocated, allocator.reserved
