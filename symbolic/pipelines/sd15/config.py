"""The discrete settings of an SD 1.5 run (each gives its own closed form) and their validation."""
from __future__ import annotations

from dataclasses import dataclass, field

from symbolic.dtypes import BYTES_PER_ELEMENT, canonical_dtype
from symbolic.framework import Framework, default_framework
from symbolic.validation import choice

TASKS = ("img2img", "txt2img")
ATTENTION = ("sdpa", "classic")
SDPA_BACKENDS = ("default", "flash", "efficient", "math")
MEMORY_OPTIONS = ("vae_slicing", "vae_tiling", "attention_slicing")
DTYPES = ("fp16", "bf16", "fp32")


@dataclass(frozen=True)
class SD15Config:
    """``task``: img2img (the VAE encodes the init image) or txt2img. ``attention``: ``sdpa`` is diffusers' default
    ``AttnProcessor2_0``; ``classic`` is ``AttnProcessor`` (explicit ``baddbmm`` + softmax), set on UNet and VAE.
    ``sdpa_backend``: torch's choice (``default``) or one forced with ``torch.nn.attention.sdpa_kernel``.
    ``memory_options``: any of ``vae_slicing``, ``vae_tiling``, ``attention_slicing``. ``long_prompt``: a scheme that
    encodes ceil(L / 75) chunks of 77 tokens (plain diffusers truncates to 77)."""

    task: str = "img2img"
    attention: str = "sdpa"
    sdpa_backend: str = "default"
    memory_options: frozenset[str] = field(default_factory=frozenset)
    dtype: str = "fp16"
    safety_checker: bool = True
    long_prompt: bool = False
    #: Framework constants (CUDA context, cuBLAS workspace, ...), overridable.
    framework: Framework = field(default_factory=default_framework)

    def __post_init__(self) -> None:
        choice(self.task, "task", TASKS)
        choice(self.attention, "attention", ATTENTION)
        choice(self.sdpa_backend, "sdpa_backend", SDPA_BACKENDS)
        if isinstance(self.memory_options, str) or not isinstance(self.memory_options, (frozenset, set, tuple, list)):
            raise ValueError(f"memory_options: must be a collection of option names ({', '.join(MEMORY_OPTIONS)}), "
                             f"got {self.memory_options!r}")
        options = frozenset(self.memory_options)
        for option in options:
            choice(option, "memory_option", MEMORY_OPTIONS + ("none",))
        object.__setattr__(self, "memory_options", frozenset(options - {"none"}))
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype, allowed=DTYPES))
        if not isinstance(self.framework, Framework):
            raise ValueError(f"framework: must be a symbolic.framework.Framework, got {self.framework!r}")
        if not isinstance(self.safety_checker, bool):
            raise ValueError(f"safety_checker: must be True or False, got {self.safety_checker!r}")
        if not isinstance(self.long_prompt, bool):
            raise ValueError(f"long_prompt: must be True or False, got {self.long_prompt!r}")

    @property
    def bytes_per_element(self) -> int:
        return BYTES_PER_ELEMENT[self.dtype]

    @property
    def scores_stored(self) -> bool:
        """Whether the UNet's self-attention materialises N x N scores (classic, sliced, or the math kernel)."""
        return self.unet_attention in ("classic", "sliced", "math")

    @property
    def unet_attention(self) -> str:
        """The kernel the UNet's attention runs: ``sliced`` (``enable_attention_slicing`` installs
        ``SlicedAttnProcessor``, overriding the processor), ``classic``, ``math`` or ``fused`` (flash/efficient)."""
        if "attention_slicing" in self.memory_options:
            return "sliced"
        return self.vae_attention

    @property
    def vae_attention(self) -> str:
        """The VAE's mid-block attention kernel: attention slicing does not reach it (diffusers' pipeline-level
        ``enable_attention_slicing`` only sets the UNet's slice size; measured: the VAE decode peak is unchanged)."""
        if self.attention == "classic":
            return "classic"
        return "math" if self.sdpa_backend == "math" else "fused"

    def key(self) -> str:
        options = "+".join(sorted(self.memory_options)) or "none"
        return (f"{self.task}|{self.attention}|{self.sdpa_backend}|{options}|{self.dtype}|"
                f"safety={int(self.safety_checker)}|long={int(self.long_prompt)}")
