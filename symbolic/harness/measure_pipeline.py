"""Measure the GPU memory of any bundled pipeline's call, one CSV row per call: the one measuring loop, driven by the
pipeline specs (``symbolic.pipelines.families``) and the bundled configs.

For each input row (``model, task, attention, sdpa_backend, memory_option, dtype, height, width, frames,
num_images_per_prompt, guidance_scale, prompt_tokens``):

* the components are built from the bundled configs with random weights directly on the device, each role in the
  dtype the estimate gives it (``dtype`` ``default``: the catalog's per-role dtypes; ``fp16`` / ``bf16`` / ``fp32``:
  every component in it) - :mod:`symbolic.harness.build_pipeline`; built once per (model, dtype) and reused by later
  rows (rows are grouped so);
* the pipeline class of ``model_index.json`` (``img2img``: its image-to-image sibling, random-noise init image,
  strength 0.8) is called with a prompt of exactly ``prompt_tokens`` tokens in the first tokenizer (template
  included; empty: the spec's first text call, 77 for CLIP, 546 for Qwen-Image), ``guidance_scale`` (Qwen-Image:
  ``true_cfg_scale`` with ``negative_prompt=" "`` when above 1, its docs' example), ``num_inference_steps=2``
  (``--steps``; img2img at strength 0.8 runs one), ``num_images_per_prompt`` / ``num_videos_per_prompt``, and
  ``num_frames`` for video pipelines;
* ``attention``: ``sdpa`` = ``AttnProcessor2_0``, ``classic`` = ``AttnProcessor`` on a UNet and its VAE (UNet
  pipelines; transformers keep their own processors); ``sdpa_backend`` forced with ``torch.nn.attention.sdpa_kernel``;
  ``memory_option``: ``none``, ``vae_slicing``, ``vae_tiling``, ``attention_slicing`` (UNet pipelines), joined by
  ``+``; ``cpu_offload`` and ``text_encoder_cpu`` are not run by this harness (refused);
* stage peaks: the forward of every text encoder of the spec (stage named by its role), the denoiser's forward
  (``unet_step`` / ``transformer_step``), ``vae.encode``, ``vae.decode`` and ``safety_checker.forward`` are wrapped
  (:class:`symbolic.harness.torch_memory.StageRecorder`: the allocator's peak is reset before each stage and folded
  into the stage's running maximum after it; ``num_inference_steps`` 2 keeps a row short: every step is the same);
  ``peak_allocated_bytes`` / ``peak_reserved_bytes`` are maxima over the whole call; ``weights_allocated_bytes`` is
  ``memory_allocated`` before the call;
* ``--min-cap`` (issue 9, the OOM boundary): after the measured call, bisect
  ``torch.cuda.set_per_process_memory_fraction`` to the smallest cap (:data:`CAP_RESOLUTION` = 64 MiB steps) at
  which the same call completes, between the measured peak allocated (below it nothing fits) and the measured peak
  reserved (+ one step); ``min_cap_bytes``.

Columns (``symbolic.measurements.table.COLUMNS``, the one schema ``validate`` reads too): ``model`` then those of
``measurements/sd15_h100.csv`` with ``frames`` after ``width``,
a stage column for every stage name (empty where the stage did not run) and ``min_cap_bytes``. Failing rows go to
``<out>.errors.csv``; ``<out>.meta.json`` records the software and device.

Entry point: ``python scripts/measure_gpu.py --model ID [--grid | --rows IN.csv] --out OUT.csv``; ``--dry-run``
prints the rows with the estimate's predictions (no torch.cuda); ``--compare OUT.csv`` prints measured against
predicted per stage.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import functools
import gc
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from symbolic.harness.torch_memory import CudaMemory, StageRecorder, memory_for, open_device
from symbolic.measurements.table import COLUMNS, INPUT_COLUMNS, STAGE_COLUMNS


ATTENTIONS = ("sdpa", "classic")
SDPA_BACKENDS = ("default", "math", "efficient", "flash", "cudnn")
#: The switches (``symbolic.switches.switch``) this harness applies; the others are not run here yet.
HARNESS_SWITCHES = ("none", "vae_slicing", "vae_tiling", "attention_slicing")
DTYPES = ("default", "fp16", "bf16", "fp32")

NUM_INFERENCE_STEPS = 2
IMG2IMG_STRENGTH = 0.8
SEED = 0
CAP_RESOLUTION = 64 * 2**20
#: The grid keeps rows whose predicted peak reserved bytes fit an 80 GB H100 with this much room to spare.
GRID_BUDGET_BYTES = 72 * 2**30


@dataclass(frozen=True)
class RowSpec:
    """The input columns of one row (``frames`` None for image pipelines, ``prompt_tokens`` None: the spec's)."""

    model: str
    task: str = "txt2img"
    attention: str = "sdpa"
    sdpa_backend: str = "default"
    memory_option: str = "none"
    dtype: str = "default"
    height: int = 1024
    width: int = 1024
    frames: int | None = None
    num_images_per_prompt: int = 1
    guidance_scale: float | None = None
    prompt_tokens: int | None = None

    def __post_init__(self):
        from symbolic.pipelines import catalog

        spec = catalog.load(self.model).spec
        if self.task not in spec.tasks:
            raise ValueError(f"{self.model}: task {self.task!r} not in {spec.tasks}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {self.attention!r}")
        if self.sdpa_backend not in SDPA_BACKENDS:
            raise ValueError(f"sdpa_backend must be one of {SDPA_BACKENDS}, not {self.sdpa_backend!r}")
        for option in self.memory_options:
            if option not in HARNESS_SWITCHES:
                raise ValueError(f"memory_option {option!r} not run by this harness ({HARNESS_SWITCHES})")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, not {self.dtype!r}")
        if self.height is None or self.width is None:
            raise ValueError(f"{self.model}: height and width are needed, got {self.height} x {self.width}")
        if self.task == "txt2img" and (self.height % spec.multiple or self.width % spec.multiple):
            # the pipeline's check_inputs refuses it (img2img resizes its image to a multiple instead)
            raise ValueError(f"{self.model}: height and width must be multiples of {spec.multiple}, not "
                             f"{self.height} x {self.width}")
        if spec.video and self.frames is None:
            object.__setattr__(self, "frames", int(spec.default_frames))
        if not spec.video and self.frames is not None:
            raise ValueError(f"{self.model} makes images: frames must be empty")
        if self.guidance_scale is None:
            object.__setattr__(self, "guidance_scale", float(spec.default_guidance_scale))
        if self.prompt_tokens is None:
            from symbolic.harness.build_pipeline import default_prompt_tokens

            object.__setattr__(self, "prompt_tokens", default_prompt_tokens(self.model))

    @property
    def memory_options(self) -> tuple[str, ...]:
        opts = tuple(o.strip() for o in self.memory_option.split("+") if o.strip())
        return tuple(o for o in opts if o != "none")

    @property
    def estimate_dtype(self) -> str | None:
        return None if self.dtype == "default" else self.dtype

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], model: str | None = None) -> "RowSpec":
        def get(name, conv=str, default=None):
            value = row.get(name)
            if value is None or str(value).strip() == "":
                return default
            return conv(str(value).strip())

        model = get("model") or model
        if not model:
            raise ValueError(f"row has no model and none was given: {dict(row)}")
        return cls(model=model, task=get("task", default="txt2img"), attention=get("attention", default="sdpa"),
                   sdpa_backend=get("sdpa_backend", default="default"),
                   memory_option=get("memory_option", default="none"), dtype=get("dtype", default="default"),
                   height=get("height", int), width=get("width", int), frames=get("frames", int),
                   num_images_per_prompt=get("num_images_per_prompt", int, 1),
                   guidance_scale=get("guidance_scale", float), prompt_tokens=get("prompt_tokens", int))

    def as_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def label(self) -> str:
        size = f"{self.height}x{self.width}" + (f"x{self.frames}f" if self.frames else "")
        return (f"{self.model} {self.task} {size} n={self.num_images_per_prompt} g={self.guidance_scale} "
                f"{self.dtype} {self.attention}/{self.sdpa_backend} {self.memory_option}")


