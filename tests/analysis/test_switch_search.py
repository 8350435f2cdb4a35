"""Quantization, offload modes and layerwise casting in the estimates, and the cheapest-first switch search."""
from __future__ import annotations

import pytest

from symbolic.switches import offload
from symbolic.switches.switch import parse_switch
from symbolic.switches import quantization
from symbolic.pipelines.model import component, weights_of
from symbolic.pipelines.api import estimate, make_config
from symbolic.analysis.switch_search import COSTS, combinations, pipeline_switches, search
from symbolic.core.units import GiB

FLUX = "flux.1-dev"


def test_quantized_component_weighs_what_the_scheme_stores():
    config = make_config(FLUX, quantize={"transformer": "bnb_nf4"})
    stored = quantization.quantized_bytes(component(config.source, "transformer"), "bnb_nf4", "bf16")
    r = estimate(FLUX, quantize=["transformer=bnb_nf4"])
    assert r["component_weights_bytes"]["transformer"] == stored
    plain = estimate(FLUX)
    assert r["component_weights_bytes"]["text_encoder_2"] == plain["component_weights_bytes"]["text_encoder_2"]
    # The step holds the dequantised weight of the largest Linear beside the block's activations.
    transient = quantization.dequant_transient_bytes(component(config.source, "transformer"), "bnb_nf4", "bf16")
    assert transient > 0
    assert (r["stage_activation_bytes"]["transformer_step"]
            == plain["stage_activation_bytes"]["transformer_step"] + transient)


def test_cpu_offload_is_an_alias_of_model_cpu_offload():
    assert estimate(FLUX, memory_options=["cpu_offload"]) == estimate(FLUX, memory_options=["model_cpu_offload"])


@pytest.mark.parametrize("option", ["sequential_cpu_offload", "group_offload:block_level:1",
                                    "group_offload:block_level:1:stream", "group_offload:leaf_level:stream"])
def test_moving_offloads_hold_only_the_running_group(option):
    r = estimate(FLUX, memory_options=[option])
    model = estimate(FLUX, memory_options=["model_cpu_offload"])
    config = make_config(FLUX, memory_options=[option])
    w = weights_of(config, "transformer")
    switch = parse_switch(option)
    if switch.kind == "sequential_cpu_offload":
        onloaded = offload.sequential_offload_bytes(list(zip(w.names, w.sizes)))
    else:
        onloaded = offload.group_offload_bytes(list(zip(w.names, w.sizes)), switch.mode, switch.blocks_per_group,
                                               switch.stream, block_modules=component(config.source,
                                                                                 "transformer").group_offload_block_modules)
    # Nothing is resident (no allocator rounding of resident weights): the stage's weights are the onloaded group.
    assert r["stages"]["transformer_step"] - r["stage_activation_bytes"]["transformer_step"] == onloaded
    assert r["stage_activation_bytes"] == model["stage_activation_bytes"]
    assert r["peak_allocated_bytes"] < model["peak_allocated_bytes"]


def test_layerwise_casting_stores_fp8_and_upcasts_one_layer():
    r = estimate(FLUX, memory_options=["layerwise_casting:fp8_e4m3"])
    plain = estimate(FLUX)
    assert r["component_weights_bytes"]["transformer"] < 0.7 * plain["component_weights_bytes"]["transformer"]
    assert r["stage_activation_bytes"]["transformer_step"] > plain["stage_activation_bytes"]["transformer_step"]


@pytest.mark.parametrize("kwargs, argument", [
    ({"memory_options": ["model_cpu_offload", "sequential_cpu_offload"]}, "memory_options"),
    ({"memory_options": ["group_offload:block_level:0"]}, "memory_options"),
    ({"memory_options": ["layerwise_casting:fp4"]}, "memory_options"),
    ({"quantize": {"vae": "bnb_nf4"}}, "quantize"),
    ({"quantize": {"unet": "bnb_nf4"}}, "quantize"),
    ({"quantize": ["transformer"]}, "quantize"),
    ({"quantize": {"transformer": "bnb_nf4"}, "memory_options": ["layerwise_casting:fp8_e4m3"]}, "memory_options"),
    ({"quantize": {"transformer": "bnb_nf4"}, "parallel": "fsdp", "devices": 2}, "parallel"),
])
def test_switches_that_do_not_apply_are_refused(kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument}: "):
        estimate(FLUX, **kwargs)


