"""The settings of one pipeline call that change the *shape* of its equations (the values of T, H, W, B, G, P are
symbols). Free of SymPy: a call whose equations are cached evaluates without importing it."""
from __future__ import annotations

from dataclasses import dataclass, field

from symbolic.core.dtypes import BYTES_PER_ELEMENT
from symbolic.runtime.framework import Framework, default_framework
from symbolic.pipelines.catalog import PipelineSource
from symbolic.switches.switch import Switch, SwitchKind, parse_switch


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that changes the *shape* of the equations (values of T, H, W, B, G, P are symbols)."""

    source: PipelineSource
    dtype: str | None = None
    #: The memory options' canonical texts, sorted: the configuration's repr (a cache key) is the same in every
    #: process (a frozenset's order follows the string hash seed).
    memory_options: tuple[str, ...] = ()
    parallel: str | None = None
    #: The attention kernel: ``flash`` (fused SDPA: flash / memory-efficient), ``math`` (torch's math SDPA) or
    #: ``classic`` (diffusers' ``AttnProcessor``, UNet pipelines).
    attention: str = "flash"
    framework: Framework = field(default_factory=default_framework)
    task: str = "txt2img"
    #: ``(role, scheme)`` pairs: the component loaded with that quantization (``symbolic.switches.quantization``).
    quantize: tuple[tuple[str, str], ...] = ()
    #: False: the pipeline is loaded with ``safety_checker=None`` (pipelines that have one: SD 1.5).
    safety_checker: bool = True
    #: A long-prompt scheme (compel / lpw style): the prompt of L tokens is encoded as ceil(L / 75) chunks of 77
    #: tokens each (bos + 75 + eos) and their embeddings concatenated, instead of diffusers' truncation to 77.
    long_prompt: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        """The components ``from_pretrained`` loads (the safety checker left out when it is switched off, an optional
        text encoder under ``no_<role>``)."""
        return tuple(r for r in self.source.roles if (self.safety_checker or r != "safety_checker")
                     and not self.has(f"no_{r}"))

    @property
    def spec(self):
        return self.source.spec

    def dtype_of(self, role: str) -> str:
        """The component's dtype: an explicit ``dtype`` puts every component in it; else the catalog's."""
        if self.dtype is not None:
            return self.dtype
        return dict(self.source.component_dtypes).get(role, self.source.dtype)

    @property
    def denoiser_dtype(self) -> str:
        return self.dtype_of(self.spec.denoiser)

    def bytes_of(self, role: str):
        """``b`` when the component shares the denoiser's dtype, else its byte count (a SymPy expression: imported
        here so that evaluating a cached model never imports SymPy)."""
        import sympy as sp

        from symbolic.core.symbols import b

        dtype = self.dtype_of(role)
        return b if dtype == self.denoiser_dtype else sp.Integer(BYTES_PER_ELEMENT[dtype])

    @property
    def b_value(self) -> int:
        return BYTES_PER_ELEMENT[self.denoiser_dtype]

    @property
    def switches(self) -> tuple[Switch, ...]:
        """The memory options parsed (``symbolic.switches.switch``), in a fixed order."""
        return tuple(parse_switch(o) for o in sorted(self.memory_options))

    def has(self, option: str) -> bool:
        return option in self.memory_options

    def scheme_of(self, role: str) -> str | None:
        return dict(self.quantize).get(role)

    @property
    def offload(self) -> str | None:
        """The offload switch in force: ``model_cpu_offload``, ``sequential_cpu_offload``, a ``group_offload:...``
        string, or None (every component on the GPU)."""
        found = [s.text for s in self.switches if s.offloads]
        return found[0] if found else None

    @property
    def layerwise_casting(self) -> str | None:
        """The fp8 storage dtype of the denoiser under ``layerwise_casting:<dtype>`` (None: off)."""
        found = [s.storage for s in self.switches if s.kind is SwitchKind.LAYERWISE_CASTING]
        return found[0] if found else None

    @property
    def denoiser_attention(self) -> str:
        """``enable_attention_slicing`` installs the sliced processor in the UNet (not in the VAE)."""
        return "sliced" if self.has("attention_slicing") else self.attention

    @property
    def text_attention(self) -> str:
        """The text encoders (transformers) run their own SDPA: diffusers' processors do not reach them."""
        return "math" if self.attention == "math" else "flash"
