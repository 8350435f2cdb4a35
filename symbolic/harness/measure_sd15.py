"""Measure the GPU memory of SD 1.5 pipeline calls, one CSV row per call (method of ``measurements/README.md``).

For each input row (``task, attention, sdpa_backend, memory_option, dtype, height, width, num_images_per_prompt,
guidance_scale, prompt_tokens``):

* the seven components are built from the shipped configs with random weights on the device and cast to the row's
  dtype (:func:`symbolic.harness.build_sd15.build_components`; built once per dtype and reused by later rows, as in
  the process that produced ``sd15_h100.csv``);
* ``StableDiffusionImg2ImgPipeline`` (random-noise ``height x width`` init image, strength 0.8, 5 steps) or
  ``StableDiffusionPipeline`` (``txt2img``, 5 steps) around them;
* ``attention``: ``sdpa`` = ``AttnProcessor2_0``, ``classic`` = ``AttnProcessor``, set on the UNet and the VAE;
  ``sdpa_backend``: ``default`` = torch's choice, ``math`` / ``efficient`` / ``flash`` / ``cudnn`` forced with
  ``torch.nn.attention.sdpa_kernel``;
* ``memory_option``: ``none``, ``vae_slicing`` (``vae.enable_slicing()``), ``vae_tiling`` (``vae.enable_tiling()``),
  ``attention_slicing`` (``pipe.enable_attention_slicing()``, which replaces the UNet's processors by sliced classic
  ones whatever ``attention`` says), or several joined by ``+`` (``vae_slicing+vae_tiling``);
* a prompt of exactly ``prompt_tokens`` tokens before padding, bos and eos included (:func:`make_prompt`);
* the call runs under ``torch.inference_mode()``; ``text_encoder.forward``, ``vae.encode``, ``vae.decode``,
  ``unet.forward`` and ``safety_checker.forward`` are wrapped: before each call the allocator's peak is folded into
  the running maxima and reset, after it the peak since the reset is folded into that stage's running maximum (and
  into the call's: ``peak_allocated_bytes`` / ``peak_reserved_bytes`` are maxima over the whole call although the
  peak counters are reset per stage; nested stages are folded into every open stage).

Columns written: exactly those of ``measurements/sd15_h100.csv`` (:data:`COLUMNS`). Rows that fail (e.g. out of
memory) are not written there but to ``<out>.errors.csv`` with the error message. A ``<out>.meta.json`` records the
software, the device and the CUDA context size measured before any model was built.

Entry point: ``python scripts/measure_sd15_gpu.py --rows INPUT.csv --out OUT.csv [--device cuda]``; ``--grid`` uses
:func:`default_grid` (new rows for future GPU sessions) instead of ``--rows``; ``--dry-run`` writes the input rows
with empty measurements and needs no GPU.
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
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

INPUT_COLUMNS = (
    "task", "attention", "sdpa_backend", "memory_option", "dtype", "height", "width", "num_images_per_prompt",
    "guidance_scale", "prompt_tokens",
)
STAGES = ("text_encoder", "vae_encode", "unet_step", "vae_decode", "safety_checker")
STAGE_COLUMNS = {stage: f"stage_{stage}_peak" for stage in STAGES}
MEASURED_COLUMNS = (
    "weights_allocated_bytes", "peak_allocated_bytes", "peak_reserved_bytes", "driver_used_bytes",
    *STAGE_COLUMNS.values(),
)
#: The column order of ``measurements/sd15_h100.csv``.
COLUMNS = INPUT_COLUMNS + MEASURED_COLUMNS

ATTENTIONS = ("sdpa", "classic")
SDPA_BACKENDS = ("default", "math", "efficient", "flash", "cudnn")
MEMORY_OPTIONS = ("none", "vae_slicing", "vae_tiling", "attention_slicing")

NUM_INFERENCE_STEPS = 5
IMG2IMG_STRENGTH = 0.8
SEED = 0


@dataclass(frozen=True)
class RowSpec:
    """The input columns of one measured row."""

    task: str = "img2img"
    attention: str = "sdpa"
    sdpa_backend: str = "default"
    memory_option: str = "none"
    dtype: str = "fp16"
    height: int = 512
    width: int = 512
    num_images_per_prompt: int = 1
    guidance_scale: float = 5.0
    prompt_tokens: int = 77

    def __post_init__(self):
        if self.task not in ("img2img", "txt2img"):
            raise ValueError(f"task must be img2img or txt2img, not {self.task!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {self.attention!r}")
        if self.sdpa_backend not in SDPA_BACKENDS:
            raise ValueError(f"sdpa_backend must be one of {SDPA_BACKENDS}, not {self.sdpa_backend!r}")
        for option in self.memory_options:
            if option not in MEMORY_OPTIONS:
                raise ValueError(f"memory_option {option!r} not in {MEMORY_OPTIONS} (join several with '+')")
        if self.dtype not in ("fp16", "bf16", "fp32"):
            raise ValueError(f"dtype must be fp16, bf16 or fp32, not {self.dtype!r}")

    @property
    def memory_options(self) -> tuple[str, ...]:
        opts = tuple(o.strip() for o in self.memory_option.split("+") if o.strip())
        return tuple(o for o in opts if o != "none")

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> "RowSpec":
        missing = [c for c in INPUT_COLUMNS if c not in row or row[c] in (None, "")]
        if missing:
            raise ValueError(f"row lacks input columns {missing}: {dict(row)}")
        return cls(
            task=str(row["task"]).strip(),
            attention=str(row["attention"]).strip(),
            sdpa_backend=str(row["sdpa_backend"]).strip(),
            memory_option=str(row["memory_option"]).strip(),
            dtype=str(row["dtype"]).strip(),
            height=int(row["height"]),
            width=int(row["width"]),
            num_images_per_prompt=int(row["num_images_per_prompt"]),
            guidance_scale=float(row["guidance_scale"]),
            prompt_tokens=int(row["prompt_tokens"]),
        )

    def as_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def read_rows(path: str | os.PathLike) -> list[RowSpec]:
    """Input rows from a CSV with (at least) the input columns; measured columns, if any, are ignored."""
    with open(path, newline="") as fh:
        return [RowSpec.from_mapping(r) for r in csv.DictReader(fh)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(float(value))  # 5.0, 7.5
    return str(value)


def format_row(row: Mapping[str, Any], columns: Sequence[str] = COLUMNS) -> list[str]:
    """The cells of one output row in ``columns`` order (``""`` for a stage that did not run)."""
    return [_cell(row.get(c)) for c in columns]


class RowWriter:
    """Appends rows to a CSV in the exact format of ``sd15_h100.csv`` (header, ``\\n`` line ends), flushing each;
    ``columns`` names another table's header (the video harness's)."""

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


def write_rows(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] = COLUMNS) -> None:
    with RowWriter(path, columns) as w:
        for r in rows:
            w.write(r)


# ----------------------------------------------------------------------------------------------- memory readings


class NullMemory:
    """Memory readings where there is no CUDA device (CPU smoke runs): every number is 0."""

    available = False

    def allocated(self) -> int:
        return 0

    def max_allocated(self) -> int:
        return 0

    def max_reserved(self) -> int:
        return 0

    def reset_peak(self) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def driver_used(self) -> int:
        return 0

    def empty_cache(self) -> None:
        pass


class CudaMemory(NullMemory):
    """``torch.cuda`` allocator statistics of one device."""

    available = True

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def allocated(self) -> int:
        return int(self.torch.cuda.memory_allocated(self.device))

    def max_allocated(self) -> int:
        return int(self.torch.cuda.max_memory_allocated(self.device))

    def max_reserved(self) -> int:
        return int(self.torch.cuda.max_memory_reserved(self.device))

    def reset_peak(self) -> None:
        self.torch.cuda.reset_peak_memory_stats(self.device)

    def synchronize(self) -> None:
        self.torch.cuda.synchronize(self.device)

    def driver_used(self) -> int:
        free, total = self.torch.cuda.mem_get_info(self.device)
        return int(total - free)

    def empty_cache(self) -> None:
        self.torch.cuda.empty_cache()


def memory_for(device) -> NullMemory:
    import torch

    dev = torch.device(device)
    return CudaMemory(dev) if dev.type == "cuda" else NullMemory()


# ----------------------------------------------------------------------------------------------- stage recording

#: (component, method, stage) wrapped by :class:`StageRecorder`.
WRAPPED_METHODS = (
    ("text_encoder", "forward", "text_encoder"),
    ("vae", "encode", "vae_encode"),
    ("vae", "decode", "vae_decode"),
    ("unet", "forward", "unet_step"),
    ("safety_checker", "forward", "safety_checker"),
)


class StageRecorder:
    """Per-stage peak allocated bytes of one pipeline call (see the module docstring for the folding rule)."""

    def __init__(self, memory: NullMemory):
        self.memory = memory
        self.open: list[str] = []
        self.stage_peak: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self.call_peak_allocated = 0
        self.call_peak_reserved = 0
        self._installed: list[tuple[Any, str]] = []

    # -- readings
    def _fold(self) -> None:
        allocated = self.memory.max_allocated()
        reserved = self.memory.max_reserved()
        self.call_peak_allocated = max(self.call_peak_allocated, allocated)
        self.call_peak_reserved = max(self.call_peak_reserved, reserved)
        for stage in self.open:
            self.stage_peak[stage] = max(self.stage_peak.get(stage, 0), allocated)

    def begin_call(self) -> int:
        """Reset the peaks; return the bytes allocated now (``weights_allocated_bytes``)."""
        self.memory.synchronize()
        self.memory.reset_peak()
        self.stage_peak.clear()
        self.calls.clear()
        self.call_peak_allocated = self.call_peak_reserved = 0
        return self.memory.allocated()

    def end_call(self) -> None:
        self.memory.synchronize()
        self._fold()

    def enter(self, stage: str) -> None:
        self._fold()
        self.memory.reset_peak()
        self.open.append(stage)
        self.calls[stage] += 1
        self.stage_peak.setdefault(stage, 0)

    def exit(self, stage: str) -> None:
        self._fold()
        # pop this stage (innermost by construction; tolerate an exception having unwound out of order)
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i] == stage:
                del self.open[i]
                break

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.enter(name)
        try:
            yield
        finally:
            self.exit(name)

    # -- wrapping
    def install(self, components: Mapping[str, Any]) -> None:
        """Wrap the stage methods of ``components`` (instance attributes shadowing the class methods)."""
        self.uninstall()
        for comp_name, method, stage in WRAPPED_METHODS:
            obj = components.get(comp_name)
            if obj is None:
                continue
            if method in vars(obj):
                raise RuntimeError(f"{comp_name}.{method} is already wrapped")
            wrapper = self._wrap(getattr(obj, method), stage)
            object.__setattr__(obj, method, wrapper)
            self._installed.append((obj, method))

    def _wrap(self, original, stage: str):
        def wrapper(*args, **kwargs):
            with self.stage(stage):
                return original(*args, **kwargs)

        return functools.wraps(original)(wrapper)

    def uninstall(self) -> None:
        for obj, method in self._installed:
            if method in vars(obj):
                object.__delattr__(obj, method)
        self._installed.clear()


# ----------------------------------------------------------------------------------------------- one row


def make_prompt(tokenizer, n_tokens: int) -> str:
    """A prompt that tokenizes (before padding / truncation, bos and eos included) to exactly ``n_tokens`` tokens
    when ``n_tokens >= 2``: ``n_tokens - 2`` words ``"a"``, each one token. ``n_tokens <= 2`` gives ``""``. Longer
    than ``model_max_length`` (77) means a prompt the pipeline truncates."""
    words = max(0, int(n_tokens) - 2)
    prompt = " ".join(["a"] * words)
    got = len(tokenizer(prompt, padding=False, truncation=False).input_ids)
    if n_tokens >= 2 and got != n_tokens:
        raise RuntimeError(f"prompt of {words} words tokenized to {got} tokens, expected {n_tokens}")
    return prompt


def noise_image(height: int, width: int, seed: int = SEED):
    """A ``width x height`` RGB PIL image of uniform noise (img2img's init image)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), mode="RGB")


def configure(pipe, spec: RowSpec) -> None:
    """Set attention processors and memory options of ``spec`` on ``pipe`` (after undoing a previous row's)."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    vae, unet = pipe.vae, pipe.unet
    vae.disable_slicing()
    vae.disable_tiling()
    processor = AttnProcessor2_0 if spec.attention == "sdpa" else AttnProcessor
    unet.set_attn_processor(processor())
    vae.set_attn_processor(processor())
    for option in spec.memory_options:
        if option == "vae_slicing":
            vae.enable_slicing()
        elif option == "vae_tiling":
            vae.enable_tiling()
        elif option == "attention_slicing":
            pipe.enable_attention_slicing()


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


class ComponentCache:
    """Components of one dtype at a time on ``device`` (switching dtype frees the previous models first)."""

    def __init__(self, device, config_overrides: Mapping[str, Mapping] | None = None):
        self.device = device
        self.config_overrides = config_overrides
        self.dtype: str | None = None
        self.components: dict[str, Any] | None = None

    def get(self, dtype: str) -> dict[str, Any]:
        from .build_sd15 import build_components

        if self.dtype != dtype:
            self.components = None
            gc.collect()
            memory_for(self.device).empty_cache()
            self.components = build_components(dtype, self.device, self.config_overrides)
            self.dtype = dtype
            gc.collect()
            memory_for(self.device).empty_cache()
        assert self.components is not None
        return self.components


@dataclass
class RowResult:
    row: dict[str, Any]  # COLUMNS -> value (None: stage did not run)
    calls: dict[str, int]  # stage -> number of calls
    seconds: float
    images: int


def measure_row(spec: RowSpec, device: str = "cuda", cache: ComponentCache | None = None,
                num_inference_steps: int = NUM_INFERENCE_STEPS, strength: float = IMG2IMG_STRENGTH,
                warmup: bool = False) -> RowResult:
    """Run one pipeline call described by ``spec`` and return its measured row."""
    import torch

    from .build_sd15 import pipeline_from_components

    cache = cache or ComponentCache(device)
    components = cache.get(spec.dtype)
    pipe = pipeline_from_components(spec.task, components)
    configure(pipe, spec)
    memory = memory_for(device)
    recorder = StageRecorder(memory)
    prompt = make_prompt(components["tokenizer"], spec.prompt_tokens)
    kwargs: dict[str, Any] = dict(prompt=prompt, num_inference_steps=num_inference_steps,
                                  guidance_scale=spec.guidance_scale,
                                  num_images_per_prompt=spec.num_images_per_prompt)
    if spec.task == "img2img":
        kwargs.update(image=noise_image(spec.height, spec.width), strength=strength)
    else:
        kwargs.update(height=spec.height, width=spec.width)

    def call():
        kwargs["generator"] = torch.Generator(device=device).manual_seed(SEED)
        with torch.inference_mode(), sdpa_context(spec.sdpa_backend):
            return pipe(**kwargs)

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
        n_images = len(out.images)
        del out
    finally:
        recorder.uninstall()
        configure(pipe, RowSpec(dtype=spec.dtype))  # back to defaults for the next row
    gc.collect()
    memory.empty_cache()

    row: dict[str, Any] = spec.as_row()
    row.update(
        weights_allocated_bytes=weights,
        peak_allocated_bytes=recorder.call_peak_allocated,
        peak_reserved_bytes=recorder.call_peak_reserved,
        driver_used_bytes=driver_used,
    )
    for stage, column in STAGE_COLUMNS.items():
        row[column] = recorder.stage_peak.get(stage) if recorder.calls.get(stage) else None
    return RowResult(row=row, calls=dict(recorder.calls), seconds=seconds, images=n_images)


# ----------------------------------------------------------------------------------------------- grid


def default_grid() -> list[RowSpec]:
    """New rows for a future GPU session: sizes and aspect ratios not in ``sd15_h100.csv``, batches, bf16 / fp32,
    txt2img, attention kinds at more sizes, and combined memory switches. Ordered by dtype (one model build each),
    cheap rows first."""
    R = RowSpec
    rows: list[RowSpec] = []
    # fp16, default SDPA: squares and aspect ratios (multiples of 8 and not)
    for h, w in [(384, 384), (640, 640), (896, 896), (1152, 1152), (1280, 1280), (1536, 1536),
                 (512, 768), (768, 512), (512, 1024), (1024, 512), (576, 1024), (1024, 576),
                 (768, 1344), (1344, 768), (600, 904), (1000, 1000)]:
        rows.append(R(height=h, width=w))
    # batches
    for n in (2, 4, 8):
        rows.append(R(num_images_per_prompt=n))
    for n in (2, 4):
        rows.append(R(height=768, width=768, num_images_per_prompt=n))
    rows.append(R(height=1024, width=1024, num_images_per_prompt=2))
    # no guidance, short prompt, txt2img
    rows += [R(height=1024, width=1024, guidance_scale=1.0), R(num_images_per_prompt=4, guidance_scale=1.0),
             R(height=1024, width=1024, prompt_tokens=8)]
    rows += [R(task="txt2img", height=h, width=w) for h, w in [(768, 768), (1024, 1024), (512, 768)]]
    rows += [R(task="txt2img", num_images_per_prompt=4)]
    # attention kinds and backends at more sizes
    rows += [R(attention="classic", height=s, width=s) for s in (384, 768, 1024)]
    rows += [R(sdpa_backend="math", height=s, width=s) for s in (384, 768)]
    rows += [R(sdpa_backend="efficient", height=s, width=s) for s in (768, 1024)]
    rows += [R(sdpa_backend="efficient", num_images_per_prompt=4)]
    rows += [R(attention="classic", num_images_per_prompt=2), R(sdpa_backend="math", num_images_per_prompt=2)]
    # memory switches, alone and combined
    rows += [R(memory_option="vae_slicing", num_images_per_prompt=4),
             R(memory_option="vae_tiling", height=1536, width=1536),
             R(memory_option="vae_tiling", height=2048, width=2048),
             R(memory_option="vae_tiling", height=768, width=768),
             R(memory_option="attention_slicing"),
             R(memory_option="attention_slicing", height=768, width=768),
             R(memory_option="vae_slicing+vae_tiling", height=1024, width=1024, num_images_per_prompt=2),
             R(memory_option="attention_slicing+vae_tiling", height=1024, width=1024, num_images_per_prompt=2),
             R(memory_option="attention_slicing+vae_slicing+vae_tiling", height=1536, width=1536,
               num_images_per_prompt=2),
             R(attention="classic", memory_option="attention_slicing", height=1024, width=1024),
             R(attention="classic", memory_option="vae_tiling", height=1024, width=1024)]
    # bf16, then fp32 (separate model builds)
    rows += [R(dtype="bf16", height=s, width=s) for s in (512, 768, 1024)]
    rows += [R(dtype="bf16", num_images_per_prompt=4), R(dtype="bf16", attention="classic"),
             R(dtype="bf16", memory_option="vae_tiling", height=1536, width=1536)]
    rows += [R(dtype="fp32", height=s, width=s) for s in (256, 768, 1024)]
    rows += [R(dtype="fp32", attention="classic"), R(dtype="fp32", sdpa_backend="math"),
             R(dtype="fp32", num_images_per_prompt=2)]
    return rows


# ----------------------------------------------------------------------------------------------- CLI


def _environment(device: str, context_bytes: int | None) -> dict[str, Any]:
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="measure_sd15_gpu.py",
        description="Measure SD 1.5 pipeline GPU memory per stage; rows in the format of sd15_h100.csv.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--rows", help="input CSV with the columns " + ",".join(INPUT_COLUMNS))
    src.add_argument("--grid", action="store_true", help="measure the built-in grid of new rows (default_grid)")
    p.add_argument("--out", required=True, help="output CSV (columns of sd15_h100.csv)")
    p.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    p.add_argument("--dry-run", action="store_true", help="write the input rows with empty measurements; no GPU")
    p.add_argument("--resume", action="store_true", help="append to --out, skipping rows already in it")
    p.add_argument("--limit", type=int, default=None, help="measure at most this many rows")
    p.add_argument("--warmup", action="store_true", help="run each call once unmeasured before measuring it")
    p.add_argument("--steps", type=int, default=NUM_INFERENCE_STEPS, help="inference steps (default 5)")
    p.add_argument("--tiny", action="store_true", help="tiny model configs (smoke test of the harness on a CPU)")
    p.add_argument("--dtype", choices=("fp16", "bf16", "fp32"), default=None,
                   help="override every row's dtype (e.g. fp32 for a CPU smoke run: fp16 kernels are slow there)")
    return p


def append_error_row(path: Path, columns: Sequence[str], cells: list[str], exc: BaseException) -> None:
    """Record a row that failed (e.g. out of memory) in ``path``: its input cells and the error, header first."""
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if new:
            writer.writerow(tuple(columns) + ("error",))
        writer.writerow(cells + [f"{type(exc).__name__}: {exc}"[:500]])


def open_device(name: str):
    """The torch device to measure on, or None after one error line on stderr (no torch, or no CUDA for a CUDA
    device); a CPU device only warns that its memory columns will be 0."""
    try:
        import torch
    except ImportError:
        print("error: torch is not installed (pip install -e '.[gpu]')", file=sys.stderr)
        return None
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"error: CUDA is not available (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
              f"this harness measures GPU memory and needs a CUDA device", file=sys.stderr)
        return None
    if device.type != "cuda":
        print(f"warning: device {device} has no allocator statistics; memory columns will be 0", file=sys.stderr)
    return device


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        specs = default_grid() if args.grid else read_rows(args.rows)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read input rows: {exc}", file=sys.stderr)
        return 2
    if args.limit is not None:
        specs = specs[: args.limit]
    if args.dtype is not None:
        specs = [dataclasses.replace(s, dtype=args.dtype) for s in specs]

    if args.dry_run:
        write_rows(args.out, (s.as_row() for s in specs))
        print(f"wrote {len(specs)} input rows to {args.out} (dry run, nothing measured)")
        return 0

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
        done = {_row_key(s) for s in read_rows(args.out)}
    todo = [s for s in specs if _row_key(s) not in done]

    from .build_sd15 import TINY_CONFIG_OVERRIDES

    cache = ComponentCache(str(device), TINY_CONFIG_OVERRIDES if args.tiny else None)
    out_path = Path(args.out)
    meta_path = out_path.with_name(out_path.name + ".meta.json")
    meta_path.write_text(json.dumps(_environment(str(device), context_bytes), indent=1) + "\n")
    err_path = out_path.with_name(out_path.name + ".errors.csv")
    failures = 0
    with RowWriter(out_path, append=args.resume) as writer:
        for i, spec in enumerate(todo, 1):
            try:
                result = measure_row(spec, str(device), cache, num_inference_steps=args.steps, warmup=args.warmup)
            except Exception as exc:  # e.g. torch.OutOfMemoryError: record it, go on with the next row
                failures += 1
                append_error_row(err_path, INPUT_COLUMNS, format_row(spec.as_row(), INPUT_COLUMNS), exc)
                print(f"[{i}/{len(todo)}] FAILED {asdict(spec)}: {type(exc).__name__}: {str(exc)[:200]}",
                      file=sys.stderr)
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            writer.write(result.row)
            print(f"[{i}/{len(todo)}] {spec.task} {spec.height}x{spec.width} n={spec.num_images_per_prompt} "
                  f"{spec.dtype} {spec.attention}/{spec.sdpa_backend} {spec.memory_option}: peak "
                  f"{result.row['peak_allocated_bytes']:,} B ({result.seconds:.1f} s)", flush=True)
    print(f"wrote {len(todo) - failures} rows to {out_path}" + (f"; {failures} failed, see {err_path}"
                                                                   if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
