"""Framework constants that cannot be derived from an architecture: named, documented, overridable.

Constants of the framework's own source (the caching allocator's block and segment sizes) are not here: they are
read from that source and live with the model of it (``symbolic.runtime.allocator``). Each constant here cites the
measurement it comes from (``data/measurements/``, taken on an NVIDIA H100 80GB HBM3 with
torch 2.11 + CUDA 13.0). Override them per call (the API's ``framework=`` argument) or through the environment
variable named beside each one, for another GPU or software stack.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

from symbolic.core.checks import parse_int, shown
from symbolic.core.units import MiB


def _env_int(name: str, default: int, switch: bool = False) -> int:
    """An environment override, read with the CLI's integer grammar (``checks.parse_int``: plain ASCII digits)."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = parse_int(text, name)
    except ValueError:
        raise ValueError(f"{name}: must be a plain integer (ASCII digits 0-9), got {shown(text)}") from None
    if value < 0:
        raise ValueError(f"{name}: must be >= 0, got {value}")
    if switch and value not in (0, 1):
        raise ValueError(f"{name}: a switch, 0 or 1, got {value}")
    return value


#: The constants that are switches (0 or 1), not byte counts.
FLAGS = ("expandable_segments",)


@dataclass(frozen=True)
class Framework:
    #: Bytes ``nvidia-smi`` shows for a process that has only created its CUDA context: ``torch.zeros(1,
    #: device="cuda")`` left 650,969,088 bytes used (data/measurements/README.md). Env: SYMBOLIC_CUDA_CONTEXT_BYTES.
    cuda_context_bytes: int = 650_969_088
    #: Driver-side bytes beyond the context once the pipeline has run: lazily loaded kernel modules and the cuBLAS /
    #: cuDNN handles' own memory, which the caching allocator does not see. Median of (driver_used - peak_reserved
    #: - context) over the rows of data/measurements/sd15_h100.csv. Env: SYMBOLIC_DRIVER_EXTRA_BYTES.
    driver_extra_bytes: int = 88_080_384
    #: cuBLAS workspace that torch allocates through the caching allocator on the first matmul of a stream and
    #: keeps: 32 MiB on Hopper (sm90; torch's ``getChosenWorkspaceSize``, ":4096:8"), plus cuBLASLt's 1 MiB.
    #: Seen in data/measurements/sd15_h100.csv: the first row's text-encoder stage grows by this, later rows
    #: start with it. Env: SYMBOLIC_CUBLAS_WORKSPACE_BYTES.
    cublas_workspace_bytes: int = 32 * MiB + 1 * MiB
    #: 1 when the process runs with ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True``: segments grow in 2 MiB
    #: pages and free pages are unmapped, so almost nothing cached stays out of reach
    #: (``symbolic.runtime.allocator.min_device_bytes``). Env: SYMBOLIC_EXPANDABLE_SEGMENTS.
    expandable_segments: int = 0

    def override(self, **values: int) -> "Framework":
        known = {f.name for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"framework: unknown constant {name!r}; known: {', '.join(sorted(known))}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"framework.{name}: must be an integer >= 0, got {value!r}")
            if name in FLAGS and value not in (0, 1):
                raise ValueError(f"framework.{name}: a switch, 0 or 1, got {value!r}")
        return replace(self, **values)


def default_framework() -> Framework:
    """The defaults above, with any ``SYMBOLIC_*`` environment overrides applied."""
    base = Framework()
    return base.override(**{
        f.name: _env_int(f"SYMBOLIC_{f.name.upper()}", getattr(base, f.name), f.name in FLAGS) for f in fields(base)
    })
