"""symbolic.runtime.allocator: the CUDA caching allocator's rounding, segment sizes and split rules, and the replay of the
SD 1.5 weights' load against the measured bytes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.runtime.allocator import (K_LARGE_BUFFER, K_MIN_BLOCK, K_MIN_LARGE_ALLOC, K_ROUND_LARGE, K_SMALL_BUFFER,
                                K_SMALL_SIZE, CachingAllocator, load_allocated_bytes, round_size, segment_size)
from symbolic.pipelines.model import component, resident_replay, weights_of
from symbolic.pipelines.api import make_config

KiB, MiB = 1 << 10, 1 << 20
#: torch.int64's element size (CLIP's position_ids keep it under ``torch_dtype``).
INT64_BYTES = 8
#: Bytes per element -> the SD 1.5 dtype loaded with it.
DTYPE_OF = {2: "fp16", 4: "fp32"}
#: data/measurements/sd15_h100.csv, first row: ``memory_allocated()`` with the fp16 weights loaded, nothing else.
MEASURED_CLEAN_WEIGHTS = 2_783_117_312


def test_constants_are_the_c10_ones():
    assert (K_MIN_BLOCK, K_SMALL_SIZE, K_SMALL_BUFFER, K_LARGE_BUFFER, K_MIN_LARGE_ALLOC, K_ROUND_LARGE) == (
        512, MiB, 2 * MiB, 20 * MiB, 10 * MiB, 2 * MiB)


@pytest.mark.parametrize("nbytes, rounded", [
    (0, 512), (1, 512), (511, 512), (512, 512), (513, 1024), (1000, 1024), (MiB - 1, MiB), (MiB + 1, MiB + 512),
    (10**9 + 1, 10**9 + 512),
])
def test_round_size(nbytes, rounded):
    assert round_size(nbytes) == rounded


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 1 << 40))
def test_round_size_is_the_next_multiple_of_512(nbytes):
    size = round_size(nbytes)
    assert size % 512 == 0 and size >= max(nbytes, 512) and size - max(nbytes, 1) < 512


@pytest.mark.parametrize("size, segment", [
    (512, 2 * MiB), (MiB, 2 * MiB),                                   # small pool: 2 MiB segments
    (MiB + 512, 20 * MiB), (5 * MiB, 20 * MiB), (10 * MiB - 512, 20 * MiB),  # large, below 10 MiB: 20 MiB
    (10 * MiB, 10 * MiB), (10 * MiB + 512, 12 * MiB), (11 * MiB, 12 * MiB),  # from 10 MiB: rounded to 2 MiB
    (12 * MiB, 12 * MiB), (100 * MiB + 1, 102 * MiB),
])
def test_segment_size(size, segment):
    assert segment_size(size) == segment


def fresh(*requests: int) -> CachingAllocator:
    allocator = CachingAllocator()
    for nbytes in requests:
        allocator.malloc(nbytes)
    return allocator


@pytest.mark.parametrize("requests, allocated, reserved, free", [
    # Small pool: a 2 MiB segment, split whenever at least 512 bytes remain.
    ((1000,), 1024, 2 * MiB, {True: [2 * MiB - 1024], False: []}),
    ((1000, 1000), 2048, 2 * MiB, {True: [2 * MiB - 2048], False: []}),
    ((MiB, MiB), 2 * MiB, 2 * MiB, {True: [], False: []}),
    ((MiB, MiB, 512), 2 * MiB + 512, 4 * MiB, {True: [2 * MiB - 512], False: []}),
    # Large pool below 10 MiB: a 20 MiB segment, split only if more than 1 MiB remains.
    ((3 * MiB,), 3 * MiB, 20 * MiB, {True: [], False: [17 * MiB]}),
    ((19 * MiB,), 20 * MiB, 20 * MiB, {True: [], False: []}),               # 1 MiB left: not split, counted
    ((18 * MiB + 512,), 18 * MiB + 512, 20 * MiB, {True: [], False: [2 * MiB - 512]}),
    ((9 * MiB, 9 * MiB), 18 * MiB, 20 * MiB, {True: [], False: [2 * MiB]}),
    ((9 * MiB, 9 * MiB, 1536 * KiB), 20 * MiB, 20 * MiB, {True: [], False: []}),  # 0.5 MiB tail handed out
    # Large pool from 10 MiB: the request rounded up to 2 MiB, tail of at most 2 MiB - 512.
    ((11 * MiB,), 12 * MiB, 12 * MiB, {True: [], False: []}),
    ((10 * MiB + 512,), 10 * MiB + 512, 12 * MiB, {True: [], False: [2 * MiB - 512]}),
    # Best fit: the 1.5 MiB free block serves 1.2 MiB (tail 0.3 MiB: whole block counted), not the 17 MiB one.
    ((3 * MiB, 18 * MiB + 512, 1200 * KiB), 3 * MiB + 18 * MiB + 512 + 2 * MiB - 512, 40 * MiB,
     {True: [], False: [17 * MiB]}),
], ids=["small", "small-twice", "small-exact-fill", "small-new-segment", "large-split", "large-tail-1MiB-counted",
        "large-tail-over-1MiB-split", "two-in-one-segment", "tail-handed-out", "rounded-2MiB-tail-counted", "rounded-2MiB-tail-split",
        "best-fit"])
def test_split_rules(requests, allocated, reserved, free):
    allocator = fresh(*requests)
    assert allocator.allocated == allocated
    assert allocator.reserved == reserved
    assert allocator.free == free
    assert load_allocated_bytes(requests) == (allocated, reserved)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 64 * MiB), max_size=40))
def test_invariants(requests):
    """allocated covers every rounded request, never exceeds what is reserved, and the difference is the free
    blocks; every large block handed out carries at most 1 MiB beyond its rounded size."""
    allocator = CachingAllocator()
    for nbytes in requests:
        block = allocator.malloc(nbytes)
        size = round_size(nbytes)
        assert size <= block <= size + (K_SMALL_SIZE if size > K_SMALL_SIZE else 0)
    assert allocator.allocated >= sum(round_size(n) for n in requests)
    assert allocator.allocated + sum(allocator.free[True]) + sum(allocator.free[False]) == allocator.reserved
    assert all(b >= K_MIN_BLOCK for pool in allocator.free.values() for b in pool)


# --- the SD 1.5 weights --------------------------------------------------------------------------------------------

def sd15_config(safety_checker: bool, b: int):
    return make_config("sd15", dtype=DTYPE_OF[b], safety_checker=safety_checker)


def weight_sizes(safety_checker: bool, b: int) -> list[int]:
    """Each tensor's bytes in the order ``DiffusionPipeline.to`` moves them: it walks ``_get_signature_keys``, which
    returns the ``__init__`` argument names sorted (safety_checker, text_encoder, unet, vae; diffusers
    pipeline_utils.py), each component in ``.to()`` order; floating tensors take b bytes, integer buffers 8."""
    config = sd15_config(safety_checker, b)
    sizes = [t.numel * (b if t.floating else INT64_BYTES) for role in sorted(config.roles)
             for t in component(config.source, role).tensors]
    assert sizes == [size for role in sorted(config.roles) for size in weights_of(config, role).sizes]
    return sizes


def load_replay(safety_checker: bool, b: int) -> tuple[int, int, int]:
    """(tensor bytes, allocated bytes, reserved bytes) of the weights' load as the pipeline model replays it."""
    tensor_bytes = sum(weight_sizes(safety_checker, b))
    rounding, slack = resident_replay(sd15_config(safety_checker, b))
    return tensor_bytes, tensor_bytes + rounding, tensor_bytes + rounding + slack


