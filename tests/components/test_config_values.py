"""Config values checked as the components read them (``symbolic.components.config_values``): every bundled config
passes, every key a component reads has a kind, and hostile values are refused naming the file and the key."""
from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic import components
from symbolic.components.config_values import KINDS, CheckedConfig
from symbolic.pipelines import catalog
from symbolic.pipelines.api import estimate
from symbolic.pipelines.catalog import CATALOG


class Recording(CheckedConfig):
    read: set = set()

    def _checked(self, key, value):
        Recording.read.add(key)
        return super()._checked(key, value)


def _build_all():
    for model in CATALOG:
        source = catalog.load(model)
        for role in source.roles:
            config = source.config(role)
            comp = components.component_class(components.class_name_of(config))(Recording(config, role))
            comp.tensors  # every size the tensor list reads
            for attribute in ("heads", "head_dim", "patch", "patch_t", "output_dim", "latent_channels",
                              "spatial_compression", "temporal_compression"):
                getattr(comp, attribute, None)


def test_bundled_configs_pass_and_every_read_key_has_a_kind():
    _build_all()
    unknown = sorted(k for k in Recording.read if k not in KINDS)
    # keys read only for their absence (class defaults) need no kind: none of the bundled configs holds them
    held = {k for model in CATALOG for role in catalog.load(model).roles
            for k in catalog.load(model).config(role)}
    assert [k for k in unknown if k in held] == []


HOSTILE = [-1, 0, "64", 64.5, True, -1e40, 1e30, None, 10**7, [], {"a": 1}]


def _folder_with(tmp_path, model, role, key, value):
    source = catalog.load(model)
    folder = tmp_path / f"{model}-{role}-{key}"
    shutil.copytree(source.folder, folder)
    path = folder / role / "config.json"
    config = json.loads(path.read_text())
    config[key] = value
    path.write_text(json.dumps(config))
    return folder, path


#: Keys of a denoiser that the estimate reads, one per model family (the sizes of the step's tensors).
READ = [("flux.1-dev", "transformer", "attention_head_dim"), ("flux.1-dev", "transformer", "num_layers"),
        ("sd15", "unet", "block_out_channels"), ("sd15", "unet", "cross_attention_dim"),
        ("wan2.1-t2v-1.3b", "transformer", "ffn_dim"), ("sd15", "vae", "latent_channels"),
        ("sd15", "text_encoder", "hidden_size"), ("qwen-image", "transformer", "num_attention_heads")]


@pytest.mark.parametrize("model,role,key", READ)
@settings(max_examples=4, deadline=None)
@given(value=st.sampled_from(HOSTILE))
def test_hostile_values_are_refused_naming_the_file_and_key(tmp_path_factory, model, role, key, value):
    folder, path = _folder_with(tmp_path_factory.mktemp("hostile"), model, role, key, value)
    if key == "num_attention_heads" and value is None:
        return  # null is that key's class default (the head count is then read from the config's other keys)
    with pytest.raises(ValueError) as refused:
        estimate(str(folder))
    message = str(refused.value)
    assert message.startswith(f"{path}: {key}: must be "), message
    assert "\n" not in message
