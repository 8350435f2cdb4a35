"""The video measurement harness (symbolic/harness/build_video.py, measure_video.py) on a CPU: the real diffusers
classes built from the shipped configs (full size on the ``meta`` device: counts and bytes against
video_models), one transformer forward and one VAE decode per family end to end on tiny configs (the memory
columns are 0 without CUDA: the tests check the shapes the real classes accept and the row format), ``compare``,
the grid and the CLI."""
from __future__ import annotations

import csv
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from symbolic.harness import build_video as bv  # noqa: E402
from symbolic.harness import measure_video as mv  # noqa: E402
from symbolic.harness.build_video import VIDEO_MODELS  # noqa: E402
from symbolic.pipelines.estimate import estimate_video_pipeline  # noqa: E402

HEADER = ("model,stage,dtype,frames,height,width,batch,guidance_scale,memory_option,weights_allocated_bytes,"
          "peak_allocated_bytes,peak_reserved_bytes,activation_bytes")

#: Parameter + buffer element counts that video_models.py derives (its weights terms' docstrings).
COUNTS = {
    ("cogvideox-2b", "transformer"): 1_727_913_792,
    ("cogvideox-5b", "transformer"): 5_570_283_072,
    ("wan2.1-t2v-1.3b", "transformer"): 1_419_258_944,
    ("wan2.1-t2v-14b", "transformer"): 14_288_753_728,
    ("hunyuanvideo", "transformer"): 12_821_012_544,
    ("cogvideox-2b", "vae"): 215_583_907,
    ("wan2.1-t2v-1.3b", "vae"): 126_892_531,
    ("hunyuanvideo", "vae"): 246_478_803,
}


# ------------------------------------------------------------------------------------------ full size on meta


@pytest.fixture(scope="module")
def meta_models():
    return {(m, c): bv.build_component(m, c, "meta") for m in VIDEO_MODELS for c in bv.COMPONENTS}


def test_full_size_counts_and_classes(meta_models):
    import diffusers

    for (model, component), expected in COUNTS.items():
        assert bv.count_elements(meta_models[model, component]) == expected, (model, component)
    for (model, component), module in meta_models.items():
        names = bv.CLASSES[bv.family_of(model)]
        assert type(module) is getattr(diffusers, names[0] if component == "transformer" else names[1])
        assert all(p.device.type == "meta" and not p.requires_grad for p in module.parameters())
    # the shipped config's values reach the class; "_" keys are dropped
    assert meta_models["hunyuanvideo", "transformer"].config.num_single_layers == 40
    assert "_source" not in bv.component_config("wan2.1-t2v-14b", "transformer")


def test_weight_bytes_match_video_models(meta_models):
    """The loaded dtypes (torch_dtype, _keep_in_fp32_modules, non-persistent buffers) give video_models' bytes."""
    for (model, component), module in meta_models.items():
        est = estimate_video_pipeline(model, 49, 480, 832 if model.startswith(("wan", "hun")) else 720)
        assert bv.weight_bytes(module) == est["component_weights_bytes"][component], (model, component)
    wan = dict(meta_models["wan2.1-t2v-1.3b", "transformer"].named_parameters())
    assert wan["blocks.0.attn1.to_q.weight"].dtype == torch.bfloat16
    assert wan["blocks.0.scale_shift_table"].dtype == torch.float32  # _keep_in_fp32_modules
    assert wan["condition_embedder.time_embedder.linear_1.weight"].dtype == torch.float32
    assert wan["condition_embedder.time_proj.weight"].dtype == torch.bfloat16
    cog = meta_models["cogvideox-2b", "transformer"]
    assert cog.patch_embed.pos_embedding.dtype == torch.float64  # non-persistent: never cast
    assert bv.dtype_bytes(meta_models["wan2.1-t2v-1.3b", "vae"]) == {"torch.float32": 4 * 126_892_531}
    assert {p.dtype for p in meta_models["hunyuanvideo", "vae"].parameters()} == {torch.float16}
    # an explicit dtype puts every component in it (Wan's fp32 modules stay fp32)
    vae = bv.build_component("wan2.1-t2v-1.3b", "vae", "meta", dtype="bf16")
    assert {p.dtype for p in vae.parameters()} == {torch.bfloat16}


