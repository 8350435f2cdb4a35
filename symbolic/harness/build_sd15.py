"""Stable Diffusion 1.5 built from the shipped JSON configs with random weights (no hub access).

The real classes are used, so the tensors (shapes, dtypes, the order ``module.to()`` allocates them) and the code
that runs are those of ``StableDiffusionPipeline.from_pretrained``; only the weights' values differ, and values do
not change memory:

* ``UNet2DConditionModel`` (``unet.json``), ``AutoencoderKL`` (``vae.json``), ``PNDMScheduler`` (``scheduler.json``);
* ``CLIPTextModel`` (``CLIPTextConfig`` from ``text_encoder.json``);
* ``StableDiffusionSafetyChecker`` (``CLIPConfig`` with the ``vision_config`` and ``projection_dim`` of
  ``safety_checker.json``), which ``from_pretrained`` loads by default;
* a ``CLIPTokenizer`` built from a small byte-level BPE vocabulary written to a temporary directory
  (``model_max_length`` from ``tokenizer.json``: 77), and a ``CLIPImageProcessor`` feature extractor (CLIP's
  defaults: shortest edge 224, centre crop 224 x 224).

``config_overrides`` (used by the CPU tests to build tiny models) is a dict keyed by component name (``unet``,
``vae``, ``text_encoder``, ``safety_checker``, ``scheduler``, ``tokenizer``, ``feature_extractor``) whose values are
merged recursively into the shipped configs.

Requires torch, diffusers and transformers (the ``gpu`` extra); never imported by the core package.
"""
from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from torch import nn

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "sd15"

#: Components that are ``nn.Module`` s, in the order ``DiffusionPipeline.components`` lists them.
MODEL_COMPONENTS = ("vae", "text_encoder", "unet", "safety_checker")

DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}

TASKS = ("img2img", "txt2img")

#: Tiny configs (same classes, a few hundred thousand parameters) for CPU tests and smoke runs of the harness:
#: a two-level UNet, a four-level VAE (scale factor 8, as SD 1.5: same latent sizes), a 2-layer text encoder and
#: safety checker.
TINY_CONFIG_OVERRIDES: dict[str, dict[str, Any]] = {
    "unet": {
        "block_out_channels": [32, 64],
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
        "layers_per_block": 1,
        "cross_attention_dim": 32,
        "attention_head_dim": 4,
        "norm_num_groups": 8,
        "sample_size": 16,
    },
    "vae": {
        "block_out_channels": [8, 16, 16, 16],
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "sample_size": 32,
    },
    "text_encoder": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "vocab_size": 1000,
        "projection_dim": 32,
        "bos_token_id": 512 + 10,  # ids of <|startoftext|>, <|endoftext|> in the vocabulary of build_tokenizer
        "eos_token_id": 512 + 11,
    },
    "safety_checker": {
        "projection_dim": 32,
        "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                          "num_hidden_layers": 2, "patch_size": 32},
    },
}

BOS_TOKEN = "<|startoftext|>"  # token ids: 512 + len(_DEMO_MERGES) and one more
EOS_TOKEN = "<|endoftext|>"

