"""Bytes per element for the data types the toolkit knows, and their aliases."""
from __future__ import annotations

BYTES_PER_ELEMENT: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1}
#: Bytes of one element of the fixed-width dtypes the models name directly (float32 latents and upcasts, int64 token
#: ids and indices, complex64 RoPE tables): the one place each is written.
FP32 = BYTES_PER_ELEMENT["fp32"]
INT64 = 8
COMPLEX64 = 8

#: Other spellings of the dtypes (torch names, numpy names), case-insensitive; the planner page reads them too.
DTYPE_ALIASES: dict[str, str] = {
    "float32": "fp32", "float": "fp32", "single": "fp32", "torch.float32": "fp32",
    "float16": "fp16", "half": "fp16", "torch.float16": "fp16",
    "bfloat16": "bf16", "torch.bfloat16": "bf16",
    "float8": "fp8", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "float8_e4m3fnuz": "fp8",
    "float8_e5m2fnuz": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "e4m3": "fp8", "e5m2": "fp8",
    "torch.float8_e4m3fn": "fp8", "torch.float8_e5m2": "fp8",
}


def canonical_dtype(name: object, *, argument: str = "dtype", allowed: tuple[str, ...] | None = None) -> str:
    """Map a dtype name or alias (case-insensitive) to one of ``fp32``, ``fp16``, ``bf16``, ``fp8``.

    ``allowed`` narrows the accepted kinds (the SD 1.5 pipeline does not run in fp8, say).
    """
    allowed = allowed or tuple(BYTES_PER_ELEMENT)
    key = str(name).strip().lower() if isinstance(name, str) else None
    kind = None if key is None else (key if key in BYTES_PER_ELEMENT else DTYPE_ALIASES.get(key))
    if kind is None or kind not in allowed:
        examples = [next(alias for alias, k in DTYPE_ALIASES.items() if k == kind_) for kind_ in allowed]
        raise ValueError(
            f"{argument}: unknown dtype {name!r}; valid names: {', '.join(allowed)} "
            f"(aliases such as {', '.join(examples)} are accepted)"
        )
    return kind


def bytes_per_element(name: object, *, argument: str = "dtype") -> int:
    return BYTES_PER_ELEMENT[canonical_dtype(name, argument=argument)]
