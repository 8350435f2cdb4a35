"""``python -m symbolic fit MODEL --gpu-memory 24GiB``: the largest square size and batches that fit a GPU."""
from __future__ import annotations

from symbolic.cli.arguments import print_json
from symbolic.cli.config_arguments import add_config_arguments, config_kwargs, with_flag_names
from symbolic.core.units import format_bytes, parse_size
from symbolic.core.checks import positive_int

NAME = "fit"
HELP = "largest square size (multiple of the model's size step) and largest batch per size that fit a GPU's memory"


def add_arguments(parser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--gpu-memory", required=True, metavar="SIZE", help="e.g. 24GiB, 12GB, 8589934592")
    parser.add_argument("--criterion", default="minimum", choices=("minimum", "nvidia-smi", "reserved", "allocated"),
                        help="what must fit: the minimum GPU memory the call completes in (default), nvidia-smi "
                             "bytes (reserved + CUDA context), reserved, allocated")
    for action in parser._actions:  # --batch is the batch the largest square size is searched at
        if "--batch" in action.option_strings:
            action.help = "images per prompt for the largest square size (default 1)"


def run(args) -> int:
    from symbolic.analysis.planning import MAX_BATCH, MAX_SIZE, check_budget, plan

    budget = check_budget(parse_size(args.gpu_memory, argument="--gpu-memory"), "--gpu-memory")
    batch = positive_int(args.batch, "--batch")
    kwargs = config_kwargs(args)
    result = with_flag_names(lambda: plan(budget, args.criterion, num_images_per_prompt=batch,
                                          guidance_scale=args.guidance_scale, **kwargs))
    if args.json:
        print_json(result)
        return 0
    size = result["max_square_size"]
    at_limit = result["max_square_size_at_search_limit"]
    print(f"{args.model} in {format_bytes(budget)} ({args.criterion}):")
    shown = f"{size} x {size}" if size else "none (not even 8 x 8 fits)"
    if at_limit:
        shown += f" (the search limit, {MAX_SIZE}: larger sizes may fit too)"
    print(f"  largest square size{f' at batch {batch}' if batch != 1 else ''}: {shown}")
    print("  largest batch (images per prompt) per size:")
    for side, largest in result["max_batch"].items():
        note = f" (the search limit, {MAX_BATCH}: larger batches may fit too)" if largest >= MAX_BATCH else ""
        print(f"    {side:>5} x {side:<5} {largest}{note}")
    return 0
