"""``estimate``: the Python API over the closed-form model of any bundled or downloaded pipeline (the CLI, the
validator and the harness call it).

The expressions come from ``symbolic.pipelines.model``; their generated exact code is cached on disk
(``symbolic.core.evaluate.cache``), so a process that finds the cache warm evaluates them without deriving anything.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from functools import lru_cache

from symbolic.core.evaluate.cache import load_or_build
from symbolic.switches.switch import SCHEMES, Switch, SwitchKind, parse_switch, parse_switches, quantize_pairs
from symbolic.core.dtypes import canonical_dtype
from symbolic.core.evaluate.runtime import ceil_int, compile_exact, positional
from symbolic.runtime.framework import Framework
from symbolic.pipelines import catalog
from symbolic.core.checks import (MAX_COUNT, PointRule, RuleKind, check_point, choice, guidance_copies, positive_int,
                                  renamed, shown)

ATTENTION = ("sdpa", "classic")
PARALLEL_SCHEMES = ("ulysses", "ring", "fsdp")
#: SDPA kernels: torch's choice, or one forced with ``sdpa_kernel`` (flash and memory-efficient store the same: no N x N
#: scores, so both are the fused kernel here).
ATTENTION_BACKENDS = ("default", "flash", "efficient", "math")


def _quantize(quantize: object, source) -> tuple[tuple[str, str], ...]:
    """``{role: scheme}`` (or ``["role=scheme", ...]``) -> sorted pairs, each checked against the component."""
    pairs = quantize_pairs(quantize)
    seen = {}
    for role, scheme in pairs:
        if role not in source.roles:
            raise ValueError(f"quantize: {source.name} has no component {role!r}; it has {', '.join(source.roles)}")
        scheme = choice(scheme, "quantize", SCHEMES)
        facts = component_facts(source)[role]
        if scheme not in facts["schemes"]:
            raise ValueError(f"quantize: {scheme} does not apply to {role} ({facts['class']}); it supports "
                             f"{', '.join(facts['schemes']) or 'none'}")
        if seen.setdefault(role, scheme) != scheme:
            raise ValueError(f"quantize: {role} given twice")
    return tuple(sorted(seen.items()))


def make_config(model: object, dtype: object = None, memory_options: object = (), parallel: object = None,
                attention_backend: object = "default", framework: Framework | None = None, task: object = None,
                attention: object = "sdpa", quantize: object = None, safety_checker: object = True,
                long_prompt: object = False):
    """The configuration of one call; an option the pipeline does not offer is refused naming its argument."""
    from symbolic.pipelines.config import PipelineConfig

    catalog.resolve(model)  # a one-line ValueError for a bad model before anything is cached
    source = catalog.load(model.strip())
    dtype = None if dtype is None else canonical_dtype(dtype, argument="dtype", allowed=("fp32", "fp16", "bf16"))
    if parallel is not None:
        parallel = choice(parallel, "parallel", PARALLEL_SCHEMES)
    backend = choice(attention_backend, "attention_backend", ATTENTION_BACKENDS)
    if framework is not None and not isinstance(framework, Framework):
        raise ValueError(f"framework: must be a symbolic.runtime.framework.Framework, got {framework!r}")
    extra = {} if framework is None else {"framework": framework}
    spec = source.spec
    task = choice(spec.tasks[0] if task is None else task, "task", spec.tasks)
    attention = choice(attention, "attention", ATTENTION)
    if attention == "classic" and backend != "default":
        raise ValueError(f"attention_backend: {backend} selects an SDPA kernel, and the classic AttnProcessor "
                         f"(attention='classic') calls none; it applies with attention='sdpa'")
    options = tuple(sorted(parse_switches(memory_options)))
    if not spec.attention_processors:
        if attention == "classic":
            raise ValueError(f"attention: classic (diffusers' AttnProcessor) applies to UNet pipelines, not to "
                             f"{source.name}")
        if "attention_slicing" in options:
            raise ValueError(f"memory_options: attention_slicing applies to UNet pipelines, not to {source.name}")
    quantized = _quantize(quantize, source)
    _check_switches(source, options, quantized, parallel)
    optional = {f"no_{call.role}": call.role for call in spec.text_calls if call.optional}
    for option in sorted(o for o in options if o.startswith("no_")):
        if option not in optional:
            raise ValueError(f"memory_options: {option} applies to pipelines that run without that text encoder "
                             f"(SD 3 / 3.5's T5), not to {source.name}")
        if optional[option] in dict(quantized):
            raise ValueError(f"quantize: {optional[option]} is not loaded under {option}")
    for name, value in (("safety_checker", safety_checker), ("long_prompt", long_prompt)):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: must be True or False, got {value!r}")
    if not safety_checker and "safety_checker" not in source.roles:
        raise ValueError(f"safety_checker: {source.name} loads no safety checker")
    if long_prompt and not spec.chunked_prompts:
        raise ValueError(f"long_prompt: {source.name}'s text encoders are not 77-token CLIPs feeding a UNet; "
                         f"chunked prompts apply to the SD 1.x / 2.x / XL pipelines")
    kernel = "classic" if attention == "classic" else ("math" if backend == "math" else "flash")
    return PipelineConfig(source, dtype, options, parallel, kernel, task=task, quantize=quantized,
                          safety_checker=safety_checker, long_prompt=long_prompt, **extra)


def _check_switches(source, options: tuple[str, ...], quantized: tuple, parallel) -> None:
    """Switch combinations diffusers refuses or that are not modelled: named, never ignored."""
    spec = source.spec
    casting = [o for o in options if o.startswith("layerwise_casting")]
    moving = [o for o in options if o == "sequential_cpu_offload" or o.startswith("group_offload")]
    if (casting or moving or quantized) and parallel is not None:
        raise ValueError(f"parallel: {parallel} with quantization, offload or layerwise casting is not modelled")
    if casting:
        facts = component_facts(source)[spec.denoiser]
        if SwitchKind.LAYERWISE_CASTING.value not in facts["switch_kinds"]:
            raise ValueError(f"memory_options: {casting[0]} needs a diffusers denoiser, {facts['class']} is not one")
        if spec.denoiser in dict(quantized):
            raise ValueError(f"memory_options: {casting[0]} and quantize {spec.denoiser} exclude each other")
    for switch in moving:
        for role in source.roles:
            facts = component_facts(source)[role]
            if parse_switch(switch).kind not in facts["switch_kinds"]:
                raise ValueError(f"memory_options: {switch} does not apply to {role} ({facts['class']})")


#: What a component-facts cache entry holds (``_component_facts_entry``).
FACTS_KEYS = ("components",)


def component_facts(source) -> dict[str, dict]:
    """Per role of ``source``: its ``class``, the quantization ``schemes`` and the weight-moving ``switch_kinds``
    that apply to it, as its component class declares them (``symbolic.switches.quantization.supported``,
    ``symbolic.switches.offload.applies``). Cached on disk by the configs' digest, so that a warm call checks its
    switches without importing the component library (or SymPy)."""
    key = hashlib.sha256(json.dumps(source.configs).encode()).hexdigest()
    return load_or_build("component_facts", key, lambda: _component_facts_entry(source), FACTS_KEYS)["components"]


def _component_facts_entry(source) -> dict:
    # The derivation side (a miss): the component classes and the switch models, imported only here.
    from symbolic.components import class_name_of, component_class, registered
    from symbolic.components.base import ComponentBase
    from symbolic.switches import offload, quantization

    roles = {}
    for role in source.roles:
        config = source.config(role)
        name = class_name_of(config)
        if registered(name):
            declared = component_class(name)
            source.spec.check_role(role, name, declared.kind, f"{source.folder}/{role}/config.json")
        else:  # an unmodelled class: only what its library implies (its estimate is refused later, naming it)
            library = "diffusers" if "_class_name" in config else "transformers"
            declared = type("Unmodelled", (ComponentBase,), {"library": library})
        kinds = [kind for kind in (SwitchKind.SEQUENTIAL_CPU_OFFLOAD, SwitchKind.GROUP_OFFLOAD,
                                   SwitchKind.LAYERWISE_CASTING)
                 if offload.applies(Switch(kind, mode="leaf_level"), declared)]
        roles[role] = {"class": name, "schemes": list(quantization.supported(declared)),
                       "switch_kinds": [k.value for k in kinds]}
    return {"components": roles}


def pipeline_model(model: str, **config):
    """The SymPy model of one configuration (cached): ``pipeline_model("flux.1-dev", dtype=None,
    memory_options=(), parallel=None, attention_backend="default")``. Its ``terms`` (name, category, stage,
    expression, derivation note), ``moments(stage)``, ``stage_peaks``, ``peak_allocated``, ``peak_reserved`` and
    ``nvidia_smi`` are expressions in T, H, W, B, G, b, P."""
    from symbolic.pipelines.model import model_of_config as build

    return build(make_config(model, **config))


#: The rules on a call's size, in the order they are checked: the API (``values_of``), ``validate``'s column path and
#: the planner page (its JavaScript generated from this table) read them.
SIZE_RULES = tuple(rule for argument in ("height", "width") for rule in (
    # img2img rounds the init image down to multiples: below one multiple the latent would be empty.
    PointRule(argument, RuleKind.AT_LEAST, "min_size",
              "{argument}: {model} needs at least {min_size} pixels (one latent pixel after rounding), got {value}"),
    PointRule(argument, RuleKind.MULTIPLE_OF, "size_multiple",
              "{argument}: {model} needs a multiple of {size_multiple} ({pipeline}.check_inputs or the patch size), "
              "got {value}"),
))


def size_facts(config) -> dict:
    """The facts ``SIZE_RULES`` read for one configuration (JSON-ready: the planner page embeds them)."""
    spec = config.spec
    # txt2img: check_inputs' multiple; img2img resizes the init image down to multiples itself.
    return {"model": config.source.name, "pipeline": spec.class_name, "min_size": spec.multiple,
            "size_multiple": spec.multiple if config.task == "txt2img" else 1}


#: CLIP's context: the prompt length diffusers truncates to, and the default of ``prompt_tokens``.
CLIP_TOKENS = 77


def values_of(config, frames, height, width, batch, guidance_scale, devices,
              prompt_tokens=None) -> dict[str, int]:
    """Validated symbol values for one call (defaults from the pipeline's spec and its configs: the default size and
    the heads come from the cached entry, so a warm call needs no component)."""
    spec = config.spec
    height = None if height is None else positive_int(height, "height", MAX_COUNT)
    width = None if width is None else positive_int(width, "width", MAX_COUNT)
    batch = positive_int(batch, "batch", MAX_COUNT)
    devices = positive_int(devices, "devices", MAX_COUNT)
    guidance = guidance_copies(spec.default_guidance_scale if guidance_scale is None else guidance_scale)
    if spec.video:
        frames = positive_int(spec.default_frames if frames is None else frames, "frames", MAX_COUNT)
    elif frames is not None:
        raise ValueError(f"frames: {config.source.name} makes images; leave frames out")
    if devices > 1 and config.parallel is None:
        raise ValueError(f"parallel: devices={devices} needs a scheme, one of {', '.join(PARALLEL_SCHEMES)}")
    entry = cached_entry(config)[0]
    height = entry["default_size"][0] if height is None else height
    width = entry["default_size"][1] if width is None else width
    check_point(SIZE_RULES, size_facts(config), {"height": height, "width": width})
    if config.parallel == "ulysses" and entry["heads"] % devices:
        raise ValueError(f"devices: Ulysses splits the {entry['heads']} attention heads of {config.source.name}; "
                         f"{devices} does not divide them")
    values = {"H": height, "W": width, "B": batch, "P": devices, "G": guidance, "b": config.b_value}
    if prompt_tokens is not None and not spec.chunked_prompts:
        raise ValueError(f"prompt_tokens: {config.source.name} pads or truncates its prompt to a fixed length; the "
                         f"prompt's length matters only to the SD 1.x / 2.x / XL pipelines' long-prompt scheme")
    if spec.chunked_prompts:
        # Without the long-prompt scheme diffusers truncates to 77 tokens: L is read only by the scheme's terms.
        values["L"] = positive_int(CLIP_TOKENS if prompt_tokens is None else prompt_tokens, "prompt_tokens",
                                   MAX_COUNT)
    if spec.video:
        values["T"] = frames
    return values


#: What a cache entry of this module holds (``_build_entry``) and ``evaluate`` reads.
ENTRY_KEYS = ("args", "stages", "roles", "latent_rank", "default_size", "heads", "outputs")


def _build_entry(config) -> dict:
    """The cache entry of one configuration, derived (the cold path). A config folder whose values each pass their
    checks but do not fit together (lists of different lengths, say) is refused naming the folder, never a
    traceback: the bundled configs derive without it (the tests hold them to that)."""
    try:
        return _derive_entry(config)
    except (ArithmeticError, AttributeError, IndexError, KeyError, LookupError, TypeError) as exc:
        raise ValueError(f"model: {config.source.folder}: its configs do not describe a model this pipeline can "
                         f"build ({exc.__class__.__name__}: {shown(str(exc), 100)})") from None


def _derive_entry(config) -> dict:
    from symbolic.core.evaluate.printers import exact_source
    from symbolic.pipelines.model import default_size, denoiser
    from symbolic.pipelines.model import model_of_config as build
    from symbolic.core.symbols import ARG_NAMES

    model = build(config)
    return {"args": list(ARG_NAMES), "stages": list(model.stages), "roles": list(model.component_weights),
            "latent_rank": len(model.latent_shape), "default_size": list(default_size(config)),
            "heads": int(denoiser(config).heads),
            "outputs": {name: exact_source(expr) for name, expr in model.outputs().items()}}


@lru_cache(maxsize=None)
def cached_entry(config) -> tuple[dict, dict]:
    entry = load_or_build("pipeline", repr(config), lambda: _build_entry(config), ENTRY_KEYS)
    return entry, {name: compile_exact(src) for name, src in entry["outputs"].items()}


def evaluate(config, values: dict[str, int]) -> dict:
    entry, functions = cached_entry(config)
    args = positional(entry["args"], values)
    return shape(config, entry, {name: ceil_int(fn(*args)) for name, fn in functions.items()})


def shape(config, entry: dict, out: dict) -> dict:
    """The API's result from the outputs' values (one point) and the entry's stage, role and latent lists."""
    stages = {s: out[f"stage:{s}"] for s in entry["stages"]}
    return {
        "model": config.source.name,
        "pipeline": config.spec.class_name,
        "task": config.task,
        "dtype": config.denoiser_dtype,
        "peak_allocated_bytes": out["peak_allocated_bytes"],
        "peak_reserved_bytes": out["peak_reserved_bytes"],
        "nvidia_smi_bytes": out["nvidia_smi_bytes"],
        "min_gpu_memory_bytes": out["min_gpu_memory_bytes"],
        "peak_stage": max(stages, key=stages.get),
        "weights_bytes": out["weights_bytes"],
        "stages": stages,
        "component_weights_bytes": {role: out[f"component:{role}"] for role in entry["roles"]},
        "stage_activation_bytes": {s: out[f"activation:{s}"] for s in entry["stages"]},
        "latent_shape": tuple(out[f"latent:{i}"] for i in range(entry["latent_rank"])),
        "tokens": out["tokens"],
    }


