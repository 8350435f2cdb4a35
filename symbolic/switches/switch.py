"""The one type of a memory switch and its one parser: every ``memory_options`` string the API, the CLI, the CSV
columns, the planner and the switch search take is read here, into a ``Switch``.

Spellings: the plain names of ``MEMORY_OPTIONS`` (aliases in ``ALIASES``), ``group_offload:block_level:N[:stream]``,
``group_offload:leaf_level[:stream]`` and ``layerwise_casting:fp8_e4m3|fp8_e5m2``. A malformed or unknown one is a
``ValueError`` naming ``memory_options``; so is a collection diffusers would refuse (two offload modes, two casting
dtypes).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache


class SwitchKind(str, Enum):
    """What a switch does (its value is the option's name, or its head for the parametrised ones)."""

    MODEL_CPU_OFFLOAD = "model_cpu_offload"
    SEQUENTIAL_CPU_OFFLOAD = "sequential_cpu_offload"
    GROUP_OFFLOAD = "group_offload"
    LAYERWISE_CASTING = "layerwise_casting"
    VAE_TILING = "vae_tiling"
    VAE_SLICING = "vae_slicing"
    ATTENTION_SLICING = "attention_slicing"
    TEXT_ENCODER_CPU = "text_encoder_cpu"
    #: SD 3 / 3.5 loaded with ``text_encoder_3=None`` (``no_<role>`` for the spec's optional text encoder).
    NO_TEXT_ENCODER_3 = "no_text_encoder_3"


#: Switches without arguments, as the API spells them.
MEMORY_OPTIONS = ("model_cpu_offload", "sequential_cpu_offload", "vae_tiling", "vae_slicing", "attention_slicing",
                  "text_encoder_cpu", "no_text_encoder_3")
#: Other names of the same switches.
ALIASES = {"cpu_offload": "model_cpu_offload"}
#: The parametrised switches the fit search tries (one of each kind).
SEARCHED_SWITCHES = ("group_offload:block_level:1:stream", "group_offload:leaf_level:stream",
                     "layerwise_casting:fp8_e4m3")
#: Bytes per element of the fp8 storage dtypes (``torch.float8_e4m3fn`` / ``torch.float8_e5m2``).
STORAGE_BYTES = {"fp8_e4m3": 1, "fp8_e5m2": 1}
#: The torch dtype each storage name stands for (what ``enable_layerwise_casting(storage_dtype=...)`` receives).
STORAGE_TORCH_DTYPE = {"fp8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2"}
#: Quantization schemes (``--quantize COMPONENT=SCHEME``; their storage in ``symbolic.switches.quantization``).
SCHEMES: tuple[str, ...] = ("bnb_nf4", "bnb_fp4", "bnb_int8", "torchao_int8wo", "torchao_int4wo", "gguf_q8_0",
                            "gguf_q4_k")
#: The kinds that move weights between the CPU and the GPU (diffusers applies one of them at a time).
OFFLOAD_KINDS = frozenset({SwitchKind.MODEL_CPU_OFFLOAD, SwitchKind.SEQUENTIAL_CPU_OFFLOAD, SwitchKind.GROUP_OFFLOAD})


@dataclass(frozen=True)
class Switch:
    """One parsed memory option. ``mode``: ``"block_level"`` / ``"leaf_level"`` (group offload);
    ``blocks_per_group``: N of ``block_level:N``; ``stream``: the ``:stream`` suffix (``use_stream=True``);
    ``storage``: ``"fp8_e4m3"`` / ``"fp8_e5m2"`` (layerwise casting); ``text``: the option as the API keeps it."""

    kind: SwitchKind
    mode: str | None = None
    blocks_per_group: int | None = None
    stream: bool = False
    storage: str | None = None
    text: str = field(default="", compare=False)

    @property
    def offloads(self) -> bool:
        return self.kind in OFFLOAD_KINDS


def _malformed(text: str, why: str) -> ValueError:
    return ValueError(
        f"memory_options: malformed option {text!r} ({why}); expected 'sequential_cpu_offload', "
        "'group_offload:block_level:N[:stream]', 'group_offload:leaf_level[:stream]' or "
        "'layerwise_casting:fp8_e4m3|fp8_e5m2'")


def parse_switch(text: str) -> Switch:
    """One option (aliases resolved, blanks around dropped). ``group_offload:block_level:N:stream`` with N != 1 is
    accepted as written, as diffusers accepts it, but diffusers then warns and runs with N = 1
    (``_apply_group_offloading_block_level``: "Using streams is only supported for num_blocks_per_group=1");
    ``offload.group_offload_bytes`` models that."""
    if not isinstance(text, str):
        raise ValueError(f"memory_options: option names must be strings, got {text!r}")
    return _parsed(text)


@lru_cache(maxsize=None)
def _parsed(text: str) -> Switch:
    option = ALIASES.get(text.strip(), text.strip())
    if option in MEMORY_OPTIONS:
        return Switch(SwitchKind(option), text=option)
    if not option.startswith(("group_offload", "layerwise_casting")):
        raise ValueError(f"memory_options: unknown option {option!r}; known: {', '.join(MEMORY_OPTIONS)}, "
                         f"group_offload:block_level:N[:stream], group_offload:leaf_level[:stream], "
                         f"layerwise_casting:fp8_e4m3|fp8_e5m2 (cpu_offload is model_cpu_offload)")
    head, *rest = option.split(":")
    if head == "group_offload":
        stream = bool(rest) and rest[-1] == "stream"
        if stream:
            rest = rest[:-1]
        if rest[:1] == ["block_level"]:
            if len(rest) != 2 or not re.fullmatch(r"[0-9]+", rest[1]) or int(rest[1]) < 1:
                raise _malformed(option, "block_level needs a positive integer N: group_offload:block_level:N")
            return Switch(SwitchKind.GROUP_OFFLOAD, "block_level", int(rest[1]), stream, text=option)
        if rest == ["leaf_level"]:
            return Switch(SwitchKind.GROUP_OFFLOAD, "leaf_level", None, stream, text=option)
        raise _malformed(option, "group_offload needs block_level:N or leaf_level")
    if head == "layerwise_casting":
        if len(rest) != 1 or rest[0] not in STORAGE_BYTES:
            raise _malformed(option, f"layerwise_casting needs one of {sorted(STORAGE_BYTES)}")
        return Switch(SwitchKind.LAYERWISE_CASTING, storage=rest[0], text=option)
    raise _malformed(option, f"unknown switch {head!r}")


def parse_switches(memory_options: object) -> frozenset[str]:
    """A collection of options (a string is one option; ``none`` entries are dropped) -> their texts, each parsed;
    combinations diffusers refuses are refused naming ``memory_options``."""
    if memory_options is None:
        return frozenset()
    if isinstance(memory_options, str):
        memory_options = (memory_options,)
    if not isinstance(memory_options, Iterable):
        raise ValueError(f"memory_options: must be a collection of {', '.join(MEMORY_OPTIONS)}, got {memory_options!r}")
    options = list(memory_options)
    bad = [o for o in options if not isinstance(o, str)]
    if bad:
        raise ValueError(f"memory_options: option names must be strings, got {bad[0]!r}")
    switches = {parse_switch(o) for o in options if o.strip() != "none"}
    offloads = sorted(s.text for s in switches if s.offloads)
    if len(offloads) > 1:
        raise ValueError(f"memory_options: {' and '.join(offloads)} exclude each other (diffusers moves the weights "
                         f"one way)")
    if len([s for s in switches if s.kind is SwitchKind.LAYERWISE_CASTING]) > 1:
        raise ValueError("memory_options: one layerwise_casting storage dtype at most")
    return frozenset(s.text for s in switches)


def quantize_pairs(quantize: object) -> list[tuple[str, str]]:
    """``{role: scheme}``, ``"role=scheme"`` or a collection of such strings -> ``(role, scheme)`` pairs as given
    (blanks around each dropped); the caller checks roles and schemes against the pipeline."""
    if quantize is None:
        return []
    if isinstance(quantize, str):
        quantize = (quantize,)
    if isinstance(quantize, dict):
        return list(quantize.items())
    if not isinstance(quantize, Iterable):
        raise ValueError(f"quantize: must be a mapping of component to scheme, got {quantize!r}")
    pairs = []
    for item in quantize:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"quantize: must be COMPONENT=SCHEME, got {item!r}")
        role, _, scheme = item.partition("=")
        pairs.append((role.strip(), scheme.strip()))
    return pairs
