"""SD 1.5 through the generic pipeline path (``symbolic.pipelines.api``, the StableDiffusionPipeline spec and the
bundled Hub configs): its sums add up, its peaks are the Max of its stages, it grows where it should, the measured H100
rows lie within the tight bars, and the API (``estimate("sd15", ...)`` and its wrapper ``estimate_sd15``) validates
its inputs.

Two grids: the product of the discrete settings for the cheap symbolic checks (the dtype and the long-prompt switch
cycled through it, so every value appears in many configurations), and a smaller grid (each setting changed once from
the default, plus combinations) for the checks that evaluate at random points through the code the API runs
(``compiled``, the generated exact code cached on disk).
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import random
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.core.evaluate import printers
from symbolic.core.evaluate.runtime import positional
from symbolic.pipelines.api import (cached_entry, estimate, estimate_sd15, evaluate, make_config, pipeline_model,
                                         values_of)
from symbolic.core.terms import Category, Stage


SETTINGS = settings(max_examples=30, deadline=None)
MEASURED = Path(__file__).resolve().parents[2] / "data" / "measurements" / "sd15_h100.csv"
#: The hand-built SD 1.5 model's stage peaks at 60 random points, recorded before it was deleted (the file says how).
HAND_BUILT = Path(__file__).resolve().parent / "data_sd15_handbuilt.json"
#: StableDiffusionPipeline's stages in call order (img2img adds the VAE encode, the safety checker is optional).
STAGE_KEYS = ("text_encoder", "vae_encode", "unet_step", "vae_decode", "safety_checker")
#: SD 1.5's VAE: 8x spatial compression, 4 latent channels (configs/hub/.../vae/config.json: 4 block_out_channels,
#: latent_channels 4).
VAE_SCALE, LATENT_CHANNELS = 8, 4

#: (attention, attention_backend): the three kernels the generic path tells apart (fused SDPA, math SDPA, classic).
KERNELS = [("sdpa", "default"), ("sdpa", "math"), ("classic", "default")]
OPTION_SETS = [(), ("vae_slicing",), ("vae_tiling",), ("attention_slicing",),
               ("vae_slicing", "vae_tiling", "attention_slicing")]
DTYPES = ("fp16", "bf16", "fp32")
FULL_GRID = [
    dict(task=task, attention=attention, attention_backend=backend, memory_options=options, dtype=dtype,
         safety_checker=safety, long_prompt=long)
    for (task, (attention, backend), options, safety), dtype, long in zip(
        itertools.product(("img2img", "txt2img"), KERNELS, OPTION_SETS, (True, False)),
        itertools.cycle(DTYPES), itertools.cycle((False, True, False, False, True)))
]


def config_id(kwargs: dict) -> str:
    options = "+".join(kwargs["memory_options"]) or "none"
    return (f"{kwargs['task']}-{kwargs['attention']}-{kwargs['attention_backend']}-{options}-{kwargs['dtype']}"
            f"{'' if kwargs['safety_checker'] else '-no_safety'}{'-long' if kwargs['long_prompt'] else ''}")


#: Each setting changed once from the default (the measured table's configurations among them), and combinations.
#: Names are ``make_config``'s; the default task is img2img here (the measured rows' and ``estimate_sd15``'s).
EVAL_GRID = {
    "default": {},
    "classic": {"attention": "classic"},
    "math": {"attention_backend": "math"},
    "txt2img": {"task": "txt2img"},
    "vae_slicing": {"memory_options": ("vae_slicing",)},
    "vae_tiling": {"memory_options": ("vae_tiling",)},
    "attention_slicing": {"memory_options": ("attention_slicing",)},
    "fp32": {"dtype": "fp32"},
    "bf16": {"dtype": "bf16"},
    "no_safety": {"safety_checker": False},
    "long_prompt": {"long_prompt": True},
    "txt2img-classic-bf16-all_options-long-no_safety": {
        "task": "txt2img", "attention": "classic", "dtype": "bf16", "safety_checker": False, "long_prompt": True,
        "memory_options": ("vae_slicing", "vae_tiling", "attention_slicing")},
    "math-fp32-tiling-slicing": {"attention_backend": "math", "dtype": "fp32",
                                 "memory_options": ("vae_tiling", "vae_slicing")},
}
SD15_DEFAULTS = {"task": "img2img", "dtype": "fp16"}


def config_of(kwargs: dict):
    return make_config("sd15", **dict(SD15_DEFAULTS, **kwargs))


def model_of(kwargs: dict):
    return pipeline_model("sd15", **dict(SD15_DEFAULTS, **kwargs))


def api(height: int = 512, width: int = 512, **kwargs) -> dict:
    """``estimate("sd15", ...)`` at the measured rows' defaults (img2img, fp16, guidance 7.5)."""
    return estimate("sd15", height, width, **{**SD15_DEFAULTS, "guidance_scale": 7.5, **kwargs})


