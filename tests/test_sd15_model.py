"""The SD 1.5 closed-form model: its sums add up, its peaks are the Max of its stages, it grows where it should, and
the API validates its inputs.

Two grids: the full product of the discrete settings for the cheap symbolic checks, and a smaller grid (each
setting changed once from the default, plus combinations) for the checks that evaluate at random points through the
code the API runs (``evaluate.compiled``).
"""
from __future__ import annotations

import itertools
import random

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic import numeric
from symbolic.pipelines.sd15.api import STAGE_KEYS, estimate_sd15, make_config
from symbolic.pipelines.sd15.evaluate import compiled, evaluate
from symbolic.pipelines.sd15.model import SD15Model, sd15_model
from symbolic.terms import Category, Stage

try:
    from golden_util import isolated_cache  # noqa: F401  (module fixture: temporary SYMBOLIC_CACHE_DIR)
except ModuleNotFoundError:  # tests/ imported as a package
    from tests.golden_util import isolated_cache  # noqa: F401

SETTINGS = settings(max_examples=30, deadline=None)

KERNELS = [("sdpa", "default"), ("sdpa", "flash"), ("sdpa", "efficient"), ("sdpa", "math"), ("classic", "default")]
OPTION_SETS = [(), ("vae_slicing",), ("vae_tiling",), ("attention_slicing",),
               ("vae_slicing", "vae_tiling", "attention_slicing")]
FULL_GRID = [
    dict(task=task, attention=attention, sdpa_backend=backend, memory_options=options, dtype=dtype,
         safety_checker=safety)
    for task, (attention, backend), options, dtype, safety in itertools.product(
        ("img2img", "txt2img"), KERNELS, OPTION_SETS, ("fp16", "bf16", "fp32"), (True, False))
]


def config_id(kwargs: dict) -> str:
    return make_config(**kwargs).key().replace("|", "-")


#: Each setting changed once from the default (the measured table's configurations among them), and combinations.
EVAL_GRID = {
    "default": {},
    "classic": {"attention": "classic"},
    "math": {"sdpa_backend": "math"},
    "efficient": {"sdpa_backend": "efficient"},
    "flash": {"sdpa_backend": "flash"},
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
    "math-fp32-tiling-slicing": {"sdpa_backend": "math", "dtype": "fp32",
                                 "memory_options": ("vae_tiling", "vae_slicing")},
}


def random_points(kwargs: dict, count: int = 12, seed: int = 0) -> list[dict]:
    """Points across small, odd and large sizes (multiples of 8 for txt2img), the config's own b."""
    config = make_config(**kwargs)
    rng = random.Random(f"{seed}-{config.key()}")
    step = 8 if config.task == "txt2img" else 1
    points = []
    for _ in range(count):
        points.append({"H": rng.randrange(8, 2560, step), "W": rng.randrange(8, 2560, step), "N": rng.randint(1, 4),
                       "G": rng.randint(1, 2), "L": rng.randint(1, 300), "b": config.bytes_per_element})
    return points


def run(config, point: dict) -> dict[str, int]:
    """Every compiled output (the API's generated code) at a point."""
    arg_names, functions = compiled(config)
    args = [point.get(name, 1) for name in arg_names]
    return {name: fn(*args) for name, fn in functions.items()}


# --- symbolic checks over the full grid ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", FULL_GRID, ids=config_id)
def test_sums_of_terms(kwargs):
    config = make_config(**kwargs)
    model = SD15Model(config)
    stages = list(model.stages)
    assert (Stage.VAE_ENCODE in stages) == (config.task == "img2img")
    assert (Stage.SAFETY_CHECKER in stages) == config.safety_checker
    assert stages[0] is Stage.TEXT_ENCODER and Stage.UNET_STEP in stages and Stage.VAE_DECODE in stages
    for stage in stages:
        moments = model.moments(stage)
        assert moments, f"{stage.value} has no moment"
        for moment, total in moments.items():
            live = [t.expr for t in model.terms if t.stage == stage and moment in t.moments]
            assert sp.expand(sp.Add(*live) - total) == 0, (stage.value, moment)
    assert set(model.stage_peaks) == set(stages)
    weights = [t.expr for t in model.terms if t.category == Category.WEIGHTS]
    assert sp.expand(model.weights - sp.Add(*weights)) == 0
    resident = [t.expr for t in model.terms if t.stage == Stage.RESIDENT]
    assert sp.expand(model.resident - sp.Add(*resident)) == 0
    assert all(t.stage == Stage.RESIDENT for t in model.terms if t.category == Category.WEIGHTS)


# --- evaluated checks ----------------------------------------------------------------------------------------------

EVAL_PARAMS = [pytest.param(kwargs, id=name) for name, kwargs in EVAL_GRID.items()]


