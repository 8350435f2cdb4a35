"""Every command-line flag, declared once: its argparse settings, the API argument it sets, and how its value
becomes that argument. Commands pick flags by name (``add_flags``), read the API's keyword arguments back from the
parsed namespace (``api_kwargs``), and name the flag the user typed in an API error (``with_flag_names``). Also the
argument types (``integer``, ``number``) and JSON output."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from symbolic.core.checks import MAX_COUNT, parse_int, parse_number, renamed
from symbolic.core.units import MiB, parse_size
from symbolic.runtime.framework import default_framework


def integer(text: str) -> int:
    """argparse type for integers: plain ASCII integers only (refuses 4.5, 5_12, non-ASCII digits, abc; the shared
    ``parse_int`` grammar) up to ``MAX_COUNT`` (2**53: no count a pipeline call has comes near it, and larger ones
    overflowed floats in the estimates), and leaves the >= 1 rule to the API's message."""
    try:
        value = parse_int(text, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most 2**53 ({MAX_COUNT}), got {text.strip()[:40]!r}"
                                         f"{'...' if len(text.strip()) > 40 else ''}")
    return value


def number(text: str) -> float:
    """argparse type for decimal numbers: the shared ``parse_number`` grammar (finite ASCII decimals; refuses inf,
    nan, 1_0, non-ASCII digits and empty text)."""
    try:
        return parse_number(text, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None


def _options(values) -> tuple[str, ...]:
    return tuple(o for o in (values or ()) if o != "none")


def _framework(expandable: bool):
    framework = default_framework()
    return framework.override(expandable_segments=1) if expandable else framework


@dataclass(frozen=True)
class Flag:
    """One flag: ``option`` as typed (``--batch``, or a positional's metavar), argparse's settings, and the API
    arguments it sets (``api``: each name, with ``to_api`` turning the parsed value into that argument's value)."""

    option: str
    settings: dict
    api: tuple[str, ...] = ()
    to_api: Callable = field(default=lambda value: value)

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_").lower()


_TASKS = ("img2img", "txt2img")
FLAGS: dict[str, Flag] = {flag.dest: flag for flag in (
    Flag("MODEL", {"help": "a bundled id (python -m symbolic models lists them), its Hub id, or a folder holding "
                           "model_index.json and the components' config.json files"}, ("model",)),
    Flag("--task", {"default": None, "choices": _TASKS,
                    "help": "txt2img (text-to-image or -video), or img2img where the pipeline has an image-to-image "
                            "sibling (SD 1.x / 2.x, SDXL); default txt2img"}, ("task",)),
    Flag("--height", {"type": integer, "default": None, "help": "image/video height in pixels (default: the "
                                                                "pipeline's)"}, ("height",)),
    Flag("--width", {"type": integer, "default": None, "help": "image/video width in pixels (default: the "
                                                               "pipeline's)"}, ("width",)),
    Flag("--frames", {"type": integer, "default": None, "help": "video frames (video models; default the "
                                                                "pipeline's)"}, ("frames",)),
    Flag("--batch", {"type": integer, "default": 1, "help": "images (num_images_per_prompt) or videos per prompt "
                                                            "(default 1)"}, ("batch", "num_images_per_prompt")),
    Flag("--guidance-scale", {"type": number, "default": None,
                              "help": "classifier-free guidance scale; > 1 runs the unconditional pass too, except "
                                      "in guidance-distilled pipelines (default: the pipeline's)"}, ("guidance_scale",)),
    Flag("--prompt-tokens", {"type": integer, "default": None,
                             "help": "SD 1.x / 2.x / XL: prompt length in tokens (default 77; it matters with "
                                     "--long-prompt, diffusers truncates to 77 otherwise)"}, ("prompt_tokens",)),
    Flag("--long-prompt", {"action": "store_true",
                           "help": "SD 1.x / 2.x / XL: encode ceil(L/75) chunks of 77 tokens (compel / lpw "
                                   "pipelines) instead of truncating to 77"}, ("long_prompt",)),
    Flag("--attention", {"default": None, "choices": ("sdpa", "classic"),
                         "help": "UNet pipelines: sdpa: AttnProcessor2_0 (default); classic: AttnProcessor (baddbmm "
                                 "+ softmax)"}, ("attention",), lambda value: value or "sdpa"),
    Flag("--sdpa-backend", {"default": "default", "choices": ("default", "flash", "efficient", "math"),
                            "help": "SDPA kernel: torch's choice (default) or one forced with sdpa_kernel (flash and "
                                    "efficient store no N x N matrix; math does)"},
         ("attention_backend", "sdpa_backend")),
    Flag("--dtype", {"default": None, "help": "fp16, bf16, fp32 for every component (default: the model card's)"},
         ("dtype",)),
    Flag("--memory-option", {"action": "append", "default": None, "metavar": "OPTION",
                             "help": "none, vae_slicing, vae_tiling, attention_slicing (UNet pipelines), "
                                     "model_cpu_offload (alias cpu_offload), sequential_cpu_offload, "
                                     "group_offload:block_level:N[:stream], group_offload:leaf_level[:stream], "
                                     "layerwise_casting:fp8_e4m3|fp8_e5m2, text_encoder_cpu, no_text_encoder_3 "
                                     "(repeatable)"}, ("memory_options",), _options),
    Flag("--no-safety-checker", {"action": "store_true",
                                 "help": "load without the safety checker (pipelines that have one)"},
         ("safety_checker",), lambda value: not value),
    Flag("--devices", {"type": integer, "default": None, "help": "GPUs (default 1)"}, ("devices",),
         lambda value: 1 if value is None else value),
    Flag("--parallel", {"default": None, "choices": ("ulysses", "ring", "fsdp"),
                        "help": "how the work is split over --devices"}, ("parallel",)),
    Flag("--gpu-memory", {"default": None, "metavar": "SIZE",
                          "help": "a GPU's memory, e.g. 12GiB or 24GB: whether the call completes on it (the minimum "
                                  "GPU memory), and which switches make it fit"}, ("budget",)),
    Flag("--quantize", {"action": "append", "default": None, "metavar": "COMPONENT=SCHEME",
                        "help": "load a component quantized (repeatable): SCHEME one of bnb_nf4, bnb_fp4, bnb_int8, "
                                "torchao_int8wo, torchao_int4wo, gguf_q8_0, gguf_q4_k"}, ("quantize",),
         lambda value: tuple(value or ())),
    Flag("--expandable-segments", {"action": "store_true",
                                   "help": "the process runs with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True "
                                           "(less memory out of reach in cached segments)"}, ("framework",), _framework),
    Flag("--criterion", {"default": "minimum", "choices": ("minimum", "nvidia-smi", "reserved", "allocated"),
                         "help": "what must fit: the minimum GPU memory the call completes in (default), nvidia-smi "
                                 "bytes (reserved + CUDA context), reserved, allocated"}, ("criterion",)),
    Flag("--json", {"action": "store_true", "help": "print one JSON object"}),
)}

#: The flags that configure one pipeline (``asymptotics`` and ``fit`` study a configuration along sizes).
CONFIG_FLAGS = ("model", "task", "batch", "frames", "guidance_scale", "attention", "sdpa_backend", "dtype",
                "memory_option", "no_safety_checker", "json")


def add_flags(parser, names, **overrides: dict) -> None:
    """Add the flags ``names`` (``FLAGS`` keys) to ``parser``; ``overrides[name]`` replaces some of one flag's
    argparse settings (e.g. its help where a command reads it differently)."""
    for name in names:
        flag = FLAGS[name]
        settings = dict(flag.settings, **overrides.get(name, {}))
        if flag.option.startswith("-"):
            parser.add_argument(flag.option, **settings)
        else:
            parser.add_argument(flag.dest, metavar=flag.option, **settings)


def api_kwargs(args, names) -> dict:
    """The API's keyword arguments that the flags ``names`` set, from parsed ``args`` (each flag's first API name)."""
    return {FLAGS[name].api[0]: FLAGS[name].to_api(getattr(args, name)) for name in names if FLAGS[name].api}


#: API argument names -> the flag that sets them.
FLAG_OF = {api: flag.option for flag in FLAGS.values() for api in flag.api}


def with_flag_names(call):
    """``call()``, with an API error's leading argument name replaced by the flag that sets it."""
    return renamed(call, FLAG_OF)


#: A unit-less GPU memory below this is refused on the command line: ``--gpu-memory 24`` means 24 GiB or 24 GB,
#: never 24 bytes (the API and the planner take byte counts as they are).
MIN_UNITLESS_GPU_BYTES = MiB


def gpu_memory(text: str, flag: str = "--gpu-memory") -> int:
    """A GPU's memory from the command line: ``parse_size``'s grammar, a bare number below 1 MiB refused."""
    size = parse_size(text, argument=flag)
    if text.strip().isdigit() and size < MIN_UNITLESS_GPU_BYTES:
        raise ValueError(f"{flag}: {text.strip()} without a unit would be {size} bytes; write the unit, e.g. "
                         f"{text.strip()}GiB or {text.strip()}GB")
    return size


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_json_line(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
