"""symbolic/harness/torch_memory.py without a GPU: the allocator's rounding, and the stage recorder's folding rule
on a scripted allocator (random allocation sequences against a brute-force replay), its wrapping and unwrapping."""
from __future__ import annotations

import random

import pytest

from symbolic.harness.torch_memory import ALLOCATOR_ROUND, NullMemory, StageRecorder, round_allocation


@pytest.mark.parametrize("nbytes", [0, -3, 1, 511, 512, 513, 1 << 20, 10**9 + 7])
def test_round_allocation(nbytes):
    got = round_allocation(nbytes)
    if nbytes <= 0:
        assert got == 0
    else:
        assert got % ALLOCATOR_ROUND == 0 and nbytes <= got < nbytes + ALLOCATOR_ROUND


class ScriptedMemory(NullMemory):
    """An allocator whose current bytes the test sets; the peak counters behave like torch.cuda's."""

    def __init__(self):
        self.current = self.peak = 0

    def allocated(self):
        return self.current

    def max_allocated(self):
        return self.peak

    def max_reserved(self):
        return self.peak

    def reset_peak(self):
        self.peak = self.current

    def set(self, value):
        self.current = value
        self.peak = max(self.peak, value)


def test_nested_stages_fold_into_every_open_stage():
    mem = ScriptedMemory()
    rec = StageRecorder(mem)
    mem.set(100)
    assert rec.begin_call() == 100
    with rec.stage("vae_decode"):
        mem.set(500)
        mem.set(150)
        with rec.stage("unet_step"):
            mem.set(300)
            mem.set(120)
        mem.set(200)
    mem.set(100)
    with rec.stage("unet_step"):
        mem.set(400)
        mem.set(100)
    rec.end_call()
    assert rec.stage_peak == {"vae_decode": 500, "unet_step": 400}
    assert rec.call_peak_allocated == 500 and rec.call_peak_reserved == 500
    assert rec.calls == {"vae_decode": 1, "unet_step": 2}
    assert rec.order == ["vae_decode", "unet_step", "unet_step"]


@pytest.mark.parametrize("seed", range(5))
def test_stage_peaks_equal_a_replay(seed):
    """Random sequences of stages (one level, as the pipelines call them) and allocations: each stage's peak is the
    maximum of the bytes while it was open, the call's the maximum over the call, whatever resets came between."""
    rng = random.Random(seed)
    mem = ScriptedMemory()
    rec = StageRecorder(mem)
    mem.set(rng.randrange(1000))
    rec.begin_call()
    expected: dict[str, int] = {}
    overall = mem.current
    for _ in range(rng.randrange(1, 8)):
        mem.set(rng.randrange(1000))  # between stages
        overall = max(overall, mem.current)
        stage = rng.choice(["text_encoder", "unet_step", "vae_decode"])
        with rec.stage(stage):
            seen = mem.current
            for _ in range(rng.randrange(1, 6)):
                mem.set(rng.randrange(5000))
                seen = max(seen, mem.current)
        expected[stage] = max(expected.get(stage, 0), seen)
        overall = max(overall, seen)
    rec.end_call()
    assert rec.stage_peak == expected
    assert rec.call_peak_allocated == overall


def test_install_wraps_and_uninstall_restores():
    class Part:
        def forward(self, x):
            return x + 1

    hooked, plain = Part(), Part()
    hook = hooked.forward
    hooked.forward = lambda x: hook(x) * 10  # an instance attribute already there (an offload hook's)
    rec = StageRecorder(NullMemory(), [("a", "forward", "stage_a"), ("b", "forward", "stage_b"),
                                       ("missing", "forward", "stage_c")])
    rec.install({"a": hooked, "b": plain, "missing": None})
    rec.begin_call()
    assert hooked.forward(1) == 20 and plain.forward(1) == 2
    assert rec.order == ["stage_a", "stage_b"]
    rec.uninstall()
    assert "forward" not in vars(plain) and hooked.forward(1) == 20
    rec.begin_call()
    hooked.forward(1)
    assert rec.order == []  # nothing wrapped any more
