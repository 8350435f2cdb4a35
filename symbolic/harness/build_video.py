"""The video models' transformers and VAEs built from the shipped configs with random weights (no hub access).

The real diffusers classes are used, from the bundled Hub-layout configs (``symbolic/configs/hub``, keys starting
with ``_`` dropped):

* ``cogvideox-2b`` / ``cogvideox-5b``: ``CogVideoXTransformer3DModel`` + ``AutoencoderKLCogVideoX``;
* ``wan2.1-t2v-1.3b`` / ``wan2.1-t2v-14b``: ``WanTransformer3DModel`` + ``AutoencoderKLWan`` (one VAE for both);
* ``hunyuanvideo``: ``HunyuanVideoTransformer3DModel`` + ``AutoencoderKLHunyuanVideo``.

Dtypes are those of :mod:`symbolic.pipelines.catalog` (``make_config(model, dtype)``: CogVideoX-2B fp16,
CogVideoX-5B bf16, Wan bf16 with a float32 VAE, HunyuanVideo bf16 transformer and fp16 VAE; an explicit ``dtype``
puts every component in it), applied tensor by tensor the way ``ModelMixin.from_pretrained(torch_dtype=...)``
loads a checkpoint (``diffusers/models/model_loading_utils.py``):

* a floating-point tensor of the checkpoint (a parameter or a persistent buffer) takes the dtype, unless a name in
  the class's ``_keep_in_fp32_modules`` is one of its dotted name's parts (Wan: ``rope``, ``time_embedder``,
  ``scale_shift_table``, ``norm1``/``norm2``/``norm3``): float32;
* a buffer that is not in the checkpoint (non-persistent: CogVideoX-2B's float64 sin-cos table, Wan's RoPE tables)
  keeps the dtype its ``__init__`` built it in; integer tensors keep theirs.

On a GPU nothing is built twice: the module tree is constructed with its parameters on the ``meta`` device (buffers
are real, on the CPU, as ``accelerate.init_empty_weights(include_buffers=False)`` does inside ``from_pretrained``),
then every tensor is allocated on the device in its final dtype in the order ``module.to(device)`` visits them
(children first, then the module's own parameters, then its buffers) and parameters are filled with N(0, 0.02)
noise. Values do not change memory. On ``meta`` everything stays on ``meta`` (for counts and byte totals).

``config_overrides`` (the CPU tests' tiny models) is ``{"transformer": {...}, "vae": {...}}`` merged into the
shipped config; :data:`TINY_CONFIG_OVERRIDES` has one per family.

Building needs torch and diffusers (the ``gpu`` extra); the configs, dtypes, latent shapes and input plans
(:func:`step_input_plan`, :func:`decode_input_plan`) do not, so ``--dry-run`` and ``--compare`` of
:mod:`symbolic.harness.measure_video` work with the core package alone. Never imported by the core package.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from symbolic.pipelines import catalog
from symbolic.pipelines.estimate import make_config

if TYPE_CHECKING:  # torch is imported by the functions that need it: the shapes and plans below do not
    import torch
    from torch import nn

COMPONENTS = ("transformer", "vae")

#: The harness's families, by diffusers pipeline class (the models it can build and feed).
FAMILIES = {"CogVideoXPipeline": "cogvideox", "WanPipeline": "wan", "HunyuanVideoPipeline": "hunyuanvideo"}
#: The bundled ids of those families.
VIDEO_MODELS = tuple(m for m in catalog.CATALOG if catalog.load(m).spec.class_name in FAMILIES)

#: diffusers class names per family: (transformer, VAE).
CLASSES: dict[str, tuple[str, str]] = {
    "cogvideox": ("CogVideoXTransformer3DModel", "AutoencoderKLCogVideoX"),
    "wan": ("WanTransformer3DModel", "AutoencoderKLWan"),
    "hunyuanvideo": ("HunyuanVideoTransformer3DModel", "AutoencoderKLHunyuanVideo"),
}

#: The pipelines' ``vae_scale_factor_spatial`` / ``_temporal`` (8 and 4 for all three VAEs: ``2 ** (levels - 1)``,
#: ``temporal_compression_ratio`` / ``scale_factor_temporal``).
SPATIAL_FACTOR = 8
TEMPORAL_FACTOR = 4

#: Text tokens the transformer sees: CogVideoX ``max_text_seq_length`` (226, from the config), WanPipeline's
#: ``max_sequence_length=512``, HunyuanVideoPipeline's ``max_sequence_length=256`` (LLaMA output after cropping
#: the 95 template tokens; the template tokens are what ``crop_start`` removes).
WAN_TEXT_TOKENS = 512
HUNYUAN_TEXT_TOKENS = 256
HUNYUAN_CROP_START = 95

#: Default ``guidance_scale`` of each pipeline's ``__call__`` (CogVideoXPipeline 6, WanPipeline 5,
#: HunyuanVideoPipeline 6: an embedding input there, not classifier-free guidance).
DEFAULT_GUIDANCE = {"cogvideox": 6.0, "wan": 5.0, "hunyuanvideo": 6.0}

#: Tiny configs (same classes, a few thousand to a few hundred thousand parameters) for CPU tests and smoke runs.
#: The VAEs keep four levels and 16 latent channels (scale factors 8 and 4: the same latent shapes); the
#: transformers keep their patch sizes, in/out channels and text lengths, with 32-wide text embeddings.
TINY_CONFIG_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "cogvideox": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 16, "num_layers": 1, "text_embed_dim": 32,
                        "time_embed_dim": 16},
        "vae": {"block_out_channels": [8, 8, 8, 8], "norm_num_groups": 4, "layers_per_block": 1},
    },
    "wan": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 12, "ffn_dim": 32, "num_layers": 1,
                        "text_dim": 32, "freq_dim": 16},
        "vae": {"base_dim": 8, "num_res_blocks": 1},
    },
    "hunyuanvideo": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 16, "rope_axes_dim": [4, 6, 6],
                        "num_layers": 1, "num_single_layers": 1, "num_refiner_layers": 1, "text_embed_dim": 32,
                        "pooled_projection_dim": 16},
        "vae": {"block_out_channels": [8, 8, 8, 8], "norm_num_groups": 4, "layers_per_block": 1},
    },
}


def family_of(model: str) -> str:
    if model not in VIDEO_MODELS:
        raise ValueError(f"unknown video model {model!r}; expected one of {VIDEO_MODELS}")
    return FAMILIES[catalog.load(model).spec.class_name]


def multiple_of(model: str) -> int:
    """Height and width must be multiples of this (the pipeline spec's ``multiple``)."""
    return catalog.load(model).spec.multiple


def tiny_overrides(model: str) -> dict[str, dict[str, Any]]:
    return copy.deepcopy(TINY_CONFIG_OVERRIDES[family_of(model)])




def _merge(base: dict, override: Mapping | None) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def component_config(model: str, component: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The shipped config without its ``_`` keys (``_source``, ``_class_name``), ``overrides`` merged in."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}; expected one of {COMPONENTS}")
    raw = catalog.load(model).config(component)
    return _merge({k: v for k, v in raw.items() if not k.startswith("_")}, overrides)


def component_class(model: str, component: str):
    import diffusers

    transformer, vae = CLASSES[family_of(model)]
    return getattr(diffusers, transformer if component == "transformer" else vae)


def component_dtype(model: str, component: str, dtype: str | None = None) -> str:
    """``fp16`` / ``bf16`` / ``fp32`` of the component, by the catalog's rule (``make_config(model, dtype)``);
    ``text`` is the first text encoder."""
    return make_config(model, dtype).dtype_of("text_encoder" if component == "text" else component)


def config_name(model: str, component: str) -> str:
    """A name for the bundled config's content (the two Wan models share one VAE config, hence one name): keys the
    harness's build cache."""
    text = json.dumps(catalog.load(model).config(component), sort_keys=True)
    return f"{component}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


# --------------------------------------------------------------------------------------------------- dtype rule


def keep_fp32_modules(module: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(module, "_keep_in_fp32_modules", None) or ())


def loaded_dtype(name: str, current: torch.dtype, target: torch.dtype, keep_fp32: tuple[str, ...],
                 in_checkpoint: bool = True) -> torch.dtype:
    """The dtype ``from_pretrained(torch_dtype=target)`` gives the tensor ``name`` (see the module docstring)."""
    if not in_checkpoint or not (current.is_floating_point or current.is_complex):
        return current
    if keep_fp32 and any(k in name.split(".") for k in keep_fp32):
        import torch

        return torch.float32
    return target


def _post_order(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """``nn.Module._apply``'s order: children first, then the module itself."""
    for child_name, child in module.named_children():
        yield from _post_order(child, f"{prefix}{child_name}.")
    yield prefix, module


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Every parameter registered inside goes to the ``meta`` device; buffers stay where they are built
    (``accelerate.init_empty_weights(include_buffers=False)``, which ``from_pretrained`` uses)."""
    from torch import nn

    original = nn.Module.register_parameter

    def register_parameter(self, name, param):
        original(self, name, param)
        if param is not None and param.device.type != "meta":
            self._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    nn.Module.register_parameter = register_parameter
    try:
        yield
    finally:
        nn.Module.register_parameter = original


def materialize(module: nn.Module, device: str | torch.device, dtype: torch.dtype, init_std: float = 0.02) -> nn.Module:
    """Give every tensor of ``module`` (parameters on ``meta``, buffers anywhere) its loaded dtype on ``device``,
    in ``.to(device)``'s order; parameters get N(0, ``init_std``) values, buffers keep theirs (converted). On
    ``meta`` only the dtypes change."""
    import torch
    from torch import nn

    device = torch.device(device)
    keep = keep_fp32_modules(module)
    done: dict[int, torch.Tensor] = {}
    for prefix, mod in _post_order(module):
        for key, param in list(mod._parameters.items()):
            if param is None:
                continue
            if id(param) in done:
                mod._parameters[key] = done[id(param)]
                continue
            dt = loaded_dtype(prefix + key, param.dtype, dtype, keep)
            data = torch.empty(param.shape, dtype=dt, device=device)
            if device.type != "meta" and dt.is_floating_point:
                data.normal_(0.0, init_std)
            new = nn.Parameter(data, requires_grad=False)
            done[id(param)] = mod._parameters[key] = new
        for key, buf in list(mod._buffers.items()):
            if buf is None:
                continue
            if id(buf) in done:
                mod._buffers[key] = done[id(buf)]
                continue
            persistent = key not in mod._non_persistent_buffers_set
            dt = loaded_dtype(prefix + key, buf.dtype, dtype, keep, in_checkpoint=persistent)
            new = torch.empty(buf.shape, dtype=dt, device=device) if buf.device.type == "meta" else buf.to(
                device=device, dtype=dt)
            done[id(buf)] = mod._buffers[key] = new
    return module


def build_component(model: str, component: str, device: str | torch.device = "cpu", dtype: str | None = None,
                    config_overrides: Mapping[str, Mapping] | None = None) -> nn.Module:
    """The model's ``transformer`` or ``vae`` with random weights on ``device`` in its loaded dtypes (``dtype``:
    None for the catalog's defaults, else every component in it), in eval mode, gradients off.

    ``config_overrides``: ``{"transformer": {...}, "vae": {...}}`` merged into the shipped configs."""
    import torch

    from .build_sd15 import _quiet_diffusers, resolve_dtype

    cls = component_class(model, component)
    config = component_config(model, component, (config_overrides or {}).get(component))
    target = resolve_dtype(component_dtype(model, component, dtype))
    device = torch.device(device)
    if device.type == "meta":
        ctx = torch.device("meta")
    else:
        ctx = contextlib.ExitStack()
        ctx.enter_context(torch.device("cpu"))
        ctx.enter_context(parameters_on_meta())
    with ctx, _quiet_diffusers():
        module = cls.from_config(config)
    materialize(module, device, target)
    return module.eval().requires_grad_(False)


def count_elements(module: nn.Module) -> int:
    """Parameters + buffers (elements), each tensor once."""
    from .build_sd15 import count_elements as count

    return count(module)


def weight_bytes(module: nn.Module) -> int:
    """Bytes of the parameters and buffers, each tensor once (what ``memory_allocated`` grows by, before the
    allocator's rounding)."""
    seen: set[int] = set()
    total = 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def dtype_bytes(module: nn.Module) -> dict[str, int]:
    """Bytes of the parameters and buffers per dtype (``{"torch.bfloat16": ..., "torch.float32": ...}``)."""
    out: dict[str, int] = {}
    seen: set[int] = set()
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            out[str(t.dtype)] = out.get(str(t.dtype), 0) + t.numel() * t.element_size()
    return out


# --------------------------------------------------------------------------------------------------- input shapes


def latent_frames(model: str, frames: int) -> int:
    """CogVideoX and HunyuanVideo: ``(frames - 1) // 4 + 1``; WanPipeline first rounds ``num_frames`` to
    ``num_frames // 4 * 4 + 1`` when ``num_frames % 4 != 1`` (the spec's ``wan`` frame rule: ``T // 4 + 1``)."""
    if family_of(model) == "wan" and frames % TEMPORAL_FACTOR != 1:
        frames = frames // TEMPORAL_FACTOR * TEMPORAL_FACTOR + 1
    return (frames - 1) // TEMPORAL_FACTOR + 1


def latent_shape(model: str, frames: int, height: int, width: int, batch: int = 1,
                 channels: int = 16) -> tuple[int, ...]:
    """The pipeline's ``prepare_latents`` shape: CogVideoX ``(B, T', C, H/8, W/8)`` (frames before channels),
    Wan and HunyuanVideo ``(B, C, T', H/8, W/8)``."""
    t = latent_frames(model, frames)
    h, w = height // SPATIAL_FACTOR, width // SPATIAL_FACTOR
    if family_of(model) == "cogvideox":
        return (batch, t, channels, h, w)
    return (batch, channels, t, h, w)


@dataclass(frozen=True)
class InputTensor:
    """One tensor the measured stage holds: a forward input or a pipeline local live during the call."""

    name: str
    shape: tuple[int, ...]
    dtype: str          # fp16 | bf16 | fp32 | int64
    note: str = ""

    @property
    def nbytes(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n * {"fp16": 2, "bf16": 2, "fp32": 4, "int64": 8, "fp64": 8}[self.dtype]

    def describe(self) -> str:
        return f"{self.name} {tuple(self.shape)} {self.dtype}"


def guidance_copies(guidance_scale: float) -> int:
    return 2 if guidance_scale > 1 else 1


def step_input_plan(model: str, frames: int, height: int, width: int, batch: int = 1,
                    guidance_scale: float | None = None, dtype: str | None = None,
                    config: Mapping[str, Any] | None = None) -> list[InputTensor]:
    """The tensors of one denoising step as each pipeline holds them during the transformer call (``config``: the
    transformer's, default the shipped one). Entries named after a keyword argument of the transformer's
    ``forward`` (``hidden_states``, ``encoder_hidden_states``, ``timestep``, ...) are passed to it; the others are
    the pipeline's locals that stay live during the call."""
    family = family_of(model)
    cfg = dict(config) if config is not None else component_config(model, "transformer")
    if guidance_scale is None:
        guidance_scale = DEFAULT_GUIDANCE[family]
    g = guidance_copies(guidance_scale)
    tdt = component_dtype(model, "transformer", dtype)
    text_dt = component_dtype(model, "text", dtype)
    c_in = int(cfg.get("in_channels", 16))
    lat = latent_shape(model, frames, height, width, batch, c_in)
    plan: list[InputTensor] = []
    if family == "cogvideox":
        L, E = int(cfg["max_text_seq_length"]), int(cfg["text_embed_dim"])
        if g == 2:
            plan.append(InputTensor("negative_prompt_embeds", (batch, L, E), text_dt, "local, kept after the cat"))
        plan.append(InputTensor("encoder_hidden_states", (g * batch, L, E), text_dt,
                                "torch.cat([negative_prompt_embeds, prompt_embeds])" if g == 2 else "prompt_embeds"))
        plan.append(InputTensor("latents", lat, text_dt, "local (dtype of prompt_embeds)"))
        if g == 2:
            plan.append(InputTensor("hidden_states", (g * batch, *lat[1:]), text_dt, "torch.cat([latents] * 2)"))
        else:
            plan.append(InputTensor("hidden_states", lat, text_dt, "the latents themselves"))
        plan.append(InputTensor("timestep", (g * batch,), "int64", "t.expand(batch): a view of one element"))
        if cfg.get("use_rotary_positional_embeddings"):
            n = lat[1] * (lat[3] // int(cfg["patch_size"])) * (lat[4] // int(cfg["patch_size"]))
            d = int(cfg["attention_head_dim"])
            plan.append(InputTensor("image_rotary_emb[0]", (n, d), "fp32", "freqs_cos"))
            plan.append(InputTensor("image_rotary_emb[1]", (n, d), "fp32", "freqs_sin"))
        return plan
    if family == "wan":
        E = int(cfg["text_dim"])
        L = WAN_TEXT_TOKENS
        if g == 2:
            plan.append(InputTensor("prompt_embeds", (batch, L, E), tdt, "local (the conditional pass's text)"))
            plan.append(InputTensor("encoder_hidden_states", (batch, L, E), tdt,
                                    "negative_prompt_embeds: the measured forward is the unconditional pass"))
        else:
            plan.append(InputTensor("encoder_hidden_states", (batch, L, E), tdt, "prompt_embeds"))
        plan.append(InputTensor("latents", lat, "fp32", "local: prepare_latents(..., torch.float32)"))
        plan.append(InputTensor("mask", lat, "fp32", "local: torch.ones(latents.shape, float32)"))
        plan.append(InputTensor("hidden_states", lat, tdt, "latents.to(transformer_dtype)"))
        plan.append(InputTensor("timestep", (batch,), "int64", "t.expand(batch): a view of one element"))
        if g == 2:
            plan.append(InputTensor("noise_pred", lat, tdt, "local: the conditional pass's output"))
        return plan
    # hunyuanvideo
    E, P = int(cfg["text_embed_dim"]), int(cfg["pooled_projection_dim"])
    L = HUNYUAN_TEXT_TOKENS
    if text_dt == tdt:
        plan.append(InputTensor("llama_hidden_state", (batch, L + HUNYUAN_CROP_START, E), tdt,
                                "the text encoder's output; encoder_hidden_states is a view of it"))
        plan.append(InputTensor("encoder_hidden_states", (batch, L, E), tdt,
                                "view [:, crop_start:] (.to(transformer_dtype) is a no-op)"))
    else:
        plan.append(InputTensor("encoder_hidden_states", (batch, L, E), tdt,
                                "prompt_embeds[:, crop_start:].to(transformer_dtype): a copy"))
    plan.append(InputTensor("encoder_attention_mask", (batch, L), tdt, "all ones: 256 valid text tokens"))
    plan.append(InputTensor("pooled_projections", (batch, P), tdt, "the CLIP pooled embedding"))
    plan.append(InputTensor("latents", lat, "fp32", "local: prepare_latents(..., torch.float32)"))
    plan.append(InputTensor("guidance", (batch,), tdt, "guidance_scale * 1000"))
    plan.append(InputTensor("hidden_states", lat, tdt, "latents.to(transformer_dtype)"))
    plan.append(InputTensor("timestep", (batch,), "fp32", "t.expand(batch).to(latents.dtype)"))
    return plan


def decode_input_plan(model: str, frames: int, height: int, width: int, batch: int = 1, dtype: str | None = None,
                      config: Mapping[str, Any] | None = None) -> list[InputTensor]:
    """The tensors each pipeline's decode block holds around ``vae.decode`` (``config``: the VAE's)."""
    family = family_of(model)
    cfg = dict(config) if config is not None else component_config(model, "vae")
    vdt = component_dtype(model, "vae", dtype)
    c = int(cfg.get("latent_channels", cfg.get("z_dim", 16)))
    lat = latent_shape(model, frames, height, width, batch, c)
    if family == "cogvideox":
        loop_dt = component_dtype(model, "text", dtype)  # the loop's latents are in prompt_embeds.dtype
        z = (lat[0], lat[2], lat[1], lat[3], lat[4])
        return [InputTensor("latents", lat, loop_dt, "the loop's latents (B, T', C, h, w)"),
                InputTensor("z", z, vdt, "1 / scaling_factor * latents.permute(0, 2, 1, 3, 4)")]
    plan = [InputTensor("latents", lat, "fp32", "the loop's float32 latents")]
    if family == "wan":
        plan.append(InputTensor("z", lat, vdt, "latents.to(vae.dtype) / latents_std + latents_mean"))
    else:
        plan.append(InputTensor("z", lat, vdt, "latents.to(vae.dtype) / scaling_factor"))
    return plan
