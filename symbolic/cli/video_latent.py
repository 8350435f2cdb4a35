"""``python -m symbolic video-latent ...``: shape, bytes and transformer tokens of a video VAE's latent."""
from __future__ import annotations

from symbolic.cli.arguments import print_json
from symbolic.core.checks import MAX_COUNT, parse_int, positive_int
from symbolic.analysis.video_presets import get_preset, preset_names
from symbolic.core.dtypes import BYTES_PER_ELEMENT, canonical_dtype

NAME = "video-latent"
HELP = "latent tensor of a video VAE: shape, bytes (MiB = 2**20) and transformer tokens per video"

#: (flag, destination, keyword of the API, help) of the integer flags; the first six are the model's values.
INTEGER_FLAGS = (
    ("--frames", "frames", "num_frames", "number of video frames T"),
    ("--height", "height", "height", "frame height in pixels"),
    ("--width", "width", "width", "frame width in pixels"),
    ("--latent-channels", "latent_channels", "latent_channels", "latent channels of the VAE"),
    ("--spatial-compression", "spatial_compression", "spatial_compression",
     "VAE downsampling of height and width (latent_h = ceil(height / s))"),
    ("--temporal-compression", "temporal_compression", "temporal_compression",
     "VAE downsampling of the frames (latent_t = ceil(T / s_t); 1 + ceil((T - 1) / s_t) for a causal preset)"),
    ("--batch-size", "batch_size", "batch_size", "videos in the batch (default 1)"),
    ("--patch-size", "patch_size", "patch_size",
     "spatial patch size of the transformer: tokens use ceil(latent_h / p) x ceil(latent_w / p) "
     "(default 1, or the preset's)"),
    ("--patch-size-t", "patch_size_t", "patch_size_t",
     "temporal patch size of the transformer (with --preset only; default: the preset's)"),
)
#: Flags that must be given when no preset supplies them.
REQUIRED_WITHOUT_PRESET = ("--frames", "--height", "--width", "--latent-channels", "--spatial-compression",
                           "--temporal-compression")
#: Preset values that flags may override (keyword of the preset function).
PRESET_OVERRIDES = ("latent_channels", "spatial_compression", "temporal_compression", "patch_size", "patch_size_t")


def add_arguments(parser) -> None:
    for flag, dest, _, text in INTEGER_FLAGS:
        # type=str: the integer rule (and its one-line message naming the flag) is applied in run().
        parser.add_argument(flag, dest=dest, type=str, default=None, metavar="N", help=text)
    parser.add_argument("--dtype", default=None,
                        help="element type: fp32, fp16, bf16, fp8 or an alias such as float16 or bfloat16 "
                             "(case-insensitive; default fp16)")
    parser.add_argument("--preset", default=None, metavar="NAME",
                        help=f"fill in a model's VAE and patch values (flags given override them) and its default "
                             f"frames, height and width: {', '.join(preset_names())}")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with latent_shape, num_elements, memory_bytes, memory_mb, "
                             "tokens_per_video")


def _integer(text: str | None, flag: str) -> int | None:
    """A flag's text as an integer >= 1 (None if the flag was not given); else ValueError naming the flag."""
    if text is None:
        return None
    return positive_int(parse_int(text, flag), flag, maximum=MAX_COUNT)  # the CLI's counts: see common.integer


def _estimate(args) -> tuple[dict, dict]:
    """(result, facts for the table) from the parsed flags."""
    from symbolic.analysis.video_latent import estimate_video_latent_memory, estimate_video_latent_memory_preset

    given = {api: _integer(getattr(args, dest), flag) for flag, dest, api, _ in INTEGER_FLAGS}
    dtype = canonical_dtype(args.dtype if args.dtype is not None else "fp16", argument="--dtype")
    if args.preset is not None:
        preset = get_preset(args.preset, argument="--preset")
        overrides = {name: given[name] for name in PRESET_OVERRIDES if given[name] is not None}
        frames = given["num_frames"] or preset.default_frames
        height = given["height"] or preset.default_height
        width = given["width"] or preset.default_width
        result = estimate_video_latent_memory_preset(preset, frames, height, width,
                                                     batch_size=given["batch_size"] or 1, dtype=dtype, **overrides)
        used = {name: overrides.get(name, getattr(preset, name)) for name in PRESET_OVERRIDES}
        facts = {"title": f"preset {preset.name} ({preset.model})", "causal": result["causal"], **used,
                 "frames": frames, "height": height, "width": width}
    else:
        if given["patch_size_t"] is not None:
            raise ValueError("--patch-size-t: needs --preset (the plain estimate has no temporal patch)")
        missing = [flag for flag, _, api, _ in INTEGER_FLAGS if flag in REQUIRED_WITHOUT_PRESET and given[api] is None]
        if missing:
            raise ValueError(f"missing {', '.join(missing)} (required without --preset; presets: "
                             f"{', '.join(preset_names())})")
        kwargs = {api: value for api, value in given.items() if value is not None and api != "patch_size_t"}
        result = estimate_video_latent_memory(dtype=dtype, **kwargs)
        facts = {"title": "explicit values", "causal": False, "patch_size_t": 1,
                 **{name: given[name] for name in PRESET_OVERRIDES if name != "patch_size_t"},
                 "frames": given["num_frames"], "height": given["height"], "width": given["width"]}
        facts["patch_size"] = facts["patch_size"] or 1
    facts["dtype"] = dtype
    return result, facts


def render_table(result: dict, facts: dict) -> str:
    batch, channels, latent_t, latent_h, latent_w = result["latent_shape"]
    rule = "1 + ceil((T - 1) / s_t), causal" if facts["causal"] else "ceil(T / s_t)"
    patch = f"{facts['patch_size_t']} x {facts['patch_size']} x {facts['patch_size']}"
    rows = [
        ("input", f"{batch} x {facts['frames']} frames x {facts['height']} x {facts['width']} px"),
        ("VAE", f"{channels} channels, spatial /{facts['spatial_compression']}, "
                f"temporal /{facts['temporal_compression']} ({rule})"),
        ("latent shape", f"{tuple(result['latent_shape'])}  (B, C, T', H', W')"),
        ("elements", f"{result['num_elements']:,}"),
        ("memory", f"{result['memory_bytes']:,} bytes = {result['memory_mb']:.4f} MiB "
                   f"({facts['dtype']}, {BYTES_PER_ELEMENT[facts['dtype']]} bytes/element)"),
        ("tokens per video", f"{result['tokens_per_video']:,}  (patch t x h x w = {patch})"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"video latent: {facts['title']}"]
    lines += [f"  {label:<{width}}  {text}" for label, text in rows]
    return "\n".join(lines)


def run(args) -> int:
    result, facts = _estimate(args)
    if args.json:
        five = {key: result[key] for key in ("latent_shape", "num_elements", "memory_bytes", "memory_mb",
                                             "tokens_per_video")}
        five["latent_shape"] = list(five["latent_shape"])
        print_json(five)
    else:
        print(render_table(result, facts))
    return 0
