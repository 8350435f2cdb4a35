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
  than 2 bytes x parameters (the replay; the measured load is 12 MB more again) (data/measurements/sd15_h100.csv,
  first row: 2,783,117,312 bytes).
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


#: Activation blocks live at once at a stage's peak, at most, in the measured SD 1.5 runs: 5 to 6 at the VAE peaks,
#: 14 at the UNet step's peak with SDPA, 21 with math SDPA (data/measurements/sd15_h100_peak_composition.json,
#: ``blocks_at_peak``). Each large block's segment is its size rounded up to ``kRoundLarge``.
PEAK_LIVE_BLOCKS = 21


def min_device_bytes(peak_allocated, weights_segment_slack, framework):
    """The smallest device memory with which the call completes.

    When ``cudaMalloc`` fails, the caching allocator frees every cached segment that holds no live block
    (``release_cached_blocks``) and retries; only then does it raise out-of-memory. So at the moment of the largest
    need the device must hold the CUDA context and the driver's own memory, the live blocks (the allocated peak)
    and what cannot be released: the free tails of segments that still hold a live block. Those are the weights'
    segment slack (their load replay, ``load_allocated_bytes``) and, for each live activation block, at most its
    rounding up to ``kRoundLarge`` (``PEAK_LIVE_BLOCKS`` of them). With ``expandable_segments`` the allocator maps
    2 MiB pages into one growing segment per stream and unmaps free pages: one page of slack remains."""
    if framework.expandable_segments:
        unreleasable = K_ROUND_LARGE
    else:
        unreleasable = weights_segment_slack + PEAK_LIVE_BLOCKS * K_ROUND_LARGE
    return peak_allocated + unreleasable + framework.cuda_context_bytes + framework.driver_extra_bytes


def load_allocated_bytes(tensor_nbytes: Iterable[int]) -> tuple[int, int]:
    """(allocated, reserved) bytes after allocating these tensors in order on a fresh allocator."""
    allocator = CachingAllocator()
    for nbytes in tensor_nbytes:
        allocator.malloc(nbytes)
    return allocator.allocated, allocator.reserved
