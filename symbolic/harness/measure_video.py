"""Measure the GPU memory of ONE transformer forward and ONE VAE decode of the video models, one CSV row each, and
put the measurements beside :func:`symbolic.pipelines.estimate.estimate_video_pipeline` (:func:`compare`).

Models: ``cogvideox-2b``, ``cogvideox-5b``, ``wan2.1-t2v-1.3b``, ``wan2.1-t2v-14b``, ``hunyuanvideo``, built with
random weights from the shipped configs by the real diffusers classes (:mod:`symbolic.harness.build_video`), in
the catalog's dtypes (or every component in ``--dtype``). Only the measured component is on the GPU (one at a time:
a component is kept for the next rows that use it and freed before another is built).

Each row (:class:`VideoRowSpec`: ``model, stage, dtype, frames, height, width, batch, guidance_scale,
memory_option``):

1. the component (``transformer`` for ``transformer_step``, ``vae`` for ``vae_decode``) is on the device;
   ``gc.collect()``, ``torch.cuda.empty_cache()``, synchronize, ``weights_allocated_bytes = memory_allocated()``,
   ``torch.cuda.reset_peak_memory_stats()``;
2. under ``torch.inference_mode()`` the tensors the pipeline holds at that moment are created on the device
   (:func:`~symbolic.harness.build_video.step_input_plan` / :func:`~symbolic.harness.build_video.decode_input_plan`
   list them) and the component runs once:

   * ``transformer_step``: one ``transformer(...)`` call with the keyword arguments of the pipeline's denoising
     loop. CogVideoX: ``hidden_states`` ``torch.cat([latents] * 2)`` of (B, T', 16, H/8, W/8) (batch doubled when
     ``guidance_scale > 1``), ``encoder_hidden_states`` [negative, positive] (2B, 226, 4096), the int64 timestep,
     CogVideoX-5B's rotary tables from ``CogVideoXPipeline._prepare_rotary_positional_embeddings``. Wan:
     (B, 16, T', H/8, W/8) in the transformer dtype, text (B, 512, 4096); with guidance the measured call is the
     unconditional pass (negative text), with the float32 latents, the float32 ``mask`` and the conditional
     ``noise_pred`` held. HunyuanVideo: (B, 16, T', H/8, W/8), LLaMA text (B, 256, 4096) with an all-ones
     attention mask (B, 256), the pooled CLIP embedding (B, 768), ``guidance`` = 1000 x ``guidance_scale``
     (guidance-distilled: the batch is never doubled);
   * ``vae_decode``: the pipeline's decode block: the latents scaled as the pipeline does (CogVideoX
     ``1 / scaling_factor * latents.permute(0, 2, 1, 3, 4)``, Wan ``latents / latents_std + latents_mean``,
     HunyuanVideo ``latents / scaling_factor``), ``vae.decode`` and ``VideoProcessor.postprocess_video`` (its
     denormalize runs on the GPU before ``.cpu()``); ``memory_option=vae_tiling`` is ``vae.enable_tiling()``;

3. synchronize; ``peak_allocated_bytes = max_memory_allocated()``, ``peak_reserved_bytes = max_memory_reserved()``,
   ``activation_bytes = peak_allocated_bytes - weights_allocated_bytes``.

Before the first component is built the cuBLAS / cuBLASLt workspaces are created with a small matmul in each dtype
(they are kept by torch for the life of the process), so every row's ``weights_allocated_bytes`` holds them and no
row's activation does; ``<out>.meta.json`` records that baseline (``baseline_allocated_bytes``) with the software
and the device. Rows that fail (out of memory) go to ``<out>.errors.csv``.

Latents: T' = ``(frames - 1) // 4 + 1`` (WanPipeline first rounds ``num_frames`` to ``4k + 1``, giving
``frames // 4 + 1``), H/8 x W/8: the catalog's ``latent_frames`` and ``latent_hw``.

Entry point: ``python scripts/measure_video_gpu.py --out OUT.csv [--models ...] [--grid]``; ``--dry-run`` prints
the plan (needs neither torch nor a GPU), ``--compare OUT.csv`` prints each measured row beside the model.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import gc
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


from . import build_video as bv
from .measure_sd15 import RowWriter as _SD15RowWriter
from .measure_sd15 import _cell, append_error_row
from .measure_sd15 import format_row as _sd15_format_row
from .measure_sd15 import write_rows as _sd15_write_rows

STAGES = ("transformer_step", "vae_decode")
STAGE_COMPONENT = {"transformer_step": "transformer", "vae_decode": "vae"}
MEMORY_OPTIONS = ("none", "vae_tiling")
DTYPES = ("fp16", "bf16", "fp32")

INPUT_COLUMNS = ("model", "stage", "dtype", "frames", "height", "width", "batch", "guidance_scale", "memory_option")
MEASURED_COLUMNS = ("weights_allocated_bytes", "peak_allocated_bytes", "peak_reserved_bytes", "activation_bytes")
COLUMNS = INPUT_COLUMNS + MEASURED_COLUMNS

#: Timestep values handed to the transformer (any value: they only feed the sinusoidal embedding).
TIMESTEP = 999
SEED = 0


@dataclass(frozen=True)
class VideoRowSpec:
    """The input columns of one measured row.

    ``dtype``: None for the catalog's defaults (``make_config(model, None)``), else every component in it (the
    ``dtype`` argument of ``estimate_video_pipeline``). The CSV's ``dtype`` column is the measured component's
    dtype (:attr:`component_dtype`); reading a row back maps it to None when it is that default.
    ``guidance_scale``: None for the pipeline's default (:data:`build_video.DEFAULT_GUIDANCE`)."""

    model: str
    stage: str
    frames: int
    height: int
    width: int
    batch: int = 1
    guidance_scale: float | None = None
    memory_option: str = "none"
    dtype: str | None = None

    def __post_init__(self):
        if self.model not in bv.VIDEO_MODELS:
            raise ValueError(f"model must be one of {bv.VIDEO_MODELS}, not {self.model!r}")
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {self.stage!r}")
        if self.memory_option not in MEMORY_OPTIONS:
            raise ValueError(f"memory_option must be one of {MEMORY_OPTIONS}, not {self.memory_option!r}")
        if self.memory_option == "vae_tiling" and self.stage != "vae_decode":
            raise ValueError("memory_option vae_tiling applies to the vae_decode stage only")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be None or one of {DTYPES}, not {self.dtype!r}")
        for name in ("frames", "height", "width", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        m = bv.multiple_of(self.model)
        if self.height % m or self.width % m:
            raise ValueError(f"{self.model} needs height and width multiples of {m}, got {self.height}x{self.width}")
        if (self.height // bv.SPATIAL_FACTOR) % 2 or (self.width // bv.SPATIAL_FACTOR) % 2:
            # CogVideoX's check_inputs accepts multiples of 8, but its 2 x 2 patch embedding drops an odd latent
            # row or column: the transformer's output is then smaller than the latents and scheduler.step fails.
            raise ValueError(f"{self.model}: height / 8 and width / 8 must be even (2 x 2 patches), got "
                             f"{self.height}x{self.width}: the transformer's output would not match the latents")
        if self.guidance_scale is None:
            object.__setattr__(self, "guidance_scale", bv.DEFAULT_GUIDANCE[bv.family_of(self.model)])
        else:
            object.__setattr__(self, "guidance_scale", float(self.guidance_scale))
        if self.guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, not {self.guidance_scale!r}")

    @property
    def component(self) -> str:
        return STAGE_COMPONENT[self.stage]

    @property
    def component_dtype(self) -> str:
        return bv.component_dtype(self.model, self.component, self.dtype)

    @property
    def memory_options(self) -> tuple[str, ...]:
        return () if self.memory_option == "none" else (self.memory_option,)

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> "VideoRowSpec":
        missing = [c for c in INPUT_COLUMNS if c not in row or row[c] in (None, "")]
        if missing:
            raise ValueError(f"row lacks input columns {missing}: {dict(row)}")
        model, stage = str(row["model"]).strip(), str(row["stage"]).strip()
        dtype = str(row["dtype"]).strip()
        if dtype in ("default", "none", "None"):
            dtype = None
        elif model in bv.VIDEO_MODELS and stage in STAGES and dtype == bv.component_dtype(
                model, STAGE_COMPONENT[stage], None):
            dtype = None
        return cls(model=model, stage=stage, frames=int(row["frames"]), height=int(row["height"]),
                   width=int(row["width"]), batch=int(row["batch"]), guidance_scale=float(row["guidance_scale"]),
                   memory_option=str(row["memory_option"]).strip(), dtype=dtype)

    def as_row(self) -> dict[str, Any]:
        return {"model": self.model, "stage": self.stage, "dtype": self.component_dtype, "frames": self.frames,
                "height": self.height, "width": self.width, "batch": self.batch,
                "guidance_scale": self.guidance_scale, "memory_option": self.memory_option}

    def key(self) -> tuple:
        return tuple(_cell(v) for v in self.as_row().values())

    def input_plan(self, config_overrides: Mapping[str, Mapping] | None = None) -> list[bv.InputTensor]:
        config = bv.component_config(self.model, self.component, (config_overrides or {}).get(self.component))
        if self.stage == "transformer_step":
            return bv.step_input_plan(self.model, self.frames, self.height, self.width, self.batch,
                                      self.guidance_scale, self.dtype, config)
        return bv.decode_input_plan(self.model, self.frames, self.height, self.width, self.batch, self.dtype, config)


# ----------------------------------------------------------------------------------------------- CSV


def format_row(row: Mapping[str, Any], columns: Sequence[str] = COLUMNS) -> list[str]:
    return _sd15_format_row(row, columns)


class RowWriter(_SD15RowWriter):
    """Appends video rows (header first, ``\\n`` line ends), flushing each."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str] = COLUMNS, append: bool = False):
        super().__init__(path, columns, append=append)


def write_rows(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = COLUMNS) -> None:
    _sd15_write_rows(path, rows, columns)


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def read_rows(path: str | os.PathLike) -> list[VideoRowSpec]:
    """Input rows from a CSV with (at least) the input columns; measured columns, if any, are ignored."""
    return [VideoRowSpec.from_mapping(r) for r in read_csv(path)]


# ----------------------------------------------------------------------------------------------- grids


def default_grid() -> list[VideoRowSpec]:
    """A few sizes per model that fit an 80 GB H100 (the model predicts at most ~30 GB for any row's component plus
    its activations), ordered so each component is built once: CogVideoX at 49 frames 480 x 720 and 320 x 480
    (plus no guidance, a batch of 2, 25 frames; not 240 x 360, whose odd latent width 45 the 2 x 2 patches
    truncate, so the pipeline fails there), Wan 1.3B at 33 and 81 frames 480 x 832, Wan 14B at 33 and 81 frames
    (its VAE is the 1.3B's, measured once), HunyuanVideo at 33 frames 320 x 512 and 61 frames 544 x 960; VAE
    decodes with and without ``vae_tiling``."""
    R = VideoRowSpec
    rows: list[VideoRowSpec] = []
    for model in ("cogvideox-2b", "cogvideox-5b"):
        rows += [R(model, "transformer_step", 49, 480, 720), R(model, "transformer_step", 49, 320, 480),
                 R(model, "transformer_step", 49, 480, 720, guidance_scale=1.0),
                 R(model, "transformer_step", 49, 320, 480, batch=2)]
        rows += [R(model, "vae_decode", 49, 480, 720), R(model, "vae_decode", 49, 480, 720, memory_option="vae_tiling"),
                 R(model, "vae_decode", 49, 320, 480), R(model, "vae_decode", 25, 480, 720)]
    m = "wan2.1-t2v-1.3b"
    rows += [R(m, "transformer_step", 33, 480, 832), R(m, "transformer_step", 81, 480, 832),
             R(m, "transformer_step", 81, 480, 832, guidance_scale=1.0)]
    rows += [R(m, "vae_decode", 33, 480, 832), R(m, "vae_decode", 81, 480, 832),
             R(m, "vae_decode", 81, 480, 832, memory_option="vae_tiling")]
    m = "wan2.1-t2v-14b"
    rows += [R(m, "transformer_step", 33, 480, 832), R(m, "transformer_step", 81, 480, 832)]
    m = "hunyuanvideo"
    rows += [R(m, "transformer_step", 33, 320, 512), R(m, "transformer_step", 61, 544, 960)]
    rows += [R(m, "vae_decode", 33, 320, 512), R(m, "vae_decode", 33, 320, 512, memory_option="vae_tiling"),
             R(m, "vae_decode", 61, 544, 960, memory_option="vae_tiling")]
    return rows


#: One transformer forward and one decode per model at its headline size (used without ``--grid``).
REFERENCE_SIZES = {"cogvideox-2b": (49, 480, 720), "cogvideox-5b": (49, 480, 720),
                   "wan2.1-t2v-1.3b": (81, 480, 832), "wan2.1-t2v-14b": (81, 480, 832),
                   "hunyuanvideo": (33, 320, 512)}


def reference_rows(models: Sequence[str] = bv.VIDEO_MODELS) -> list[VideoRowSpec]:
    return [VideoRowSpec(m, stage, *REFERENCE_SIZES[m]) for m in models for stage in STAGES]


# ----------------------------------------------------------------------------------------------- measuring


class ComponentCache:
    """At most one component on the device: the last one built, reused while rows ask for the same config and dtype
    (Wan 1.3B and 14B share the VAE), freed before another is built."""

    def __init__(self, device: str = "cuda", tiny: bool = False):
        self.device = device
        self.tiny = tiny
        self.key: tuple | None = None
        self.module = None

    def overrides(self, model: str) -> dict[str, dict[str, Any]] | None:
        return bv.tiny_overrides(model) if self.tiny else None

    def free(self) -> None:
        from .measure_sd15 import memory_for

        self.module = None
        self.key = None
        gc.collect()
        memory_for(self.device).empty_cache()

    def get(self, spec: VideoRowSpec):
        from .measure_sd15 import memory_for

        key = (bv.config_name(spec.model, spec.component), spec.component, spec.component_dtype,
               bv.family_of(spec.model) if self.tiny else None)
        if key != self.key:
            self.free()
            self.module = bv.build_component(spec.model, spec.component, self.device, spec.dtype,
                                             self.overrides(spec.model))
            self.key = key
            gc.collect()
            memory_for(self.device).empty_cache()
        return self.module


def _torch_dtype(name: str):
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32, "int64": torch.int64}[name]


def _dtype_name(dtype) -> str:
    import torch

    return {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32", torch.int64: "int64",
            torch.float64: "fp64"}.get(dtype, str(dtype))


@dataclass
class RunInfo:
    """What one measured call saw: each created tensor's (shape, dtype) by its plan name, the output's."""

    tensors: dict[str, tuple[tuple[int, ...], str]]
    output_shape: tuple[int, ...]
    output_dtype: str


def _note(seen: dict, name: str, t) -> None:
    seen[name] = (tuple(t.shape), _dtype_name(t.dtype))


def run_transformer_step(spec: VideoRowSpec, transformer, device) -> RunInfo:
    """Create the denoising loop's tensors (see the module docstring) and run ``transformer`` once. Call under
    ``torch.inference_mode()``; every tensor is freed on return."""
    import torch

    family = bv.family_of(spec.model)
    cfg = transformer.config
    g = bv.guidance_copies(spec.guidance_scale)
    B = spec.batch
    tdt = _torch_dtype(spec.component_dtype)
    text_dt = _torch_dtype(bv.component_dtype(spec.model, "text", spec.dtype))
    gen = torch.Generator(device=device).manual_seed(SEED)
    seen: dict[str, tuple] = {}
    held: list = []
    lat = bv.latent_shape(spec.model, spec.frames, spec.height, spec.width, B, int(cfg.in_channels))

    if family == "cogvideox":
        L, E = int(cfg.max_text_seq_length), int(cfg.text_embed_dim)
        prompt_embeds = torch.randn((B, L, E), generator=gen, device=device, dtype=text_dt)
        if g == 2:
            negative = torch.randn((B, L, E), generator=gen, device=device, dtype=text_dt)
            prompt_embeds = torch.cat([negative, prompt_embeds], dim=0)
            _note(seen, "negative_prompt_embeds", negative)
            held.append(negative)
            del negative
        latents = torch.randn(lat, generator=gen, device=device, dtype=prompt_embeds.dtype)
        rotary = None
        if cfg.use_rotary_positional_embeddings:
            from types import SimpleNamespace

            from diffusers.pipelines.cogvideo.pipeline_cogvideox import CogVideoXPipeline

            fake = SimpleNamespace(vae_scale_factor_spatial=bv.SPATIAL_FACTOR, transformer=transformer)
            rotary = CogVideoXPipeline._prepare_rotary_positional_embeddings(
                fake, spec.height, spec.width, latents.size(1), torch.device(device))
            _note(seen, "image_rotary_emb[0]", rotary[0])
            _note(seen, "image_rotary_emb[1]", rotary[1])
        hidden = torch.cat([latents] * 2) if g == 2 else latents
        timestep = torch.tensor(TIMESTEP, dtype=torch.int64, device=device).expand(hidden.shape[0])
        _note(seen, "encoder_hidden_states", prompt_embeds)
        _note(seen, "latents", latents)
        kwargs = dict(hidden_states=hidden, encoder_hidden_states=prompt_embeds, timestep=timestep,
                      image_rotary_emb=rotary, return_dict=False)
        held.append(latents)
        del latents, prompt_embeds, rotary
    elif family == "wan":
        L, E = bv.WAN_TEXT_TOKENS, int(cfg.text_dim)
        prompt_embeds = torch.randn((B, L, E), generator=gen, device=device, dtype=tdt)
        encoder = prompt_embeds
        if g == 2:
            encoder = torch.randn((B, L, E), generator=gen, device=device, dtype=tdt)
            _note(seen, "prompt_embeds", prompt_embeds)
        latents = torch.randn(lat, generator=gen, device=device, dtype=torch.float32)
        mask = torch.ones(latents.shape, dtype=torch.float32, device=device)
        hidden = latents.to(tdt)
        timestep = torch.tensor(TIMESTEP, dtype=torch.int64, device=device).expand(B)
        if g == 2:  # the conditional pass's output, live during the unconditional pass
            noise_pred = torch.empty_like(hidden)
            _note(seen, "noise_pred", noise_pred)
            held.append(noise_pred)
            del noise_pred
        for name, t in (("encoder_hidden_states", encoder), ("latents", latents), ("mask", mask)):
            _note(seen, name, t)
        kwargs = dict(hidden_states=hidden, timestep=timestep, encoder_hidden_states=encoder, return_dict=False)
        held += [prompt_embeds, latents, mask]
        del prompt_embeds, encoder, latents, mask
    else:  # hunyuanvideo
        L, E, P = bv.HUNYUAN_TEXT_TOKENS, int(cfg.text_embed_dim), int(cfg.pooled_projection_dim)
        if text_dt == tdt:  # .to(transformer_dtype) is a no-op: the cropped view keeps the whole LLaMA output
            llama = torch.randn((B, L + bv.HUNYUAN_CROP_START, E), generator=gen, device=device, dtype=tdt)
            prompt_embeds = llama[:, bv.HUNYUAN_CROP_START:]
            _note(seen, "llama_hidden_state", llama)
            del llama
        else:
            prompt_embeds = torch.randn((B, L, E), generator=gen, device=device, dtype=tdt)
        attention_mask = torch.ones((B, L), dtype=tdt, device=device)
        pooled = torch.randn((B, P), generator=gen, device=device, dtype=tdt)
        latents = torch.randn(lat, generator=gen, device=device, dtype=torch.float32)
        guidance = torch.tensor([spec.guidance_scale] * B, dtype=tdt, device=device) * 1000.0
        hidden = latents.to(tdt)
        timestep = torch.tensor(float(TIMESTEP), dtype=torch.float32, device=device).expand(B).to(latents.dtype)
        for name, t in (("encoder_hidden_states", prompt_embeds), ("encoder_attention_mask", attention_mask),
                        ("pooled_projections", pooled), ("latents", latents), ("guidance", guidance)):
            _note(seen, name, t)
        kwargs = dict(hidden_states=hidden, timestep=timestep, encoder_hidden_states=prompt_embeds,
                      encoder_attention_mask=attention_mask, pooled_projections=pooled, guidance=guidance,
                      return_dict=False)
        held.append(latents)
        del prompt_embeds, attention_mask, pooled, latents, guidance
    _note(seen, "hidden_states", kwargs["hidden_states"])
    _note(seen, "timestep", kwargs["timestep"])
    del hidden, timestep
    out = transformer(**kwargs)[0]
    info = RunInfo(seen, tuple(out.shape), _dtype_name(out.dtype))
    del out, kwargs, held
    return info


def run_vae_decode(spec: VideoRowSpec, vae, device) -> RunInfo:
    """The pipeline's decode block (scaled latents, ``vae.decode``, ``postprocess_video``) once. Call under
    ``torch.inference_mode()``; every tensor is freed on return."""
    import torch
    from diffusers.video_processor import VideoProcessor

    family = bv.family_of(spec.model)
    cfg = vae.config
    c = int(getattr(cfg, "latent_channels", None) or getattr(cfg, "z_dim", 16))
    lat = bv.latent_shape(spec.model, spec.frames, spec.height, spec.width, spec.batch, c)
    gen = torch.Generator(device=device).manual_seed(SEED)
    processor = VideoProcessor(vae_scale_factor=bv.SPATIAL_FACTOR)
    seen: dict[str, tuple] = {}

    if family == "cogvideox":  # CogVideoXPipeline.decode_latents; __call__ keeps its `latents`
        loop_dt = _torch_dtype(bv.component_dtype(spec.model, "text", spec.dtype))
        latents = torch.randn(lat, generator=gen, device=device, dtype=loop_dt)
        _note(seen, "latents", latents)

        def decode_latents(latents):
            latents = latents.permute(0, 2, 1, 3, 4)
            latents = 1 / cfg.scaling_factor * latents
            _note(seen, "z", latents)
            return vae.decode(latents).sample

        video = decode_latents(latents)
    elif family == "wan":  # WanPipeline.__call__ after the loop
        latents = torch.randn(lat, generator=gen, device=device, dtype=torch.float32)
        _note(seen, "latents", latents)
        latents = latents.to(device, dtype=vae.dtype)
        latents_mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1, 1).to(latents.device, latents.dtype)
        latents_std = 1.0 / torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1, 1).to(latents.device,
                                                                                           latents.dtype)
        latents = latents / latents_std + latents_mean
        _note(seen, "z", latents)
        video = vae.decode(latents, return_dict=False)[0]
    else:  # HunyuanVideoPipeline.__call__ after the loop
        latents = torch.randn(lat, generator=gen, device=device, dtype=torch.float32)
        _note(seen, "latents", latents)
        latents = latents.to(vae.dtype) / cfg.scaling_factor
        _note(seen, "z", latents)
        video = vae.decode(latents, return_dict=False)[0]
    info = RunInfo(seen, tuple(video.shape), _dtype_name(video.dtype))
    frames = processor.postprocess_video(video, output_type="np")
    del video, latents, frames
    return info


@dataclass
class RowResult:
    row: dict[str, Any]
    info: RunInfo
    seconds: float


def measure_row(spec: VideoRowSpec, device: str = "cuda", cache: ComponentCache | None = None) -> RowResult:
    """Measure one row (see the module docstring); on a device without allocator statistics the memory columns
    are 0."""
    import torch

    from .measure_sd15 import memory_for

    cache = cache or ComponentCache(device)
    module = cache.get(spec)
    memory = memory_for(device)
    tiling = spec.memory_option == "vae_tiling"
    if tiling:
        module.enable_tiling()
    try:
        gc.collect()
        memory.empty_cache()
        memory.synchronize()
        before = memory.allocated()
        memory.reset_peak()
        t0 = time.perf_counter()
        with torch.inference_mode():
            if spec.stage == "transformer_step":
                info = run_transformer_step(spec, module, device)
            else:
                info = run_vae_decode(spec, module, device)
        memory.synchronize()
        seconds = time.perf_counter() - t0
        peak = memory.max_allocated()
        reserved = memory.max_reserved()
    finally:
        if tiling:
            module.disable_tiling()
        gc.collect()
        memory.empty_cache()
    row = spec.as_row()
    row.update(weights_allocated_bytes=before, peak_allocated_bytes=peak, peak_reserved_bytes=reserved,
               activation_bytes=peak - before)
    return RowResult(row, info, seconds)


def warm_up_cublas(device) -> int:
    """Create the cuBLAS / cuBLASLt workspaces (a matmul with and without bias in each dtype) so that no row's
    activation holds them; returns ``memory_allocated()`` afterwards (the baseline every row's weights include)."""
    import torch

    from .measure_sd15 import memory_for

    memory = memory_for(device)
    with torch.inference_mode():
        for dt in (torch.float16, torch.bfloat16, torch.float32):
            a = torch.randn(64, 64, device=device, dtype=dt)
            torch.nn.functional.linear(a, a, a[0])
            a @ a
            del a
    memory.synchronize()
    gc.collect()
    memory.empty_cache()
    return memory.allocated()


# ----------------------------------------------------------------------------------------------- compare

COMPARE_COLUMNS = INPUT_COLUMNS + (
    "measured_activation_bytes", "predicted_activation_bytes", "activation_relative_error",
    "measured_weights_bytes", "predicted_weights_bytes", "weights_relative_error",
    "estimate_stage_activation_bytes", "cublas_workspace_bytes",
)


def _relative(predicted: int, measured: int | None) -> float | None:
    if not measured:
        return None
    return (predicted - measured) / measured


def compare(rows: Iterable[Mapping[str, Any]], framework=None) -> list[dict[str, Any]]:
    """Each measured row beside ``estimate_video_pipeline`` at the same settings (prediction vs measurement).

    ``rows``: measured rows (this module's CSV, as dicts of strings, or :func:`measure_row`'s ``row``).
    Per row: ``predicted_activation_bytes`` = the estimate's ``stage_activation_bytes[stage]`` less the cuBLAS
    workspace (the estimate counts it as resident and so in every stage's activation; the harness creates it before
    the first ``weights_allocated_bytes`` reading, so no measured activation holds it),
    ``predicted_weights_bytes`` = the component's ``component_weights_bytes`` + the allocator rounding the builder
    models for it (``allocator_rounding``) + the cuBLAS workspace (which every measured ``weights_allocated_bytes``
    holds), and signed relative errors ``(predicted - measured) / measured`` (None when the measurement is 0, as on
    a CPU). ``framework``: the catalog's ``Framework`` (default: ``default_framework()``)."""
    from symbolic.framework import default_framework
    from symbolic.pipelines.build import allocator_rounding
    from symbolic.pipelines.estimate import estimate_video_pipeline, make_config

    framework = framework or default_framework()
    workspace = framework.cublas_workspace_bytes
    out = []
    for raw in rows:
        spec = VideoRowSpec.from_mapping(raw)
        weights = int(raw["weights_allocated_bytes"])
        if raw.get("activation_bytes") not in (None, ""):
            activation = int(raw["activation_bytes"])
        else:
            activation = int(raw["peak_allocated_bytes"]) - weights
        est = estimate_video_pipeline(spec.model, spec.frames, spec.height, spec.width, batch=spec.batch,
                                      guidance_scale=spec.guidance_scale, dtype=spec.dtype,
                                      memory_options=spec.memory_options, framework=framework)
        stage_activation = int(est["stage_activation_bytes"][spec.stage])
        predicted = stage_activation - workspace
        config = make_config(spec.model, spec.dtype, spec.memory_options, framework=framework)
        predicted_weights = (int(est["component_weights_bytes"][spec.component])
                             + allocator_rounding(config, spec.component)[0] + workspace)
        row = spec.as_row()
        row.update(measured_activation_bytes=activation, predicted_activation_bytes=predicted,
                   activation_relative_error=_relative(predicted, activation),
                   measured_weights_bytes=weights, predicted_weights_bytes=predicted_weights,
                   weights_relative_error=_relative(predicted_weights, weights),
                   estimate_stage_activation_bytes=stage_activation, cublas_workspace_bytes=workspace)
        out.append(row)
    return out


def format_comparison(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table of :func:`compare`'s rows (GiB, relative errors in percent)."""
    gib = float(1 << 30)

    def pct(x):
        return "-" if x is None else f"{100 * x:+.1f}%"

    header = (f"{'model':<16} {'stage':<16} {'dtype':<5} {'T':>4} {'HxW':>9} {'B':>2} {'gs':>4} {'option':<10} "
              f"{'act meas':>9} {'act pred':>9} {'act err':>8} {'w meas':>7} {'w pred':>7} {'w err':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        size = f"{r['height']}x{r['width']}"
        lines.append(
            f"{r['model']:<16} {r['stage']:<16} {r['dtype']:<5} {r['frames']:>4} {size:>9} "
            f"{r['batch']:>2} {r['guidance_scale']:>4} {r['memory_option']:<10} "
            f"{r['measured_activation_bytes'] / gib:>9.3f} {r['predicted_activation_bytes'] / gib:>9.3f} "
            f"{pct(r['activation_relative_error']):>8} {r['measured_weights_bytes'] / gib:>7.2f} "
            f"{r['predicted_weights_bytes'] / gib:>7.2f} {pct(r['weights_relative_error']):>7}")
    errs = [abs(r["activation_relative_error"]) for r in rows if r["activation_relative_error"] is not None]
    if errs:
        lines.append(f"{len(errs)} rows: activation |relative error| max {100 * max(errs):.1f}%, "
                     f"mean {100 * sum(errs) / len(errs):.1f}%")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- plan (dry run)


def format_plan(specs: Sequence[VideoRowSpec], tiny: bool = False, with_estimate: bool = True) -> str:
    """One block per row: its settings, the tensors fed (shape, dtype) and the model's predicted activation."""
    gib = float(1 << 30)
    lines = []
    for i, spec in enumerate(specs, 1):
        overrides = bv.tiny_overrides(spec.model) if tiny else None
        head = (f"[{i}/{len(specs)}] {spec.model} {spec.stage} {spec.component_dtype} {spec.frames}x{spec.height}x"
                f"{spec.width} batch={spec.batch} guidance_scale={spec.guidance_scale} {spec.memory_option}")
        if with_estimate and not tiny:
            from symbolic.pipelines.estimate import estimate_video_pipeline

            est = estimate_video_pipeline(spec.model, spec.frames, spec.height, spec.width, batch=spec.batch,
                                          guidance_scale=spec.guidance_scale, dtype=spec.dtype,
                                          memory_options=spec.memory_options)
            head += (f"  (predicted: weights {est['component_weights_bytes'][spec.component] / gib:.2f} GiB, "
                     f"activation {est['stage_activation_bytes'][spec.stage] / gib:.2f} GiB)")
        lines.append(head)
        lines.append("    " + "; ".join(t.describe() for t in spec.input_plan(overrides)))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="measure_video_gpu.py",
        description="Measure one transformer forward and one VAE decode of the video models on a GPU (random "
                    "weights, shipped configs); or compare measured rows with the model.")
    p.add_argument("--out", help="output CSV (columns: " + ",".join(COLUMNS) + "); with --compare: the "
                                 "comparison CSV")
    p.add_argument("--models", nargs="+", choices=bv.VIDEO_MODELS, default=None, help="restrict to these models")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--grid", action="store_true", help="the built-in grid (default_grid); without it one "
                                                          "transformer_step and one vae_decode row per model")
    src.add_argument("--rows", help="input CSV with the columns " + ",".join(INPUT_COLUMNS))
    src.add_argument("--compare", metavar="FILE.csv", help="print each measured row of FILE.csv beside "
                                                            "estimate_video_pipeline (no GPU needed)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (rows and input shapes); no GPU")
    p.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    p.add_argument("--dtype", choices=DTYPES, default=None, help="every component in this dtype (default: "
                                                                 "the catalog's per-model dtypes)")
    p.add_argument("--resume", action="store_true", help="append to --out, skipping rows already in it")
    p.add_argument("--limit", type=int, default=None, help="measure at most this many rows")
    p.add_argument("--tiny", action="store_true", help="tiny configs (smoke test of the harness on a CPU)")
    return p


def _specs(args) -> list[VideoRowSpec]:
    specs = default_grid() if args.grid else (read_rows(args.rows) if args.rows else reference_rows())
    if args.models:
        specs = [s for s in specs if s.model in args.models]
    if args.dtype is not None:
        specs = [dataclasses.replace(s, dtype=args.dtype) for s in specs]
    if args.limit is not None:
        specs = specs[: args.limit]
    return specs


def _compare_main(args) -> int:
    try:
        measured = read_csv(args.compare)
        if args.models:
            measured = [r for r in measured if r.get("model") in args.models]
        rows = compare(measured)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot compare {args.compare}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(format_comparison(rows))
    if args.out:
        write_rows(args.out, rows, COMPARE_COLUMNS)
        print(f"wrote {len(rows)} rows to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.compare:
        return _compare_main(args)
    try:
        specs = _specs(args)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read input rows: {exc}", file=sys.stderr)
        return 2

    if args.dry_run:
        print(format_plan(specs, tiny=args.tiny))
        if args.out:
            write_rows(args.out, (s.as_row() for s in specs))
            print(f"wrote {len(specs)} input rows to {args.out} (dry run, nothing measured)")
        return 0
    if not args.out:
        print("error: --out is required to measure", file=sys.stderr)
        return 2

    from .measure_sd15 import open_device

    device = open_device(args.device)
    if device is None:
        return 2
    import torch

    from .measure_sd15 import CudaMemory, _environment

    context_bytes = None
    baseline = 0
    if device.type == "cuda":
        torch.zeros(1, device=device)
        torch.cuda.synchronize(device)
        context_bytes = CudaMemory(device).driver_used()
        baseline = warm_up_cublas(str(device))

    out_path = Path(args.out)
    done: set[tuple] = set()
    if args.resume and out_path.exists():
        done = {s.key() for s in read_rows(out_path)}
    todo = [s for s in specs if s.key() not in done]

    meta = _environment(str(device), context_bytes)
    meta["baseline_allocated_bytes"] = baseline
    meta["tiny"] = bool(args.tiny)
    meta_path = out_path.with_name(out_path.name + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    err_path = out_path.with_name(out_path.name + ".errors.csv")
    cache = ComponentCache(str(device), tiny=args.tiny)
    failures = 0
    with RowWriter(out_path, append=args.resume) as writer:
        for i, spec in enumerate(todo, 1):
            try:
                result = measure_row(spec, str(device), cache)
            except Exception as exc:  # e.g. torch.OutOfMemoryError: record it, go on with the next row
                failures += 1
                append_error_row(err_path, INPUT_COLUMNS, format_row(spec.as_row(), INPUT_COLUMNS), exc)
                print(f"[{i}/{len(todo)}] FAILED {spec.as_row()}: {type(exc).__name__}: {str(exc)[:200]}",
                      file=sys.stderr)
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            writer.write(result.row)
            r = result.row
            print(f"[{i}/{len(todo)}] {spec.model} {spec.stage} {r['dtype']} {spec.frames}x{spec.height}x"
                  f"{spec.width} B={spec.batch} gs={spec.guidance_scale} {spec.memory_option}: weights "
                  f"{r['weights_allocated_bytes']:,} B, activation {r['activation_bytes']:,} B "
                  f"({result.seconds:.1f} s)", flush=True)
    cache.free()
    print(f"wrote {len(todo) - failures} rows to {out_path}" + (f"; {failures} failed, see {err_path}"
                                                                   if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
