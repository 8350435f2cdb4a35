"""Binary units. The toolkit works in bytes; these convert only for display."""
from __future__ import annotations

import re

KiB = 2**10
MiB = 2**20
GiB = 2**30
TiB = 2**40

_UNITS = {
    "b": 1, "": 1,
    "kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB,
    # Decimal units, for people who mean them (GPU vendors quote "80GB").
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def to_mib(num_bytes: int | float) -> float:
    return num_bytes / MiB


def to_gib(num_bytes: int | float) -> float:
    return num_bytes / GiB


def parse_size(text: str, *, argument: str = "size") -> int:
    """Parse ``"12GiB"``, ``"24 GB"``, ``"512MiB"`` or a plain byte count into bytes.

    Binary suffixes (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) powers of 1000.
    """
    match = _SIZE.match(str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(
            f"{argument}: cannot read {text!r} as a memory size; use e.g. 12GiB, 24GB, 512MiB or a byte count"
        )
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value < 1:
        raise ValueError(f"{argument}: must be at least one byte, got {text!r}")
    return int(value)


def format_bytes(num_bytes: int | float) -> str:
    """Human-readable binary size, e.g. ``3.22 GiB``."""
    for name, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(num_bytes) >= size:
            return f"{num_bytes / size:.2f} {name}"
    return f"{int(num_bytes)} B"
