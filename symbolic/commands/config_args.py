"""The SD 1.5 configuration flags shared by ``asymptotics`` and ``fit``."""
from __future__ import annotations

from symbolic.commands.common import integer, number

MEMORY_OPTIONS = ("none", "vae_slicing", "vae_tiling", "attention_slicing")


def add_sd15_config_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="sd15")
    parser.add_argument("--task", default="img2img", choices=("img2img", "txt2img"), help="default img2img")
    parser.add_argument("--batch", type=integer, default=1, help="images per prompt (default 1)")
    parser.add_argument("--guidance-scale", type=number, default=7.5, help="> 1 doubles the UNet batch (default 7.5)")
    parser.add_argument("--attention", default="sdpa", choices=("sdpa", "classic"), help="default sdpa")
    parser.add_argument("--sdpa-backend", default="default", choices=("default", "flash", "efficient", "math"),
                        help="default: torch's choice")
    parser.add_argument("--dtype", default="fp16", help="fp16 (default), bf16, fp32")
    parser.add_argument("--memory-option", action="append", default=None, metavar="OPTION",
                        help="none, vae_slicing, vae_tiling, attention_slicing (repeatable)")
    parser.add_argument("--no-safety-checker", action="store_true", help="load without the safety checker")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def sd15_config_kwargs(args) -> dict:
    if args.model.lower() != "sd15":
        raise ValueError(f"MODEL: only sd15 is supported by this command, got {args.model!r}")
    options = tuple(o for o in (args.memory_option or ()) if o != "none")
    for option in options:
        if option not in MEMORY_OPTIONS:
            raise ValueError(f"--memory-option: must be one of {', '.join(MEMORY_OPTIONS)}, got {option!r}")
    return {"task": args.task, "attention": args.attention, "sdpa_backend": args.sdpa_backend, "dtype": args.dtype,
            "memory_options": options, "safety_checker": not args.no_safety_checker}