def read_plan(path, model: str | None = None) -> list[RowSpec]:
    """Input rows from a CSV with (at least) the input columns; a row without ``model`` takes ``model``."""
    with open(path, newline="") as fh:
        rows = [RowSpec.from_mapping(r, model) for r in csv.DictReader(fh)]
    return [r for r in rows if model is None or r.model == model]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(float(value))  # 5.0, 7.5: as in sd15_h100.csv
    return str(value)


def format_row(row: Mapping[str, Any], columns: Sequence[str] = COLUMNS) -> list[str]:
    """The cells of one output row in ``columns`` order (``""`` for a stage that did not run)."""
    return [_cell(row.get(c)) for c in columns]


class RowWriter:
    """Appends rows to a CSV (header, ``\\n`` line ends, the cell format of ``sd15_h100.csv``), flushing each."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str] = COLUMNS, append: bool = False):
        self.path = Path(path)
        self.columns = tuple(columns)
        exists = append and self.path.exists() and self.path.stat().st_size > 0
        self._fh = open(self.path, "a" if exists else "w", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        if not exists:
            self._writer.writerow(self.columns)
            self._fh.flush()

    def write(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow(format_row(row, self.columns))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_rows(path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = COLUMNS) -> None:
    with RowWriter(path, columns) as w:
        for r in rows:
            w.write(r)


def append_error_row(path: Path, columns: Sequence[str], cells: list[str], exc: BaseException) -> None:
    """Record a row that failed (e.g. out of memory) in ``path``: its input cells and the error, header first."""
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if new:
            writer.writerow(tuple(columns) + ("error",))
        writer.writerow(cells + [f"{type(exc).__name__}: {exc}"[:500]])


# ----------------------------------------------------------------------------------------------- predictions


def predict(spec: RowSpec) -> dict:
    """The estimate of the row's call (``symbolic.pipelines.api.estimate``)."""
    from symbolic.pipelines.api import estimate

    backend = spec.sdpa_backend if spec.sdpa_backend in ("default", "flash", "efficient", "math") else "default"
    return estimate(spec.model, spec.height, spec.width, frames=spec.frames, batch=spec.num_images_per_prompt,
                    guidance_scale=spec.guidance_scale, dtype=spec.estimate_dtype,
                    memory_options=spec.memory_options, task=spec.task, attention=spec.attention,
                    attention_backend=backend)


