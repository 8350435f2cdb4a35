"""The recorded grid: ``estimate --json`` over every bundled id, many sizes, frames, batches, dtypes, switches and
quantization schemes, written down before the package was re-laid (issue "The house") so that every later step of a
refactoring can be checked to give byte-identical answers.

The grid is spelled here in literals (model ids, option names, schemes), never read from the package's own tables:
a table that a refactoring changes cannot change what is recorded. Refused calls are recorded too (exit status and
message), so a rule that drifts shows up as well.

``python tests/recording/grid.py --overwrite`` rewrites ``tests/golden/recorded_grid.jsonl.gz``; the test
``tests/test_recorded_grid.py`` replays it.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import itertools
import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "recorded_grid.jsonl.gz"

MODELS = ("sd15", "sd21", "sdxl", "sd3.5-medium", "sd3.5-large", "flux.1-dev", "flux.1-schnell", "qwen-image",
          "cogvideox-2b", "cogvideox-5b", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "hunyuanvideo", "ltx-video")
VIDEO = {"cogvideox-2b", "cogvideox-5b", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "hunyuanvideo", "ltx-video"}
#: Denoiser and the largest text encoder: the roles quantized.
QUANTIZED_ROLES = {"sd15": ("unet", "text_encoder"), "sd21": ("unet", "text_encoder"), "sdxl": ("unet", "text_encoder_2"),
                   "sd3.5-medium": ("transformer", "text_encoder_3"), "sd3.5-large": ("transformer", "text_encoder_3"),
                   "flux.1-dev": ("transformer", "text_encoder_2"), "flux.1-schnell": ("transformer", "text_encoder_2"),
                   "qwen-image": ("transformer", "text_encoder"), "hunyuanvideo": ("transformer", "text_encoder")}
SCHEMES = ("bnb_nf4", "bnb_fp4", "bnb_int8", "torchao_int8wo", "torchao_int4wo", "gguf_q8_0", "gguf_q4_k")
OPTIONS = ("model_cpu_offload", "sequential_cpu_offload", "vae_tiling", "vae_slicing", "attention_slicing",
           "text_encoder_cpu", "no_text_encoder_3", "group_offload:block_level:1:stream", "group_offload:block_level:2",
           "group_offload:leaf_level", "group_offload:leaf_level:stream", "layerwise_casting:fp8_e4m3",
           "layerwise_casting:fp8_e5m2", "cpu_offload")
IMAGE_POINTS = (("512", "512", "1"), ("1024", "1024", "1"), ("768", "1344", "2"), ("2048", "2048", "3"))
VIDEO_POINTS = (("480", "832", "1", "33"), ("720", "1280", "1", "49"), ("480", "720", "2", "17"), ("544", "960", "1", "129"))


def settings(model: str):
    """Each configuration tried for ``model``: a list of CLI arguments after the model id."""
    yield []
    for dtype in ("fp16", "bf16", "fp32", "float16"):
        yield ["--dtype", dtype]
    for option in OPTIONS:
        yield ["--memory-option", option]
    yield ["--memory-option", "vae_tiling", "--memory-option", "model_cpu_offload"]
    yield ["--memory-option", "vae_slicing", "--memory-option", "layerwise_casting:fp8_e4m3"]
    for role, scheme in itertools.product(QUANTIZED_ROLES.get(model, ("transformer", "text_encoder")), SCHEMES):
        yield ["--quantize", f"{role}={scheme}"]
    yield ["--task", "img2img"]
    yield ["--attention", "classic"]
    yield ["--sdpa-backend", "math"]
    yield ["--long-prompt", "--prompt-tokens", "300"]
    yield ["--no-safety-checker"]
    yield ["--expandable-segments"]
    yield ["--guidance-scale", "1"]
    yield ["--devices", "2", "--parallel", "ulysses"]
    yield ["--devices", "2", "--parallel", "fsdp"]


def points(model: str):
    if model in VIDEO:
        for height, width, batch, frames in VIDEO_POINTS:
            yield ["--height", height, "--width", width, "--batch", batch, "--frames", frames]
    else:
        for height, width, batch in IMAGE_POINTS:
            yield ["--height", height, "--width", width, "--batch", batch]


def calls():
    """Every recorded call, as CLI arguments after ``estimate``."""
    for model in MODELS:
        for setting in settings(model):
            for point in points(model):
                yield [model, *setting, *point, "--json"]
        yield [model, "--json"]  # the pipeline's defaults
        for budget in ("8GiB", "24GiB"):
            yield [model, "--gpu-memory", budget, "--json"]
    # Refusals: sizes below one latent pixel, odd sizes, bad values.
    for argv in (["sd15", "--task", "img2img", "--height", "4", "--width", "512"],
                 ["sd15", "--height", "513", "--width", "512"], ["sd15", "--batch", "0"],
                 ["flux.1-dev", "--frames", "9"], ["wan2.1-t2v-1.3b", "--frames", "0"],
                 ["sd15", "--dtype", "int3"], ["sd15", "--memory-option", "warp_drive"],
                 ["sd15", "--quantize", "unet=bnb_nf5"], ["sd15", "--quantize", "vae=bnb_nf4"]):
        yield [*argv, "--json"]


def run_call(argv: list[str]) -> dict:
    """One ``estimate`` call in process: its exit status, stdout and stderr."""
    from symbolic.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["estimate", *argv])
    return {"argv": argv, "status": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


def record(progress=None) -> list[dict]:
    rows = []
    for i, argv in enumerate(calls()):
        rows.append(run_call(argv))
        if progress and i % 200 == 0:
            progress(f"{i} calls")
    return rows


def read_golden() -> list[dict]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_golden(rows: list[dict]) -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the file's bytes depend on the rows only.
    with open(GOLDEN, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        for row in rows:
            f.write((json.dumps(row, sort_keys=True) + "\n").encode())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overwrite", action="store_true", help=f"rewrite {GOLDEN.name}")
    args = parser.parse_args(argv)
    rows = record(progress=lambda text: print(text, file=sys.stderr))
    print(f"{len(rows)} calls, {sum(r['status'] == 0 for r in rows)} answered", file=sys.stderr)
    if args.overwrite:
        write_golden(rows)
        return 0
    expected = read_golden()
    differ = [e["argv"] for e, a in zip(expected, rows) if e != a]
    print(f"{len(differ)} differ" + "".join(f"\n  {d}" for d in differ[:20]))
    return 1 if differ or len(expected) != len(rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
