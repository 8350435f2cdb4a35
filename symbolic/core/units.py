"""Binary units. The toolkit works in bytes; these convert only for display."""
from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

KiB = 2**10
MiB = 2**20
GiB = 2**30
TiB = 2**40

#: Unit suffixes of a size (case-insensitive) -> bytes: the grammar of every budget the CLI, the API and the
#: planner page read.
SIZE_UNITS = {
    "b": 1, "": 1,
    "kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB,
    # Decimal units, for people who mean them (GPU vendors quote "80GB").
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
#: A plain ASCII decimal (no sign, exponent, ``_`` or non-ASCII digits) and an optional unit, ASCII blanks around.
SIZE_PATTERN = re.compile(r"[ \t\r\n]*([0-9]+(?:\.[0-9]+)?)[ \t]*([a-zA-Z]*)[ \t\r\n]*", re.ASCII)
#: Longest size text read (a 1000-digit byte count is already absurd; Python refuses int() past 4300 digits).
MAX_SIZE_TEXT = 1000


def to_mib(num_bytes: int | float) -> float:
    return num_bytes / MiB


def to_gib(num_bytes: int | float) -> float:
    return num_bytes / GiB


def parse_size(text: str, *, argument: str = "size") -> int:
    """Parse ``"12GiB"``, ``"24 GB"``, ``"512MiB"`` or a plain byte count into bytes, exactly (no float: a 31-digit
    byte count comes back unchanged; ``"1.5KiB"`` is 1536). A fraction of a byte is dropped (rounded down).

    Binary suffixes (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) powers of 1000.
    Anything else raises a ValueError naming ``argument``.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise ValueError(f"{argument}: must be a memory size as text (e.g. 12GiB), "
                         f"got {text!r} ({type(text).__name__})")
    shown = repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"
    match = SIZE_PATTERN.fullmatch(text) if len(text) <= MAX_SIZE_TEXT else None
    if not match or match.group(2).lower() not in SIZE_UNITS:
        raise ValueError(
            f"{argument}: cannot read {shown} as a memory size; use e.g. 12GiB, 24GB, 512MiB or a byte count"
        )
    value = Fraction(match.group(1)) * SIZE_UNITS[match.group(2).lower()]
    if value < 1:
        raise ValueError(f"{argument}: must be at least one byte, got {shown}")
    return int(value)  # floor: value > 0


def format_bytes(num_bytes: int | float) -> str:
    """Human-readable binary size, e.g. ``3.22 GiB`` (integers too large for a float in scientific notation)."""
    if isinstance(num_bytes, int) and abs(num_bytes) >= 2**1000:
        return f"{Decimal(num_bytes) / GiB:.3e} GiB"
    for name, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(num_bytes) >= size:
            return f"{num_bytes / size:.2f} {name}"
    return f"{int(num_bytes)} B"
