"""Property tests (issue 10, "One input grammar"): generated garbage for every flag of every command.

Each case takes a valid command line and replaces one flag's value (or adds a flag the model does not read). The
answer must be exit status 2, nothing on stdout and exactly one line on stderr, ``symbolic: error: ...``, naming the
flag the user typed (``--batch``, argparse's ``argument --batch``, or ``MODEL``): never a traceback, never exit 0
with an option that was not used. Valid small inputs answer 0 with the JSON result.

``symbolic.cli.main.main`` runs in-process; the SymPy models are cached in a private temporary directory and the cases
reuse a few configurations, so each one after the first is an evaluation, not a derivation.
"""
from __future__ import annotations

import json
import os
import re

import pytest

from helpers import cli  # noqa: E402
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from symbolic.core.dtypes import canonical_dtype
from symbolic.core.units import parse_size
from symbolic.core.checks import MAX_COUNT, parse_int, parse_number

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("symbolic-cache")
    os.chmod(cache, 0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYMBOLIC_CACHE_DIR", str(cache))
        yield cache


def assert_refused(argv, capsys, *names):
    """Exit 2, empty stdout, one ``symbolic: error:`` line on stderr naming one of ``names``."""
    rc, out, err = cli(capsys, *argv)
    lines = err.splitlines()
    assert rc == 2, f"{argv!r}: exit {rc}, stdout {out[:200]!r}"
    assert out == "", f"{argv!r}: printed {out[:200]!r}"
    assert len(lines) == 1 and err.endswith("\n"), f"{argv!r}: stderr {err!r}"
    assert lines[0].startswith("symbolic: error: "), lines[0]
    assert "Traceback" not in err
    assert any(_names(lines[0], name) for name in names), f"{argv!r}: {lines[0]!r} names none of {names}"


def _names(line: str, name: str) -> bool:
    """``line`` names ``name`` as a whole word (``--batch`` in ``--batch-size`` does not count)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", line) is not None


# --- garbage ------------------------------------------------------------------------------------------------------

BLANKS = ["", " ", "\t", "\n"]
NUMERIC_GARBAGE = BLANKS + ["5_12", "512.0", "512.5", "1e3", "\u0665\u0661\u0662", "\uff11\uff12", "\u00b2", "9" * 400,
                            "9" * 5000, "inf", "-inf", "nan", "0x10", "0b1", "1/2", "+", "-", "--1", "12GiB", "abc",
                            "\u00a0512", "512\u2009", "NaN", "Infinity", "1,024"]


def _not_int(text: str) -> bool:
    try:
        parse_int(text, "x")
    except ValueError:
        return True
    return False


def _not_number(text: str) -> bool:
    try:
        parse_number(text, "x")
    except ValueError:
        return True
    return False


def _not_size(text: str) -> bool:
    try:
        parse_size(text)
    except ValueError:
        return True
    return False


def _not_dtype(text: str) -> bool:
    try:
        canonical_dtype(text)
    except ValueError:
        return True
    return False


#: Integers that are no count: text outside the grammar, zero and negatives, more than 2**53.
bad_integers = st.one_of(
    st.sampled_from(NUMERIC_GARBAGE + ["-1", "0", "-0", "+0", "00", str(MAX_COUNT + 1), str(2**64)]),
    st.text(max_size=12).filter(_not_int),
    st.integers(max_value=0).map(str),
    st.integers(min_value=MAX_COUNT + 1, max_value=10**40).map(str),
)
#: Guidance scales: text outside the decimal grammar, not finite, negative.
bad_numbers = st.one_of(
    st.sampled_from([t for t in NUMERIC_GARBAGE if t not in ("512.0", "512.5", "1e3")] + ["-1", "-0.5", "1e400",
                                                                                            "-1e400"]),
    st.text(max_size=12).filter(_not_number),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr),
)
#: Memory sizes: outside the size grammar, below one byte. ``huge`` adds counts past fit's 2**64 limit.
bad_sizes = st.one_of(
    st.sampled_from(BLANKS + ["-1", "0", "0.5", "0B", "0.4", "5_12GiB", "\u0665GiB", "12 GiBs", "12XB", "inf",
                              "nan", "1e3", "12GiB!", "GiB", "12 G iB", "9" * 1001, "-12GiB", "+12GiB", "0x10",
                              "12,5GiB", "\uff11\uff12GiB"]),
    st.text(max_size=12).filter(_not_size),
)
huge_sizes = st.sampled_from(["9" * 400, "1000000000TiB", str(2**64 + 1), "1" * 900])
bad_dtypes = st.one_of(st.sampled_from(BLANKS + ["fp", "fp16 fp32", "int8", "float4", "\u0665", "bf16x", "None"]),
                       st.text(max_size=10).filter(_not_dtype))
#: Memory options no pipeline offers (the malformed group offloads among them).
bad_options = st.one_of(
    st.sampled_from(BLANKS + ["group_offload:block_level:0", "group_offload:block_level:-1",
                              "group_offload:block_level:5_1",
                              "group_offload:block_level:x", "group_offload:leaf_level:nope", "group_offload",
                              "layerwise_casting:fp4", "layerwise_casting", "vae_tiling:1", "cpu_offload:2",
                              "model_cpu_offload model_cpu_offload", "nope", "VAE TILING", "none:none"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:0123456789-", max_size=16).filter(
        lambda t: t not in KNOWN_OPTIONS and not t.startswith("group_offload:block_level:")
        and not t.startswith("layerwise_casting:") and not t.startswith("group_offload:leaf_level")),
)
KNOWN_OPTIONS = {"none", "vae_slicing", "vae_tiling", "attention_slicing", "model_cpu_offload", "cpu_offload",
                 "sequential_cpu_offload", "text_encoder_cpu"}
bad_quantize = st.one_of(
    st.sampled_from(BLANKS + ["transformer=nope", "vae=bnb_nf4", "nope", "=bnb_nf4", "transformer=",
                              "transformer=bnb_nf4=x", "transformer", "unet=bnb_nf5", "transformer=BNB NF4",
                              "text_encoder=gguf_q4_k=", "transformer==bnb_int8", "\u0665=bnb_nf4"]),
    st.text(max_size=12).filter(lambda t: "=" not in t),
)
bad_models = st.one_of(
    st.sampled_from(["", " ", "nope", "sd16", "sdxl-turbo", "flux.1-pro", "stabilityai/none", "x/y", "../x",
                     "/nonexistent/model", "\u0665", "sd15\n--batch", "black-forest-labs/FLUX.1-nope"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_/", min_size=1, max_size=16).filter(
        lambda t: t.strip().lower() not in BUNDLED and not os.path.exists(t) and not t.startswith("-")),
)
BUNDLED = {"sd15", "cogvideox-2b", "cogvideox-5b", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "hunyuanvideo", "sd21", "sdxl",
           "sd3.5-medium", "sd3.5-large", "ltx-video", "flux.1-dev", "flux.1-schnell", "qwen-image"}


def bad_choice(choices):
    return st.one_of(st.sampled_from(BLANKS + [c.upper() for c in choices] + [c + " " for c in choices]),
                     st.text(max_size=10).filter(lambda t: t not in choices))


# --- the commands' flags and the valid command lines they are put into -----------------------------------------

#: Valid command lines per command, a few configurations (derived once, then cached).
BASES = {
    "estimate": [["estimate", "sd15"], ["estimate", "sdxl"], ["estimate", "flux.1-dev"], ["estimate", "cogvideox-2b"]],
    "fit": [["fit", "sd15", "--gpu-memory", "24GiB"], ["fit", "sdxl", "--gpu-memory", "24GiB"]],
    "asymptotics": [["asymptotics", "sd15"], ["asymptotics", "sdxl"]],
    "video-latent": [["video-latent", "--preset", "cogvideox-2b"],
                     ["video-latent", "--frames", "49", "--height", "480", "--width", "720", "--latent-channels", "16",
                      "--spatial-compression", "8", "--temporal-compression", "4"]],
}
CONFIG_FLAGS = {"--batch": bad_integers, "--guidance-scale": bad_numbers, "--dtype": bad_dtypes,
                "--memory-option": bad_options, "--task": bad_choice(("img2img", "txt2img")),
                "--attention": bad_choice(("sdpa", "classic")),
                "--sdpa-backend": bad_choice(("default", "flash", "efficient", "math"))}
FLAGS = {
    "estimate": dict(CONFIG_FLAGS, **{"--height": bad_integers, "--width": bad_integers,
                                      "--prompt-tokens": bad_integers, "--gpu-memory": bad_sizes,
                                      "--quantize": bad_quantize, "--devices": bad_integers,
                                      "--parallel": bad_choice(("ulysses", "ring", "fsdp"))}),
    "fit": dict(CONFIG_FLAGS, **{"--gpu-memory": st.one_of(bad_sizes, huge_sizes),
                                 "--criterion": bad_choice(("minimum", "nvidia-smi", "reserved", "allocated"))}),
    "asymptotics": dict(CONFIG_FLAGS),
    "video-latent": {"--frames": bad_integers, "--height": bad_integers, "--width": bad_integers,
                     "--latent-channels": bad_integers, "--spatial-compression": bad_integers,
                     "--temporal-compression": bad_integers, "--batch-size": bad_integers,
                     "--patch-size": bad_integers, "--dtype": bad_dtypes},
}
#: Flags whose garbage only reaches some models (sd15's --prompt-tokens, the pipelines' --devices and --quantize):
#: on the others the flag itself is refused, which names it just the same.


@st.composite
def garbage_argv(draw, command):
    base = list(draw(st.sampled_from(BASES[command])))
    flag = draw(st.sampled_from(sorted(FLAGS[command])))
    value = draw(FLAGS[command][flag])
    if flag in base:  # replace the valid value
        index = base.index(flag)
        del base[index:index + 2]
    joined = draw(st.booleans()) or value.startswith("-") or not value.strip()
    return base + ([f"{flag}={value}"] if joined else [flag, value]), flag


@pytest.mark.parametrize("command", sorted(BASES))
@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_garbage_flag_value_is_refused_naming_the_flag(command, data, capsys):
    argv, flag = data.draw(garbage_argv(command))
    assert_refused(argv, capsys, flag)


@pytest.mark.parametrize("command", ["estimate", "fit", "asymptotics"])
@settings(max_examples=25, **SETTINGS)
@given(model=bad_models)
@example(model="")
@example(model="nope")
def test_unknown_model_is_refused_naming_model(command, model, capsys):
    extra = ["--gpu-memory", "24GiB"] if command == "fit" else []
    assert_refused([command, model, *extra], capsys, "MODEL", "model")


@settings(max_examples=15, **SETTINGS)
@given(preset=st.one_of(st.sampled_from(["", " ", "nope", "cogvideox-2b!", "\u0665"]),
                        st.text(alphabet="abcdefghijklmnopqrstuvwxyz-.0123456789", max_size=12)))
def test_video_latent_unknown_preset(preset, capsys):
    from symbolic.analysis.video_presets import get_preset

    try:
        get_preset(preset)
    except ValueError:
        assert_refused(["video-latent", f"--preset={preset}"], capsys, "--preset")
    else:
        assume(False)


#: Flags the model does not read: refused naming the flag, never silently ignored.
NOT_APPLICABLE = [
    (["estimate", "sdxl", "--frames", "16"], "--frames"),
    (["estimate", "flux.1-dev", "--frames", "16"], "--frames"),
    (["estimate", "sd15", "--frames", "2"], "--frames"),
    (["estimate", "flux.1-dev", "--no-safety-checker"], "--no-safety-checker"),
    (["estimate", "cogvideox-2b", "--no-safety-checker"], "--no-safety-checker"),
    (["estimate", "flux.1-dev", "--attention", "classic"], "--attention"),
    (["estimate", "cogvideox-2b", "--attention", "classic"], "--attention"),
    (["estimate", "sd3.5-medium", "--long-prompt"], "--long-prompt"),
    (["estimate", "cogvideox-2b", "--long-prompt"], "--long-prompt"),
    (["estimate", "flux.1-dev", "--prompt-tokens", "100"], "--prompt-tokens"),
    (["estimate", "sd15", "--devices", "2"], "--parallel"),
    (["estimate", "sd15", "--parallel", "ring"], "--parallel"),
    (["estimate", "sd15", "--quantize", "unet=gguf_q4_k"], "--quantize"),
    (["estimate", "sd15", "--quantize", "safety_checker=bnb_nf4"], "--quantize"),
    (["estimate", "sdxl", "--no-safety-checker"], "--no-safety-checker"),
    (["estimate", "flux.1-dev", "--task", "img2img"], "--task"),
    (["estimate", "cogvideox-2b", "--task", "img2img"], "--task"),
    (["estimate", "sd15", "--memory-option", "model_cpu_offload", "--memory-option", "sequential_cpu_offload"],
     "--memory-option"),
    (["estimate", "flux.1-dev", "--quantize", "vae=bnb_nf4"], "--quantize"),
    (["estimate", "flux.1-dev", "--quantize", "transformer=nope"], "--quantize"),
    (["fit", "sdxl", "--gpu-memory", "24GiB", "--frames", "16"], "--frames"),
    (["fit", "sd15", "--gpu-memory", "24GiB", "--frames", "16"], "--frames"),
    (["fit", "flux.1-dev", "--gpu-memory", "24GiB", "--no-safety-checker"], "--no-safety-checker"),
    (["fit", "flux.1-dev", "--gpu-memory", "24GiB", "--attention", "classic"], "--attention"),
    (["asymptotics", "sdxl", "--frames", "16"], "--frames"),
    (["asymptotics", "flux.1-dev", "--no-safety-checker"], "--no-safety-checker"),
    (["asymptotics", "flux.1-dev", "--attention", "classic"], "--attention"),
    (["asymptotics", "sd15", "--memory-option", "vae_tiling:big"], "--memory-option"),
    (["video-latent", "--frames", "49", "--height", "480", "--width", "720", "--latent-channels", "16",
      "--spatial-compression", "8", "--temporal-compression", "4", "--patch-size-t", "2"], "--patch-size-t"),
    (["video-latent", "--height", "480"], "--frames"),
    (["models", "--batch", "2"], "--batch"),
    (["models", "--json", "extra"], "extra"),
    (["estimate", "sd15", "--no-such-flag"], "--no-such-flag"),
    (["fit", "sd15"], "--gpu-memory"),
]


@pytest.mark.parametrize("argv, flag", NOT_APPLICABLE, ids=[" ".join(a) for a, _ in NOT_APPLICABLE])
def test_flag_that_does_not_apply_is_refused(argv, flag, capsys):
    assert_refused(argv, capsys, flag)


#: The N of group_offload:block_level:N takes plain ASCII digits only (symbolic/switches/offload.py): non-ASCII digits and "²"
#: are refused naming the flag.
@pytest.mark.parametrize("option", ["group_offload:block_level:\u0661", "group_offload:block_level:\u00b2",
                                    "group_offload:block_level:\uff12"])
def test_group_offload_block_count_uses_the_integer_grammar(option, capsys):
    assert_refused(["estimate", "sdxl", "--memory-option", option], capsys, "--memory-option")


#: Messages name the flag the user typed, not the API's argument.
@pytest.mark.parametrize("argv, flag, api_name", [
    (["estimate", "sd15", "--batch", "0"], "--batch", "num_images_per_prompt"),
    (["estimate", "sdxl", "--batch", "0"], "--batch", "batch"),
    (["estimate", "sd15", "--prompt-tokens", "0"], "--prompt-tokens", "prompt_tokens"),
    (["estimate", "sd15", "--height", "4"], "--height", "height"),
    (["estimate", "sdxl", "--height", "100"], "--height", "height"),
    (["estimate", "sd15", "--guidance-scale", "-1"], "--guidance-scale", "guidance_scale"),
    (["estimate", "sd15", "--dtype", "fp8"], "--dtype", "dtype"),
    (["estimate", "sd15", "--dtype", ""], "--dtype", "dtype"),
    (["asymptotics", "sd15", "--batch", "0"], "--batch", "num_images_per_prompt"),
    (["fit", "sd15", "--gpu-memory", "24GiB", "--batch", "-1"], "--batch", "num_images_per_prompt"),
    (["fit", "sd15", "--gpu-memory", "24GiB", "--dtype", ""], "--dtype", "dtype"),
    (["fit", "nope", "--gpu-memory", "24GiB"], "MODEL", "model"),
    (["video-latent", "--preset", "cogvideox-2b", "--frames", "0"], "--frames", "num_frames"),
])
def test_message_names_the_flag_not_the_api_argument(argv, flag, api_name, capsys):
    assert_refused(argv, capsys, flag)
    rc, _, err = cli(capsys, *argv)
    assert not err.removeprefix("symbolic: error: ").startswith(f"{api_name}:"), err


@settings(max_examples=12, **SETTINGS)
@given(column=st.sampled_from(["height", "width", "num_images_per_prompt", "prompt_tokens", "guidance_scale"]),
       value=st.sampled_from(["5_12", "512.5", "\u0665\u0661\u0662", "9" * 400, "inf", "nan", "-1", "0", "abc", "1e3"]))
def test_validate_garbage_cell_is_refused_naming_the_column(column, value, capsys, tmp_path_factory):
    row = {"task": "img2img", "attention": "sdpa", "sdpa_backend": "default", "memory_option": "none",
           "dtype": "fp16", "height": "512", "width": "512", "num_images_per_prompt": "1", "guidance_scale": "7.5",
           "prompt_tokens": "77"}
    if column == "guidance_scale" and not _not_number(value) and float(value) >= 0:
        value = "-2"  # 0, 512.5 and 1000 are valid guidance scales
    row[column] = value
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8")
    assert_refused(["validate", str(path)], capsys, column, repr(column))


@pytest.mark.parametrize("path", ["", " ", "/nonexistent/table.csv", "\u0665.csv"])
def test_validate_missing_file(path, capsys):
    assert_refused(["validate", path], capsys, "FILE", "FILE.csv")


# --- valid input answers 0 ------------------------------------------------------------------------------------------

@settings(max_examples=20, **SETTINGS)
@given(model=st.sampled_from(["sd15", "sdxl", "flux.1-dev"]), height=st.integers(4, 16).map(lambda k: 64 * k),
       width=st.integers(4, 16).map(lambda k: 64 * k), batch=st.integers(1, 3), joined=st.booleans())
def test_valid_small_estimates_answer(model, height, width, batch, joined, capsys):
    pairs = [("--height", str(height)), ("--width", str(width)), ("--batch", str(batch))]
    flags = [f"{k}={v}" for k, v in pairs] if joined else [x for pair in pairs for x in pair]
    rc, out, err = cli(capsys, *["estimate", model, *flags, "--json"])
    assert rc == 0 and err == "", err
    result = json.loads(out)
    assert isinstance(result["min_gpu_memory_bytes"], int) and result["min_gpu_memory_bytes"] > 0
    assert result["min_gpu_memory_bytes"] >= result["peak_allocated_bytes"] > 0


def test_blanks_around_a_number_and_the_model_id_are_read(capsys):
    """ASCII blanks around a value are trimmed (the shared grammar), and ``" sd15"`` is the SD 1.5 model in
    ``estimate`` as it is in ``fit`` (not the generic pipeline with the sd15-only flags refused)."""
    rc, out, err = cli(capsys, *["estimate", " sd15 ", "--height", " 512 ", "--long-prompt", "--json"])
    assert rc == 0 and err == ""
    plain = cli(capsys, *["estimate", "sd15", "--height", "512", "--long-prompt", "--json"])[1]
    assert json.loads(out) == json.loads(plain)