@pytest.mark.parametrize("kwargs", EVAL_PARAMS)
def test_stage_peaks_and_peak_at_random_points(kwargs):
    """stage peak = resident + max over its moments; peak_allocated = max over stage peaks (exact ints);
    reserved >= allocated; nvidia-smi = reserved + context + driver extra; weights = sum of the weights terms."""
    config = make_config(**kwargs)
    model = sd15_model(config)
    framework = config.framework
    for point in random_points(kwargs):
        out = run(config, point)
        resident = numeric.exact(model.resident, **point)
        stage_values = []
        for stage in model.stages:
            moments = [numeric.exact(expr, **point) for expr in model.moments(stage).values()]
            value = out[f"stage:{stage.value}"]
            assert type(value) is int
            assert value == resident + max(moments), (stage.value, point)
            stage_values.append(value)
        assert type(out["peak_allocated_bytes"]) is int
        assert out["peak_allocated_bytes"] == max(stage_values), point
        assert out["peak_reserved_bytes"] >= out["peak_allocated_bytes"]
        assert out["nvidia_smi_bytes"] == (out["peak_reserved_bytes"] + framework.cuda_context_bytes
                                          + framework.driver_extra_bytes)
        weights = sum(numeric.exact(t.expr, **point) for t in model.terms if t.category == Category.WEIGHTS)
        assert out["weights_bytes"] == weights
        assert resident >= weights


@pytest.mark.parametrize("kwargs", EVAL_PARAMS)
def test_breakdown_rows_add_up_to_stage_peak(kwargs):
    """The breakdown a report shows for a stage: the terms live at its winning moment plus the resident terms; their
    rows add up to the stage peak, and the peak stage's to peak_allocated."""
    config = make_config(**kwargs)
    model = sd15_model(config)
    point = random_points(kwargs, count=1, seed=1)[0]
    out = run(config, point)
    resident_rows = [numeric.exact(t.expr, **point) for t in model.terms_of(Stage.RESIDENT)]
    totals = {}
    for stage in model.stages:
        moments = {m: numeric.exact(expr, **point) for m, expr in model.moments(stage).items()}
        winner = max(moments, key=moments.get)
        rows = [numeric.exact(t.expr, **point) for t in model.terms_of(stage) if winner in t.moments]
        assert all(row >= 0 for row in rows + resident_rows)
        totals[stage.value] = sum(rows) + sum(resident_rows)
        assert totals[stage.value] == out[f"stage:{stage.value}"], stage.value
    assert max(totals.values()) == out["peak_allocated_bytes"]


# --- monotonicity ---------------------------------------------------------------------------------------------------

MONOTONE_CONFIGS = ["default", "classic", "math", "vae_tiling", "vae_slicing", "attention_slicing",
                    "txt2img-classic-bf16-all_options-long-no_safety"]
OUTPUT_KEYS = ("peak_allocated_bytes", "peak_reserved_bytes", "nvidia_smi_bytes")


def flat(result: dict) -> dict:
    return dict({k: result[k] for k in OUTPUT_KEYS}, **result["stages"])


def pixels(base: int, step: int) -> st.SearchStrategy:
    return st.integers(1, 320).map(lambda k: 8 * k) if step == 8 else st.integers(base, 2560)


@pytest.mark.parametrize("name", MONOTONE_CONFIGS)
@SETTINGS
@given(data=st.data())
def test_peak_is_monotone_in_size_batch_and_guidance(name, data):
    config = make_config(**EVAL_GRID[name])
    step = 8 if config.task == "txt2img" else 1
    point = {"H": data.draw(pixels(8, step), "H"), "W": data.draw(pixels(8, step), "W"),
             "N": data.draw(st.integers(1, 6), "N"), "G": 1, "L": data.draw(st.integers(1, 300), "L"),
             "b": config.bytes_per_element}
    grown = dict(point, H=point["H"] + step * data.draw(st.integers(0, 64), "dH"),
                 W=point["W"] + step * data.draw(st.integers(0, 64), "dW"), N=point["N"] + data.draw(st.integers(0, 3), "dN"))
    base = flat(evaluate(config, point))
    for bigger in (grown, dict(point, G=2)):
        after = flat(evaluate(config, bigger))
        decreased = {k: (base[k], after[k]) for k in base if after[k] < base[k]}
        assert not decreased, f"{point} -> {bigger}: {decreased}"


@pytest.mark.parametrize("name", ["default", "classic", "vae_tiling"])
def test_guidance_scale_doubles_the_unet_batch(name):
    """guidance_scale > 1 runs the UNet on 2 N; 1.0 (diffusers: > 1 is needed) and 0 do not."""
    kwargs = EVAL_GRID[name]
    without = estimate_sd15(1024, 768, guidance_scale=1.0, **kwargs)
    assert estimate_sd15(1024, 768, guidance_scale=0, **kwargs) == without
    with_cfg = estimate_sd15(1024, 768, guidance_scale=1.01, **kwargs)
    assert with_cfg == estimate_sd15(1024, 768, guidance_scale=7.5, **kwargs)
    assert with_cfg["stages"]["unet_step"] > without["stages"]["unet_step"]


