"""The spec-driven GPU harness (symbolic/harness/build_pipeline.py, measure_pipeline.py) on a CPU: the dry run of
every bundled id, full-size builds on the ``meta`` device (weight bytes against the estimate's), one pipeline call
end to end on tiny configs for SDXL (txt2img and img2img), FLUX.1, Qwen-Image and LTX-Video (the memory readings
are 0 without CUDA: the tests check which stages ran, in which order, and the CSV row), ``--compare`` on a
synthetic CSV and the OOM-boundary bisection."""
from __future__ import annotations

import csv

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from symbolic.harness import measure_pipeline as mp  # noqa: E402
from symbolic.harness.build_pipeline import build_components, make_prompt, summary  # noqa: E402
from symbolic.pipelines import catalog  # noqa: E402
from symbolic.pipelines.estimate import estimate  # noqa: E402

CLIP = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
        "vocab_size": 1000, "projection_dim": 32, "bos_token_id": 522, "eos_token_id": 523, "pad_token_id": 1}
VAE = {"block_out_channels": [8, 16, 16, 16], "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 32}
T5 = {"d_model": 32, "d_ff": 64, "d_kv": 8, "num_heads": 4, "num_layers": 2, "vocab_size": 1000}
QWEN_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "num_key_value_heads": 1, "vocab_size": 1000, "max_window_layers": 2,
             "rope_scaling": {"mrope_section": [2, 3, 3], "rope_type": "default", "type": "default"},
             "layer_types": ["full_attention", "full_attention"]}

#: Tiny configs merged into the bundled ones (same classes, a few hundred thousand parameters).
TINY = {
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
    assert set(row) <= set(mp.COLUMNS)
    spec = catalog.load(model).spec
    assert row[mp.STAGE_COLUMNS[spec.denoiser_stage]] > 0
    assert all(row[mp.STAGE_COLUMNS[c.role]] > 0 for c in spec.text_calls)
    assert row["peak_allocated_bytes"] == max(v for k, v in row.items() if k.startswith("stage_") and v)


def test_columns():
    with open("data/measurements/sd15_h100.csv") as fh:
        sd15 = next(csv.reader(fh))
    assert mp.COLUMNS[0] == "model" and "frames" in mp.COLUMNS
    assert [c for c in mp.COLUMNS if c not in ("model", "frames", "min_cap_bytes")
            and c not in ("stage_text_encoder_2_peak", "stage_text_encoder_3_peak",
                          "stage_transformer_step_peak")] == sd15
    for stage in ("text_encoder", "text_encoder_2", "text_encoder_3", "vae_encode", "unet_step",
                  "transformer_step", "vae_decode", "safety_checker"):
        assert f"stage_{stage}_peak" in mp.COLUMNS


def test_grid_fits_and_respects_tasks():
    rows = mp.default_grid("sd3.5-medium")
    assert rows and all(r.task == "txt2img" and r.attention == "sdpa" for r in rows)
    assert all(mp.predict(r)["peak_reserved_bytes"] <= mp.GRID_BUDGET_BYTES for r in rows)


def test_row_validation():
    with pytest.raises(ValueError):
        mp.RowSpec("flux.1-dev", task="img2img")
    with pytest.raises(ValueError):
        mp.RowSpec("sdxl", memory_option="cpu_offload")
    assert mp.RowSpec("ltx-video").frames == catalog.load("ltx-video").spec.default_frames
    assert mp.RowSpec("qwen-image").prompt_tokens == 34 + 512


# ------------------------------------------------------------------------------------------------- builds


@pytest.mark.parametrize("model", ["sdxl", "qwen-image"])
def test_meta_build_weights_equal_estimate(model):
    comps = build_components(model, "meta")
    assert summary(comps) == estimate(model)["component_weights_bytes"]


@pytest.mark.parametrize("model,task,frames,order", [
    ("sdxl", "txt2img", None, ["text_encoder", "text_encoder_2"] + ["unet_step"] * STEPS + ["vae_decode"]),
    ("sdxl", "img2img", None, ["text_encoder", "text_encoder_2", "vae_encode", "unet_step", "vae_decode"]),
    ("flux.1-dev", "txt2img", None, ["text_encoder", "text_encoder_2"] + ["transformer_step"] * STEPS
     + ["vae_decode"]),
    # true CFG: the prompt and the negative prompt are encoded, two forwards per step
    ("qwen-image", "txt2img", None, ["text_encoder", "text_encoder"] + ["transformer_step"] * (2 * STEPS)
     + ["vae_decode"]),
    ("ltx-video", "txt2img", 9, ["text_encoder", "text_encoder"] + ["transformer_step"] * STEPS + ["vae_decode"]),
])
def test_tiny_pipeline_end_to_end(cache, tmp_path, model, task, frames, order):
    spec = mp.RowSpec(model, task=task, dtype="fp32", height=64, width=64, frames=frames)
    result = mp.measure_row(spec, "cpu", cache)
    assert result.order == order
    row = result.row
    ran = set(order)
    for stage, column in mp.STAGE_COLUMNS.items():
        assert (row[column] is not None) == (stage in ran), stage
    assert row["model"] == model and row["peak_allocated_bytes"] == 0 and row["min_cap_bytes"] is None
    out = tmp_path / "out.csv"
    mp.write_rows(out, [row])
    with open(out, newline="") as fh:
        header, cells = list(csv.reader(fh))
    assert tuple(header) == mp.COLUMNS
    assert dict(zip(header, cells))["frames"] == ("" if frames is None else str(frames))
    assert mp.RowSpec.from_mapping(dict(zip(header, cells))) == spec
    # the wrappers are gone afterwards
    comps = cache.get(model, "fp32")
    assert all("forward" not in vars(comps[c]) for c in comps if isinstance(comps[c], torch.nn.Module))


def test_prompt_token_counts(cache):
    from symbolic.harness.build_pipeline import count_tokens, pipeline_from_components

    for model, n in (("sdxl", 77), ("qwen-image", 546), ("flux.1-dev", 20)):
        pipe = pipeline_from_components(model, cache.get(model, "fp32"))
        assert count_tokens(pipe, make_prompt(pipe, n)) == n


# ------------------------------------------------------------------------------------------------- compare, cap


def test_compare_synthetic_csv(tmp_path, capsys):
    spec = mp.RowSpec("sdxl", height=768, width=768)
    pred = mp.predicted_row(spec)
    measured = {k: (int(v * 1.02) if k in mp.MEASURED_COLUMNS and v is not None else v) for k, v in pred.items()}
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


def test_measure_needs_out_or_cuda(capsys):
    assert mp.main(["--model", "sdxl"]) == 2
    assert mp.main(["--grid"]) == 2