def prepare(model: str, height: int | None = None, width: int | None = None, *, frames: int | None = None,
            batch: int = 1, guidance_scale: float | None = None, dtype: str | None = None, memory_options=(),
            devices: int = 1, parallel: str | None = None, attention_backend: str = "default",
            framework: Framework | None = None, task: str | None = None, attention: str = "sdpa",
            quantize=None, prompt_tokens: int | None = None, safety_checker: bool = True,
            long_prompt: bool = False) -> tuple:
    """``estimate``'s arguments checked: (the configuration, the symbol values with the pipeline's defaults filled
    in), what ``evaluate`` takes; the CLI reads the defaults it used from the values. The arguments are
    ``estimate``'s (its docstring says what each means)."""
    config = make_config(model, dtype, memory_options, parallel, attention_backend, framework, task, attention,
                         quantize, safety_checker, long_prompt)
    return config, values_of(config, frames, height, width, batch, guidance_scale, devices, prompt_tokens)


def estimate(model: str, height: int | None = None, width: int | None = None, **call) -> dict:
    """Peak GPU memory (bytes, per device) of one text-to-image / text-to-video call of a diffusers pipeline:
    a bundled id (``symbolic.pipelines.catalog.CATALOG``), its Hub id, or a folder holding ``model_index.json`` and
    the components' ``config.json`` files. Sizes, frames and guidance default to the pipeline's own defaults.
    ``task``: ``txt2img`` (text-to-image or text-to-video) or, where the pipeline has an image-to-image sibling,
    ``img2img``. ``attention``: ``sdpa`` or ``classic`` (UNet pipelines). ``memory_options``: any of
    ``symbolic.switches.switch.MEMORY_OPTIONS`` the pipeline offers, one offload mode at most (``model_cpu_offload``,
    ``sequential_cpu_offload``, ``group_offload:block_level:N[:stream]``, ``group_offload:leaf_level[:stream]``) and
    ``layerwise_casting:fp8_e4m3|fp8_e5m2`` (the denoiser's storage). ``quantize``: ``{role: scheme}`` or
    ``["role=scheme"]``, schemes of ``symbolic.switches.switch.SCHEMES``. ``safety_checker=False``: loaded without
    it (pipelines that have one). ``long_prompt``: a prompt of ``prompt_tokens`` tokens (default 77) encoded in
    chunks of 75 (SD 1.x / 2.x / XL; without it diffusers truncates to 77 and the length changes nothing).

    Returns ``peak_allocated_bytes`` (``torch.cuda.max_memory_allocated``), ``peak_reserved_bytes`` (the caching
    allocator's segments: allocated + weights' segment slack + a cached pool + 16/25 of the largest stage activation,
    an assumption carried over from the SD 1.5 fit), ``nvidia_smi_bytes`` (reserved + CUDA context + driver extra),
    ``peak_stage``, ``weights_bytes`` (all components, per device), ``stages`` (each stage's peak allocated bytes,
    resident weights included), ``component_weights_bytes`` (by role), ``stage_activation_bytes`` (stage peak minus
    the weights resident then), ``latent_shape`` and ``tokens`` (the denoiser's self-attention sequence length).
    """
    return evaluate(*prepare(model, height, width, **call))