def random_points(kwargs: dict, count: int = 12, seed: int = 0) -> list[dict]:
    """Points across small, odd and large sizes (multiples of 8 for txt2img), the config's own b."""
    config = config_of(kwargs)
    rng = random.Random(f"{seed}-{sorted(kwargs.items())}")
    step = VAE_SCALE if config.task == "txt2img" else 1
    return [{"H": rng.randrange(8, 2560, step), "W": rng.randrange(8, 2560, step), "B": rng.randint(1, 4),
             "G": rng.randint(1, 2), "L": rng.randint(1, 300), "b": config.b_value} for _ in range(count)]


def run(config, point: dict) -> dict:
    """Every compiled output (the API's generated code) at a point."""
    entry, functions = cached_entry(config)
    args = positional(entry["args"], point)
    return {name: fn(*args) for name, fn in functions.items()}


# --- symbolic checks over the full grid ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", FULL_GRID, ids=config_id)
def test_sums_of_terms(kwargs):
    config = config_of(kwargs)
    model = pipeline_model("sd15", **kwargs)
    stages = list(model.stages)
    assert stages == [s for s in STAGE_KEYS if (s != "vae_encode" or config.task == "img2img")
                      and (s != "safety_checker" or config.safety_checker)]
    for stage in stages:
        moments = model.moments(stage)
        assert moments, f"{stage} has no moment"
        for moment, total in moments.items():
            live = [t.expr for t in model.terms if t.stage == stage and moment in t.moments]
            assert sp.expand(sp.Add(*live) - total) == 0, (stage, moment)
    assert set(model.stage_peaks) == set(stages)
    weights = [t.expr for t in model.terms if t.category == Category.WEIGHTS]
    assert sp.expand(model.weights - sp.Add(*weights)) == 0
    assert sp.expand(model.weights - sp.Add(*model.component_weights.values())) == 0
    assert set(model.component_weights) == set(config.roles)
    resident = [t.expr for t in model.terms if t.stage == Stage.RESIDENT]
    assert sp.expand(model.resident - sp.Add(*resident)) == 0
    # No offload switch in the grid: every weight is loaded once and stays.
    assert all(t.stage == Stage.RESIDENT for t in model.terms if t.category == Category.WEIGHTS)
    for stage in stages:
        assert sp.expand(model.stage_weights[stage] + model.stage_activations[stage] - model.stage_peaks[stage]) == 0


@pytest.mark.parametrize("backend", ["flash", "efficient"])
@pytest.mark.parametrize("task", ["img2img", "txt2img"])
def test_fused_sdpa_backends_are_one_configuration(task, backend):
    """Flash and memory-efficient SDPA store the same (no N x N scores): forcing either is torch's default choice."""
    assert make_config("sd15", task=task, attention_backend=backend) == make_config("sd15", task=task)


# --- evaluated checks ----------------------------------------------------------------------------------------------

EVAL_PARAMS = [pytest.param(kwargs, id=name) for name, kwargs in EVAL_GRID.items()]


@pytest.mark.parametrize("kwargs", EVAL_PARAMS)
def test_stage_peaks_and_peak_at_random_points(kwargs):
    """stage peak = resident + max over its moments; peak_allocated = max over stage peaks (exact ints);
    reserved >= allocated; nvidia-smi = reserved + context + driver extra; weights = sum of the weights terms =
    sum of the components; a stage's activations = its peak minus its resident weights."""
    config = config_of(kwargs)
    model = model_of(kwargs)
    framework = config.framework
    for point in random_points(kwargs):
        out = run(config, point)
        resident = printers.exact(model.resident, **point)
        stage_values = []
        for stage in model.stages:
            moments = [printers.exact(expr, **point) for expr in model.moments(stage).values()]
            value = out[f"stage:{stage}"]
            assert type(value) is int
            assert value == resident + max(moments), (stage, point)
            assert out[f"activation:{stage}"] == value - printers.exact(model.stage_weights[stage], **point)
            stage_values.append(value)
        assert type(out["peak_allocated_bytes"]) is int
        assert out["peak_allocated_bytes"] == max(stage_values), point
        assert out["peak_reserved_bytes"] >= out["peak_allocated_bytes"]
        assert out["nvidia_smi_bytes"] == (out["peak_reserved_bytes"] + framework.cuda_context_bytes
                                          + framework.driver_extra_bytes)
        weights = sum(printers.exact(t.expr, **point) for t in model.terms if t.category == Category.WEIGHTS)
        assert out["weights_bytes"] == weights == sum(out[f"component:{role}"] for role in config.roles)
        assert resident >= weights


