"""``python -m symbolic estimate sd15`` and ``validate``: output, agreement with the Python API, golden tables, and one
line on stderr with exit status 2 for every kind of bad input.

``estimate sd15`` takes the generic path (``symbolic.pipelines.api.estimate("sd15", ...)``): its default task is
txt2img like every model's (``--task img2img`` for the measured rows' task). Most tests call ``symbolic.cli.main.main``
in-process (fast); a few run the real ``python -m symbolic`` in a subprocess.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_golden, cli  # noqa: E402

from symbolic.pipelines.api import estimate, estimate_sd15
from symbolic.switches.switch import MEMORY_OPTIONS
from symbolic.core.units import GiB
from symbolic.measurements.validate import predict
from symbolic.measurements.table import REQUIRED_INPUT_COLUMNS


ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "data" / "measurements" / "sd15_h100.csv"
ESTIMATE_KEYS = ("peak_allocated_bytes", "peak_reserved_bytes", "nvidia_smi_bytes", "min_gpu_memory_bytes",
                 "peak_stage", "weights_bytes", "stages")
IMG2IMG_STAGES = ["text_encoder", "vae_encode", "unet_step", "vae_decode", "safety_checker"]
TXT2IMG_STAGES = [s for s in IMG2IMG_STAGES if s != "vae_encode"]




def cli_json(capsys, *argv: str):
    code, out, err = cli(capsys, *argv)
    assert code == 0 and not err, err
    return json.loads(out)


def python_m_symbolic(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symbolic", *argv], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def as_json(result: dict) -> dict:
    """The API's result as the CLI prints it (tuples become lists)."""
    return json.loads(json.dumps(result))


# --- estimate ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, api_kwargs, stages", [
    ((), {}, TXT2IMG_STAGES),
    (("--task", "img2img"), {"task": "img2img"}, IMG2IMG_STAGES),
    (("--task", "img2img", "--no-safety-checker", "--batch", "3", "--guidance-scale", "1"),
     {"task": "img2img", "safety_checker": False, "batch": 3, "guidance_scale": 1.0}, IMG2IMG_STAGES[:-1]),
    (("--task", "img2img", "--attention", "classic", "--memory-option", "vae_tiling", "--memory-option",
      "attention_slicing", "--dtype", "bf16", "--prompt-tokens", "160", "--long-prompt"),
     {"task": "img2img", "attention": "classic", "memory_options": ("vae_tiling", "attention_slicing"),
      "dtype": "bf16", "prompt_tokens": 160, "long_prompt": True}, IMG2IMG_STAGES),
    (("--sdpa-backend", "math", "--memory-option", "none", "--dtype", "fp32"),
     {"attention_backend": "math", "dtype": "fp32"}, TXT2IMG_STAGES),
], ids=["txt2img", "img2img", "img2img-no-safety-batch3-no-guidance", "img2img-classic-options-long", "math-fp32"])
def test_estimate_json_equals_api(capsys, argv, api_kwargs, stages):
    result = cli_json(capsys, "estimate", "sd15", "--height", "512", "--width", "768", "--json", *argv)
    assert set(ESTIMATE_KEYS) <= set(result)
    assert list(result["stages"]) == stages
    assert result == as_json(estimate("sd15", 512, 768, **api_kwargs))