def predicted_row(spec: RowSpec) -> dict[str, Any]:
    """The row in :data:`COLUMNS` with the estimate in the measured columns (stages the estimate has)."""
    est = predict(spec)
    row = spec.as_row()
    row.update(weights_allocated_bytes=est["weights_bytes"], peak_allocated_bytes=est["peak_allocated_bytes"],
               peak_reserved_bytes=est["peak_reserved_bytes"], driver_used_bytes=est["nvidia_smi_bytes"])
    for stage, value in est["stages"].items():
        if stage in STAGE_COLUMNS:
            row[STAGE_COLUMNS[stage]] = value
    return row


# ----------------------------------------------------------------------------------------------- stage recording


def wrapped_methods(model: str, components: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(component, method, stage) for the spec's text encoders, denoiser, VAE and safety checker."""
    from symbolic.pipelines import catalog

    spec = catalog.load(model).spec
    out = [(call.role, "forward", call.role) for call in spec.text_calls]
    out += [("vae", "encode", "vae_encode"), (spec.denoiser, "forward", spec.denoiser_stage),
            ("vae", "decode", "vae_decode"), ("safety_checker", "forward", "safety_checker")]
    return [(c, m, s) for c, m, s in out if components.get(c) is not None]




# ----------------------------------------------------------------------------------------------- one row


def noise_image(height: int, width: int, seed: int = SEED):
    """A ``width x height`` RGB PIL image of uniform noise (img2img's init image)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), mode="RGB")


def sdpa_context(backend: str):
    """``torch.nn.attention.sdpa_kernel`` for a forced backend; a null context for ``default``."""
    if backend == "default":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel({
        "math": SDPBackend.MATH,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "flash": SDPBackend.FLASH_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
    }[backend])


def configure(pipe, spec: RowSpec) -> None:
    """Attention processors and memory options of ``spec`` on ``pipe`` (after undoing a previous row's)."""
    vae = pipe.vae
    for name in ("disable_slicing", "disable_tiling"):
        if hasattr(vae, name):
            getattr(vae, name)()
    unet = getattr(pipe, "unet", None)
    if unet is not None:
        from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

        processor = AttnProcessor2_0 if spec.attention == "sdpa" else AttnProcessor
        unet.set_attn_processor(processor())
        with contextlib.suppress(Exception):  # a VAE without attention processors
            vae.set_attn_processor(processor())
    elif spec.attention != "sdpa":
        raise ValueError(f"{spec.model}: attention {spec.attention!r} applies to UNet pipelines")
    for option in spec.memory_options:
        if option == "vae_slicing":
            vae.enable_slicing()
        elif option == "vae_tiling":
            vae.enable_tiling()
        elif option == "attention_slicing":
            if unet is None:
                raise ValueError(f"{spec.model}: attention_slicing applies to UNet pipelines")
            pipe.enable_attention_slicing()


def call_kwargs(pipe, spec: RowSpec, prompt: str, num_inference_steps: int, strength: float) -> dict[str, Any]:
    """The keyword arguments of the pipeline call for ``spec`` (names read off the call's signature)."""
    import inspect

    params = inspect.signature(pipe.__call__).parameters
    kwargs: dict[str, Any] = dict(prompt=prompt, num_inference_steps=num_inference_steps)
    count = "num_images_per_prompt" if "num_images_per_prompt" in params else "num_videos_per_prompt"
    kwargs[count] = spec.num_images_per_prompt
    if "true_cfg_scale" in params and pipe.__class__.__name__.startswith("QwenImage"):
        kwargs["true_cfg_scale"] = spec.guidance_scale
        if spec.guidance_scale > 1:
            kwargs["negative_prompt"] = " "
    else:
        kwargs["guidance_scale"] = spec.guidance_scale
    if spec.frames is not None:
        kwargs["num_frames"] = spec.frames
    if spec.task == "img2img":
        kwargs.update(image=noise_image(spec.height, spec.width), strength=strength)
    else:
        kwargs.update(height=spec.height, width=spec.width)
    return kwargs


class ComponentCache:
    """Components of one (model, dtype) at a time on ``device`` (switching frees the previous ones first)."""

    def __init__(self, device, config_overrides: Mapping[str, Mapping[str, Mapping]] | None = None):
        self.device = device
        self.config_overrides = dict(config_overrides or {})  # model -> role -> overrides
        self.key: tuple[str, str] | None = None
        self.components: dict[str, Any] | None = None

    def get(self, model: str, dtype: str) -> dict[str, Any]:
        from symbolic.harness.build_pipeline import build_components

        if self.key != (model, dtype):
            self.components = None
            gc.collect()
            memory_for(self.device).empty_cache()
            self.components = build_components(model, self.device, None if dtype == "default" else dtype,
                                               self.config_overrides.get(model))
            self.key = (model, dtype)
            gc.collect()
            memory_for(self.device).empty_cache()
        assert self.components is not None
        return self.components


@dataclass
class MeasuredCall:
    row: dict[str, Any]
    calls: dict[str, int]
    order: list[str]
    seconds: float


def find_min_cap(fits: Callable[[int], bool], low: int, high: int, step: int = CAP_RESOLUTION) -> int | None:
    """The smallest multiple of ``step`` in ``(low, high]`` (``low`` known to fail, ``high`` to fit) at which
    ``fits(cap)`` is true, assuming monotonicity; None when ``high`` does not fit."""
    lo = low // step          # in steps: lo fails
    hi = -(-high // step)     # hi fits
    if not fits(hi * step):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid * step):
            hi = mid
        else:
            lo = mid
    return hi * step


def measure_row(spec: RowSpec, device: str = "cuda", cache: ComponentCache | None = None,
                num_inference_steps: int = NUM_INFERENCE_STEPS, strength: float = IMG2IMG_STRENGTH,
                warmup: bool = False, min_cap: bool = False) -> MeasuredCall:
    """Run one pipeline call described by ``spec`` and return its measured row."""
    import torch

    from symbolic.harness.build_pipeline import make_prompt, pipeline_from_components

    cache = cache or ComponentCache(device)
    components = cache.get(spec.model, spec.dtype)
    pipe = pipeline_from_components(spec.model, components, spec.task)
    configure(pipe, spec)
    memory = memory_for(device)
    recorder = StageRecorder(memory, wrapped_methods(spec.model, components))
    prompt = make_prompt(pipe, spec.prompt_tokens)
    kwargs = call_kwargs(pipe, spec, prompt, num_inference_steps, strength)

    def call():
        kwargs["generator"] = torch.Generator(device=device).manual_seed(SEED)
        with torch.inference_mode(), sdpa_context(spec.sdpa_backend):
            return pipe(**kwargs)

    cap = None
    try:
        if warmup:
            call()
        gc.collect()
        memory.empty_cache()
        recorder.install(components)
        t0 = time.perf_counter()
        weights = recorder.begin_call()
        out = call()
        recorder.end_call()
        seconds = time.perf_counter() - t0
        driver_used = memory.driver_used()
        del out
        recorder.uninstall()
        if min_cap and isinstance(memory, CudaMemory):
            cap = measure_min_cap(call, memory, recorder.call_peak_allocated, recorder.call_peak_reserved)
    finally:
        recorder.uninstall()
        configure(pipe, RowSpec(model=spec.model, task=spec.task, dtype=spec.dtype, height=spec.height,
                                width=spec.width, frames=spec.frames))
    gc.collect()
    memory.empty_cache()

    row: dict[str, Any] = spec.as_row()
    row.update(weights_allocated_bytes=weights, peak_allocated_bytes=recorder.call_peak_allocated,
               peak_reserved_bytes=recorder.call_peak_reserved, driver_used_bytes=driver_used, min_cap_bytes=cap)
    for stage, column in STAGE_COLUMNS.items():
        row[column] = recorder.stage_peak.get(stage) if recorder.calls.get(stage) else None
    return MeasuredCall(row=row, calls=dict(recorder.calls), order=list(recorder.order), seconds=seconds)


def measure_min_cap(call: Callable[[], Any], memory: CudaMemory, peak_allocated: int, peak_reserved: int) -> int | None:
    """Bisect ``torch.cuda.set_per_process_memory_fraction`` for the smallest cap at which ``call`` completes."""
    torch = memory.torch
    total = torch.cuda.get_device_properties(memory.device).total_memory

    def fits(cap: int) -> bool:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), memory.device)
        try:
            out = call()
            del out
            return True
        except torch.OutOfMemoryError:
            return False
        finally:
            gc.collect()
            torch.cuda.empty_cache()

    try:
        return find_min_cap(fits, max(0, peak_allocated - 1), peak_reserved + CAP_RESOLUTION)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, memory.device)


