"""The closed forms the planner page evaluates: for every configuration it offers, the outputs of the same
``PipelineModel`` the API compiles (``PipelineModel.outputs()``, what ``api._build_entry`` caches), printed to
JavaScript once per distinct set of expressions.

What the page offers (a documented subset of the API, each point of it equal to the API):
- every bundled model (``catalog.CATALOG``) and each task its spec has (``txt2img``, and ``img2img`` where there is
  an image-to-image sibling);
- dtype: the model card's (the API's ``dtype=None``) or one of ``EXPLICIT_DTYPES`` for every component;
- memory options: none or *one* of ``switches.switch.MEMORY_OPTIONS`` (combinations and the parametrised switches,
  ``group_offload:...`` and ``layerwise_casting:...``, stay with the CLI: their product is too large for one page);
  a switch is offered for a model exactly when the API accepts it (``make_config`` and the model's build);
- every other argument at the API's default (guidance scale, SDPA backend, attention, one device, no quantization).
"""
from __future__ import annotations

from symbolic.core.dtypes import BYTES_PER_ELEMENT, DTYPE_ALIASES, canonical_dtype
from symbolic.pipelines import api
from symbolic.pipelines.catalog import CATALOG
from symbolic.switches.switch import ALIASES, MEMORY_OPTIONS
from symbolic.core.checks import MAX_COUNT, guidance_copies

#: The dtypes the API's ``make_config`` accepts for every component (its ``canonical_dtype(..., allowed=...)``).
EXPLICIT_DTYPES = ("fp16", "bf16", "fp32")
#: ``None``: the model card's dtypes (catalog); else every component in that dtype.
DTYPE_CHOICES = (None, *EXPLICIT_DTYPES)
#: ``None``: no switch; else one switch without arguments.
SWITCH_CHOICES = (None, *MEMORY_OPTIONS)


def dtype_aliases() -> dict[str, str]:
    """Every spelling ``canonical_dtype`` maps to an offered dtype (lower case), e.g. ``torch.float16`` -> fp16."""
    names = set(BYTES_PER_ELEMENT) | set(DTYPE_ALIASES)
    aliases = {}
    for name in sorted(names):
        try:
            aliases[name] = canonical_dtype(name, allowed=EXPLICIT_DTYPES)
        except ValueError:
            continue
    return aliases


def point_key(dtype: str | None, switch: str | None) -> str:
    """How the page looks up a (dtype, switch) pair: ``"|"`` is the model card's dtype without a switch."""
    return f"{dtype or ''}|{switch or ''}"


def _outputs(model: str, task: str, dtype: str | None, switch: str | None):
    """(config, outputs dict) of one offered point, or None where the API refuses it."""
    from symbolic.pipelines.model import model_of_config

    try:
        config = api.make_config(model, dtype=dtype, memory_options=(switch,) if switch else (), task=task)
        return config, model_of_config(config).outputs()
    except ValueError:
        return None


def planner_data(models: tuple[str, ...] | None = None) -> dict:
    """Everything the page needs, as JSON-ready data: ``functions`` (each distinct JavaScript source, see
    ``javascript.function_source``, with the names of the outputs it returns: ``PipelineModel.outputs()``'s keys),
    ``models`` (per bundled id: its facts and, per task and ``point_key(dtype, switch)``, the index of its function)
    and the tables the page checks arguments with. ``models``: bundled ids to include (default: all of ``CATALOG``;
    the browser test builds a page of a few)."""
    from symbolic.pipelines.model import default_size
    from symbolic.report.planner.javascript import function_source

    functions: list[str] = []
    index_of: dict[tuple, int] = {}
    chosen = list(CATALOG) if models is None else list(models)
    unknown = [m for m in chosen if m not in CATALOG]
    if unknown or not chosen:
        raise ValueError(f"models: must be bundled ids ({', '.join(CATALOG)}), got {unknown or 'none'}")
    facts = {}
    for model in chosen:
        entry = CATALOG[model]
        base = api.make_config(model)
        spec = base.spec
        tasks = {}
        for task in spec.tasks:
            points = {}
            for dtype in DTYPE_CHOICES:
                for switch in SWITCH_CHOICES:
                    found = _outputs(model, task, dtype, switch)
                    if found is None:
                        continue
                    config, outputs = found
                    key = tuple(outputs.items())
                    if key not in index_of:
                        index_of[key] = len(functions)
                        functions.append({"source": function_source(list(outputs.values())),
                                          "outputs": list(outputs)})
                    points[point_key(dtype, switch)] = {"function": index_of[key], "dtype": config.denoiser_dtype,
                                                        "b": config.b_value}
            tasks[task] = {"size_facts": api.size_facts(api.make_config(model, task=task)), "points": points}
        height, width = default_size(base)
        facts[model] = {
            "hub_id": entry.hub_id, "name": base.source.name, "pipeline": spec.class_name, "video": spec.video,
            "default_dtype": base.denoiser_dtype, "default_height": height, "default_width": width,
            "default_frames": spec.default_frames,
            # G at the pipeline's default guidance scale, as ``api.values_of`` computes it.
            "guidance_copies": guidance_copies(spec.default_guidance_scale), "tasks": tasks}
    return {"functions": functions, "models": facts, "dtypes": list(EXPLICIT_DTYPES),
            "dtype_aliases": dtype_aliases(), "switches": list(MEMORY_OPTIONS), "switch_aliases": ALIASES,
            "max_count": MAX_COUNT}
