"""What the harness reads off torch's CUDA caching allocator, and the stage recorder that turns those readings into
per-stage peaks (the measuring method of ``shared/DESIGN.md``, "Method for measuring on a GPU").

* :func:`round_allocation`: the allocator's 512-byte block rounding (also the unit of :mod:`.meta_trace`'s
  live-bytes count);
* :class:`NullMemory` / :class:`CudaMemory` (:func:`memory_for`): ``memory_allocated``, the peaks and their reset,
  ``mem_get_info``; on a CPU every reading is 0, so the measuring loop runs end to end in the CPU tests;
* :func:`open_device`: the device to measure on, or one error line (no torch, no CUDA);
* :class:`StageRecorder`: wraps the methods that start a stage (a text encoder's ``forward``, ``vae.encode``, the
  denoiser's ``forward``, ...) so that the allocator's peak is folded into the running maxima and reset before each
  stage, and the peak since that reset is folded into the stage's running maximum after it (and into the call's:
  ``peak_allocated_bytes`` / ``peak_reserved_bytes`` are maxima over the whole call although the counters are reset
  per stage; a stage nested in another is folded into every open stage).

Needs torch only for :class:`CudaMemory` / :func:`memory_for` / :func:`open_device` (imported there).
"""
from __future__ import annotations

import contextlib
import functools
import sys
from collections import Counter
from typing import Any, Iterator, Mapping, Sequence

#: The CUDA caching allocator rounds every block up to 512 bytes (``kMinBlockSize`` in
#: ``c10/cuda/CUDACachingAllocator.cpp``, PyTorch 2.x).
ALLOCATOR_ROUND = 512


def round_allocation(nbytes: int, block: int = ALLOCATOR_ROUND) -> int:
    """Bytes the CUDA caching allocator hands out for a request of ``nbytes`` (0 for 0)."""
    if nbytes <= 0:
        return 0
    return -(-nbytes // block) * block


# ----------------------------------------------------------------------------------------------- readings


class NullMemory:
    """Memory readings where there is no CUDA device (CPU smoke runs): every number is 0."""

    available = False

    def allocated(self) -> int:
        return 0

    def max_allocated(self) -> int:
        return 0

    def max_reserved(self) -> int:
        return 0

    def reset_peak(self) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def driver_used(self) -> int:
        return 0

    def empty_cache(self) -> None:
        pass


class CudaMemory(NullMemory):
    """``torch.cuda`` allocator statistics of one device."""

    available = True

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def allocated(self) -> int:
        return int(self.torch.cuda.memory_allocated(self.device))

    def max_allocated(self) -> int:
        return int(self.torch.cuda.max_memory_allocated(self.device))

    def max_reserved(self) -> int:
        return int(self.torch.cuda.max_memory_reserved(self.device))

    def reset_peak(self) -> None:
        self.torch.cuda.reset_peak_memory_stats(self.device)

    def synchronize(self) -> None:
        self.torch.cuda.synchronize(self.device)

    def driver_used(self) -> int:
        free, total = self.torch.cuda.mem_get_info(self.device)
        return int(total - free)

    def empty_cache(self) -> None:
        self.torch.cuda.empty_cache()


def memory_for(device) -> NullMemory:
    import torch

    dev = torch.device(device)
    return CudaMemory(dev) if dev.type == "cuda" else NullMemory()


def open_device(name: str):
    """The torch device to measure on, or None after one error line on stderr (no torch, or no CUDA for a CUDA
    device); a CPU device only warns that its memory columns will be 0."""
    try:
        import torch
    except ImportError:
        print("error: torch is not installed (pip install -e '.[gpu]')", file=sys.stderr)
        return None
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"error: CUDA is not available (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
              f"this harness measures GPU memory and needs a CUDA device", file=sys.stderr)
        return None
    if device.type != "cuda":
        print(f"warning: device {device} has no allocator statistics; memory columns will be 0", file=sys.stderr)
    return device


# ----------------------------------------------------------------------------------------------- stage recording

_MISSING = object()


class StageRecorder:
    """Per-stage peak allocated bytes of one pipeline call (see the module docstring for the folding rule).

    ``methods``: ``(component, method, stage)`` triples that :meth:`install` wraps (instance attributes shadowing the
    class's methods; an instance attribute already there, e.g. a hook's, is restored by :meth:`uninstall`).
    ``order`` lists the stages in the order they were entered during the call."""

    def __init__(self, memory: NullMemory, methods: Sequence[tuple[str, str, str]] = ()):
        self.memory = memory
        self.methods = tuple(methods)
        self.open: list[str] = []
        self.order: list[str] = []
        self.stage_peak: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self.call_peak_allocated = 0
        self.call_peak_reserved = 0
        self._saved: list[tuple[Any, str, Any]] = []

    # -- readings
    def _fold(self) -> None:
        allocated = self.memory.max_allocated()
        reserved = self.memory.max_reserved()
        self.call_peak_allocated = max(self.call_peak_allocated, allocated)
        self.call_peak_reserved = max(self.call_peak_reserved, reserved)
        for stage in self.open:
            self.stage_peak[stage] = max(self.stage_peak.get(stage, 0), allocated)

    def begin_call(self) -> int:
        """Reset the peaks; return the bytes allocated now (``weights_allocated_bytes``)."""
        self.memory.synchronize()
        self.memory.reset_peak()
        self.stage_peak.clear()
        self.calls.clear()
        self.order.clear()
        self.call_peak_allocated = self.call_peak_reserved = 0
        return self.memory.allocated()

    def end_call(self) -> None:
        self.memory.synchronize()
        self._fold()

    def enter(self, stage: str) -> None:
        self._fold()
        self.memory.reset_peak()
        self.open.append(stage)
        self.order.append(stage)
        self.calls[stage] += 1
        self.stage_peak.setdefault(stage, 0)

    def exit(self, stage: str) -> None:
        self._fold()
        # pop this stage (innermost by construction; tolerate an exception having unwound out of order)
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i] == stage:
                del self.open[i]
                break

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.enter(name)
        try:
            yield
        finally:
            self.exit(name)

    # -- wrapping
    def _wrap(self, original, stage: str):
        def wrapper(*args, **kwargs):
            with self.stage(stage):
                return original(*args, **kwargs)

        return functools.wraps(original)(wrapper)

    def install(self, components: Mapping[str, Any]) -> None:
        """Wrap the stage methods of ``components`` that are present (None or missing ones are skipped)."""
        self.uninstall()
        for comp_name, method, stage in self.methods:
            obj = components.get(comp_name)
            if obj is None:
                continue
            previous = vars(obj).get(method, _MISSING)
            object.__setattr__(obj, method, self._wrap(getattr(obj, method), stage))
            self._saved.append((obj, method, previous))

    def uninstall(self) -> None:
        for obj, method, previous in reversed(self._saved):
            if previous is _MISSING:
                if method in vars(obj):
                    object.__delattr__(obj, method)
            else:
                object.__setattr__(obj, method, previous)
        self._saved.clear()
