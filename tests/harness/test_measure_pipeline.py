"""The spec-driven GPU harness (symbolic/harness/build_pipeline.py, measure_pipeline.py) on a CPU: the dry run of
every bundled id, one pipeline call end to end on tiny configs for SD 1.5 (with its safety checker), SDXL (txt2img
and img2img), FLUX.1, Qwen-Image and the video pipelines (the memory readings are 0 without CUDA: the tests check
which stages ran, in which order, the switches and the CSV row), the grids, the CLI (no CUDA, a CPU run with
``--resume``), ``--compare`` on a synthetic CSV and on ``data/measurements/sd15_h100.csv``, and the OOM-boundary
bisection."""
from __future__ import annotations

import csv
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from symbolic.measurements import table  # noqa: E402
from symbolic.harness import measure_pipeline as mp  # noqa: E402
from symbolic.harness.build_pipeline import count_tokens, make_prompt, pipeline_from_components  # noqa: E402
from symbolic.pipelines import catalog  # noqa: E402

CLIP = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
        "vocab_size": 1000, "projection_dim": 32, "bos_token_id": 522, "eos_token_id": 523, "pad_token_id": 1}
VAE = {"block_out_channels": [8, 16, 16, 16], "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 32}
T5 = {"d_model": 32, "d_ff": 64, "d_kv": 8, "num_heads": 4, "num_layers": 2, "vocab_size": 1000}
QWEN_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "num_key_value_heads": 1, "vocab_size": 1000, "max_window_layers": 2,
             "rope_scaling": {"mrope_section": [2, 3, 3], "rope_type": "default", "type": "default"},
             "layer_types": ["full_attention", "full_attention"]}

LLAMA = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 4, "vocab_size": 1000}
VIDEO_VAE = {"block_out_channels": [8, 8, 8, 8], "norm_num_groups": 4, "layers_per_block": 1}

#: Tiny configs merged into the bundled ones (same classes, a few hundred thousand parameters; the VAEs keep their
#: levels, hence the latent shapes).
TINY = {
    "sd15": {
        "unet": {"block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                 "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 1,
                 "cross_attention_dim": 32, "attention_head_dim": 4, "norm_num_groups": 8, "sample_size": 16},
        "vae": VAE, "text_encoder": CLIP,
        "safety_checker": {"projection_dim": 32,
                           "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                                             "num_hidden_layers": 2, "patch_size": 32}},
    },
    "cogvideox-2b": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 16, "num_layers": 1, "text_embed_dim": 32,
                        "time_embed_dim": 16},
        "vae": VIDEO_VAE, "text_encoder": T5,
    },
    "wan2.1-t2v-1.3b": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 12, "ffn_dim": 32, "num_layers": 1,
                        "text_dim": 32, "freq_dim": 16},
        "vae": {"base_dim": 8, "num_res_blocks": 1}, "text_encoder": T5,
    },
    "hunyuanvideo": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 16, "rope_axes_dim": [4, 6, 6],
                        "num_layers": 1, "num_single_layers": 1, "num_refiner_layers": 1, "text_embed_dim": 32,
                        "pooled_projection_dim": 32},
        "vae": VIDEO_VAE, "text_encoder": LLAMA, "text_encoder_2": CLIP,
    },
    "sdxl": {
        "unet": {"block_out_channels": [32, 64], "layers_per_block": 1, "sample_size": 16,
                 "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
                 "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "attention_head_dim": [2, 4],
                 "transformer_layers_per_block": [1, 1], "cross_attention_dim": 64, "addition_time_embed_dim": 8,
                 "projection_class_embeddings_input_dim": 80, "norm_num_groups": 8},
        "vae": VAE, "text_encoder": CLIP, "text_encoder_2": CLIP,
    },
    "flux.1-dev": {
        "transformer": {"num_layers": 1, "num_single_layers": 1, "attention_head_dim": 16, "num_attention_heads": 2,
                        "joint_attention_dim": 32, "pooled_projection_dim": 32, "axes_dims_rope": [4, 6, 6]},
        "vae": VAE, "text_encoder": CLIP, "text_encoder_2": T5,
    },
    "qwen-image": {
        "transformer": {"num_layers": 1, "attention_head_dim": 16, "num_attention_heads": 2,
                        "joint_attention_dim": 32, "axes_dims_rope": [4, 6, 6]},
        "vae": {"base_dim": 16, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1},
        "text_encoder": {**QWEN_TEXT, "text_config": QWEN_TEXT,
                         "vision_config": {"depth": 1, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
                                           "out_hidden_size": 32, "fullatt_block_indexes": [0]}},
    },
    "ltx-video": {
        "transformer": {"num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 8,
                        "cross_attention_dim": 16, "caption_channels": 32, "in_channels": 8, "out_channels": 8},
        "vae": {"latent_channels": 8, "block_out_channels": [8, 8, 8, 8],
                "decoder_block_out_channels": [8, 8, 8, 8], "layers_per_block": [1, 1, 1, 1, 1],
                "decoder_layers_per_block": [1, 1, 1, 1, 1]},
        "text_encoder": T5,
    },
}