def test_combinations_are_cheapest_first_with_one_offload_mode():
    switches = pipeline_switches(FLUX, {"task": None, "attention": "sdpa"})
    combos = combinations(switches)
    costs = [sum(s.cost for s in c) for c in combos]
    assert costs == sorted(costs)
    offloads = {"model_cpu_offload", "sequential_cpu_offload"}
    assert all(sum(s.name in offloads or s.name.startswith("group_offload") for s in c) <= 1 for c in combos)
    assert {s.name for s in switches} >= {"model_cpu_offload", "quantize:transformer=bnb_nf4",
                                          "quantize:text_encoder_2=bnb_nf4", "layerwise_casting:fp8_e4m3"}
    assert "attention_slicing" not in {s.name for s in switches}  # a transformer pipeline: not offered
    assert set(COSTS) >= {s.name for s in switches if not s.name.startswith("quantize:")}


@pytest.mark.parametrize("model, size, budget", [
    (FLUX, {}, 16 * GiB), (FLUX, {}, 24 * GiB),
    ("wan2.1-t2v-14b", {"height": 480, "width": 832, "frames": 81}, 16 * GiB),
    ("wan2.1-t2v-14b", {"height": 480, "width": 832, "frames": 81}, 24 * GiB),
    ("hunyuanvideo", {"height": 544, "width": 960, "frames": 129}, 24 * GiB),
    # the case: 720p, 129 frames, where the search once found nothing
    ("hunyuanvideo", {"height": 720, "width": 1280, "frames": 129}, 16 * GiB),
    ("hunyuanvideo", {"height": 720, "width": 1280, "frames": 129}, 24 * GiB),
])
def test_large_models_find_switches_that_fit_consumer_cards(model, size, budget):
    kwargs = dict(size, task=None, attention="sdpa")
    found = search(lambda **kw: estimate(model, **kw), kwargs, pipeline_switches(model, kwargs), budget, limit=2)
    assert found["fits"], found
    for option in found["fits"]:
        assert option["min_gpu_memory_bytes"] <= budget


@pytest.mark.parametrize("model", ["sd3.5-medium", "sd3.5-large"])
def test_no_text_encoder_3_drops_t5_and_keeps_its_zeros(model):
    """SD 3 loaded with ``text_encoder_3=None``: T5's weights and stage go, ``encode_prompt`` puts zeros of the same
    embedding shape on the device, so the denoiser's step is unchanged."""
    plain = estimate(model, 1024, 1024)
    dropped = estimate(model, 1024, 1024, memory_options=["no_text_encoder_3"])
    assert "text_encoder_3" not in dropped["stages"]
    assert "text_encoder_3" not in dropped["component_weights_bytes"]
    assert dropped["stage_activation_bytes"]["transformer_step"] == plain["stage_activation_bytes"]["transformer_step"]
    t5 = plain["component_weights_bytes"]["text_encoder_3"]
    # Allocator rounding of the one load replay shifts a few bytes; the T5 weights are gone, nothing else.
    assert abs(plain["weights_bytes"] - dropped["weights_bytes"] - t5) < 2**21


@pytest.mark.parametrize("model, kwargs, argument", [
    ("sdxl", {"memory_options": ["no_text_encoder_3"]}, "memory_options"),
    ("flux.1-dev", {"memory_options": ["no_text_encoder_3"]}, "memory_options"),
    ("sd3.5-medium", {"memory_options": ["no_text_encoder_3"], "quantize": {"text_encoder_3": "bnb_nf4"}}, "quantize"),
])
def test_no_text_encoder_3_refused_where_it_does_not_apply(model, kwargs, argument):
    with pytest.raises(ValueError, match=f"^{argument}: "):
        estimate(model, **kwargs)
