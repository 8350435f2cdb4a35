"""``python -m symbolic fit sd15 --gpu-memory 24GiB``: the largest square size and batches that fit a GPU."""
from __future__ import annotations

from symbolic.commands.common import print_json
from symbolic.commands.config_args import add_sd15_config_arguments, sd15_config_kwargs
from symbolic.units import format_bytes, parse_size

NAME = "fit"
HELP = "largest square size (multiple of 8) and largest batch per size that fit a GPU's memory"


def add_arguments(parser) -> None:
    add_sd15_config_arguments(parser)
    parser.add_argument("--gpu-memory", required=True, metavar="SIZE", help="e.g. 24GiB, 12GB, 8589934592")
    parser.add_argument("--criterion", default="nvidia-smi", choices=("nvidia-smi", "reserved", "allocated"),
                        help="what must fit: nvidia-smi bytes (default: reserved + CUDA context), reserved, allocated")


def run(args) -> int:
    from symbolic.planning import plan

    budget = parse_size(args.gpu_memory, argument="--gpu-memory")
    kwargs = sd15_config_kwargs(args)
    result = plan(budget, args.criterion, guidance_scale=args.guidance_scale, **kwargs)
    if args.json:
        print_json(result)
        return 0
    size = result["max_square_size"]
    print(f"sd15 in {format_bytes(budget)} ({args.criterion}):")
    print(f"  largest square size: {f'{size} x {size}' if size else 'none (not even 8 x 8 fits)'}")
    print("  largest batch (images per prompt) per size:")
    for side, batch in result["max_batch"].items():
        print(f"    {side:>5} x {side:<5} {batch}")
    return 0