# --- prompts ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tokens", [1, 8, 75, 76, 78, 500])
@pytest.mark.parametrize("name", ["default", "classic", "txt2img", "math"])
def test_prompt_is_padded_to_77_tokens(name, tokens):
    """diffusers pads (and truncates) every prompt to 77 tokens: the 8-token and 77-token rows are identical."""
    kwargs = EVAL_GRID[name]
    assert estimate_sd15(768, 512, prompt_tokens=tokens, **kwargs) == estimate_sd15(768, 512, prompt_tokens=77, **kwargs)


@pytest.mark.parametrize("name", ["long_prompt", "txt2img-classic-bf16-all_options-long-no_safety"])
def test_long_prompt_grows_in_chunks_of_75(name):
    kwargs = EVAL_GRID[name]
    short = dict(kwargs, long_prompt=False)

    def at(tokens):
        return estimate_sd15(256, 256, prompt_tokens=tokens, **kwargs)

    # Up to 75 tokens one chunk: the same as plain truncation.
    assert at(1) == at(75) == estimate_sd15(256, 256, prompt_tokens=75, **short)
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
    assert estimate_sd15(*size, **kwargs) == estimate_sd15(*rounded, **kwargs)


@pytest.mark.parametrize("size", [(516, 512), (512, 700), (9, 512), (1023, 1023)])
def test_txt2img_refuses_non_multiples_of_8(size):
    with pytest.raises(ValueError, match="multiples of 8"):
        estimate_sd15(*size, task="txt2img")


@pytest.mark.parametrize("name", ["default", "txt2img", "no_safety"])
def test_result_shape(name):
    kwargs = EVAL_GRID[name]
    config = make_config(**kwargs)
    result = estimate_sd15(**kwargs)
    expected_stages = [s for s in STAGE_KEYS if s != "vae_encode" or config.task == "img2img"]
    if not config.safety_checker:
        expected_stages.remove("safety_checker")
    assert list(result["stages"]) == expected_stages
    for key in ("peak_allocated_bytes", "peak_reserved_bytes", "nvidia_smi_bytes", "weights_bytes"):
        assert type(result[key]) is int and result[key] > 0
    assert result["peak_stage"] in result["stages"]
    assert result["stages"][result["peak_stage"]] == result["peak_allocated_bytes"]


# --- bad inputs ----------------------------------------------------------------------------------------------------

BAD_INPUTS = [
    ({"height": True}, "height"),
    ({"height": 0}, "height"),
    ({"height": -512}, "height"),
    ({"height": 512.0}, "height"),
    ({"height": "512"}, "height"),
    ({"height": 4}, "height"),
    ({"width": 4.5}, "width"),
    ({"width": None}, "width"),
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
    ({"dtype": None}, "dtype"),
    ({"task": "inpaint"}, "task"),
    ({"attention": "flash"}, "attention"),
    ({"sdpa_backend": "cudnn"}, "sdpa_backend"),
    ({"memory_options": ("bogus",)}, "memory_option"),
    ({"memory_options": "bogus"}, "memory_option"),
    ({"memory_options": ("vae_slicing", "cpu_offload")}, "memory_option"),
    ({"safety_checker": "yes"}, "safety_checker"),
    ({"long_prompt": 1}, "long_prompt"),
]


BAD_INPUTS += [
    ({"memory_options": None}, "memory_options"),
    ({"memory_options": 5}, "memory_options"),
    ({"framework": "x"}, "framework"),
]


def bad_input_id(case) -> str:
    kwargs = case.values[0] if hasattr(case, "values") else case[0]
    return ",".join(f"{k}={v!r}" for k, v in kwargs.items())


@pytest.mark.parametrize("kwargs, argument", BAD_INPUTS, ids=[bad_input_id(c) for c in BAD_INPUTS])
def test_bad_input_names_the_argument(kwargs, argument):
    with pytest.raises(ValueError) as info:
        estimate_sd15(**kwargs)
    message = str(info.value)
    assert message.split(":")[0].split(",")[0].strip().rstrip("s") == argument.rstrip("s"), message
    assert "\n" not in message


@pytest.mark.parametrize("alias, canonical", [("float16", "fp16"), ("FP16", "fp16"), ("bfloat16", "bf16"),
                                              ("torch.float32", "fp32")])
def test_dtype_aliases(alias, canonical):
    assert estimate_sd15(dtype=alias) == estimate_sd15(dtype=canonical)