@pytest.mark.parametrize("kwargs", EVAL_PARAMS)
def test_breakdown_rows_add_up_to_stage_peak(kwargs):
    """The breakdown a report shows for a stage: the terms live at its winning moment plus the resident terms; their
    rows add up to the stage peak, and the peak stage's to peak_allocated."""
    config = config_of(kwargs)
    model = model_of(kwargs)
    point = random_points(kwargs, count=1, seed=1)[0]
    out = run(config, point)
    resident_rows = [printers.exact(t.expr, **point) for t in model.terms_of(Stage.RESIDENT)]
    totals = {}
    for stage in model.stages:
        moments = {m: printers.exact(expr, **point) for m, expr in model.moments(stage).items()}
        winner = max(moments, key=moments.get)
        rows = [printers.exact(t.expr, **point) for t in model.terms_of(stage) if winner in t.moments]
        assert all(row >= 0 for row in rows + resident_rows)
        totals[stage] = sum(rows) + sum(resident_rows)
        assert totals[stage] == out[f"stage:{stage}"], stage
    assert max(totals.values()) == out["peak_allocated_bytes"]


# --- monotonicity ---------------------------------------------------------------------------------------------------

MONOTONE_CONFIGS = ["default", "classic", "math", "vae_tiling", "vae_slicing", "attention_slicing",
                    "txt2img-classic-bf16-all_options-long-no_safety"]
OUTPUT_KEYS = ("peak_allocated_bytes", "peak_reserved_bytes", "nvidia_smi_bytes", "min_gpu_memory_bytes")


def flat(result: dict) -> dict:
    return dict({k: result[k] for k in OUTPUT_KEYS}, **result["stages"])


def pixels(base: int, step: int) -> st.SearchStrategy:
    return st.integers(1, 320).map(lambda k: step * k) if step > 1 else st.integers(base, 2560)


@pytest.mark.parametrize("name", MONOTONE_CONFIGS)
@SETTINGS
@given(data=st.data())
def test_peak_is_monotone_in_size_batch_and_guidance(name, data):
    config = config_of(EVAL_GRID[name])
    step = VAE_SCALE if config.task == "txt2img" else 1
    point = {"H": data.draw(pixels(8, step), "H"), "W": data.draw(pixels(8, step), "W"),
             "B": data.draw(st.integers(1, 6), "B"), "G": 1, "L": data.draw(st.integers(1, 300), "L"),
             "b": config.b_value}
    grown = dict(point, H=point["H"] + step * data.draw(st.integers(0, 64), "dH"),
                 W=point["W"] + step * data.draw(st.integers(0, 64), "dW"),
                 B=point["B"] + data.draw(st.integers(0, 3), "dB"), L=point["L"] + data.draw(st.integers(0, 200), "dL"))
    base = flat(evaluate(config, point))
    for bigger in (grown, dict(point, G=2)):
        after = flat(evaluate(config, bigger))
        decreased = {k: (base[k], after[k]) for k in base if after[k] < base[k]}
        assert not decreased, f"{point} -> {bigger}: {decreased}"


@pytest.mark.parametrize("name", ["default", "classic", "vae_tiling"])
def test_guidance_scale_doubles_the_unet_batch(name):
    """guidance_scale > 1 runs the UNet on 2 B; 1.0 (diffusers: > 1 is needed) and 0 do not."""
    kwargs = EVAL_GRID[name]
    without = api(1024, 768, **dict(kwargs, guidance_scale=1.0))
    assert api(1024, 768, **dict(kwargs, guidance_scale=0)) == without
    with_cfg = api(1024, 768, **dict(kwargs, guidance_scale=1.01))
    assert with_cfg == api(1024, 768, **kwargs)
    assert with_cfg["stages"]["unet_step"] > without["stages"]["unet_step"]
    # The UNet's own activations at least double with the batch: more than the text-embedding inputs it adds.
    assert with_cfg["stage_activation_bytes"]["unet_step"] > without["stage_activation_bytes"]["unet_step"]