#: A few BPE merges on top of the 512 byte-level symbols, so the tokenizer exercises its merge path.
_DEMO_MERGES = ("t h", "th e</w>", "a n", "an d</w>", "o f</w>", "i n", "p h", "o t", "ot o</w>", "ph oto</w>")


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"fp16"`` / ``"bf16"`` / ``"fp32"`` (or a ``torch.dtype``) -> ``torch.dtype``."""
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {sorted(DTYPES)}") from None


def load_config(name: str) -> dict[str, Any]:
    """The shipped JSON config ``symbolic/configs/sd15/<name>.json`` as a fresh dict."""
    return json.loads((CONFIG_DIR / f"{name}.json").read_text())


def _deep_merge(base: dict, override: Mapping | None) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def component_configs(config_overrides: Mapping[str, Mapping] | None = None) -> dict[str, dict[str, Any]]:
    """The shipped configs of every component with ``config_overrides`` merged in (recursively)."""
    overrides = dict(config_overrides or {})
    unknown = set(overrides) - {
        "unet", "vae", "text_encoder", "safety_checker", "scheduler", "tokenizer", "feature_extractor",
    }
    if unknown:
        raise ValueError(f"unknown components in config_overrides: {sorted(unknown)}")
    configs = {name: load_config(name) for name in
               ("unet", "vae", "text_encoder", "safety_checker", "scheduler", "tokenizer")}
    configs["feature_extractor"] = {}
    return {name: _deep_merge(cfg, overrides.get(name)) for name, cfg in configs.items()}


# --------------------------------------------------------------------------------------------------- models


def build_unet(config: Mapping[str, Any]) -> nn.Module:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_config(dict(config))


def build_vae(config: Mapping[str, Any]) -> nn.Module:
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_config(dict(config))


def build_text_encoder(config: Mapping[str, Any]) -> nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(**dict(config)))


def build_safety_checker(config: Mapping[str, Any]) -> nn.Module:
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    clip_config = CLIPConfig(vision_config=dict(config["vision_config"]), projection_dim=config["projection_dim"])
    return StableDiffusionSafetyChecker(clip_config)


def build_scheduler(config: Mapping[str, Any]):
    from diffusers import PNDMScheduler

    return PNDMScheduler.from_config(dict(config))


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte -> printable unicode character table (the byte-level BPE alphabet)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_tokenizer_files(directory: str | Path, merges: Iterable[str] = _DEMO_MERGES) -> Path:
    """Write a small byte-level CLIP BPE vocabulary (``vocab.json``, ``merges.txt``) into ``directory``.

    Vocabulary: the 256 byte symbols, the same with the end-of-word suffix ``</w>``, one token per merge, then
    ``<|startoftext|>`` and ``<|endoftext|>`` (the layout of CLIP's real vocabulary, 518 tokens instead of 49,408).
    Without a merge every word becomes one token per byte, so a prompt of ``n`` one-letter words is ``n`` tokens.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars]
    merges = list(merges)
    vocab += ["".join(m.split()) for m in merges]
    vocab += [BOS_TOKEN, EOS_TOKEN]
    (directory / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return directory


def build_tokenizer(config: Mapping[str, Any] | None = None):
    """A ``CLIPTokenizer`` from a byte-level vocabulary written to a temporary directory."""
    from transformers import CLIPTokenizer

    config = dict(config or load_config("tokenizer"))
    with tempfile.TemporaryDirectory(prefix="sd15_tokenizer_") as tmp:
        write_tokenizer_files(tmp)
        return CLIPTokenizer.from_pretrained(tmp, model_max_length=int(config.get("model_max_length", 77)))


def build_feature_extractor(config: Mapping[str, Any] | None = None):
    """CLIP's image processor with its defaults (resize shortest edge 224, centre crop 224, CLIP mean/std).

    transformers 5 falls back to the PIL backend when torchvision is missing; the PIL class is used directly then,
    which avoids the warning. Either way the processing runs on the CPU; the pipeline moves ``pixel_values`` to the
    device.
    """
    import importlib.util

    import transformers

    if importlib.util.find_spec("torchvision") is not None:
        cls = transformers.CLIPImageProcessor
    else:
        cls = getattr(transformers, "CLIPImageProcessorPil", transformers.CLIPImageProcessor)
    return cls(**dict(config or {}))


@contextlib.contextmanager
def _quiet_diffusers():
    """Silence diffusers' warning that ``.to(dtype)`` is not ``from_pretrained(torch_dtype=...)`` (no module of SD 1.5
    is kept in float32, so the cast is the same)."""
    from diffusers.utils import logging as dlogging

    level = dlogging.get_verbosity()
    dlogging.set_verbosity_error()
    try:
        yield
    finally:
        dlogging.set_verbosity(level)


def build_components(
    dtype: str | torch.dtype = torch.float16,
    device: str | torch.device = "cpu",
    config_overrides: Mapping[str, Mapping] | None = None,
) -> dict[str, Any]:
    """All seven pipeline components (``vae, text_encoder, tokenizer, unet, scheduler, safety_checker,
    feature_extractor``) with random weights, models cast to ``dtype`` and placed on ``device``, in eval mode.

    The modules are constructed under ``torch.device(device)`` (so on a GPU the random initialisation runs there,
    and on ``meta`` nothing is allocated at all) and then cast with ``.to(dtype)``, which converts floating-point
    parameters and buffers only (``position_ids`` stay int64).
    """
    dtype = resolve_dtype(dtype)
    configs = component_configs(config_overrides)
    builders = {
        "vae": build_vae,
        "text_encoder": build_text_encoder,
        "unet": build_unet,
        "safety_checker": build_safety_checker,
    }
    models: dict[str, nn.Module] = {}
    with torch.device(device), _quiet_diffusers():
        for name, build in builders.items():
            model = build(configs[name])
            models[name] = model.to(dtype=dtype).eval().requires_grad_(False)
    return {
        "vae": models["vae"],
        "text_encoder": models["text_encoder"],
        "tokenizer": build_tokenizer(configs["tokenizer"]),
        "unet": models["unet"],
        "scheduler": build_scheduler(configs["scheduler"]),
        "safety_checker": models["safety_checker"],
        "feature_extractor": build_feature_extractor(configs["feature_extractor"]),
    }


def pipeline_class(task: str):
    """``StableDiffusionImg2ImgPipeline`` for ``img2img``, ``StableDiffusionPipeline`` for ``txt2img``."""
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    if task == "img2img":
        return StableDiffusionImg2ImgPipeline
    if task == "txt2img":
        return StableDiffusionPipeline
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def pipeline_from_components(task: str, components: Mapping[str, Any]):
    """A pipeline of ``task`` around existing components (no copy: txt2img and img2img can share them)."""
    pipe = pipeline_class(task)(**{k: components[k] for k in (
        "vae", "text_encoder", "tokenizer", "unet", "scheduler", "safety_checker", "feature_extractor")},
        requires_safety_checker=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_pipeline(
    task: str,
    dtype: str | torch.dtype = torch.float16,
    device: str | torch.device = "cpu",
    config_overrides: Mapping[str, Mapping] | None = None,
):
    """``StableDiffusionImg2ImgPipeline`` (``task="img2img"``) or ``StableDiffusionPipeline`` (``"txt2img"``) built
    from the shipped configs (plus ``config_overrides``) with random weights, on ``device`` in ``dtype``."""
    pipeline_class(task)  # validate the task before building anything
    return pipeline_from_components(task, build_components(dtype, device, config_overrides))


# --------------------------------------------------------------------------------------------------- counting


def count_elements(module: nn.Module) -> int:
    """Parameters + buffers (elements), each tensor once."""
    seen: set[int] = set()
    total = 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel()
    return total


def parameter_counts(components: Mapping[str, Any], parts: bool = False) -> dict[str, int]:
    """Parameter + buffer element counts of each ``nn.Module`` component.

    With ``parts=True`` also ``vae.encoder`` (encoder + quant_conv, what ``vae.encode`` uses) and ``vae.decoder``
    (decoder + post_quant_conv, what ``vae.decode`` uses).
    """
    counts = {name: count_elements(m) for name, m in components.items() if isinstance(m, nn.Module)}
    vae = components.get("vae")
    if parts and isinstance(vae, nn.Module):
        counts["vae.encoder"] = count_elements(vae.encoder) + (
            count_elements(vae.quant_conv) if getattr(vae, "quant_conv", None) is not None else 0)
        counts["vae.decoder"] = count_elements(vae.decoder) + (
            count_elements(vae.post_quant_conv) if getattr(vae, "post_quant_conv", None) is not None else 0)
    return counts


@dataclass(frozen=True)
class TensorSize:
    """One parameter or buffer as ``module.to()`` allocates it."""

    name: str
    kind: str  # "parameter" | "buffer"
    shape: tuple[int, ...]
    dtype: torch.dtype
    numel: int
    nbytes: int


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype, device="meta").element_size()


def tensor_sizes(component: nn.Module, dtype: str | torch.dtype | None = None) -> list[TensorSize]:
    """Every parameter and buffer of ``component`` in the order ``component.to(...)`` allocates them.

    ``nn.Module._apply`` (behind ``.to()``, ``.cuda()``, ``.half()``) recurses into the children first, then
    converts the module's own parameters, then its buffers; this is a post-order walk. A tensor shared by two
    modules is listed once (the second conversion is a no-op). With ``dtype`` the sizes are those after
    ``.to(dtype)``: floating-point tensors take ``dtype``, integer buffers (``position_ids``) keep theirs.
    """
    target = resolve_dtype(dtype) if dtype is not None else None
    out: list[TensorSize] = []
    seen_tensors: set[int] = set()

    def visit(module: nn.Module, prefix: str) -> None:
        for child_name, child in module.named_children():
            visit(child, f"{prefix}{child_name}.")
        for kind, table in (("parameter", module._parameters), ("buffer", module._buffers)):
            for key, t in table.items():
                if t is None or id(t) in seen_tensors:
                    continue
                seen_tensors.add(id(t))
                dt = t.dtype
                if target is not None and (dt.is_floating_point or dt.is_complex):
                    dt = target
                numel = t.numel()
                out.append(TensorSize(f"{prefix}{key}", kind, tuple(t.shape), dt, numel, numel * _element_size(dt)))

    visit(component, "")
    return out


#: CUDA caching allocator constants (c10/cuda/CUDACachingAllocator.cpp): every block is rounded up to 512 bytes;
#: requests of at most 1 MiB come from 2 MiB "small" segments, requests below 10 MiB from 20 MiB segments, larger
#: ones get a segment of their own (rounded to 2 MiB).
ALLOCATOR_ROUND = 512
SMALL_SIZE = 1 << 20
LARGE_SEGMENT_LIMIT = 10 << 20


def round_allocation(nbytes: int, block: int = ALLOCATOR_ROUND) -> int:
    """Bytes the CUDA caching allocator hands out for a request of ``nbytes`` (0 for 0)."""
    if nbytes <= 0:
        return 0
    return -(-nbytes // block) * block


def size_histogram(sizes: Iterable[TensorSize]) -> dict[str, dict[str, int]]:
    """Counts and bytes of tensors in the allocator's size classes: ``<=1MiB``, ``1-10MiB``, ``>10MiB``.

    Each class has ``count``, ``bytes`` (exact) and ``rounded_bytes`` (each tensor rounded to 512 bytes); ``total``
    sums all three.
    """
    buckets = {name: {"count": 0, "bytes": 0, "rounded_bytes": 0} for name in ("<=1MiB", "1-10MiB", ">10MiB", "total")}
    for s in sizes:
        name = "<=1MiB" if s.nbytes <= SMALL_SIZE else ("1-10MiB" if s.nbytes < LARGE_SEGMENT_LIMIT else ">10MiB")
        for b in (name, "total"):
            buckets[b]["count"] += 1
            buckets[b]["bytes"] += s.nbytes
            buckets[b]["rounded_bytes"] += round_allocation(s.nbytes)
    return buckets
