"""A corpus of hostile or careless inputs (names, flags, folders, CSVs, the environment), each answered with one
line and exit 2 naming what the user typed, never a traceback; and the cache's key independent of the hash seed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import cli, one_line_error

from symbolic.pipelines import catalog

#: (argv, a text the one line must hold)
REFUSED = [
    (["estimate", "a" * 300], "MODEL: cannot read"),
    (["estimate", "sd15", "--attention", "classic", "--sdpa-backend", "flash"], "--sdpa-backend:"),
    (["estimate", "flux.1-dev", "--parallel", "ulysses"], "--parallel:"),
    (["estimate", "sd15", "--prompt-tokens", "300"], "--prompt-tokens:"),
    (["estimate", "sd15", "--quantize", "unet=torchao_int4wo"], "--quantize: torchao_int4wo needs the bf16"),
    (["fit", "a" * 300, "--gpu-memory", "24GiB"], "MODEL:"),
    (["asymptotics", "a" * 300], "MODEL:"),
]


@pytest.mark.parametrize("argv,names", REFUSED, ids=[" ".join(a)[:50] for a, _ in REFUSED])
def test_refused_in_one_line_naming_the_flag(capsys, argv, names):
    code, out, err = cli(capsys, *argv)
    assert names in one_line_error(code, err) and not out


def test_switch_search_with_quantization_answers(capsys):
    code, out, err = cli(capsys, "estimate", "sd15", "--gpu-memory", "1GiB", "--quantize", "text_encoder=bnb_nf4",
                         "--json")
    assert code == 0 and not err
    assert "switch_search" in json.loads(out)


def test_report_out_under_a_file(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out_path in (blocker, blocker / "below"):
        code, _, err = cli(capsys, "report", "--out", str(out_path))
        assert "--out:" in one_line_error(code, err)


def _copy(tmp_path, model: str):
    folder = tmp_path / model
    shutil.copytree(catalog.load(model).folder, folder)
    return folder


def test_a_component_of_another_class_is_refused(capsys, tmp_path):
    folder = _copy(tmp_path, "sd15")
    flux = json.loads((catalog.hub_root() / "black-forest-labs/FLUX.1-dev/transformer/config.json").read_text())
    (folder / "unet" / "config.json").write_text(json.dumps(flux))
    code, _, err = cli(capsys, "estimate", str(folder))
    assert "unet/config.json: configures FluxTransformer2DModel" in one_line_error(code, err)
    index = json.loads((folder / "model_index.json").read_text())
    index["unet"] = ["diffusers", "FluxTransformer2DModel"]
    (folder / "model_index.json").write_text(json.dumps(index))
    code, _, err = cli(capsys, "estimate", str(folder))
    assert "takes a UNet2DConditionModel as its unet" in one_line_error(code, err)


@pytest.mark.parametrize("text,names", [("[" * 100_000 + "]" * 100_000, "nested too deeply"),
                                        ('{"_class_name": 1' + "0" * 5000 + "}", "model_index.json: cannot read"),
                                        (" " * (2 << 20), "larger than")])
def test_unreadable_model_index(capsys, tmp_path, text, names):
    folder = _copy(tmp_path, "sd15")
    (folder / "model_index.json").write_text(text)
    code, _, err = cli(capsys, "estimate", str(folder))
    line = one_line_error(code, err)
    assert names in line and "model_index.json" in line


def test_validate_refuses_extra_cells(capsys, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("task,attention,sdpa_backend,memory_option,dtype,height,width,num_images_per_prompt,"
                    "guidance_scale,prompt_tokens\nimg2img,sdpa,default,none,fp16,512,512,1,7.5,77,extra\n")
    code, _, err = cli(capsys, "validate", str(path))
    assert "line 2: 1 cell(s) more than the header" in one_line_error(code, err)


@pytest.mark.parametrize("name,value", [("SYMBOLIC_CUDA_CONTEXT_BYTES", "1_000"), ("SYMBOLIC_CUDA_CONTEXT_BYTES", "٥"),
                                        ("SYMBOLIC_EXPANDABLE_SEGMENTS", "3")])
def test_environment_is_read_with_the_cli_grammar(capsys, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    code, _, err = cli(capsys, "estimate", "sd15")
    assert one_line_error(code, err).startswith(f"symbolic: error: {name}: ")


def test_cache_off_in_any_case_and_relative_gives_none(monkeypatch):
    from symbolic.core.evaluate.cache import cache_dir

    for text in ("OFF", " off ", "relative/dir"):
        monkeypatch.setenv("SYMBOLIC_CACHE_DIR", text)
        assert cache_dir() is None


def test_one_cache_entry_whatever_the_hash_seed(tmp_path):
    """Two options (a set whose order follows the hash seed) give one entry across processes."""
    env = dict(os.environ, SYMBOLIC_CACHE_DIR=str(tmp_path))
    for seed in ("1", "2", "3"):
        done = subprocess.run([sys.executable, "-m", "symbolic", "estimate", "sd15", "--memory-option", "vae_tiling",
                               "--memory-option", "vae_slicing", "--json"], env=dict(env, PYTHONHASHSEED=seed),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("pipeline-*.json"))) == 1


def test_a_scheme_the_denoiser_is_not_modelled_under_names_both_flags(capsys):
    code, _, err = cli(capsys, "estimate", "flux.1-dev", "--devices", "3", "--parallel", "ulysses")
    line = one_line_error(code, err)
    assert line.startswith("symbolic: error: --parallel: ") and "leave parallel and devices out" in line


def test_a_component_of_another_kind_in_a_role_is_refused(capsys, tmp_path):
    folder = _copy(tmp_path, "sd15")
    (folder / "text_encoder" / "config.json").write_text((folder / "vae" / "config.json").read_text())
    index = json.loads((folder / "model_index.json").read_text())
    index["text_encoder"] = ["diffusers", "AutoencoderKL"]
    (folder / "model_index.json").write_text(json.dumps(index))
    for extra in ([], ["--quantize", "unet=bnb_nf4"]):  # the derivation and the switch checks say the same
        code, _, err = cli(capsys, "estimate", str(folder), *extra)
        assert "AutoencoderKL is a vae component, and StableDiffusionPipeline uses text_encoder as its text encoder" \
            in one_line_error(code, err)


@pytest.mark.parametrize("argv,names", [
    (["estimate", "sd15", "--gpu", "4090"], "unrecognized arguments: --gpu"),  # no abbreviation of --gpu-memory
    (["estimate", "sd15", "--gpu-memory", "24"], "--gpu-memory: 24 without a unit would be 24 bytes"),
    (["fit", "sd15", "--gpu-memory", "24"], "--gpu-memory: 24 without a unit"),
])
def test_input_that_could_be_misread_is_refused(capsys, argv, names):
    code, _, err = cli(capsys, *argv)
    assert names in one_line_error(code, err)


def test_a_byte_count_with_enough_digits_is_a_byte_count(capsys):
    code, out, err = cli(capsys, "estimate", "sd15", "--gpu-memory", str(12 * 2**30), "--json")
    assert code == 0 and json.loads(out)["gpu_memory_bytes"] == 12 * 2**30


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        from symbolic.cli.main import main
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("symbolic ")
