"""``python -m symbolic video-latent``: output, presets, and one-line errors with exit status 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from symbolic.cli.main import main
from symbolic.analysis.video_latent import estimate_video_latent_memory, estimate_video_latent_memory_preset
from symbolic.analysis.video_presets import VIDEO_PRESETS

ROOT = Path(__file__).resolve().parents[2]
FIVE_KEYS = ["latent_shape", "num_elements", "memory_bytes", "memory_mb", "tokens_per_video"]
SEED = ["--frames", "49", "--height", "480", "--width", "720", "--latent-channels", "16",
        "--spatial-compression", "8", "--temporal-compression", "4"]


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symbolic", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["video-latent", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symbolic: error: ")
    assert fragment in lines[0]


# --- through a real process --------------------------------------------------------------------------------------

def test_help_lists_the_command():
    proc = run_module("--help")
    assert proc.returncode == 0
    assert "video-latent" in proc.stdout


def test_subcommand_help_documents_every_flag():
    proc = run_module("video-latent", "--help")
    assert proc.returncode == 0
    for flag in ("--frames", "--height", "--width", "--latent-channels", "--spatial-compression",
                 "--temporal-compression", "--batch-size", "--dtype", "--patch-size", "--patch-size-t", "--json",
                 "--preset"):
        assert flag in proc.stdout
    assert all(name in proc.stdout for name in VIDEO_PRESETS)


def test_json_through_a_process():
    proc = run_module("video-latent", *SEED, "--patch-size", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == FIVE_KEYS
    assert data == {"latent_shape": [1, 16, 13, 60, 90], "num_elements": 1_123_200, "memory_bytes": 2_246_400,
                    "memory_mb": 2.1423, "tokens_per_video": 17_550}


@pytest.mark.parametrize("bad, fragment", [
    (["--frames", "4.5"], "--frames"),
    (["--frames", "-3"], "--frames"),
    (["--dtype", "fp64"], "--dtype"),
    (["--preset", "sora"], "--preset"),
])
def test_bad_input_through_a_process(bad, fragment):
    proc = run_module("video-latent", *SEED, *bad)
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, fragment)


# --- through symbolic.cli.main.main -----------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, kwargs", [
    ([], {}),
    (["--patch-size", "2"], {"patch_size": 2}),
    (["--height", "481", "--patch-size", "2"], {"height": 481, "patch_size": 2}),
    (["--batch-size", "3", "--dtype", "FP32"], {"batch_size": 3, "dtype": "fp32"}),
    (["--dtype", "bfloat16"], {"dtype": "bf16"}),
    (["--dtype", "fp8", "--frames", "1"], {"dtype": "fp8", "num_frames": 1}),
])
def test_json_matches_the_api(capsys, extra, kwargs):
    code, out, err = run_main(capsys, *SEED, *extra, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert list(data) == FIVE_KEYS
    expected = estimate_video_latent_memory(**{**dict(num_frames=49, height=480, width=720, latent_channels=16,
                                                      spatial_compression=8, temporal_compression=4), **kwargs})
    assert data == {**expected, "latent_shape": list(expected["latent_shape"])}


def test_table(capsys):
    code, out, err = run_main(capsys, *SEED, "--patch-size", "2")
    assert code == 0 and err == ""
    assert "(1, 16, 13, 60, 90)" in out
    assert "2,246,400 bytes = 2.1423 MiB" in out
    assert "17,550" in out
    assert "fp16" in out


@pytest.mark.parametrize("name", list(VIDEO_PRESETS))
def test_preset_alone_uses_the_model_defaults(capsys, name):
    preset = VIDEO_PRESETS[name]
    code, out, err = run_main(capsys, "--preset", name, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert list(data) == FIVE_KEYS
    expected = estimate_video_latent_memory_preset(name, preset.default_frames, preset.default_height,
                                                   preset.default_width)
    assert data == {key: list(expected[key]) if key == "latent_shape" else expected[key] for key in FIVE_KEYS}


def test_preset_causal_rule_and_table(capsys):
    code, out, err = run_main(capsys, "--preset", "HunyuanVideo", "--frames", "129", "--height", "720",
                              "--width", "1280")
    assert code == 0 and err == ""
    assert "(1, 16, 33, 90, 160)" in out and "118,800" in out and "causal" in out


@pytest.mark.parametrize("flags, shape, tokens", [
    (["--latent-channels", "32"], [1, 32, 13, 60, 90], 17_550),
    (["--patch-size", "1"], [1, 16, 13, 60, 90], 70_200),
    (["--patch-size-t", "2"], [1, 16, 13, 60, 90], 7 * 30 * 45),
    (["--temporal-compression", "8"], [1, 16, 7, 60, 90], 7 * 30 * 45),
    (["--spatial-compression", "16"], [1, 16, 13, 30, 45], 13 * 15 * 23),
    (["--batch-size", "2"], [2, 16, 13, 60, 90], 17_550),
])
def test_flags_override_the_preset(capsys, flags, shape, tokens):
    code, out, err = run_main(capsys, "--preset", "cogvideox", "--frames", "49", "--height", "480", "--width",
                              "720", *flags, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["latent_shape"] == shape and data["tokens_per_video"] == tokens


WITHOUT_WIDTH = [a for a in SEED if a not in ("--width", "720")]
BAD_INPUTS = [
    pytest.param(SEED + ["--frames", "4.5"], "--frames", id="float"),
    pytest.param(SEED + ["--frames", "-3"], "--frames", id="negative"),
    pytest.param(SEED + ["--frames", "0"], "--frames", id="zero"),
    pytest.param(SEED + ["--height", "abc"], "--height", id="word"),
    pytest.param(SEED + ["--width", ""], "--width", id="empty"),
    pytest.param(SEED + ["--latent-channels", "1e3"], "--latent-channels", id="exponent"),
    pytest.param(SEED + ["--spatial-compression", "0x10"], "--spatial-compression", id="hex"),
    pytest.param(SEED + ["--temporal-compression", "-1"], "--temporal-compression", id="negative-factor"),
    pytest.param(SEED + ["--batch-size", "True"], "--batch-size", id="bool-word"),
    pytest.param(SEED + ["--patch-size", "2.0"], "--patch-size", id="float-patch"),
    pytest.param(SEED + ["--dtype", "fp64"], "--dtype", id="unknown-dtype"),
    pytest.param(SEED + ["--dtype", "int8"], "fp32, fp16, bf16, fp8", id="dtype-lists-names"),
    pytest.param(SEED + ["--preset", "sora"], "cogvideox, hunyuanvideo, wan2.1, ltx-video, mochi-1",
                 id="unknown-preset"),
    pytest.param(SEED + ["--patch-size-t", "2"], "--patch-size-t", id="temporal-patch-without-preset"),
    pytest.param(["--preset", "wan2.1", "--patch-size-t", "0"], "--patch-size-t", id="preset-bad-override"),
    pytest.param(["--preset", "mochi-1", "--frames", "-163"], "--frames", id="preset-bad-frames"),
    pytest.param(WITHOUT_WIDTH, "--width", id="missing-one"),
    pytest.param(["--json"], "--frames, --height, --width, --latent-channels, --spatial-compression, "
                             "--temporal-compression", id="missing-all"),
    pytest.param(SEED + ["--frames"], "--frames", id="no-value"),
    pytest.param(SEED + ["--bogus", "1"], "unrecognized arguments", id="unknown-flag"),
    pytest.param(SEED + ["--json", "--frames", "nan"], "--frames", id="nan-with-json"),
]


@pytest.mark.parametrize("args, fragment", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(capsys, args, fragment):
    code, out, err = run_main(capsys, *args)
    assert_one_line_error(code, out, err, fragment)
