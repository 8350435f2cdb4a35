"""The measurement harness: real diffusers classes built from the shipped configs (optional extra: torch, diffusers,
transformers). Full-size models are built on the ``meta`` device (no memory, fast); an end-to-end img2img call runs
on tiny configs on the CPU, where the memory numbers are 0 and the test checks the stage wrapping and the CSV
format."""
from __future__ import annotations

import csv

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from symbolic.harness import build_sd15 as b  # noqa: E402
from symbolic.harness import measure_sd15 as m  # noqa: E402

#: measurements/README.md: parameter + buffer element counts of the built models.
EXPECTED_COUNTS = {
    "unet": 859_520_964,
    "vae": 83_653_863,
    "vae.encoder": 34_163_664,
    "vae.decoder": 49_490_199,
    "text_encoder": 123_060_557,
    "safety_checker": 303_981_845,
}

#: The header of measurements/sd15_h100.csv, verbatim.
SD15_H100_HEADER = (
    "task,attention,sdpa_backend,memory_option,dtype,height,width,num_images_per_prompt,guidance_scale,"
    "prompt_tokens,weights_allocated_bytes,peak_allocated_bytes,peak_reserved_bytes,driver_used_bytes,"
    "stage_text_encoder_peak,stage_vae_encode_peak,stage_unet_step_peak,stage_vae_decode_peak,"
    "stage_safety_checker_peak"
)


@pytest.fixture(scope="module")
def meta_components():
    return b.build_components("fp16", "meta")


def test_full_size_parameter_counts(meta_components):
    assert b.parameter_counts(meta_components, parts=True) == EXPECTED_COUNTS
    assert set(b.parameter_counts(meta_components)) == {"vae", "text_encoder", "unet", "safety_checker"}


def test_full_size_models_are_real_classes_in_fp16(meta_components):
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPTextModel

    c = meta_components
    assert isinstance(c["unet"], UNet2DConditionModel)
    assert isinstance(c["vae"], AutoencoderKL)
    assert isinstance(c["text_encoder"], CLIPTextModel)
    assert isinstance(c["safety_checker"], StableDiffusionSafetyChecker)
    assert isinstance(c["scheduler"], PNDMScheduler)
    assert c["tokenizer"].model_max_length == 77
    for name in b.MODEL_COMPONENTS:
        p = next(c[name].parameters())
        assert p.device.type == "meta" and p.dtype == torch.float16


def test_tensor_sizes_order_and_totals(meta_components):
    for name in b.MODEL_COMPONENTS:
        sizes = b.tensor_sizes(meta_components[name])
        assert sum(s.numel for s in sizes) == b.count_elements(meta_components[name])
        assert len({s.name for s in sizes}) == len(sizes)
    unet = b.tensor_sizes(meta_components["unet"])
    # nn.Module._apply: children first (conv_in has no children), then own parameters, then buffers
    assert unet[0].name == "conv_in.weight" and unet[0].shape == (320, 4, 3, 3)
    assert unet[0].nbytes == 320 * 4 * 9 * 2
    te = b.tensor_sizes(meta_components["text_encoder"])
    pos = [s for s in te if s.name == "embeddings.position_ids"]
    assert pos and pos[0].kind == "buffer" and pos[0].dtype == torch.int64  # .to(fp16) leaves integer buffers
    # sizes after a cast
    as32 = b.tensor_sizes(meta_components["vae"], "fp32")
    assert sum(s.nbytes for s in as32) == 4 * EXPECTED_COUNTS["vae"]
    hist = b.size_histogram(b.tensor_sizes(meta_components["unet"]))
    assert hist["total"]["count"] == len(unet)
    assert sum(hist[k]["count"] for k in ("<=1MiB", "1-10MiB", ">10MiB")) == len(unet)
    assert hist["total"]["bytes"] == 2 * EXPECTED_COUNTS["unet"]
    assert hist["total"]["rounded_bytes"] % 512 == 0


