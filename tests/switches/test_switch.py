"""The one switch parser (``symbolic.switches.switch``): every spelling, every refusal naming ``memory_options``."""
from __future__ import annotations

import pytest

from symbolic.switches.switch import Switch, SwitchKind, parse_switch, parse_switches


def test_parse_switch():
    S = Switch
    assert parse_switch("sequential_cpu_offload") == S("sequential_cpu_offload")
    assert parse_switch("group_offload:block_level:2") == S("group_offload", "block_level", 2)
    assert parse_switch("group_offload:block_level:1:stream") == S("group_offload", "block_level", 1, True)
    assert parse_switch("group_offload:leaf_level") == S("group_offload", "leaf_level")
    assert parse_switch("group_offload:leaf_level:stream") == S("group_offload", "leaf_level", None, True)
    assert parse_switch("layerwise_casting:fp8_e5m2") == S("layerwise_casting", storage="fp8_e5m2")
    for bad in ["group_offload", "group_offload:block_level", "group_offload:block_level:0",
                "group_offload:block_level:x", "group_offload:leaf_level:3", "group_offload:stream",
                "layerwise_casting", "layerwise_casting:fp8", "layerwise_casting:fp8_e4m3:stream",
                "sequential_cpu_offload:stream", "nonsense", ""]:
        with pytest.raises(ValueError, match="memory_options"):
            parse_switch(bad)




@pytest.mark.parametrize("text,kind", [("cpu_offload", SwitchKind.MODEL_CPU_OFFLOAD), (" vae_tiling ", SwitchKind.VAE_TILING),
                                       ("no_text_encoder_3", SwitchKind.NO_TEXT_ENCODER_3)])
def test_plain_names_and_aliases(text, kind):
    assert parse_switch(text).kind is kind and parse_switch(text).text == kind.value


@pytest.mark.parametrize("options,match", [
    (["model_cpu_offload", "sequential_cpu_offload"], "exclude each other"),
    (["group_offload:leaf_level", "cpu_offload"], "exclude each other"),
    (["layerwise_casting:fp8_e4m3", "layerwise_casting:fp8_e5m2"], "one layerwise_casting"),
    ([3], "must be strings"), (5, "must be a collection"),
])
def test_collections_diffusers_refuses(options, match):
    with pytest.raises(ValueError, match=f"^memory_options: .*{match}"):
        parse_switches(options)


def test_none_is_dropped_and_texts_kept():
    assert parse_switches(["none", "vae_slicing", "cpu_offload"]) == frozenset({"vae_slicing", "model_cpu_offload"})