def test_materialize_order_dtypes_and_buffers():
    from torch import nn

    class Block(nn.Module):
        _keep_in_fp32_modules = ["norm"]

        def __init__(self):
            super().__init__()
            self.own = nn.Parameter(torch.ones(2))
            self.register_buffer("table", torch.arange(3, dtype=torch.float64), persistent=False)
            self.register_buffer("scale", torch.full((2,), 3.0))
            self.child = nn.Linear(4, 5)
            self.norm = nn.LayerNorm(4)

    original = nn.Module.register_parameter
    with bv.parameters_on_meta():
        block = Block()
    assert nn.Module.register_parameter is original
    assert block.own.device.type == "meta" and block.table.device.type == "cpu"
    bv.materialize(block, "cpu", torch.bfloat16)
    assert block.child.weight.dtype == torch.bfloat16 and block.own.dtype == torch.bfloat16
    assert block.norm.weight.dtype == torch.float32  # kept in fp32
    assert block.table.dtype == torch.float64 and block.table.tolist() == [0.0, 1.0, 2.0]  # not in a checkpoint
    assert block.scale.dtype == torch.bfloat16 and block.scale.tolist() == [3.0, 3.0]  # persistent: cast, kept
    assert block.child.weight.device.type == "cpu" and float(block.child.weight.float().std()) > 0


def test_latent_shapes_follow_video_models():
    for model in VIDEO_MODELS:
        for frames in (1, 33, 49, 50, 81):
            est = estimate_video_pipeline(model, frames, 480, 832 if model.startswith(("wan", "hun")) else 720)
            shape = bv.latent_shape(model, frames, 480, 832 if model.startswith(("wan", "hun")) else 720)
            if model.startswith("cogvideox"):  # CogVideoX's prepare_latents puts frames before channels
                shape = (shape[0], shape[2], shape[1], shape[3], shape[4])
            assert shape == est["latent_shape"], (model, frames)
    assert bv.latent_frames("wan2.1-t2v-1.3b", 50) == 13 and bv.latent_frames("cogvideox-2b", 50) == 13
    assert bv.latent_frames("wan2.1-t2v-1.3b", 52) == 14 and bv.latent_frames("hunyuanvideo", 52) == 13


def test_full_size_input_plans():
    """The shapes fed at full size: 226 x 4096 (CogVideoX), 512 x 4096 (Wan), 256 x 4096 + 768 (HunyuanVideo)."""
    def plan(spec):
        return {t.name: (t.shape, t.dtype) for t in spec.input_plan()}

    p = plan(mv.VideoRowSpec("cogvideox-5b", "transformer_step", 49, 480, 720))
    assert p["encoder_hidden_states"] == ((2, 226, 4096), "bf16")
    assert p["hidden_states"] == ((2, 13, 16, 60, 90), "bf16")
    assert p["image_rotary_emb[0]"] == ((13 * 30 * 45, 64), "fp32")
    p = plan(mv.VideoRowSpec("cogvideox-2b", "transformer_step", 49, 480, 720, guidance_scale=1.0))
    assert p["encoder_hidden_states"] == ((1, 226, 4096), "fp16") and "image_rotary_emb[0]" not in p
    p = plan(mv.VideoRowSpec("wan2.1-t2v-14b", "transformer_step", 81, 480, 832))
    assert p["encoder_hidden_states"] == ((1, 512, 4096), "bf16") and p["prompt_embeds"] == ((1, 512, 4096), "bf16")
    assert p["hidden_states"] == ((1, 16, 21, 60, 104), "bf16") and p["latents"][1] == "fp32"
    p = plan(mv.VideoRowSpec("hunyuanvideo", "transformer_step", 33, 320, 512))
    assert p["encoder_hidden_states"] == ((1, 256, 4096), "bf16")
    assert p["pooled_projections"] == ((1, 768), "bf16") and p["encoder_attention_mask"] == ((1, 256), "bf16")
    assert p["hidden_states"] == ((1, 16, 9, 40, 64), "bf16")
    p = plan(mv.VideoRowSpec("hunyuanvideo", "transformer_step", 33, 320, 512, dtype="bf16"))
    assert p["llama_hidden_state"] == ((1, 351, 4096), "bf16")  # same dtype: the cropped view keeps it all
    p = plan(mv.VideoRowSpec("wan2.1-t2v-1.3b", "vae_decode", 81, 480, 832))
    assert p["z"] == ((1, 16, 21, 60, 104), "fp32")
    p = plan(mv.VideoRowSpec("hunyuanvideo", "vae_decode", 33, 320, 512))
    assert p["z"] == ((1, 16, 9, 40, 64), "fp16")


