"""Which switches make a call fit a GPU: combinations tried cheapest first, each judged by its minimum GPU memory.

The cost order (what a switch costs in time or quality, lowest first; a combination costs the sum):

====  ==========================================  ==============================================================
cost  switch                                      why
====  ==========================================  ==============================================================
1     vae_slicing                                 the same decode, one sample at a time: a loop, no extra work
2     vae_tiling                                  overlapping tiles: ~25 % more decode work, blended seams
2     no_safety_checker (where one is loaded)     skips a check: no time, but no NSFW filter
3     default_sdpa / fp16 / bf16 (where they help) a faster kernel / half the bytes of fp32: free or a tiny
                                                  precision change
4     attention_slicing (UNet pipelines)          attention in head slices: smaller, slower kernels every step
5     text_encoder_cpu                            the prompt encoded on the CPU: seconds, once per call
6     model_cpu_offload                           each component crosses PCIe once per call (~1 s per 20 GB)
7     layerwise_casting:fp8_e4m3                  a cast per layer per step (~10 %) and fp8-rounded weights
7     no_text_encoder_3 (SD 3 / 3.5)              no time, but T5's embedding replaced by zeros: weaker prompt
                                                  adherence, above all for long prompts and text in images
8     group_offload:block_level:1:stream          the denoiser crosses PCIe every step, overlapped on a stream
9     quantize <denoiser>=bnb_nf4                 4-bit weights: a dequantisation per matmul, a quality change
9     quantize <largest text encoder>=bnb_nf4     the same for the text encoder (once per call)
10    group_offload:leaf_level:stream             every layer crosses PCIe every step, less overlap
12    sequential_cpu_offload                      every module crosses PCIe synchronously every step: slowest
====  ==========================================  ==============================================================

At most one offload mode goes into a combination (diffusers applies one). The search evaluates at most
``MAX_TRIALS`` combinations (each a derivation the first time) and says so when it stops there.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from symbolic.switches.switch import MEMORY_OPTIONS, SEARCHED_SWITCHES, parse_switch, quantize_pairs

#: Combinations evaluated at most per search.
MAX_TRIALS = 40
#: Switches per combination at most.
MAX_SWITCHES = 3
COSTS = {"vae_slicing": 1, "vae_tiling": 2, "no_safety_checker": 2, "default_sdpa": 3, "fp16": 3, "bf16": 3,
         "attention_slicing": 4, "text_encoder_cpu": 5, "model_cpu_offload": 6, "layerwise_casting:fp8_e4m3": 7,
         "no_text_encoder_3": 7,
         "group_offload:block_level:1:stream": 8, "group_offload:leaf_level:stream": 10,
         "sequential_cpu_offload": 12}
QUANTIZE_COST = 9


@dataclass(frozen=True)
class Candidate:
    """A change the search may make to a call: a memory option, a quantized component, a kernel or dtype."""

    name: str
    cost: int
    apply: Callable[[dict], dict]
    #: It moves weights between CPU and GPU (a combination holds one such switch at most).
    offloads: bool = False


def cost_of(name: str) -> int:
    return QUANTIZE_COST if name.startswith("quantize:") else COSTS[name]


def with_option(option: str) -> Callable[[dict], dict]:
    def apply(kwargs: dict) -> dict:
        return dict(kwargs, memory_options=tuple(sorted({*kwargs.get("memory_options", ()), option})))
    return apply


def with_quantized(role: str, scheme: str) -> Callable[[dict], dict]:
    def apply(kwargs: dict) -> dict:
        quantize = dict(quantize_pairs(kwargs.get("quantize")))
        return dict(kwargs, quantize={**quantize, role: scheme})
    return apply


def combinations(switches: list[Candidate]):
    """Switch sets of up to MAX_SWITCHES, at most one offload mode each, by total cost then size."""
    found = []
    for size in range(1, MAX_SWITCHES + 1):
        for combo in itertools.combinations(switches, size):
            if sum(s.offloads for s in combo) > 1:
                continue
            found.append(combo)
    return sorted(found, key=lambda c: (sum(s.cost for s in c), len(c), [s.name for s in c]))


def search(estimate: Callable[..., dict], kwargs: dict, switches: list[Candidate], budget: int,
           limit: int = 5) -> dict:
    """The cheapest switch sets under which ``estimate(**kwargs)``'s ``min_gpu_memory_bytes`` fits ``budget``; a set
    is skipped when a cheaper subset of it already fits. Returns ``{"fits": [...], "tried": n, "complete": bool}``."""
    fits, tried = [], 0
    candidates = combinations(switches)
    for combo in candidates:
        names = {s.name for s in combo}
        if any(set(f["switches"]) <= names for f in fits):
            continue
        if tried >= MAX_TRIALS:
            return {"fits": fits, "tried": tried, "complete": False}
        trial = kwargs
        for switch in combo:
            trial = switch.apply(trial)
        if trial == kwargs:
            continue  # already on
        tried += 1
        try:
            result = estimate(**trial)
        except ValueError:  # a combination the pipeline does not offer (refused, never ignored)
            continue
        if result["min_gpu_memory_bytes"] <= budget:
            fits.append({"switches": [s.name for s in combo], "cost": sum(s.cost for s in combo),
                         "min_gpu_memory_bytes": result["min_gpu_memory_bytes"],
                         "nvidia_smi_bytes": result["nvidia_smi_bytes"],
                         "peak_allocated_bytes": result["peak_allocated_bytes"]})
            if len(fits) >= limit:
                return {"fits": fits, "tried": tried, "complete": True}
    return {"fits": fits, "tried": tried, "complete": True}


def pipeline_switches(model: str, kwargs: dict) -> list[Candidate]:
    """The switches a pipeline offers (``make_config`` refuses the others): its memory options, the offload modes,
    fp8 storage of the denoiser, 4-bit weights for the denoiser and the largest text encoder, and, where the call
    asks for more than the pipeline needs: no safety checker, the default SDPA kernel instead of classic / math
    attention, the model card's half precision instead of fp32."""
    from symbolic.switches import quantization
    from symbolic.pipelines import catalog
    from symbolic.pipelines.api import make_config

    source = catalog.load(model.strip())
    fixed = {k: kwargs.get(k) for k in ("task", "attention")}

    def offered(**change) -> bool:
        try:
            make_config(model, **fixed, **change)
        except ValueError:
            return False
        return True

    switches = [Candidate(o, COSTS[o], with_option(o), parse_switch(o).offloads) for o in MEMORY_OPTIONS + SEARCHED_SWITCHES
                if o in COSTS and offered(memory_options=(o,))]
    from symbolic.pipelines.model import component

    texts = [call.role for call in source.spec.text_calls]
    largest_text = max(texts, key=lambda role: sum(t.numel for t in component(source, role).tensors), default=None)
    for role in (source.spec.denoiser, largest_text):
        if role and quantization.applies(component(source, role), "bnb_nf4"):
            switches.append(Candidate(f"quantize:{role}=bnb_nf4", QUANTIZE_COST, with_quantized(role, "bnb_nf4")))
    if kwargs.get("safety_checker", True) and "safety_checker" in source.roles:
        switches.append(Candidate("no_safety_checker", COSTS["no_safety_checker"],
                               lambda kw: dict(kw, safety_checker=False)))
    if kwargs.get("attention") == "classic" or kwargs.get("attention_backend") == "math":
        switches.append(Candidate("default_sdpa", COSTS["default_sdpa"],
                               lambda kw: dict(kw, attention="sdpa", attention_backend="default")))
    half = source.dtype if source.dtype in ("fp16", "bf16") else "fp16"
    if kwargs.get("dtype") == "fp32":
        switches.append(Candidate(half, COSTS[half], lambda kw: dict(kw, dtype=half)))
    return sorted(switches, key=lambda s: (s.cost, s.name))