# --- prompts ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tokens", [1, 8, 75, 76, 78, 500])
@pytest.mark.parametrize("name", ["default", "classic", "txt2img", "math"])
def test_prompt_is_padded_to_77_tokens(name, tokens):
    """diffusers pads (and truncates) every prompt to 77 tokens: the 8-token and 77-token rows are identical."""
    kwargs = EVAL_GRID[name]
    assert api(768, 512, prompt_tokens=tokens, **kwargs) == api(768, 512, prompt_tokens=77, **kwargs)


@pytest.mark.parametrize("name", ["long_prompt", "txt2img-classic-bf16-all_options-long-no_safety"])
def test_long_prompt_grows_in_chunks_of_75(name):
    kwargs = EVAL_GRID[name]
    short = dict(kwargs, long_prompt=False)

    def at(tokens):
        return api(256, 256, prompt_tokens=tokens, **kwargs)

    # Up to 75 tokens one chunk: the same as plain truncation.
    assert at(1) == at(75) == api(256, 256, prompt_tokens=75, **short)
    chunks = [(75 * k + 1, 75 * (k + 1)) for k in range(4)]
    previous = None
    for first, last in chunks:
        lo, hi = at(first), at(last)
        assert lo == hi, f"{first}..{last} tokens are one chunk count"
        if previous is not None:
            for stage in ("text_encoder", "unet_step"):
                assert lo["stages"][stage] > previous["stages"][stage], (stage, first)
            assert lo["peak_allocated_bytes"] >= previous["peak_allocated_bytes"]
        previous = lo


# --- sizes ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size, rounded", [((517, 703), (512, 696)), ((500, 700), (496, 696)), ((1023, 9), (1016, 8)),
                                           ((15, 1031), (8, 1024))])
@pytest.mark.parametrize("name", ["default", "vae_tiling", "classic"])
def test_img2img_rounds_sizes_down_to_multiples_of_8(name, size, rounded):
    kwargs = EVAL_GRID[name]
    assert api(*size, **kwargs) == api(*rounded, **kwargs)


@pytest.mark.parametrize("size", [(516, 512), (512, 700), (9, 512), (1023, 1023)])
def test_txt2img_refuses_non_multiples_of_8(size):
    with pytest.raises(ValueError, match="multiple of 8"):
        estimate_sd15(*size, task="txt2img")
    with pytest.raises(ValueError, match="multiple of 8"):
        estimate("sd15", *size, task="txt2img")


