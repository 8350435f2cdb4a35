"""``python -m symbolic fit MODEL --gpu-memory 24GiB``: the largest square size and batches that fit a GPU."""
from __future__ import annotations

from symbolic.cli.arguments import CONFIG_FLAGS, add_flags, api_kwargs, gpu_memory, print_json, with_flag_names
from symbolic.core.units import format_bytes
from symbolic.core.checks import positive_int

NAME = "fit"
#: The flags whose values configure the pipeline (batch and guidance go to the study itself).
CONFIGURATION = tuple(n for n in CONFIG_FLAGS if n not in ("batch", "guidance_scale", "json"))
HELP = "largest square size (multiple of the model's size step) and largest batch per size that fit a GPU's memory"


def add_arguments(parser) -> None:
    add_flags(parser, (*CONFIG_FLAGS, "gpu_memory", "criterion"),
              batch={"help": "images per prompt for the largest square size (default 1)"},
              gpu_memory={"required": True, "help": "e.g. 24GiB, 12GB, 8589934592"})


def run(args) -> int:
    from symbolic.analysis.planning import MAX_BATCH, MAX_SIZE, check_budget, plan

    budget = check_budget(gpu_memory(args.gpu_memory), "--gpu-memory")
    batch = positive_int(args.batch, "--batch")
    kwargs = api_kwargs(args, CONFIGURATION)
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