# One signature, written once: estimate takes exactly prepare's arguments (help() and inspect show them).
estimate.__signature__ = inspect.signature(prepare).replace(return_annotation=dict)


def estimate_video_pipeline(model: str, frames: int, height: int, width: int, batch: int = 1,
                            guidance_scale: float = 6.0, dtype: str | None = None, memory_options=(),
                            devices: int = 1, parallel: str | None = None, attention_backend: str = "default",
                            framework: Framework | None = None) -> dict:
    """``estimate`` with the video pipelines' positional order (frames, height, width) and guidance 6.0."""
    return estimate(model, height, width, frames=frames, batch=batch, guidance_scale=guidance_scale, dtype=dtype,
                    memory_options=memory_options, devices=devices, parallel=parallel,
                    attention_backend=attention_backend, framework=framework)


#: ``estimate_sd15``'s argument names -> ``estimate``'s (its errors name the argument the caller typed).
SD15_ARGUMENTS = {"batch": "num_images_per_prompt", "attention_backend": "sdpa_backend"}


def estimate_sd15(height: int = 512, width: int = 512, *, task: str = "img2img", num_images_per_prompt: int = 1,
                  guidance_scale: float = 7.5, prompt_tokens: int = 77, attention: str = "sdpa",
                  sdpa_backend: str = "default", dtype: str = "fp16", memory_options=(), safety_checker: bool = True,
                  long_prompt: bool = False, framework: Framework | None = None) -> dict:
    """``estimate("sd15", ...)`` with the argument names of ``StableDiffusionImg2ImgPipeline.__call__``
    (``num_images_per_prompt``) and the defaults of the measured rows (img2img, 512 x 512, guidance 7.5, fp16)."""
    return renamed(lambda: estimate("sd15", height, width, batch=num_images_per_prompt, guidance_scale=guidance_scale,
                                    dtype=dtype, memory_options=memory_options, attention_backend=sdpa_backend,
                                    framework=framework, task=task, attention=attention, prompt_tokens=prompt_tokens,
                                    safety_checker=safety_checker, long_prompt=long_prompt), SD15_ARGUMENTS)