def test_tensor_sizes_children_first_post_order():
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.own = nn.Parameter(torch.zeros(2))
            self.register_buffer("buf", torch.zeros(3))
            self.child = nn.Linear(4, 5)

    sizes = b.tensor_sizes(Block())
    assert [s.name for s in sizes] == ["child.weight", "child.bias", "own", "buf"]
    # the same order nn.Module._apply visits
    seen = []
    Block()._apply(lambda t: seen.append(tuple(t.shape)) or t)
    assert seen == [s.shape for s in sizes]


def test_round_allocation():
    assert b.round_allocation(0) == 0
    assert b.round_allocation(1) == 512
    assert b.round_allocation(512) == 512
    assert b.round_allocation(513) == 1024


def test_tokenizer_and_prompt_length():
    tok = b.build_tokenizer()
    assert tok.model_max_length == 77
    for n in (2, 8, 77):
        assert len(tok(m.make_prompt(tok, n)).input_ids) == n
    ids = tok(m.make_prompt(tok, 100), padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77
    assert tok.convert_ids_to_tokens(tok("the photo").input_ids)[1:3] == ["the</w>", "photo</w>"]


def test_config_overrides_merge_recursively():
    cfg = b.component_configs(b.TINY_CONFIG_OVERRIDES)
    assert cfg["safety_checker"]["vision_config"]["hidden_size"] == 32
    assert cfg["safety_checker"]["vision_config"]["image_size"] == 224  # kept from the shipped config
    assert cfg["unet"]["block_out_channels"] == [32, 64]
    assert b.load_config("unet")["block_out_channels"] == [320, 640, 1280, 1280]  # shipped config untouched
    with pytest.raises(ValueError):
        b.component_configs({"nope": {}})
    with pytest.raises(ValueError):
        b.build_pipeline("inpaint", "fp32", "meta")


# ------------------------------------------------------------------------------------------ end to end on CPU


@pytest.fixture(scope="module")
def tiny_cache():
    return m.ComponentCache("cpu", b.TINY_CONFIG_OVERRIDES)


def test_build_pipeline_tiny_classes():
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    pipe = b.build_pipeline("img2img", "fp32", "cpu", b.TINY_CONFIG_OVERRIDES)
    assert isinstance(pipe, StableDiffusionImg2ImgPipeline)
    assert pipe.safety_checker is not None and pipe.feature_extractor is not None
    pipe2 = b.pipeline_from_components("txt2img", pipe.components)
    assert isinstance(pipe2, StableDiffusionPipeline) and pipe2.unet is pipe.unet


def test_img2img_end_to_end_wrapped_stages(tiny_cache, tmp_path):
    spec = m.RowSpec(task="img2img", dtype="fp32", height=64, width=64, prompt_tokens=8)
    res = m.measure_row(spec, "cpu", tiny_cache)
    # guidance: the text encoder runs for the prompt and the negative prompt; int(5 * 0.8) = 4 img2img steps
    # (PNDM with skip_prk_steps adds one), one VAE encode and decode, one safety check
    assert res.calls["text_encoder"] == 2
    assert res.calls["vae_encode"] == 1 and res.calls["vae_decode"] == 1 and res.calls["safety_checker"] == 1
    assert res.calls["unet_step"] >= 4
    assert res.images == 1
    assert list(res.row) == list(m.COLUMNS)
    # on a CPU the allocator statistics are 0; every stage that ran has a value
    for col in m.MEASURED_COLUMNS:
        assert res.row[col] == 0
    # the wrappers are gone afterwards
    comps = tiny_cache.get("fp32")
    assert "forward" not in vars(comps["unet"]) and "decode" not in vars(comps["vae"])

    out = tmp_path / "rows.csv"
    m.write_rows(out, [res.row])
    text = out.read_text()
    assert text.splitlines()[0] == SD15_H100_HEADER
    cells = text.splitlines()[1].split(",")
    assert cells[:10] == ["img2img", "sdpa", "default", "none", "fp32", "64", "64", "1", "5.0", "8"]
    assert cells[10:] == ["0"] * 9
    assert m.read_rows(out) == [spec]


def test_txt2img_and_switches_row_format(tiny_cache):
    spec = m.RowSpec(task="txt2img", attention="classic", memory_option="attention_slicing+vae_tiling",
                     dtype="fp32", height=48, width=64, num_images_per_prompt=2, guidance_scale=1.0,
                     prompt_tokens=77)
    res = m.measure_row(spec, "cpu", tiny_cache, num_inference_steps=2)
    assert res.images == 2
    assert res.calls["text_encoder"] == 1  # no guidance: no negative prompt
    assert "vae_encode" not in res.calls
    cells = m.format_row(res.row)
    assert cells[m.COLUMNS.index("stage_vae_encode_peak")] == ""  # stage did not run: empty cell
    assert cells[m.COLUMNS.index("guidance_scale")] == "1.0"
    # the row's switches were undone for the next row
    comps = tiny_cache.get("fp32")
    assert not comps["vae"].use_tiling
    procs = {type(p).__name__ for p in comps["unet"].attn_processors.values()}
    assert procs == {"AttnProcessor2_0"}


def test_stage_recorder_nesting_folds_into_open_stages():
    class FakeMemory(m.NullMemory):
        def __init__(self):
            self.cur = self.peak = 0

        def allocated(self):
            return self.cur

        def max_allocated(self):
            return self.peak

        def max_reserved(self):
            return self.peak

        def reset_peak(self):
            self.peak = self.cur

        def set(self, v):
            self.cur = v
            self.peak = max(self.peak, v)

    mem = FakeMemory()
    rec = m.StageRecorder(mem)
    mem.set(100)
    assert rec.begin_call() == 100
    with rec.stage("vae_decode"):
        mem.set(500)
        mem.set(150)
        with rec.stage("unet_step"):
            mem.set(300)
            mem.set(120)
        mem.set(200)
    mem.set(100)
    with rec.stage("unet_step"):
        mem.set(400)
        mem.set(100)
    rec.end_call()
    assert rec.stage_peak == {"vae_decode": 500, "unet_step": 400}
    assert rec.call_peak_allocated == 500
    assert rec.calls == {"vae_decode": 1, "unet_step": 2}


def test_rowspec_validation_and_grid(tmp_path):
    with pytest.raises(ValueError):
        m.RowSpec(memory_option="vae_tiling+offload")
    with pytest.raises(ValueError):
        m.RowSpec(attention="xformers")
    grid = m.default_grid()
    assert len(grid) >= 40 and len(set(grid)) == len(grid)
    assert {"bf16", "fp32", "fp16"} <= {g.dtype for g in grid}
    assert any("+" in g.memory_option for g in grid)
    out = tmp_path / "grid.csv"
    assert m.main(["--grid", "--out", str(out), "--dry-run"]) == 0
    rows = list(csv.reader(out.open()))
    assert ",".join(rows[0]) == SD15_H100_HEADER
    assert len(rows) == len(grid) + 1 and all(cell == "" for cell in rows[1][10:])
    assert m.read_rows(out) == grid


def test_cli_without_cuda_exits_2(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    rows = tmp_path / "in.csv"
    m.write_rows(rows, [m.RowSpec().as_row()])
    assert m.main(["--rows", str(rows), "--out", str(tmp_path / "out.csv"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CUDA is not available" in err[0]
    assert not (tmp_path / "out.csv").exists()


def test_cli_reads_measured_csv_input_columns(tmp_path):
    src = tmp_path / "measured.csv"
    src.write_text(SD15_H100_HEADER + "\n" + "img2img,sdpa,default,none,fp16,256,256,1,5.0,77,1,2,3,4,5,6,7,8,9\n"
                   + "txt2img,sdpa,default,none,fp16,512,512,1,5.0,77,1,2,3,4,5,,7,8,9\n")
    specs = m.read_rows(src)
    assert specs == [m.RowSpec(height=256, width=256), m.RowSpec(task="txt2img")]