# ------------------------------------------------------------------------------------------ end to end on CPU


@pytest.fixture(scope="module")
def tiny_cache():
    return mv.ComponentCache("cpu", tiny=True)


E2E = [
    mv.VideoRowSpec("cogvideox-2b", "transformer_step", 9, 64, 64),
    mv.VideoRowSpec("cogvideox-5b", "transformer_step", 9, 48, 80, batch=2),
    mv.VideoRowSpec("cogvideox-5b", "vae_decode", 9, 64, 64),
    mv.VideoRowSpec("wan2.1-t2v-1.3b", "transformer_step", 9, 64, 64),
    mv.VideoRowSpec("wan2.1-t2v-14b", "transformer_step", 10, 64, 96, guidance_scale=1.0),
    mv.VideoRowSpec("wan2.1-t2v-1.3b", "vae_decode", 9, 64, 64),
    mv.VideoRowSpec("hunyuanvideo", "transformer_step", 9, 64, 64),
    mv.VideoRowSpec("hunyuanvideo", "transformer_step", 5, 32, 64, dtype="fp32"),
    mv.VideoRowSpec("hunyuanvideo", "vae_decode", 5, 64, 64),
]


@pytest.mark.parametrize("spec", E2E, ids=lambda s: f"{s.model}-{s.stage}-{s.frames}x{s.height}x{s.width}")
def test_tiny_end_to_end(spec, tiny_cache):
    res = mv.measure_row(spec, "cpu", tiny_cache)
    # the tensors created are the plan's, and the real class accepted them
    plan = {t.name: (t.shape, t.dtype) for t in spec.input_plan(bv.tiny_overrides(spec.model))}
    assert res.info.tensors == plan
    if spec.stage == "transformer_step":
        hidden_shape, hidden_dtype = plan["hidden_states"]
        assert res.info.output_shape == hidden_shape  # noise prediction of the model input's shape
        assert res.info.output_dtype == hidden_dtype == spec.component_dtype
    else:
        b, t = spec.batch, bv.latent_frames(spec.model, spec.frames)
        assert res.info.output_shape == (b, 3, 4 * (t - 1) + 1, spec.height, spec.width)
        assert res.info.output_dtype == spec.component_dtype
    module = tiny_cache.module
    expected = {"transformer": bv.component_dtype(spec.model, "transformer", spec.dtype),
                "vae": bv.component_dtype(spec.model, "vae", spec.dtype)}[spec.component]
    assert any(p.dtype == {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[expected]
               for p in module.parameters())
    # row format: the input columns, then 0 for every memory column on a CPU
    assert list(res.row) == list(mv.COLUMNS)
    assert res.row["dtype"] == spec.component_dtype
    assert all(res.row[c] == 0 for c in mv.MEASURED_COLUMNS)


def test_vae_tiling_runs_tiled_decode_and_is_undone(tiny_cache, monkeypatch, tmp_path):
    spec = mv.VideoRowSpec("wan2.1-t2v-1.3b", "vae_decode", 5, 128, 128, memory_option="vae_tiling")
    vae = tiny_cache.get(spec)
    vae.tile_sample_min_height = vae.tile_sample_min_width = 64  # tiny tiles (the defaults are 256 pixels)
    vae.tile_sample_stride_height = vae.tile_sample_stride_width = 48
    calls = []
    original = type(vae).tiled_decode
    monkeypatch.setattr(type(vae), "tiled_decode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    res = mv.measure_row(spec, "cpu", tiny_cache)
    assert calls == [1] and not vae.use_tiling
    assert res.info.output_shape == (1, 3, 5, 128, 128)
    out = tmp_path / "rows.csv"
    mv.write_rows(out, [res.row])
    lines = out.read_text().splitlines()
    assert lines[0] == HEADER
    assert lines[1] == "wan2.1-t2v-1.3b,vae_decode,fp32,5,128,128,1,5.0,vae_tiling,0,0,0,0"
    assert mv.read_rows(out) == [spec]


def test_cache_keeps_one_component(tiny_cache):
    a = tiny_cache.get(mv.VideoRowSpec("wan2.1-t2v-1.3b", "vae_decode", 5, 64, 64))
    b = tiny_cache.get(mv.VideoRowSpec("wan2.1-t2v-14b", "vae_decode", 9, 64, 64))
    assert a is b  # one VAE config for both Wan models
    c = tiny_cache.get(mv.VideoRowSpec("wan2.1-t2v-14b", "vae_decode", 9, 64, 64, dtype="bf16"))
    assert c is not a and tiny_cache.module is c


# ------------------------------------------------------------------------------------------ compare


def test_compare_against_estimate():
    est = estimate_video_pipeline("cogvideox-2b", 49, 480, 720, guidance_scale=6.0)
    predicted = est["stage_activation_bytes"]["transformer_step"] - 33 * 2**20
    measured = {"model": "cogvideox-2b", "stage": "transformer_step", "dtype": "fp16", "frames": "49",
                "height": "480", "width": "720", "batch": "1", "guidance_scale": "6.0", "memory_option": "none",
                "weights_allocated_bytes": str(est["component_weights_bytes"]["transformer"]),
                "peak_allocated_bytes": "0", "peak_reserved_bytes": "0",
                "activation_bytes": str(predicted // 2)}
    (row,) = mv.compare([measured])
    assert row["predicted_activation_bytes"] == predicted
    assert row["estimate_stage_activation_bytes"] == predicted + 33 * 2**20
    assert row["measured_activation_bytes"] == predicted // 2
    assert row["activation_relative_error"] == pytest.approx(1.0, abs=1e-8)
    assert row["weights_relative_error"] > 0 and row["predicted_weights_bytes"] > int(
        measured["weights_allocated_bytes"])
    # the default dtype written back maps to dtype=None; an explicit one is passed on
    tiled = dict(measured, stage="vae_decode", memory_option="vae_tiling", dtype="fp32",
                 activation_bytes="", peak_allocated_bytes=str(int(measured["weights_allocated_bytes"]) + 10**9))
    (row,) = mv.compare([tiled])
    est32 = estimate_video_pipeline("cogvideox-2b", 49, 480, 720, dtype="fp32", memory_options=("vae_tiling",))
    assert row["measured_activation_bytes"] == 10**9
    assert row["predicted_activation_bytes"] == est32["stage_activation_bytes"]["vae_decode"] - 33 * 2**20
    (row,) = mv.compare([dict(measured, activation_bytes="0")])
    assert row["activation_relative_error"] is None
    assert "act err" in mv.format_comparison([row])


def test_compare_cli(tmp_path, capsys):
    rows = [dict(s.as_row(), weights_allocated_bytes=4 * 10**9, peak_allocated_bytes=6 * 10**9,
                 peak_reserved_bytes=7 * 10**9, activation_bytes=2 * 10**9)
            for s in mv.reference_rows(["wan2.1-t2v-1.3b"])]
    src = tmp_path / "measured.csv"
    mv.write_rows(src, rows)
    out = tmp_path / "cmp.csv"
    assert mv.main(["--compare", str(src), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "wan2.1-t2v-1.3b" in text and "2 rows: activation |relative error|" in text
    got = list(csv.DictReader(out.open()))
    assert [r["stage"] for r in got] == ["transformer_step", "vae_decode"]
    assert tuple(got[0]) == mv.COMPARE_COLUMNS
    assert mv.main(["--compare", str(tmp_path / "missing.csv")]) == 2


# ------------------------------------------------------------------------------------------ grid and CLI


def test_grid_fits_an_h100_and_covers_the_models():
    grid = mv.default_grid()
    assert len(set(grid)) == len(grid) and {s.model for s in grid} == set(VIDEO_MODELS)
    assert {s.stage for s in grid} == set(mv.STAGES)
    assert any(s.memory_option == "vae_tiling" for s in grid)
    for s in grid:
        est = estimate_video_pipeline(s.model, s.frames, s.height, s.width, batch=s.batch,
                                      guidance_scale=s.guidance_scale, memory_options=s.memory_options)
        need = est["component_weights_bytes"][s.component] + est["stage_activation_bytes"][s.stage]
        assert need < 60 * 2**30, s
    # each component is built once: rows of one (config, component, dtype) are contiguous
    keys = [(bv.config_name(s.model, s.component), s.component_dtype) for s in grid]
    assert len({k for k in keys}) == len([k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k])


def test_rowspec_validation():
    with pytest.raises(ValueError):
        mv.VideoRowSpec("cogvideox-2b", "transformer_step", 49, 480, 720, memory_option="vae_tiling")
    with pytest.raises(ValueError):
        mv.VideoRowSpec("wan2.1-t2v-1.3b", "vae_decode", 81, 480, 840)  # not a multiple of 16
    with pytest.raises(ValueError):
        mv.VideoRowSpec("cogvideox-2b", "transformer_step", 49, 240, 360)  # latent width 45: odd
    with pytest.raises(ValueError):
        mv.VideoRowSpec("sd15", "vae_decode", 1, 64, 64)
    assert mv.VideoRowSpec("wan2.1-t2v-1.3b", "vae_decode", 81, 480, 832).guidance_scale == 5.0


def test_dry_run_lists_the_grid(tmp_path, capsys):
    out = tmp_path / "grid.csv"
    assert mv.main(["--grid", "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    grid = mv.default_grid()
    heads = [line for line in text.splitlines() if line.startswith("[")]
    assert len(heads) == len(grid) and heads[0].startswith(f"[1/{len(grid)}] cogvideox-2b transformer_step fp16")
    assert "encoder_hidden_states (2, 226, 4096) fp16" in text
    assert "hidden_states (1, 16, 21, 60, 104) bf16" in text and "predicted: weights" in text
    rows = list(csv.reader(out.open()))
    assert ",".join(rows[0]) == HEADER and len(rows) == len(grid) + 1
    assert all(cell == "" for cell in rows[1][9:])
    assert mv.read_rows(out) == grid
    assert mv.main(["--dry-run", "--models", "hunyuanvideo"]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(heads) == 2 and all("hunyuanvideo" in h for h in heads)


def test_cli_without_cuda_exits_2(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    out = tmp_path / "out.csv"
    assert mv.main(["--out", str(out), "--models", "cogvideox-2b"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]
    assert not out.exists()


def test_cli_tiny_cpu_smoke(tmp_path, capsys):
    out = tmp_path / "out.csv"
    src = tmp_path / "in.csv"
    mv.write_rows(src, [mv.VideoRowSpec("wan2.1-t2v-1.3b", "transformer_step", 5, 32, 32).as_row()])
    assert mv.main(["--rows", str(src), "--out", str(out), "--device", "cpu", "--tiny"]) == 0
    assert "[1/1] wan2.1-t2v-1.3b transformer_step bf16" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert lines[0] == HEADER and lines[1] == "wan2.1-t2v-1.3b,transformer_step,bf16,5,32,32,1,5.0,none,0,0,0,0"
    meta = json.loads((tmp_path / "out.csv.meta.json").read_text())
    assert meta["baseline_allocated_bytes"] == 0 and meta["tiny"] is True
    # --resume skips the row already there
    assert mv.main(["--rows", str(src), "--out", str(out), "--device", "cpu", "--tiny", "--resume"]) == 0
    assert len(out.read_text().splitlines()) == 2