@pytest.mark.parametrize("safety_checker", [True, False])
@pytest.mark.parametrize("b", [2, 4])
def test_weights_replay_bounds(safety_checker, b):
    sizes = weight_sizes(safety_checker, b)
    tensor_bytes, allocated, reserved = load_replay(safety_checker, b)
    assert (allocated, reserved) == load_allocated_bytes(sizes)
    large = sum(1 for s in sizes if round_size(s) > K_SMALL_SIZE)
    assert tensor_bytes <= sum(round_size(s) for s in sizes) <= allocated
    assert allocated <= sum(round_size(s) for s in sizes) + MiB * large
    assert allocated <= reserved


def test_fp16_weights_replay_matches_measurement():
    tensor_bytes, allocated, _ = load_replay(True, 2)
    large = sum(1 for s in weight_sizes(True, 2) if round_size(s) > K_SMALL_SIZE)
    assert tensor_bytes < allocated <= tensor_bytes + MiB * large
    assert abs(allocated / MEASURED_CLEAN_WEIGHTS - 1) <= 0.01


@pytest.mark.parametrize("safety_checker", [True, False])
@pytest.mark.parametrize("b", [2, 4])
def test_weights_rounding_term_is_the_replay(safety_checker, b):
    """The model's ``allocator.weights_rounding`` term is the replay's allocated minus tensor bytes."""
    from symbolic.core.evaluate import printers
    from symbolic.pipelines.api import pipeline_model

    model = pipeline_model("sd15", dtype=DTYPE_OF[b], safety_checker=safety_checker)
    terms = {t.name: t for t in model.terms}
    tensor_bytes, allocated, _ = load_replay(safety_checker, b)
    assert printers.exact(terms["allocator.weights_rounding"].expr) == allocated - tensor_bytes
    assert model.weights_segment_slack == load_replay(safety_checker, b)[2] - allocated