# ----------------------------------------------------------------------------------------------- grid


def _fits(spec: RowSpec, budget: int) -> bool:
    try:
        return predict(spec).get("peak_reserved_bytes", budget + 1) <= budget
    except ValueError:  # an option the estimate does not model for this pipeline
        return False


def default_grid(model: str, budget: int = GRID_BUDGET_BYTES) -> list[RowSpec]:
    """Built-in rows for ``model``: sizes, aspect ratios, batches, no guidance, img2img where the spec has it, VAE
    tiling / slicing, attention kinds for UNets, a math-SDPA row; only rows the estimate says fit ``budget``
    (predicted peak reserved). Ordered so one build (the catalog dtypes) serves every row."""
    from symbolic.pipelines import catalog
    from symbolic.pipelines.model import default_size
    from symbolic.pipelines.api import make_config

    spec = catalog.load(model).spec
    h0, w0 = default_size(make_config(model))
    m = spec.multiple
    R = functools.partial(RowSpec, model)

    def snap(x: int) -> int:
        return max(m, x // m * m)

    rows: list[RowSpec] = []
    if spec.video:
        f0 = int(spec.default_frames)
        small = [f for f in (9, 17, 33, 49) if f < f0]
        frames = [f for f in small if f % 8 == 1] + [f0]
        for f in frames:
            rows.append(R(height=h0, width=w0, frames=f))
        for h, w in [(snap(h0 // 2), snap(w0 // 2)), (snap(h0 * 3 // 4), snap(w0 * 3 // 4))]:
            rows.append(R(height=h, width=w, frames=frames[len(frames) // 2]))
        rows.append(R(height=h0, width=w0, frames=frames[0], num_images_per_prompt=2))
        rows.append(R(height=h0, width=w0, frames=frames[0], guidance_scale=1.0))
        rows.append(R(height=h0, width=w0, frames=frames[-1], memory_option="vae_tiling"))
        rows.append(R(height=h0, width=w0, frames=frames[0], sdpa_backend="efficient"))
    else:
        sizes = [(h0, w0), (snap(h0 // 2), snap(w0 // 2)), (snap(h0 * 3 // 4), snap(w0 * 3 // 4)),
                 (snap(h0 * 3 // 2), snap(w0 * 3 // 2)), (snap(h0 * 3 // 4), snap(w0 * 4 // 3)),
                 (snap(h0 * 4 // 3), snap(w0 * 3 // 4)), (2 * h0, 2 * w0)]
        for h, w in dict.fromkeys(sizes):
            rows.append(R(height=h, width=w))
        for n in (2, 4):
            rows.append(R(height=h0, width=w0, num_images_per_prompt=n))
        rows.append(R(height=h0, width=w0, guidance_scale=1.0))
        rows.append(R(height=h0, width=w0, num_images_per_prompt=4, guidance_scale=1.0))
        if "img2img" in spec.tasks:
            for h, w, n in [(h0, w0, 1), (snap(h0 * 3 // 4), snap(w0 * 3 // 4), 1), (h0, w0, 2),
                            (snap(h0 * 3 // 2), snap(w0 * 3 // 2), 1)]:
                rows.append(R(task="img2img", height=h, width=w, num_images_per_prompt=n))
        rows.append(R(height=2 * h0, width=2 * w0, memory_option="vae_tiling"))
        rows.append(R(height=h0, width=w0, num_images_per_prompt=4, memory_option="vae_slicing"))
        rows.append(R(height=snap(h0 // 2), width=snap(w0 // 2), sdpa_backend="math"))
        rows.append(R(height=h0, width=w0, sdpa_backend="efficient"))
        if spec.attention_processors:
            rows.append(R(height=snap(h0 * 3 // 4), width=snap(w0 * 3 // 4), attention="classic"))
            rows.append(R(height=h0, width=w0, memory_option="attention_slicing"))
    return [r for r in dict.fromkeys(rows) if _fits(r, budget)]


# ----------------------------------------------------------------------------------------------- compare


def _int(value) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    return int(float(value))


def compare_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Measured against predicted for each measured row: ``{"row": RowSpec, "columns": {column: (measured,
    predicted, relative error)}}`` over the peak columns and every stage either side has."""
    out = []
    for raw in rows:
        spec = RowSpec.from_mapping(raw)
        pred = predicted_row(spec)
        cols = {}
        for column in ("weights_allocated_bytes", "peak_allocated_bytes", "peak_reserved_bytes",
                       *STAGE_COLUMNS.values()):
            measured, predicted = _int(raw.get(column)), _int(pred.get(column))
            if measured is None and predicted is None:
                continue
            err = None if not measured or predicted is None else (predicted - measured) / measured
            cols[column] = (measured, predicted, err)
        out.append({"row": spec, "columns": cols})
    return out


def format_compare(results: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    mib = 2**20
    for res in results:
        lines.append(res["row"].label())
        for column, (measured, predicted, err) in res["columns"].items():
            m = "-" if measured is None else f"{measured / mib:10.1f}"
            p = "-" if predicted is None else f"{predicted / mib:10.1f}"
            e = "" if err is None else f"{100 * err:+7.2f}%"
            lines.append(f"  {column:32s} measured {m:>10s} MiB  predicted {p:>10s} MiB  {e}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="measure_gpu.py",
        description="Measure a bundled pipeline's GPU memory per stage (random weights from the bundled configs).")
    p.add_argument("--model", help="bundled id (sdxl, sd3.5-medium, flux.1-dev, qwen-image, ...); with --rows, "
                                   "keeps that model's rows and fills a missing model column")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--grid", action="store_true", help="the built-in rows of --model (default_grid)")
    src.add_argument("--rows", help="input CSV with the columns " + ",".join(INPUT_COLUMNS))
    src.add_argument("--compare", metavar="MEASURED.csv", help="print measured vs predicted per stage; no GPU")
    p.add_argument("--out", help="output CSV (needed to measure)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dry-run", action="store_true", help="print the rows and the estimate's predictions; no GPU")
    p.add_argument("--resume", action="store_true", help="append to --out, skipping rows already in it")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--warmup", action="store_true", help="run each call once unmeasured first")
    p.add_argument("--steps", type=int, default=NUM_INFERENCE_STEPS)
    p.add_argument("--min-cap", action="store_true", help="also bisect the smallest memory cap (min_cap_bytes)")
    p.add_argument("--dtype", choices=DTYPES, default=None, help="override every row's dtype")
    return p


def _environment(device: str, context_bytes: int | None) -> dict[str, Any]:
    """The ``<out>.meta.json`` record: software versions, the device and the CUDA context's bytes."""
    import torch

    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "cuda": torch.version.cuda, "device": str(device)}
    for name in ("diffusers", "transformers", "tokenizers"):
        try:
            env[name] = __import__(name).__version__
        except Exception:  # pragma: no cover - optional
            env[name] = None
    if torch.device(device).type == "cuda":
        props = torch.cuda.get_device_properties(torch.device(device))
        env.update(gpu=props.name, gpu_total_memory=int(props.total_memory),
                   capability=f"{props.major}.{props.minor}", cuda_context_bytes=context_bytes)
        try:
            env["driver"] = torch.cuda.driver_version() if hasattr(torch.cuda, "driver_version") else None
        except Exception:  # pragma: no cover
            env["driver"] = None
    return env


def _row_key(spec: RowSpec) -> tuple:
    return tuple(_cell(v) for v in spec.as_row().values())


def _dry_run(specs: Sequence[RowSpec], out: str | None) -> int:
    mib = 2**20
    rows = []
    for spec in specs:
        row = predicted_row(spec)
        rows.append(row)
        stages = "  ".join(f"{s}={row[c] / mib:.0f}" for s, c in STAGE_COLUMNS.items() if row.get(c) is not None)
        print(f"{spec.label()}: peak {row['peak_allocated_bytes'] / mib:.0f} MiB, reserved "
              f"{row['peak_reserved_bytes'] / mib:.0f} MiB | {stages}")
    if out:
        write_rows(out, (spec.as_row() for spec in specs))
        print(f"wrote {len(specs)} input rows to {out} (dry run, nothing measured)")
    print(f"{len(specs)} rows (dry run: predictions only)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.compare:
        with open(args.compare, newline="") as fh:
            raw = [r for r in csv.DictReader(fh) if not args.model or (r.get("model") or args.model) == args.model]
        if args.model:
            for r in raw:
                r["model"] = r.get("model") or args.model
        print(format_compare(compare_rows(raw)))
        return 0
    try:
        if args.grid:
            if not args.model:
                raise ValueError("--grid needs --model")
            specs = default_grid(args.model)
        elif args.rows:
            specs = read_plan(args.rows, args.model)
        elif args.model:
            specs = [_default_row(args.model)]
        else:
            raise ValueError("give --model ID (one default row), --grid, --rows or --compare")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dtype is not None:
        specs = [dataclasses.replace(s, dtype=args.dtype) for s in specs]
    if args.limit is not None:
        specs = specs[: args.limit]
    if args.dry_run:
        return _dry_run(specs, args.out)
    if not args.out:
        print("error: --out is needed to measure", file=sys.stderr)
        return 2

    device = open_device(args.device)
    if device is None:
        return 2
    import torch

    context_bytes = None
    if device.type == "cuda":
        torch.zeros(1, device=device)
        torch.cuda.synchronize(device)
        context_bytes = CudaMemory(device).driver_used()

    done: set[tuple] = set()
    if args.resume and Path(args.out).exists():
        done = {_row_key(s) for s in read_plan(args.out)}
    todo = sorted((s for s in specs if _row_key(s) not in done), key=lambda s: (s.model, s.dtype))

    cache = ComponentCache(str(device))
    out_path = Path(args.out)
    meta_path = out_path.with_name(out_path.name + ".meta.json")
    meta_path.write_text(json.dumps(_environment(str(device), context_bytes), indent=1) + "\n")
    err_path = out_path.with_name(out_path.name + ".errors.csv")
    failures = 0
    with RowWriter(out_path, COLUMNS, append=args.resume) as writer:
        for i, spec in enumerate(todo, 1):
            try:
                result = measure_row(spec, str(device), cache, num_inference_steps=args.steps, warmup=args.warmup,
                                     min_cap=args.min_cap)
            except Exception as exc:  # e.g. torch.OutOfMemoryError: record it, go on
                failures += 1
                append_error_row(err_path, INPUT_COLUMNS, format_row(spec.as_row(), INPUT_COLUMNS), exc)
                print(f"[{i}/{len(todo)}] FAILED {spec.label()}: {type(exc).__name__}: {str(exc)[:300]}",
                      file=sys.stderr, flush=True)
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            writer.write(result.row)
            print(f"[{i}/{len(todo)}] {spec.label()}: peak {result.row['peak_allocated_bytes']:,} B "
                  f"({result.seconds:.1f} s)", flush=True)
    print(f"wrote {len(todo) - failures} rows to {out_path}" + (f"; {failures} failed, see {err_path}"
                                                                   if failures else ""))
    return 1 if failures else 0


def _default_row(model: str) -> RowSpec:
    """The pipeline's default call (spec defaults: size, frames, guidance)."""
    from symbolic.pipelines.model import default_size
    from symbolic.pipelines.api import make_config

    h, w = default_size(make_config(model))
    return RowSpec(model, height=h, width=w)


if __name__ == "__main__":
    raise SystemExit(main())