STEPS = mp.NUM_INFERENCE_STEPS


@pytest.fixture(scope="module")
def cache():
    return mp.ComponentCache("cpu", TINY)


# ------------------------------------------------------------------------------------------------- dry run


@pytest.mark.parametrize("model", list(catalog.CATALOG))
def test_dry_run_every_bundled_id(model, capsys):
    assert mp.main(["--model", model, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert model in out and "1 rows (dry run" in out
    row = mp.predicted_row(mp._default_row(model))
    assert set(row) <= set(table.COLUMNS)
    spec = catalog.load(model).spec
    assert row[table.STAGE_COLUMNS[spec.denoiser_stage]] > 0
    assert all(row[table.STAGE_COLUMNS[c.role]] > 0 for c in spec.text_calls)
    assert row["peak_allocated_bytes"] == max(v for k, v in row.items() if k.startswith("stage_") and v)


def test_columns():
    with open("data/measurements/sd15_h100.csv") as fh:
        sd15 = next(csv.reader(fh))
    assert table.COLUMNS[0] == "model" and "frames" in table.COLUMNS
    assert [c for c in table.COLUMNS if c not in ("model", "frames", "min_cap_bytes")
            and c not in ("stage_text_encoder_2_peak", "stage_text_encoder_3_peak",
                          "stage_transformer_step_peak")] == sd15
    for stage in ("text_encoder", "text_encoder_2", "text_encoder_3", "vae_encode", "unet_step",
                  "transformer_step", "vae_decode", "safety_checker"):
        assert f"stage_{stage}_peak" in table.COLUMNS


@pytest.mark.parametrize("model", ["sd15", "sd3.5-medium", "wan2.1-t2v-1.3b"])
def test_grid_fits_respects_the_spec_and_round_trips(model, tmp_path, capsys):
    rows = mp.default_grid(model)
    spec = catalog.load(model).spec
    assert rows and len(set(rows)) == len(rows)
    assert {r.task for r in rows} <= set(spec.tasks) and (("img2img" in spec.tasks) == any(
        r.task == "img2img" for r in rows))
    assert all(r.attention == "sdpa" for r in rows) or spec.attention_processors
    assert all(mp.predict(r)["peak_reserved_bytes"] <= mp.GRID_BUDGET_BYTES for r in rows)
    assert all((r.frames is not None) == spec.video for r in rows)
    out = tmp_path / "grid.csv"
    assert mp.main(["--model", model, "--grid", "--dry-run", "--out", str(out)]) == 0
    assert f"{len(rows)} rows (dry run" in capsys.readouterr().out
    header, *cells = list(csv.reader(out.open()))
    assert tuple(header) == table.COLUMNS and len(cells) == len(rows)
    assert all(c == "" for c in cells[0][len(table.INPUT_COLUMNS):])
    assert mp.read_plan(out) == rows


def test_row_validation():
    with pytest.raises(ValueError):
        mp.RowSpec("flux.1-dev", task="img2img")
    with pytest.raises(ValueError):
        mp.RowSpec("sdxl", memory_option="cpu_offload")
    with pytest.raises(ValueError):
        mp.RowSpec("sdxl", attention="xformers")
    with pytest.raises(ValueError, match="multiples of 16"):
        mp.RowSpec("wan2.1-t2v-1.3b", height=480, width=840)
    with pytest.raises(ValueError):
        mp.RowSpec("sd15", frames=9)
    assert mp.RowSpec("sd15", task="img2img", height=500, width=700).height == 500  # img2img resizes its image
    assert mp.RowSpec("ltx-video").frames == catalog.load("ltx-video").spec.default_frames
    assert mp.RowSpec("qwen-image").prompt_tokens == 34 + 512


# ------------------------------------------------------------------------------------------------- tiny pipelines on a CPU


#: SD 1.5's PNDMScheduler (``skip_prk_steps``) runs one step more than asked; img2img at strength 0.8 runs
#: ``int(STEPS * 0.8)`` of them.
PNDM_EXTRA = 1


@pytest.mark.parametrize("model,task,frames,order", [
    ("sd15", "txt2img", None, ["text_encoder"] * 2 + ["unet_step"] * (STEPS + PNDM_EXTRA)
     + ["vae_decode", "safety_checker"]),
    ("sd15", "img2img", None, ["text_encoder"] * 2 + ["vae_encode"]
     + ["unet_step"] * (int(STEPS * mp.IMG2IMG_STRENGTH) + PNDM_EXTRA) + ["vae_decode", "safety_checker"]),
    ("sdxl", "txt2img", None, ["text_encoder", "text_encoder_2"] + ["unet_step"] * STEPS + ["vae_decode"]),
    ("sdxl", "img2img", None, ["text_encoder", "text_encoder_2", "vae_encode", "unet_step", "vae_decode"]),
    ("flux.1-dev", "txt2img", None, ["text_encoder", "text_encoder_2"] + ["transformer_step"] * STEPS
     + ["vae_decode"]),
    # true CFG: the prompt and the negative prompt are encoded, two forwards per step
    ("qwen-image", "txt2img", None, ["text_encoder", "text_encoder"] + ["transformer_step"] * (2 * STEPS)
     + ["vae_decode"]),
    ("ltx-video", "txt2img", 9, ["text_encoder", "text_encoder"] + ["transformer_step"] * STEPS + ["vae_decode"]),
    # one batched forward of 2N per step (CogVideoX), two separate forwards (Wan), guidance-distilled (HunyuanVideo)
    ("cogvideox-2b", "txt2img", 9, ["text_encoder"] * 2 + ["transformer_step"] * STEPS + ["vae_decode"]),
    ("wan2.1-t2v-1.3b", "txt2img", 9, ["text_encoder"] * 2 + ["transformer_step"] * (2 * STEPS) + ["vae_decode"]),
    ("hunyuanvideo", "txt2img", 9, ["text_encoder", "text_encoder_2"] + ["transformer_step"] * STEPS
     + ["vae_decode"]),
])
def test_tiny_pipeline_end_to_end(cache, tmp_path, model, task, frames, order):
    spec = mp.RowSpec(model, task=task, dtype="fp32", height=64, width=64, frames=frames)
    result = mp.measure_row(spec, "cpu", cache)
    assert result.order == order
    row = result.row
    ran = set(order)
    for stage, column in table.STAGE_COLUMNS.items():
        assert (row[column] is not None) == (stage in ran), stage
    assert row["model"] == model and row["min_cap_bytes"] is None
    assert all(row[c] == 0 for c in table.MEASURED_COLUMNS if c != "min_cap_bytes" and row[c] is not None)
    out = tmp_path / "out.csv"
    mp.write_rows(out, [row])
    with open(out, newline="") as fh:
        header, cells = list(csv.reader(fh))
    assert tuple(header) == table.COLUMNS
    assert dict(zip(header, cells))["frames"] == ("" if frames is None else str(frames))
    assert mp.RowSpec.from_mapping(dict(zip(header, cells))) == spec
    # the wrappers are gone afterwards
    comps = cache.get(model, "fp32")
    assert all("forward" not in vars(comps[c]) for c in comps if isinstance(comps[c], torch.nn.Module))


@pytest.mark.parametrize("model, n", [("sd15", 2), ("sd15", 8), ("sd15", 77), ("sd15", 100), ("sdxl", 77),
                                      ("qwen-image", 546), ("flux.1-dev", 20)])
def test_prompt_token_counts(cache, model, n):
    """Exactly ``n`` tokens in the first tokenizer, template and special tokens included, before truncation."""
    pipe = pipeline_from_components(model, cache.get(model, "fp32"))
    assert count_tokens(pipe, make_prompt(pipe, n)) == n


@pytest.mark.parametrize("model", ["sd15", "sdxl"])
def test_unet_switches_are_applied_and_undone(cache, model):
    spec = mp.RowSpec(model, attention="classic", memory_option="attention_slicing+vae_tiling", dtype="fp32",
                      height=48, width=64, num_images_per_prompt=2, guidance_scale=1.0)
    seen = {}
    original = mp.configure

    def spy(pipe, row):
        original(pipe, row)
        seen.setdefault("tiling", pipe.vae.use_tiling)
        seen.setdefault("processors", {type(p).__name__ for p in pipe.unet.attn_processors.values()})

    mp.configure = spy
    try:
        result = mp.measure_row(spec, "cpu", cache)
    finally:
        mp.configure = original
    assert seen == {"tiling": True, "processors": {"SlicedAttnProcessor"}}
    assert "vae_encode" not in result.calls
    assert result.calls["text_encoder"] == 1  # guidance 1: no negative prompt
    cells = mp.format_row(result.row)
    assert cells[table.COLUMNS.index("stage_vae_encode_peak")] == ""  # the stage did not run: empty cell
    assert cells[table.COLUMNS.index("guidance_scale")] == "1.0"
    comps = cache.get(model, "fp32")
    assert not comps["vae"].use_tiling
    assert {type(p).__name__ for p in comps["unet"].attn_processors.values()} == {"AttnProcessor2_0"}


#: (model, frames, size, the VAE's tile attributes made tiny so that a small image is tiled)
TILED = [("sd15", None, 64, {"tile_sample_min_size": 32, "tile_latent_min_size": 4}),
         ("wan2.1-t2v-1.3b", 5, 128, {"tile_sample_min_height": 64, "tile_sample_min_width": 64,
                                       "tile_sample_stride_height": 48, "tile_sample_stride_width": 48})]


@pytest.mark.parametrize("model, frames, size, tiles", TILED, ids=[t[0] for t in TILED])
def test_vae_tiling_runs_the_tiled_decode(cache, monkeypatch, model, frames, size, tiles):
    vae = cache.get(model, "fp32")["vae"]
    for name, value in tiles.items():
        monkeypatch.setattr(vae, name, value)
    calls = []
    tiled = type(vae).tiled_decode
    monkeypatch.setattr(type(vae), "tiled_decode", lambda self, *a, **k: calls.append(1) or tiled(self, *a, **k))
    spec = mp.RowSpec(model, dtype="fp32", height=size, width=size, frames=frames, memory_option="vae_tiling",
                      guidance_scale=1.0)
    mp.measure_row(spec, "cpu", cache)
    assert calls and not vae.use_tiling


def test_cache_keeps_one_build():
    cache = mp.ComponentCache("cpu", TINY)
    a = cache.get("sd15", "fp32")
    assert cache.get("sd15", "fp32") is a
    b = cache.get("sd15", "bf16")
    assert b is not a and cache.key == ("sd15", "bf16")
    assert {p.dtype for p in b["unet"].parameters()} == {torch.bfloat16}


# ------------------------------------------------------------------------------------------------- compare, cap


def test_compare_synthetic_csv(tmp_path, capsys):
    spec = mp.RowSpec("sdxl", height=768, width=768)
    pred = mp.predicted_row(spec)
    measured = {k: (int(v * 1.02) if k in table.MEASURED_COLUMNS and v is not None else v) for k, v in pred.items()}
    path = tmp_path / "m.csv"
    mp.write_rows(path, [measured])
    (res,) = mp.compare_rows(csv.DictReader(open(path, newline="")))
    cols = res["columns"]
    assert set(cols) >= {"peak_allocated_bytes", "stage_unet_step_peak", "stage_vae_decode_peak"}
    assert "stage_transformer_step_peak" not in cols
    m, p, err = cols["stage_vae_decode_peak"]
    assert p == pred["stage_vae_decode_peak"] and err == pytest.approx(1 / 1.02 - 1, abs=1e-6)
    assert mp.main(["--compare", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stage_unet_step_peak" in out and "-1.96%" in out


def test_find_min_cap():
    step = mp.CAP_RESOLUTION
    need = 1000 * step + 12345
    calls = []

    def fits(cap):
        calls.append(cap)
        return cap >= need

    got = mp.find_min_cap(fits, need - 5 * step, need + 40 * step)
    assert got == 1001 * step and got % step == 0 and len(calls) <= 8
    assert mp.find_min_cap(lambda cap: False, 0, 10 * step) is None


def test_measure_needs_out_or_cuda(tmp_path, capsys):
    assert mp.main(["--model", "sdxl"]) == 2
    assert mp.main(["--grid"]) == 2
    capsys.readouterr()
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    out = tmp_path / "out.csv"
    assert mp.main(["--model", "sdxl", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]
    assert not out.exists()


def test_cli_cpu_run_and_resume(cache, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(mp, "ComponentCache", lambda device: cache)  # the tiny builds
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    specs = [mp.RowSpec("sd15", dtype="fp32", height=64, width=64, guidance_scale=1.0),
             mp.RowSpec("sd15", task="img2img", dtype="fp32", height=64, width=96)]
    mp.write_rows(src, [s.as_row() for s in specs], table.INPUT_COLUMNS)
    assert mp.main(["--rows", str(src), "--out", str(out), "--device", "cpu", "--limit", "1"]) == 0
    assert mp.main(["--rows", str(src), "--out", str(out), "--device", "cpu", "--resume"]) == 0
    assert "[1/1] sd15 img2img 64x96" in capsys.readouterr().out  # the first row was skipped
    assert mp.read_plan(out) == specs
    meta = json.loads((tmp_path / "out.csv.meta.json").read_text())
    assert meta["device"] == "cpu" and meta["torch"] == torch.__version__


def test_reads_and_compares_the_sd15_measurements(tmp_path, capsys):
    """``data/measurements/sd15_h100.csv`` (no ``model`` column) stays readable: ``--model sd15`` fills it."""
    path = "data/measurements/sd15_h100.csv"
    with open(path, newline="") as fh:
        raw = list(csv.DictReader(fh))
    specs = mp.read_plan(path, "sd15")
    assert len(specs) == len(raw) and all(s.model == "sd15" for s in specs)
    first = raw[0]
    assert (specs[0].task, specs[0].dtype, specs[0].height, specs[0].prompt_tokens) == (
        first["task"], first["dtype"], int(first["height"]), int(first["prompt_tokens"]))
    few = tmp_path / "few.csv"
    with open(few, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(first), lineterminator="\n")
        writer.writeheader()
        writer.writerows(raw[:2])
    assert mp.main(["--compare", str(few), "--model", "sd15"]) == 0
    out = capsys.readouterr().out
    assert out.count("stage_vae_encode_peak") == sum(r["task"] == "img2img" for r in raw[:2])
    assert "stage_safety_checker_peak" in out and "%" in out
