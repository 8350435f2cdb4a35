"""The video latent estimator: hand-computed cases, properties against plain integer arithmetic, presets, errors."""
from __future__ import annotations

import dataclasses
import json
import math
import re
from importlib import resources

import numpy as np
import pytest
from hub_configs import video_config
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.core.evaluate import printers
from symbolic.core.symbols import B, C_lat, H, T, W, b, p, p_t, s_sp, s_t
from symbolic.analysis import video_latent as latent
from symbolic.analysis.video_latent import estimate_video_latent_memory, estimate_video_latent_memory_preset
from symbolic.analysis.video_presets import PRESET_ALIASES, VIDEO_PRESETS, VideoModelPreset, get_preset

FIVE_KEYS = ("latent_shape", "num_elements", "memory_bytes", "memory_mb", "tokens_per_video")
BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1}
ARGS = ("num_frames", "height", "width", "latent_channels", "spatial_compression", "temporal_compression",
        "batch_size", "dtype", "patch_size")
SEED_EXAMPLE = dict(num_frames=49, height=480, width=720, latent_channels=16, spatial_compression=8,
                    temporal_compression=4)
PROPERTY = settings(deadline=None, max_examples=150)


def cdiv(a: int, b: int) -> int:
    """Ceiling division on plain integers (the independent witness)."""
    return -(-a // b)


def reference(num_frames, height, width, latent_channels, spatial_compression, temporal_compression,
              batch_size=1, dtype="fp16", patch_size=1, *, causal=False, patch_size_t=1) -> dict:
    """The expected result computed with Python integers only, no SymPy."""
    lt = 1 + cdiv(num_frames - 1, temporal_compression) if causal else cdiv(num_frames, temporal_compression)
    lh, lw = cdiv(height, spatial_compression), cdiv(width, spatial_compression)
    shape = (batch_size, latent_channels, lt, lh, lw)
    elements = math.prod(shape)
    memory = elements * BYTES[dtype]
    tokens = cdiv(lt, patch_size_t) * cdiv(lh, patch_size) * cdiv(lw, patch_size)
    return {"latent_shape": shape, "num_elements": elements, "memory_bytes": memory,
            "memory_mb": round(memory / 2**20, 4), "tokens_per_video": tokens}


# --- hand-computed cases -------------------------------------------------------------------------------------------

HAND_CASES = [
    # (kwargs, latent_shape, num_elements, memory_bytes, memory_mb, tokens_per_video)
    pytest.param(dict(SEED_EXAMPLE), (1, 16, 13, 60, 90), 1_123_200, 2_246_400, 2.1423, 70_200,
                 id="cogvideox-49x480x720: 49/4 -> 13"),
    pytest.param(dict(SEED_EXAMPLE, patch_size=2), (1, 16, 13, 60, 90), 1_123_200, 2_246_400, 2.1423, 17_550,
                 id="patch2: 13 x 30 x 45"),
    pytest.param(dict(SEED_EXAMPLE, height=481, patch_size=2), (1, 16, 13, 61, 90), 1_141_920, 2_283_840, 2.1780,
                 13 * 31 * 45, id="481/8 -> 61, patch 2 of 61 -> 31"),
    pytest.param(dict(SEED_EXAMPLE, height=488, width=360, patch_size=2), (1, 16, 13, 61, 45), 570_960, 1_141_920,
                 1.0890, 13 * 31 * 23, id="odd latent 61 x 45, patch 2 -> 31 x 23"),
    pytest.param(dict(num_frames=1, height=1, width=1, latent_channels=4, spatial_compression=8,
                      temporal_compression=4), (1, 4, 1, 1, 1), 4, 8, 0.0, 1, id="smaller than every factor"),
    pytest.param(dict(num_frames=16, height=256, width=256, latent_channels=4, spatial_compression=8,
                      temporal_compression=4, batch_size=3, dtype="fp32"), (3, 4, 4, 32, 32), 49_152, 196_608,
                 0.1875, 4_096, id="batch 3, fp32"),
    pytest.param(dict(num_frames=10, height=100, width=70, latent_channels=8, spatial_compression=8,
                      temporal_compression=3, patch_size=3), (1, 8, 4, 13, 9), 3_744, 7_488, 0.0071, 4 * 5 * 3,
                 id="10/3 -> 4, 100/8 -> 13, 70/8 -> 9, patch 3"),
    pytest.param(dict(num_frames=161, height=512, width=704, latent_channels=128, spatial_compression=32,
                      temporal_compression=8, dtype="bf16"), (1, 128, 21, 16, 22), 946_176, 1_892_352, 1.8047,
                 7_392, id="ltx-like 161/8 -> 21 (plain ceiling)"),
    pytest.param(dict(num_frames=7, height=9, width=17, latent_channels=1, spatial_compression=1,
                      temporal_compression=1, patch_size=4, dtype="fp8"), (1, 1, 7, 9, 17), 1_071, 1_071, 0.001,
                 7 * 3 * 5, id="no compression, patch 4 of 9 x 17"),
]


@pytest.mark.parametrize("kwargs, shape, elements, memory, mb, tokens", HAND_CASES)
def test_hand_computed(kwargs, shape, elements, memory, mb, tokens):
    result = estimate_video_latent_memory(**kwargs)
    assert result == {"latent_shape": shape, "num_elements": elements, "memory_bytes": memory, "memory_mb": mb,
                      "tokens_per_video": tokens}


def test_result_types_and_keys():
    result = estimate_video_latent_memory(**SEED_EXAMPLE)
    assert tuple(result) == FIVE_KEYS
    assert isinstance(result["latent_shape"], tuple)
    assert all(type(v) is int for v in result["latent_shape"])
    assert all(type(result[k]) is int for k in ("num_elements", "memory_bytes", "tokens_per_video"))
    assert type(result["memory_mb"]) is float


def test_positional_arguments_follow_the_seed_signature():
    assert estimate_video_latent_memory(49, 480, 720, 16, 8, 4, 2, "bf16", 2) == estimate_video_latent_memory(
        **SEED_EXAMPLE, batch_size=2, dtype="bf16", patch_size=2)


@pytest.mark.parametrize("dtype, nbytes", [
    ("fp32", 4), ("fp16", 2), ("bf16", 2), ("fp8", 1),
    ("FP32", 4), ("Fp16", 2), ("BF16", 2), ("FP8", 1), (" bf16 ", 2),
    ("float32", 4), ("float", 4), ("float16", 2), ("half", 2), ("bfloat16", 2), ("torch.bfloat16", 2),
    ("torch.float16", 2), ("float8_e4m3fn", 1), ("float8_e5m2", 1), ("e4m3", 1),
])
def test_every_dtype_and_alias(dtype, nbytes):
    result = estimate_video_latent_memory(**SEED_EXAMPLE, dtype=dtype)
    assert result["memory_bytes"] == 1_123_200 * nbytes
    assert result["memory_mb"] == round(1_123_200 * nbytes / 2**20, 4)


def test_numpy_integers_are_integers():
    args = {k: np.int64(v) for k, v in SEED_EXAMPLE.items()}
    result = estimate_video_latent_memory(**args)
    assert result == estimate_video_latent_memory(**SEED_EXAMPLE)
    assert all(type(v) is int for v in result["latent_shape"])


# --- properties ----------------------------------------------------------------------------------------------------

sizes = st.fixed_dictionaries({
    "num_frames": st.integers(1, 2_000),
    "height": st.integers(1, 8_192),
    "width": st.integers(1, 8_192),
    "latent_channels": st.integers(1, 256),
    "spatial_compression": st.integers(1, 64),
    "temporal_compression": st.integers(1, 16),
    "batch_size": st.integers(1, 64),
    "dtype": st.sampled_from(sorted(BYTES)),
    "patch_size": st.integers(1, 8),
})
huge = st.integers(1, 10**30)


@PROPERTY
@given(sizes)
def test_agrees_with_plain_integer_arithmetic(kwargs):
    assert estimate_video_latent_memory(**kwargs) == reference(**kwargs)


@PROPERTY
@given(st.fixed_dictionaries({name: huge for name in ARGS if name != "dtype"}), st.sampled_from(sorted(BYTES)))
def test_exact_at_any_size(kwargs, dtype):
    """Far beyond 2**53: the ceilings and products stay exact Python ints (no float anywhere)."""
    assert estimate_video_latent_memory(**kwargs, dtype=dtype) == reference(**kwargs, dtype=dtype)


@PROPERTY
@given(sizes)
def test_bytes_and_mib_identities(kwargs):
    result = estimate_video_latent_memory(**kwargs)
    assert result["num_elements"] == math.prod(result["latent_shape"])
    assert result["memory_bytes"] == result["num_elements"] * BYTES[kwargs["dtype"]]
    assert result["memory_mb"] == round(result["memory_bytes"] / 2**20, 4)
    assert result["latent_shape"][:2] == (kwargs["batch_size"], kwargs["latent_channels"])


SIZE_ARGUMENTS = ("num_frames", "height", "width", "latent_channels", "batch_size")
FACTOR_ARGUMENTS = ("spatial_compression", "temporal_compression", "patch_size")
MEASURES = ("num_elements", "memory_bytes", "tokens_per_video")


@pytest.mark.parametrize("argument", SIZE_ARGUMENTS)
@PROPERTY
@given(kwargs=sizes, step=st.integers(0, 1_000))
def test_non_decreasing_in_every_size(argument, kwargs, step):
    small = estimate_video_latent_memory(**kwargs)
    large = estimate_video_latent_memory(**{**kwargs, argument: kwargs[argument] + step})
    assert all(large[m] >= small[m] for m in MEASURES)
    assert all(x >= y for x, y in zip(large["latent_shape"], small["latent_shape"]))


@pytest.mark.parametrize("argument", FACTOR_ARGUMENTS)
@PROPERTY
@given(kwargs=sizes, step=st.integers(0, 64))
def test_non_increasing_in_every_factor(argument, kwargs, step):
    fine = estimate_video_latent_memory(**kwargs)
    coarse = estimate_video_latent_memory(**{**kwargs, argument: kwargs[argument] + step})
    assert all(coarse[m] <= fine[m] for m in MEASURES)


@settings(deadline=None, max_examples=30)
@given(sizes)
def test_sympy_expressions_give_the_result(kwargs):
    """The module-level expressions, substituted by SymPy itself and evaluated by printers.exact, give the result."""
    result = estimate_video_latent_memory(**kwargs)
    values = {"T": kwargs["num_frames"], "H": kwargs["height"], "W": kwargs["width"],
              "C_lat": kwargs["latent_channels"], "s_sp": kwargs["spatial_compression"],
              "s_t": kwargs["temporal_compression"], "B": kwargs["batch_size"], "b": BYTES[kwargs["dtype"]],
              "p": kwargs["patch_size"]}
    point = {T: values["T"], H: values["H"], W: values["W"], C_lat: values["C_lat"], s_sp: values["s_sp"],
             s_t: values["s_t"], B: values["B"], b: values["b"], p: values["p"]}
    expected = {latent.LATENT_T: result["latent_shape"][2], latent.LATENT_H: result["latent_shape"][3],
                latent.LATENT_W: result["latent_shape"][4], latent.LATENT_ELEMENTS: result["num_elements"],
                latent.LATENT_BYTES: result["memory_bytes"], latent.TOKENS: result["tokens_per_video"]}
    for expr, value in expected.items():
        assert expr.subs(point) == value
        assert printers.exact(expr, **values) == value


def test_vectorised_path_agrees_on_a_grid():
    frames = np.arange(1, 130)
    bytes_grid = printers.vector(latent.LATENT_BYTES, T=frames, H=480, W=720, C_lat=16, s_sp=8, s_t=4, B=1, b=2)
    expected = [estimate_video_latent_memory(int(f), 480, 720, 16, 8, 4)["memory_bytes"] for f in frames]
    assert np.array_equal(bytes_grid, expected)


def test_expressions_use_the_shared_symbols_and_ceilings():
    assert latent.LATENT_T.free_symbols == {T, s_t}
    assert latent.LATENT_H.free_symbols == {H, s_sp} and latent.LATENT_W.free_symbols == {W, s_sp}
    assert latent.LATENT_BYTES.free_symbols == {B, C_lat, T, s_t, H, W, s_sp, b}
    assert latent.TOKENS.free_symbols == {T, s_t, H, W, s_sp, p}
    assert latent.CAUSAL_TOKENS.free_symbols == {T, s_t, H, W, s_sp, p, p_t}
    for expr in (latent.LATENT_T, latent.LATENT_H, latent.TOKENS, latent.CAUSAL_LATENT_T):
        assert expr.has(sp.ceiling)
    assert latent.LATENT_BYTES == latent.LATENT_ELEMENTS * b


# --- bad input -----------------------------------------------------------------------------------------------------

INTEGER_ARGUMENTS = [a for a in ARGS if a != "dtype"]
BAD_INTEGERS = [True, False, 4.5, 8.0, 0, -1, -49, "8", None, [8], 1 + 0j]


@pytest.mark.parametrize("value", BAD_INTEGERS, ids=repr)
@pytest.mark.parametrize("argument", INTEGER_ARGUMENTS)
def test_bad_integer_names_the_argument(argument, value):
    kwargs = dict(SEED_EXAMPLE, batch_size=1, patch_size=1)
    kwargs[argument] = value
    with pytest.raises(ValueError, match=rf"^{argument}: must be an integer >= 1"):
        estimate_video_latent_memory(**kwargs)


@pytest.mark.parametrize("dtype", ["fp64", "int8", "", "float64", "fp 16", None, 2, True])
def test_unknown_dtype_lists_valid_names(dtype):
    with pytest.raises(ValueError, match=r"^dtype: unknown dtype") as info:
        estimate_video_latent_memory(**SEED_EXAMPLE, dtype=dtype)
    assert all(name in str(info.value) for name in BYTES)


# --- presets -------------------------------------------------------------------------------------------------------

PRESET_CASES = [
    # (preset, frames, height, width, latent_shape, tokens): each model's native setting
    ("cogvideox", 49, 480, 720, (1, 16, 13, 60, 90), 13 * 30 * 45),
    ("hunyuanvideo", 129, 720, 1280, (1, 16, 33, 90, 160), 33 * 45 * 80),
    ("wan2.1", 81, 480, 832, (1, 16, 21, 60, 104), 21 * 30 * 52),
    ("ltx-video", 161, 512, 704, (1, 128, 21, 16, 22), 21 * 16 * 22),
    ("mochi-1", 163, 480, 848, (1, 12, 28, 60, 106), 28 * 30 * 53),
]


def test_preset_table():
    assert tuple(VIDEO_PRESETS) == ("cogvideox", "hunyuanvideo", "wan2.1", "ltx-video", "mochi-1")
    for name, preset in VIDEO_PRESETS.items():
        assert isinstance(preset, VideoModelPreset) and preset.name == name == name.lower()
        with pytest.raises(dataclasses.FrozenInstanceError):
            preset.patch_size = 4  # type: ignore[misc]


@pytest.mark.parametrize("name, frames, height, width, shape, tokens", PRESET_CASES)
def test_preset_native_settings(name, frames, height, width, shape, tokens):
    result = estimate_video_latent_memory_preset(name, frames, height, width)
    assert result["latent_shape"] == shape
    assert result["tokens_per_video"] == tokens
    assert result["preset"] == name and result["causal"] is True
    assert tuple(result) == FIVE_KEYS + ("preset", "causal")
    assert result["memory_bytes"] == math.prod(shape) * 2


def test_causal_rule_examples():
    assert estimate_video_latent_memory_preset("cogvideox", 49, 480, 720)["latent_shape"][2] == 13
    assert estimate_video_latent_memory_preset("hunyuanvideo", 129, 720, 1280)["latent_shape"][2] == 33
    # frames not of the form k * s_t + 1: the causal ceiling keeps the partial group
    assert estimate_video_latent_memory_preset("cogvideox", 50, 480, 720)["latent_shape"][2] == 14
    assert estimate_video_latent_memory_preset("cogvideox", 50, 480, 720, causal=False)["latent_shape"][2] == 13
    # the seed function stays on the plain rule
    assert estimate_video_latent_memory(129, 720, 1280, 16, 8, 4)["latent_shape"][2] == 33
    assert estimate_video_latent_memory(130, 720, 1280, 16, 8, 4)["latent_shape"][2] == 33


@pytest.mark.parametrize("name", list(VIDEO_PRESETS))
def test_one_frame_is_one_latent_frame(name):
    assert estimate_video_latent_memory_preset(name, 1, 256, 256)["latent_shape"][2] == 1


@pytest.mark.parametrize("name", list(VIDEO_PRESETS))
@PROPERTY
@given(kwargs=st.fixed_dictionaries({"num_frames": st.integers(1, 1_000), "height": st.integers(1, 4_096),
                                     "width": st.integers(1, 4_096), "batch_size": st.integers(1, 16),
                                     "dtype": st.sampled_from(sorted(BYTES))}),
       patch_size_t=st.integers(1, 4))
def test_preset_agrees_with_plain_integer_arithmetic(name, kwargs, patch_size_t):
    preset = VIDEO_PRESETS[name]
    result = estimate_video_latent_memory_preset(name, **kwargs, patch_size_t=patch_size_t)
    expected = reference(**kwargs, latent_channels=preset.latent_channels,
                         spatial_compression=preset.spatial_compression,
                         temporal_compression=preset.temporal_compression, patch_size=preset.patch_size,
                         causal=preset.causal, patch_size_t=patch_size_t)
    assert {k: result[k] for k in FIVE_KEYS} == expected
    plain = estimate_video_latent_memory_preset(name, **kwargs, patch_size_t=patch_size_t, causal=False)
    assert result["latent_shape"][2] >= plain["latent_shape"][2]  # the causal first frame never loses a frame


def test_overrides():
    base = estimate_video_latent_memory_preset("hunyuanvideo", 129, 720, 1280)
    assert estimate_video_latent_memory_preset("hunyuanvideo", 129, 720, 1280, patch_size_t=2)[
        "tokens_per_video"] == 17 * 45 * 80
    wider = estimate_video_latent_memory_preset("hunyuanvideo", 129, 720, 1280, latent_channels=32)
    assert wider["latent_shape"][1] == 32 and wider["memory_bytes"] == 2 * base["memory_bytes"]
    finer = estimate_video_latent_memory_preset("hunyuanvideo", 129, 720, 1280, spatial_compression=16,
                                                temporal_compression=8, patch_size=1)
    assert finer["latent_shape"] == (1, 16, 17, 45, 80) and finer["tokens_per_video"] == 17 * 45 * 80
    assert estimate_video_latent_memory_preset("cogvideox", 49, 480, 720, batch_size=2, dtype="fp32")[
        "memory_bytes"] == 2 * 16 * 13 * 60 * 90 * 4


@pytest.mark.parametrize("spelling, name", [
    ("CogVideoX", "cogvideox"), ("cogvideox-5b", "cogvideox"), ("HunyuanVideo", "hunyuanvideo"),
    ("WAN", "wan2.1"), ("Wan2.1-T2V-14B", "wan2.1"), ("LTX-Video", "ltx-video"), ("ltx", "ltx-video"),
    ("Mochi", "mochi-1"), (" mochi-1-preview ", "mochi-1"),
])
def test_preset_names_case_insensitive_and_aliases(spelling, name):
    assert get_preset(spelling) is VIDEO_PRESETS[name]
    assert estimate_video_latent_memory_preset(spelling, 9, 64, 64)["preset"] == name


def test_aliases_point_at_presets():
    assert set(PRESET_ALIASES.values()) <= set(VIDEO_PRESETS)


def test_preset_instance_accepted():
    custom = dataclasses.replace(VIDEO_PRESETS["cogvideox"], name="cogvideox-1.5", patch_size_t=2)
    result = estimate_video_latent_memory_preset(custom, 53, 768, 1360)
    assert result["preset"] == "cogvideox-1.5" and result["latent_shape"][2] == 14
    assert result["tokens_per_video"] == 7 * 48 * 85


@pytest.mark.parametrize("preset", ["sora", "", "cogvideox2", None, 3])
def test_unknown_preset_lists_names(preset):
    with pytest.raises(ValueError, match=r"^preset: unknown video model preset") as info:
        estimate_video_latent_memory_preset(preset, 49, 480, 720)
    assert all(name in str(info.value) for name in VIDEO_PRESETS)


@pytest.mark.parametrize("overrides, argument", [
    ({"patch_size": 0}, "patch_size"), ({"patch_size_t": 1.5}, "patch_size_t"),
    ({"latent_channels": True}, "latent_channels"), ({"temporal_compression": -4}, "temporal_compression"),
    ({"spatial_compression": "8"}, "spatial_compression"), ({"causal": "yes"}, "causal"),
    ({"causal": 1}, "causal"), ({"vae_scale": 8}, "vae_scale"),
])
def test_bad_overrides_name_the_argument(overrides, argument):
    with pytest.raises(ValueError, match=rf"^{argument}: "):
        estimate_video_latent_memory_preset("wan2.1", 81, 480, 832, **overrides)


@pytest.mark.parametrize("kwargs, argument", [
    ({"num_frames": 0}, "num_frames"), ({"height": 4.5}, "height"), ({"width": False}, "width"),
    ({"batch_size": -1}, "batch_size"), ({"dtype": "fp64"}, "dtype"),
])
def test_preset_bad_inputs_name_the_argument(kwargs, argument):
    args = {"num_frames": 81, "height": 480, "width": 832, **kwargs}
    with pytest.raises(ValueError, match=rf"^{argument}: "):
        estimate_video_latent_memory_preset("wan2.1", **args)


def _config(name: str) -> dict:
    return video_config(name)


@pytest.mark.parametrize("preset, vae, transformers", [
    ("cogvideox", ["cogvideox_2b_vae.json", "cogvideox_5b_vae.json"],
     ["cogvideox_2b_transformer.json", "cogvideox_5b_transformer.json"]),
    ("hunyuanvideo", ["hunyuanvideo_vae.json"], ["hunyuanvideo_transformer.json"]),
    ("wan2.1", ["wan2.1_vae.json"], ["wan2.1_t2v_1.3b_transformer.json", "wan2.1_t2v_14b_transformer.json"]),
])
def test_presets_match_the_shipped_configs(preset, vae, transformers):
    """Where the repository ships the model's diffusers configs, the preset says the same."""
    model = VIDEO_PRESETS[preset]
    for name in vae:
        config = _config(name)
        channels = config.get("latent_channels", config.get("z_dim"))
        temporal = config.get("temporal_compression_ratio", config.get("scale_factor_temporal"))
        spatial = config.get("spatial_compression_ratio", config.get("scale_factor_spatial",
                                                                     2 ** (len(config.get("block_out_channels", ())) - 1)))
        assert (channels, spatial, temporal) == (model.latent_channels, model.spatial_compression,
                                                 model.temporal_compression)
    for name in transformers:
        config = _config(name)
        assert config["in_channels"] == model.latent_channels
        patch = config["patch_size"]
        patch_t, patch_hw = (patch[0], patch[1]) if isinstance(patch, list) else (config.get("patch_size_t"), patch)
        assert patch_hw == model.patch_size
        assert (patch_t or 1) == model.patch_size_t
        if "sample_frames" in config:
            assert config["sample_frames"] == model.default_frames
            assert config["sample_height"] * model.spatial_compression == model.default_height
            assert config["sample_width"] * model.spatial_compression == model.default_width


def test_sources_name_where_values_come_from():
    for preset in VIDEO_PRESETS.values():
        assert re.search(r"config\.json|diffusers", preset.source)
        assert str(preset.latent_channels) in preset.source
        assert str(preset.temporal_compression) in preset.source
