"""``python -m symbolic asymptotics MODEL``: leading term of the peak and the crossovers, along H = W = s."""
from __future__ import annotations

from symbolic.cli.arguments import CONFIG_FLAGS, add_flags, api_kwargs, print_json, with_flag_names
from symbolic.core.checks import positive_int

NAME = "asymptotics"
#: The flags whose values configure the pipeline (batch and guidance go to the study itself).
CONFIGURATION = tuple(n for n in CONFIG_FLAGS if n not in ("batch", "guidance_scale", "json"))
HELP = "leading-order term of the peak as H = W = s grows, and the sizes where terms cross"


def add_arguments(parser) -> None:
    add_flags(parser, CONFIG_FLAGS)
    parser.add_argument("--all-backends", action="store_true",
                        help="also the leading term for each attention kernel (sdpa, classic, math, slicing)")


def _describe(name: str, crossing: dict) -> str:
    if crossing.get("size") is None:
        return f"  {name:<30} none ({crossing.get('note', '')})"
    root = f"root s = {crossing['root']:.1f}, " if crossing.get("root") is not None else ""
    extra = f" [{crossing['direction']}]" if "direction" in crossing else ""
    return f"  {name:<30} from {crossing['size']} x {crossing['size']} px ({root}checked exactly){extra}"


def run(args) -> int:
    from symbolic.analysis.asymptotics import analyse, kernel_configs

    kwargs = api_kwargs(args, CONFIGURATION)
    common = {"num_images_per_prompt": positive_int(args.batch, "--batch"), "guidance_scale": args.guidance_scale}
    result = with_flag_names(lambda: analyse(**common, **kwargs))
    if args.all_backends:
        result["per_backend"] = {}
        for name, extra in kernel_configs(args.model).items():
            other = with_flag_names(lambda: analyse(**common, **dict(kwargs, **extra)))
            result["per_backend"][name] = {k: other[k] for k in ("leading_order", "leading_coefficient", "leading_term")}
    if args.json:
        print_json(result)
        return 0
    print(f"{result['model']} {result['config']}, H = W = s (multiples of {result['size_step']})")
    print(f"leading term of the peak: {result['leading_term']} bytes  (order s^{result['leading_order']};"
          f" limit of peak / leading term = {result['limit_peak_over_leading']})")
    print("crossovers:")
    for name, crossing in result["crossovers"].items():
        print(_describe(name, crossing))
    for name, lead in result.get("per_backend", {}).items():
        print(f"  {name:<28} leading term {lead['leading_term']}")
    return 0