def test_estimate_subprocess_json():
    """The measured rows' configuration, in a fresh process: the wrapper ``estimate_sd15``'s defaults."""
    proc = python_m_symbolic("estimate", "sd15", "--task", "img2img", "--height", "512", "--width", "512", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert list(result["stages"]) == IMG2IMG_STAGES
    assert result == as_json(estimate_sd15(512, 512))


def test_estimate_table_golden(capsys):
    code, out, err = cli(capsys, "estimate", "sd15", "--task", "img2img")
    assert code == 0 and not err
    assert_golden("estimate_sd15_512.txt", out)


@pytest.mark.parametrize("argv, api_kwargs", [((), {}), (("--task", "img2img", "--batch", "2"),
                                                        {"task": "img2img", "batch": 2})], ids=["txt2img", "img2img"])
def test_estimate_table_numbers_are_the_api_numbers(capsys, argv, api_kwargs):
    """Independent of the golden file: the table's GiB figures are the API's bytes."""
    _, out, _ = cli(capsys, "estimate", "sd15", "--height", "1024", "--width", "640", *argv)
    result = estimate("sd15", 1024, 640, **api_kwargs)
    table = {line[:18].strip(): line[18:].split()[0] for line in out.splitlines()[3:] if "GiB" in line}
    assert set(table) == set(result["stages"]) | {"weights", "peak allocated", "peak reserved", "nvidia-smi",
                                                  "minimum GPU"}
    for stage, value in result["stages"].items():
        assert table[stage] == f"{value / GiB:.3f}"
    for label, key in [("weights", "weights_bytes"), ("peak allocated", "peak_allocated_bytes"),
                       ("peak reserved", "peak_reserved_bytes"), ("nvidia-smi", "nvidia_smi_bytes"),
                       ("minimum GPU", "min_gpu_memory_bytes")]:
        assert table[label] == f"{result[key] / GiB:.3f}"
    assert f"{result['peak_stage']}" in next(line for line in out.splitlines() if "<- peak" in line)


BIG = ("estimate", "sd15", "--height", "1536", "--width", "1536", "--batch", "2")


def api_kwargs_of(switches: list[str]) -> dict:
    """A listed switch set as ``estimate`` arguments (the names ``symbolic.analysis.switch_search`` prints)."""
    kwargs: dict = {"memory_options": [], "quantize": {}}
    for switch in switches:
        if switch == "no_safety_checker":
            kwargs["safety_checker"] = False
        elif switch.startswith("quantize:"):
            role, _, scheme = switch.removeprefix("quantize:").partition("=")
            kwargs["quantize"][role] = scheme
        elif switch in MEMORY_OPTIONS or switch.startswith(("group_offload:", "layerwise_casting:")):
            kwargs["memory_options"].append(switch)
        else:
            raise AssertionError(f"switch {switch!r} is not one an SD 1.5 call at fp16 with SDPA can list")
    return kwargs


def test_gpu_memory_does_not_fit_lists_switches(capsys):
    code, out, err = cli(capsys, *BIG, "--gpu-memory", "12GiB")
    assert code == 0 and not err
    assert "does NOT fit in 12.00 GiB" in out
    listed = out.split("switches that make it fit (cheapest first):")[1].strip().splitlines()
    assert listed and all("GiB" in line for line in listed)


@pytest.mark.parametrize("task", ["txt2img", "img2img"])
def test_gpu_memory_json(capsys, task):
    result = cli_json(capsys, *BIG, "--task", task, "--gpu-memory", "12GiB", "--json")
    budget = 12 * GiB
    assert result["gpu_memory_bytes"] == budget and result["fits"] is False
    # "fits" is judged by the smallest memory the call completes in, below what nvidia-smi shows when plentiful.
    assert result["nvidia_smi_bytes"] > result["min_gpu_memory_bytes"] > budget
    switches = result["switches_that_fit"]
    assert switches
    costs = [option["cost"] for option in switches]
    assert costs == sorted(costs), "cheapest first"
    sets = [set(o["switches"]) for o in switches]
    assert not any(a < b for a in sets for b in sets), "a listed set contains another that already fits"
    # Each set, applied through the API, fits and gives the bytes listed.
    for option in switches:
        api = estimate("sd15", 1536, 1536, batch=2, task=task, **api_kwargs_of(option["switches"]))
        assert api["min_gpu_memory_bytes"] == option["min_gpu_memory_bytes"] <= budget
        assert api["nvidia_smi_bytes"] == option["nvidia_smi_bytes"]
        assert api["peak_allocated_bytes"] == option["peak_allocated_bytes"]


@pytest.mark.parametrize("size", ["80GiB", "85899345920", "100 GB"])
def test_gpu_memory_fits(capsys, size):
    result = cli_json(capsys, *BIG, "--gpu-memory", size, "--json")
    assert result["fits"] is True and "switches_that_fit" not in result
    _, out, _ = cli(capsys, *BIG, "--gpu-memory", size)
    assert "needed at least: fits in" in out


# --- validate ------------------------------------------------------------------------------------------------------

def test_validate_passes(capsys):
    code, out, err = cli(capsys, "validate", str(CSV))
    assert code == 0 and not err
    assert out.strip().splitlines()[-1].startswith("PASS")


def test_validate_table_golden(capsys):
    code, out, _ = cli(capsys, "validate", str(CSV))
    assert code == 0
    assert_golden("validate_sd15_h100.txt", out)


def test_validate_json_lines(capsys):
    code, out, err = cli(capsys, "validate", str(CSV), "--json")
    assert code == 0 and not err
    records = [json.loads(line) for line in out.splitlines()]
    with CSV.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(records) == len(rows)
    for record, row in zip(records, rows):
        assert set(REQUIRED_INPUT_COLUMNS) | set(ESTIMATE_KEYS) <= set(record)
        assert record["height"] == int(row["height"]) and record["task"] == row["task"]
        inputs = {k: record[k] for k in REQUIRED_INPUT_COLUMNS}
        predicted = predict(inputs)
        assert {k: record[k] for k in ESTIMATE_KEYS} == {k: predicted[k] for k in ESTIMATE_KEYS}
        assert record["measured"]["peak_allocated_bytes"] == int(row["peak_allocated_bytes"])
        assert set(record["relative_errors"]) >= {"peak_allocated_bytes", "peak_reserved_bytes", "driver_used_bytes"}


def test_validate_inputs_only(capsys, tmp_path):
    """A table without measured columns is predicted, not compared."""
    path = tmp_path / "inputs.csv"
    with CSV.open(newline="") as source, path.open("w", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(REQUIRED_INPUT_COLUMNS))
        writer.writeheader()
        for row in list(csv.DictReader(source))[:3]:
            writer.writerow({k: row[k] for k in REQUIRED_INPUT_COLUMNS})
    code, out, _ = cli(capsys, "validate", str(path))
    assert code == 0
    assert out.strip().splitlines()[-1] == "3 rows predicted (no measured columns to compare)"
    records = [json.loads(line) for line in cli(capsys, "validate", str(path), "--json")[1].splitlines()]
    assert len(records) == 3 and all("measured" not in r for r in records)


# --- bad input: exit 2, one line on stderr, no traceback -----------------------------------------------------------

def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD_HEADER = ",".join(REQUIRED_INPUT_COLUMNS)
BAD_ARGV = {
    "unknown-model": lambda tmp: ["estimate", "sd99"],
    "height-abc": lambda tmp: ["estimate", "sd15", "--height", "abc"],
    "height-0": lambda tmp: ["estimate", "sd15", "--height", "0"],
    "height-negative": lambda tmp: ["estimate", "sd15", "--height", "-512"],
    "height-4.5": lambda tmp: ["estimate", "sd15", "--height", "4.5"],
    "width-3": lambda tmp: ["estimate", "sd15", "--width", "3"],
    "batch-0": lambda tmp: ["estimate", "sd15", "--batch", "0"],
    "txt2img-not-multiple-of-8": lambda tmp: ["estimate", "sd15", "--task", "txt2img", "--height", "500"],
    "default-task-not-multiple-of-8": lambda tmp: ["estimate", "sd15", "--width", "700"],
    "prompt-tokens-0": lambda tmp: ["estimate", "sd15", "--prompt-tokens", "0"],
    "sdpa-backend-bogus": lambda tmp: ["estimate", "sd15", "--sdpa-backend", "cudnn"],
    "devices-without-parallel": lambda tmp: ["estimate", "sd15", "--devices", "2"],
    "quantize-unknown-component": lambda tmp: ["estimate", "sd15", "--quantize", "transformer=bnb_nf4"],
    "guidance-nan": lambda tmp: ["estimate", "sd15", "--guidance-scale", "nan"],
    "guidance-negative": lambda tmp: ["estimate", "sd15", "--guidance-scale", "-2"],
    "dtype-fp64": lambda tmp: ["estimate", "sd15", "--dtype", "fp64"],
    "task-bogus": lambda tmp: ["estimate", "sd15", "--task", "inpaint"],
    "attention-bogus": lambda tmp: ["estimate", "sd15", "--attention", "xformers"],
    "memory-option-bogus": lambda tmp: ["estimate", "sd15", "--memory-option", "bogus"],
    "frames-for-sd15": lambda tmp: ["estimate", "sd15", "--frames", "16"],
    "gpu-memory-12XB": lambda tmp: ["estimate", "sd15", "--gpu-memory", "12XB"],
    "gpu-memory-zero": lambda tmp: ["estimate", "sd15", "--gpu-memory", "0GiB"],
    "unknown-flag": lambda tmp: ["estimate", "sd15", "--colour"],
    "unknown-command": lambda tmp: ["frobnicate"],
    "validate-missing-file": lambda tmp: ["validate", str(tmp / "nope.csv")],
    "validate-no-file-argument": lambda tmp: ["validate"],
    "validate-empty-file": lambda tmp: ["validate", write(tmp, "empty.csv", "")],
    "validate-lacking-columns": lambda tmp: ["validate", write(tmp, "cols.csv", "task,height,width\nimg2img,512,512\n")],
    "validate-bad-number": lambda tmp: ["validate", write(
        tmp, "num.csv", f"{GOOD_HEADER}\nimg2img,sdpa,default,none,fp16,abc,512,1,5.0,77\n")],
    "validate-bad-dtype-row": lambda tmp: ["validate", write(
        tmp, "dtype.csv", f"{GOOD_HEADER}\nimg2img,sdpa,default,none,fp64,512,512,1,5.0,77\n")],
    "validate-txt2img-row-not-multiple-of-8": lambda tmp: ["validate", write(
        tmp, "t2i.csv", f"{GOOD_HEADER}\ntxt2img,sdpa,default,none,fp16,500,700,1,5.0,77\n")],
    "validate-empty-cell": lambda tmp: ["validate", write(
        tmp, "cell.csv", f"{GOOD_HEADER}\nimg2img,sdpa,default,none,fp16,512,,1,5.0,77\n")],
}


MEASURED_HEADER = GOOD_HEADER + ",peak_allocated_bytes"
BAD_ARGV.update({
    "validate-measured-zero": lambda tmp: ["validate", write(
        tmp, "zero.csv", f"{MEASURED_HEADER}\nimg2img,sdpa,default,none,fp16,512,512,1,5.0,77,0\n")],
    "validate-measured-negative": lambda tmp: ["validate", write(
        tmp, "negative.csv", f"{MEASURED_HEADER}\nimg2img,sdpa,default,none,fp16,512,512,1,5.0,77,-5\n")],
    "gpu-memory-below-one-byte": lambda tmp: ["estimate", "sd15", "--gpu-memory", "0.5"],
    "no-command": lambda tmp: [],
})


@pytest.mark.parametrize("case", list(BAD_ARGV))
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, case):
    argv = BAD_ARGV[case]
    code, out, err = cli(capsys, *argv(tmp_path))
    assert code == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symbolic: error: ")


@pytest.mark.parametrize("case, needle", [("height-abc", "abc"), ("unknown-model", "sd99"),
                                          ("validate-missing-file", "nope.csv")])
def test_bad_input_subprocess(tmp_path, case, needle):
    proc = python_m_symbolic(*BAD_ARGV[case](tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and needle in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("case, names", [
    ("height-0", "height"), ("height-abc", "--height"), ("height-4.5", "--height"), ("dtype-fp64", "dtype"),
    ("memory-option-bogus", "memory-option"), ("gpu-memory-12XB", "--gpu-memory"), ("batch-0", "--batch"),
    ("validate-lacking-columns", "lacks input column"), ("validate-bad-number", "'height'"),
    ("default-task-not-multiple-of-8", "--width"), ("prompt-tokens-0", "--prompt-tokens"),
    ("frames-for-sd15", "--frames"), ("devices-without-parallel", "--parallel"),
])
def test_bad_input_message_names_the_argument(capsys, tmp_path, case, names):
    _, _, err = cli(capsys, *BAD_ARGV[case](tmp_path))
    assert names in err
