"""``python -m symbolic estimate MODEL ...``: peak GPU memory of one pipeline call."""
from __future__ import annotations

from symbolic.cli.arguments import add_flags, api_kwargs, gpu_memory, print_json, with_flag_names
from symbolic.core.units import GiB, format_bytes
from symbolic.pipelines.api import CLIP_TOKENS, estimate, evaluate, prepare

NAME = "estimate"
HELP = "peak GPU memory of one pipeline call (a bundled id, its Hub id, or a folder of downloaded configs)"
#: The flags of ``estimate`` (``symbolic.cli.arguments.FLAGS``), in ``--help``'s order.
ESTIMATE_FLAGS = ("model", "task", "height", "width", "frames", "batch", "guidance_scale", "prompt_tokens",
                  "long_prompt", "attention", "sdpa_backend", "dtype", "memory_option", "no_safety_checker", "devices",
                  "parallel", "gpu_memory", "quantize", "expandable_segments", "json")
#: The flags whose values are the API's arguments (``gpu_memory`` and ``json`` are the command's own).
API_FLAGS = tuple(name for name in ESTIMATE_FLAGS if name not in ("model", "gpu_memory", "json"))


def add_arguments(parser) -> None:
    add_flags(parser, ESTIMATE_FLAGS)


def render_table(result: dict, title: str) -> str:
    lines = [title, f"{'stage':<18}{'peak allocated':>16}", "-" * 34]
    for stage, value in result["stages"].items():
        marker = "  <- peak" if stage == result["peak_stage"] else ""
        lines.append(f"{stage:<18}{value / GiB:>12.3f} GiB{marker}")
    lines.append("-" * 34)
    rows = (("weights", "weights_bytes", "parameters and buffers"),
            ("peak allocated", "peak_allocated_bytes", "torch.cuda.max_memory_allocated"),
            ("peak reserved", "peak_reserved_bytes", "caching allocator segments"),
            ("nvidia-smi", "nvidia_smi_bytes", "reserved + CUDA context, memory plentiful"),
            ("minimum GPU", "min_gpu_memory_bytes", "smallest device memory the call completes in"))
    for label, key, meaning in rows:
        lines.append(f"{label:<18}{result[key] / GiB:>12.3f} GiB  ({meaning})")
    return "\n".join(lines)


def refuse_flags_that_change_nothing(args) -> None:
    """Flags that would be accepted and change nothing, refused naming the flag (the API keeps these points valid:
    one device under a scheme is the P = 1 end of a study, a prompt past 77 tokens costs what 77 do)."""
    if args.parallel is not None and (args.devices or 1) == 1:
        raise ValueError(f"--parallel: {args.parallel} splits the work over devices and changes nothing on one; give "
                         f"--devices 2 or more, or leave --parallel out")
    if args.prompt_tokens is not None and args.prompt_tokens > CLIP_TOKENS and not args.long_prompt:
        raise ValueError(f"--prompt-tokens: diffusers truncates the prompt to {CLIP_TOKENS} tokens, so "
                         f"{args.prompt_tokens} cost what {CLIP_TOKENS} do; --long-prompt models a scheme that encodes "
                         f"them all")


def run(args) -> int:
    refuse_flags_that_change_nothing(args)
    budget = gpu_memory(args.gpu_memory) if args.gpu_memory is not None else None

    kwargs = pipeline_kwargs(args)
    config, values = with_flag_names(lambda: prepare(args.model, **kwargs))
    result = evaluate(config, values)
    frames = f" {args.frames} frames" if args.frames else ""
    title = (f"{result['model']} ({result['pipeline']}) {result['task']}{frames} {values['H']}x"
             f"{values['W']} batch {args.batch} {result['dtype']} latent "
             f"{'x'.join(map(str, result['latent_shape']))} options={','.join(kwargs['memory_options']) or 'none'}")
    if budget is not None:
        fits = result["min_gpu_memory_bytes"] <= budget
        result = dict(result, gpu_memory_bytes=budget, fits=fits)
        if not fits:
            # The search derives other configurations: the derivation side, imported only when it runs.
            from symbolic.analysis import switch_search

            found = switch_search.search(lambda **kw: estimate(args.model, **kw), kwargs,
                                         switch_search.pipeline_switches(args.model, kwargs), budget)
            result["switches_that_fit"] = found["fits"]
            result["switch_search"] = {"combinations_tried": found["tried"], "complete": found["complete"],
                                       "order": "cheapest first (symbolic.analysis.switch_search.COSTS)"}
    if args.json:
        print_json(result)
        return 0
    print(render_table(result, title))
    if budget is not None:
        verdict = "fits" if result["fits"] else "does NOT fit"
        print(f"\n{format_bytes(result['min_gpu_memory_bytes'])} needed at least: {verdict} in "
              f"{format_bytes(budget)}")
        if not result["fits"]:
            if result.get("switches_that_fit"):
                print("switches that make it fit (cheapest first):")
                for option in result["switches_that_fit"]:
                    print(f"  {' + '.join(option['switches']):<60} {format_bytes(option['min_gpu_memory_bytes'])}")
            else:
                print("no combination of switches makes it fit")
            if not result["switch_search"]["complete"]:
                print(f"(the search stopped after {result['switch_search']['combinations_tried']} combinations)")
    return 0


def pipeline_kwargs(args) -> dict:
    """``estimate``'s keyword arguments from the parsed flags."""
    return api_kwargs(args, API_FLAGS)
