"""``python -m symbolic estimate MODEL ...``: peak GPU memory of one pipeline call."""
from __future__ import annotations

from symbolic.analysis import switch_search
from symbolic.cli.arguments import integer, number, print_json, renamed
from symbolic.core.units import GiB, format_bytes, parse_size

NAME = "estimate"
HELP = "peak GPU memory of one pipeline call (a bundled id, its Hub id, or a folder of downloaded configs)"
#: The API's argument names -> the flags that set them (errors name the flag the user typed).
FLAGS = {"task": "--task", "attention": "--attention", "attention_backend": "--sdpa-backend",
         "memory_options": "--memory-option", "batch": "--batch", "frames": "--frames", "height": "--height",
         "width": "--width", "dtype": "--dtype", "devices": "--devices", "parallel": "--parallel",
         "guidance_scale": "--guidance-scale", "model": "MODEL", "quantize": "--quantize",
         "prompt_tokens": "--prompt-tokens", "safety_checker": "--no-safety-checker", "long_prompt": "--long-prompt"}


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="a bundled id (python -m symbolic models lists them), its Hub id, or a folder holding "
                             "model_index.json and the components' config.json files")
    parser.add_argument("--task", default=None, choices=("img2img", "txt2img"),
                        help="txt2img (text-to-image or -video), or img2img where the pipeline has an image-to-image "
                             "sibling (SD 1.x / 2.x, SDXL); default txt2img")
    parser.add_argument("--height", type=integer, default=None,
                        help="image/video height in pixels (default: the pipeline's)")
    parser.add_argument("--width", type=integer, default=None,
                        help="image/video width in pixels (default: the pipeline's)")
    parser.add_argument("--frames", type=integer, default=None,
                        help="video frames (video models; default the pipeline's)")
    parser.add_argument("--batch", type=integer, default=1, help="images (num_images_per_prompt) or videos per prompt (default 1)")
    parser.add_argument("--guidance-scale", type=number, default=None,
                        help="classifier-free guidance scale; > 1 runs the unconditional pass too, except in "
                             "guidance-distilled pipelines (default: the pipeline's)")
    parser.add_argument("--prompt-tokens", type=integer, default=None,
                        help="SD 1.x / 2.x / XL: prompt length in tokens (default 77; it matters with --long-prompt, "
                             "diffusers truncates to 77 otherwise)")
    parser.add_argument("--long-prompt", action="store_true",
                        help="SD 1.x / 2.x / XL: encode ceil(L/75) chunks of 77 tokens (compel / lpw pipelines) instead of "
                             "truncating to 77")
    parser.add_argument("--attention", default=None, choices=("sdpa", "classic"),
                        help="UNet pipelines: sdpa: AttnProcessor2_0 (default); classic: AttnProcessor (baddbmm + "
                             "softmax)")
    parser.add_argument("--sdpa-backend", default="default", choices=("default", "flash", "efficient", "math"),
                        help="SDPA kernel: torch's choice (default) or one forced with sdpa_kernel (flash and efficient "
                             "store no N x N matrix; math does)")
    parser.add_argument("--dtype", default=None,
                        help="fp16, bf16, fp32 for every component (default: the model card's)")
    parser.add_argument("--memory-option", action="append", default=None, metavar="OPTION",
                        help="none, vae_slicing, vae_tiling, attention_slicing (UNet pipelines), model_cpu_offload (alias cpu_offload), sequential_cpu_offload, "
                             "group_offload:block_level:N[:stream], group_offload:leaf_level[:stream], "
                             "layerwise_casting:fp8_e4m3|fp8_e5m2, text_encoder_cpu (repeatable)")
    parser.add_argument("--no-safety-checker", action="store_true", help="load without the safety checker (pipelines that have one)")
    parser.add_argument("--devices", type=integer, default=None, help="GPUs (default 1)")
    parser.add_argument("--parallel", default=None, choices=("ulysses", "ring", "fsdp"),
                        help="how the work is split over --devices")
    parser.add_argument("--gpu-memory", default=None, metavar="SIZE",
                        help="a GPU's memory, e.g. 12GiB or 24GB: whether the call completes on it (the minimum GPU "
                             "memory), and which switches make it fit")
    parser.add_argument("--quantize", action="append", default=None, metavar="COMPONENT=SCHEME",
                        help="load a component quantized (repeatable): SCHEME one of bnb_nf4, bnb_fp4, bnb_int8, "
                             "torchao_int8wo, torchao_int4wo, gguf_q8_0, gguf_q4_k")
    parser.add_argument("--expandable-segments", action="store_true",
                        help="the process runs with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (less memory "
                             "out of reach in cached segments)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def framework_of(args):
    from symbolic.runtime.framework import default_framework

    framework = default_framework()
    return framework.override(expandable_segments=1) if args.expandable_segments else framework


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


def run(args) -> int:
    budget = parse_size(args.gpu_memory, argument="--gpu-memory") if args.gpu_memory is not None else None
    from symbolic.pipelines.api import estimate, evaluate, prepare

    kwargs = pipeline_kwargs(args)
    config, values = with_flag_names(lambda: prepare(args.model, **kwargs))
    result = evaluate(config, values)
    frames = f" {args.frames} frames" if args.frames else ""
    title = (f"{result['model']} ({result['pipeline']}) {result['task']}{frames} {values['H']}x"
             f"{values['W']} batch {args.batch} {result['dtype']} latent "
             f"{'x'.join(map(str, result['latent_shape']))} options={','.join(kwargs['memory_options']) or 'none'}")
    switcher = (lambda: switch_search.search(lambda **kw: estimate(args.model, **kw), kwargs,
                                             switch_search.pipeline_switches(args.model, kwargs), budget))
    if budget is not None:
        fits = result["min_gpu_memory_bytes"] <= budget
        result = dict(result, gpu_memory_bytes=budget, fits=fits)
        if not fits:
            found = switcher()
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


def with_flag_names(call):
    """``call()``, with an API error's leading argument name replaced by the flag that sets it."""
    return renamed(call, FLAGS)


def pipeline_kwargs(args) -> dict:
    kwargs = {"frames": args.frames, "height": args.height, "width": args.width, "batch": args.batch,
              "memory_options": tuple(o for o in (args.memory_option or ()) if o != "none"),
              "devices": 1 if args.devices is None else args.devices, "parallel": args.parallel,
              "attention_backend": args.sdpa_backend, "task": args.task, "attention": args.attention or "sdpa",
              "framework": framework_of(args), "quantize": tuple(args.quantize or ()),
              "prompt_tokens": args.prompt_tokens, "safety_checker": not args.no_safety_checker,
              "long_prompt": args.long_prompt}
    if args.guidance_scale is not None:
        kwargs["guidance_scale"] = args.guidance_scale
    if args.dtype is not None:
        kwargs["dtype"] = args.dtype
    return kwargs
