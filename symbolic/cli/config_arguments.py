"""The configuration flags shared by ``asymptotics`` and ``fit`` for every pipeline (``symbolic.pipelines.api``):
one parser, the arguments the API takes."""
from __future__ import annotations

from symbolic.cli.arguments import integer, number, renamed

#: The API's argument names -> the flags that set them.
FLAGS = {"model": "MODEL", "task": "--task", "num_images_per_prompt": "--batch", "batch": "--batch",
         "frames": "--frames", "guidance_scale": "--guidance-scale", "attention": "--attention",
         "sdpa_backend": "--sdpa-backend", "attention_backend": "--sdpa-backend", "dtype": "--dtype",
         "memory_options": "--memory-option", "safety_checker": "--no-safety-checker", "budget": "--gpu-memory",
         "criterion": "--criterion"}


def with_flag_names(call):
    """``call()``, with an API error's leading argument name replaced by the flag that sets it."""
    return renamed(call, FLAGS)


def add_config_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="a bundled id (python -m symbolic models), its Hub id, or a config folder")
    parser.add_argument("--task", default=None, choices=("img2img", "txt2img"),
                        help="default txt2img")
    parser.add_argument("--batch", type=integer, default=1, help="images (videos) per prompt (default 1)")
    parser.add_argument("--frames", type=integer, default=None, help="video frames (default the pipeline's)")
    parser.add_argument("--guidance-scale", type=number, default=None,
                        help="> 1 runs the unconditional pass too (default the pipeline's)")
    parser.add_argument("--attention", default=None, choices=("sdpa", "classic"),
                        help="UNet pipelines: sdpa (default) or classic")
    parser.add_argument("--sdpa-backend", default="default", choices=("default", "flash", "efficient", "math"),
                        help="default: torch's choice")
    parser.add_argument("--dtype", default=None, help="fp16, bf16, fp32 (default the model card's)")
    parser.add_argument("--memory-option", action="append", default=None, metavar="OPTION",
                        help="the pipeline's memory options, as in estimate (repeatable)")
    parser.add_argument("--no-safety-checker", action="store_true", help="load without the safety checker (pipelines that have one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def config_kwargs(args) -> dict:
    """The API's configuration arguments for ``args.model`` (``model`` and ``frames`` included); a flag the model
    does not read is refused naming it (by the API, its argument renamed to the flag)."""
    options = tuple(o for o in (args.memory_option or ()) if o != "none")
    return {"model": args.model, "frames": args.frames, "task": args.task, "attention": args.attention or "sdpa",
            "attention_backend": args.sdpa_backend, "dtype": args.dtype, "memory_options": options,
            "safety_checker": not args.no_safety_checker}