@pytest.mark.parametrize("name", ["default", "txt2img", "no_safety"])
@pytest.mark.parametrize("size", [(512, 512), (1024, 640), (520, 904)])
def test_result_shape(name, size):
    kwargs = EVAL_GRID[name]
    config = config_of(kwargs)
    result = api(*size, **kwargs)
    expected_stages = [s for s in STAGE_KEYS if (s != "vae_encode" or config.task == "img2img")
                       and (s != "safety_checker" or config.safety_checker)]
    assert list(result["stages"]) == list(result["stage_activation_bytes"]) == expected_stages
    for key in ("peak_allocated_bytes", "peak_reserved_bytes", "nvidia_smi_bytes", "weights_bytes",
                "min_gpu_memory_bytes"):
        assert type(result[key]) is int and result[key] > 0
    assert result["peak_stage"] in result["stages"]
    assert result["stages"][result["peak_stage"]] == result["peak_allocated_bytes"]
    height, width = size
    assert result["latent_shape"] == (1, LATENT_CHANNELS, height // VAE_SCALE, width // VAE_SCALE)
    assert result["tokens"] == (height // VAE_SCALE) * (width // VAE_SCALE)  # the UNet's first self-attention
    assert (result["model"], result["pipeline"], result["task"]) == ("sd15", "StableDiffusionPipeline", config.task)


def test_defaults():
    """``estimate_sd15()``: the measured rows' img2img 512 x 512 fp16 at guidance 7.5; ``estimate("sd15")``: the
    generic defaults (txt2img, the model card's fp16, the UNet's sample_size 64 x 8 = 512 px, guidance 7.5)."""
    assert estimate_sd15() == api()
    assert estimate("sd15") == api(task="txt2img")
    config = make_config("sd15")
    assert values_of(config, None, None, None, 1, None, 1) == {"H": 512, "W": 512, "B": 1, "P": 1, "G": 2, "b": 2,
                                                               "L": 77}
    assert estimate_sd15(width=None) == estimate_sd15(dtype=None) == estimate_sd15()


# --- the measured rows -----------------------------------------------------------------------------------------------

def _measured_rows() -> list[dict]:
    with MEASURED.open(newline="") as handle:
        return list(csv.DictReader(handle))


#: Tighter than tests/measurements/test_measured_accuracy.py's 5% (the acceptance bars): the bars the hand-built model met before SD 1.5
#: moved onto the generic path, kept so the generic path does not drift back from it.
PEAK_BAR, STAGE_BAR = 0.01, 0.02


@pytest.mark.parametrize("row", _measured_rows(), ids=lambda r: f"{r['task']}-{r['height']}x{r['width']}-"
                         f"{r['num_images_per_prompt']}-{r['attention']}-{r['sdpa_backend']}-{r['memory_option']}-"
                         f"{r['dtype']}")
def test_measured_rows_within_the_tight_bars(row):
    """Peak allocated within 1% and every measured stage within 2% of the H100, through both spellings of the API."""
    options = () if row["memory_option"] == "none" else (row["memory_option"],)
    ours = estimate("sd15", int(row["height"]), int(row["width"]), batch=int(row["num_images_per_prompt"]),
                    guidance_scale=float(row["guidance_scale"]), task=row["task"], memory_options=options,
                    attention=row["attention"], attention_backend=row["sdpa_backend"], dtype=row["dtype"],
                    prompt_tokens=int(row["prompt_tokens"]))
    assert ours == estimate_sd15(int(row["height"]), int(row["width"]), task=row["task"],
                                 num_images_per_prompt=int(row["num_images_per_prompt"]),
                                 guidance_scale=float(row["guidance_scale"]), prompt_tokens=int(row["prompt_tokens"]),
                                 attention=row["attention"], sdpa_backend=row["sdpa_backend"], dtype=row["dtype"],
                                 memory_options=options)
    measured = int(row["peak_allocated_bytes"])
    assert abs(ours["peak_allocated_bytes"] - measured) <= PEAK_BAR * measured
    measured_stages = {s for s in STAGE_KEYS if row[f"stage_{s}_peak"]}
    assert set(ours["stages"]) == measured_stages
    for stage, value in ours["stages"].items():
        cell = int(row[f"stage_{stage}_peak"])
        assert abs(value - cell) <= STAGE_BAR * cell, stage


# --- the hand-built model it replaced ---------------------------------------------------------------------------------

#: CLIP ViT-L/14's width and the 77 padded tokens of one prompt chunk (configs/hub/.../text_encoder/config.json:
#: hidden_size 768, max_position_embeddings 77); 75 prompt tokens per chunk of a long prompt (77 minus bos and eos).
CLIP_WIDTH, CHUNK_TOKENS, CHUNK_PROMPT_TOKENS = 768, 77, 75


def kept_negative_embeds(args: dict) -> int:
    """``StableDiffusionPipeline.__call__`` rebinds ``prompt_embeds = torch.cat([negative_prompt_embeds,
    prompt_embeds])`` while ``negative_prompt_embeds`` stays bound: one more B x 77 x 768 tensor per chunk through the
    denoising loop than the hand-built model's ``unet_step_inputs`` held (118 KB per image in fp16)."""
    chunks = math.ceil(args["prompt_tokens"] / CHUNK_PROMPT_TOKENS) if args["long_prompt"] else 1
    b = 4 if args["dtype"] == "fp32" else 2
    return (args["guidance_scale"] > 1) * args["num_images_per_prompt"] * CHUNK_TOKENS * chunks * CLIP_WIDTH * b


def _hand_built_rows() -> list[dict]:
    return json.loads(HAND_BUILT.read_text())["rows"]


@pytest.mark.parametrize("row", _hand_built_rows(), ids=lambda r: "-".join(
    str("+".join(v) or "none") if isinstance(v, list) else str(v) for v in r["args"].values()))
def test_every_stage_equals_the_hand_built_model(row):
    """The generic path against the hand-built model the H100 rows validated (its values recorded before it was
    deleted): every stage equal, but for the kept negative embeddings read off the pipeline's code, accounted for
    exactly; the same weights. From 256 px: below it the UNet's cross-attention over the 77 text tokens can be the
    step's peak, where the component also counts the fused kernel's output and log-sum-exp that the hand-built
    cross-attention term left out (tests/components/test_unet_2d_condition.py matches them to the meta trace)."""
    args = dict(row["args"], memory_options=tuple(row["args"]["memory_options"]))
    ours = estimate_sd15(**args)
    extra = kept_negative_embeds(args)
    assert ours["stages"] == {stage: value + (extra if stage == "unet_step" else 0)
                              for stage, value in row["stages"].items()}
    assert ours["weights_bytes"] == row["weights_bytes"]


# --- bad inputs ----------------------------------------------------------------------------------------------------

#: ``estimate_sd15``'s own argument names (``num_images_per_prompt``, ``sdpa_backend``) are the ones its errors name.
BAD_INPUTS = [
    ({"height": True}, "height"),
    ({"height": 0}, "height"),
    ({"height": -512}, "height"),
    ({"height": 512.0}, "height"),
    ({"height": "512"}, "height"),
    ({"width": 4.5}, "width"),
    ({"num_images_per_prompt": 0}, "num_images_per_prompt"),
    ({"num_images_per_prompt": False}, "num_images_per_prompt"),
    ({"num_images_per_prompt": 1.5}, "num_images_per_prompt"),
    ({"prompt_tokens": 0}, "prompt_tokens"),
    ({"prompt_tokens": 7.0}, "prompt_tokens"),
    ({"guidance_scale": -1.0}, "guidance_scale"),
    ({"guidance_scale": float("nan")}, "guidance_scale"),
    ({"guidance_scale": True}, "guidance_scale"),
    ({"guidance_scale": "7.5"}, "guidance_scale"),
    ({"dtype": "fp64"}, "dtype"),
    ({"dtype": "fp8"}, "dtype"),
    ({"task": "inpaint"}, "task"),
    ({"attention": "flash"}, "attention"),
    ({"sdpa_backend": "cudnn"}, "sdpa_backend"),
    ({"memory_options": ("bogus",)}, "memory_option"),
    ({"memory_options": "bogus"}, "memory_option"),
    ({"memory_options": ("model_cpu_offload", "sequential_cpu_offload")}, "memory_option"),
    ({"memory_options": 5}, "memory_options"),
    ({"safety_checker": "yes"}, "safety_checker"),
    ({"long_prompt": 1}, "long_prompt"),
    ({"framework": "x"}, "framework"),
    ({"height": 4}, "height"),  # img2img: VaeImageProcessor rounds it down to 0 px
    ({"width": 7, "task": "img2img"}, "width"),
]


def bad_input_id(case) -> str:
    kwargs = case.values[0] if hasattr(case, "values") else case[0]
    return ",".join(f"{k}={v!r}" for k, v in kwargs.items())


def assert_names(info, argument: str) -> None:
    message = str(info.value)
    assert message.split(":")[0].split(",")[0].strip().rstrip("s") == argument.rstrip("s"), message
    assert "\n" not in message


@pytest.mark.parametrize("kwargs, argument", BAD_INPUTS, ids=[bad_input_id(c) for c in BAD_INPUTS])
def test_bad_input_names_the_argument(kwargs, argument):
    with pytest.raises(ValueError) as info:
        estimate_sd15(**kwargs)
    assert_names(info, argument)


#: The same mistakes through ``estimate("sd15", ...)``, whose errors name its own arguments.
GENERIC_BAD_INPUTS = [({"batch": 0}, "batch"), ({"attention_backend": "cudnn"}, "attention_backend"),
                      ({"frames": 16}, "frames"), ({"devices": 2}, "parallel"), ({"parallel": "pipeline"}, "parallel"),
                      ({"height": 500, "task": "txt2img"}, "height"), ({"quantize": {"unet": "bogus"}}, "quantize"),
                      ({"quantize": {"transformer": "bnb_nf4"}}, "quantize")]


@pytest.mark.parametrize("kwargs, argument", GENERIC_BAD_INPUTS, ids=[bad_input_id(c) for c in GENERIC_BAD_INPUTS])
def test_generic_bad_input_names_the_argument(kwargs, argument):
    with pytest.raises(ValueError) as info:
        estimate("sd15", **kwargs)
    assert_names(info, argument)


@pytest.mark.parametrize("alias, canonical", [("float16", "fp16"), ("FP16", "fp16"), ("bfloat16", "bf16"),
                                              ("torch.float32", "fp32")])
def test_dtype_aliases(alias, canonical):
    assert estimate_sd15(dtype=alias) == estimate_sd15(dtype=canonical)
    assert estimate_sd15(dtype=alias)["dtype"] == canonical
