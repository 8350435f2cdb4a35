"""symbolic/harness/build_pipeline.py on a CPU: every bundled pipeline built at full size on the ``meta`` device
(the classes ``model_index.json`` names, the loaded dtypes, weight bytes against the estimate's), the loader's dtype
rule and ``.to()`` order on a hand-made module, the offline tokenizers, config overrides and the pipeline classes."""
from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from torch import nn  # noqa: E402

from symbolic.harness import build_pipeline as bp  # noqa: E402
from symbolic.pipelines import catalog  # noqa: E402
from symbolic.pipelines.api import estimate  # noqa: E402

MODELS = list(catalog.CATALOG)
_BUILT: dict[str, dict] = {}


def meta_build(model: str) -> dict:
    """Full-size components of ``model`` on ``meta`` in the catalog's dtypes, built once per test session."""
    if model not in _BUILT:
        _BUILT[model] = bp.build_components(model, "meta")
    return _BUILT[model]


# ------------------------------------------------------------------------------------------ full size on meta


@pytest.mark.parametrize("model", MODELS)
def test_meta_build_classes_dtypes_and_weight_bytes(model):
    comps = meta_build(model)
    index = bp.model_index(model)
    source = catalog.load(model)
    assert set(comps) == {r for r, v in index.items() if not r.startswith("_") and isinstance(v, list)}
    for role in source.roles:
        module = comps[role]
        assert type(module).__name__ == index[role][1], role
        tensors = list(module.parameters()) + list(module.buffers())
        assert all(t.device.type == "meta" for t in tensors) and not any(p.requires_grad for p in module.parameters())
        # the role's dtype is the dtype of most of its bytes (the rest: kept in fp32, non-persistent, integer)
        by_dtype: dict[torch.dtype, int] = {}
        for t in bp.tensor_sizes(module):
            by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.nbytes
        assert max(by_dtype, key=by_dtype.get) == bp.resolve_dtype(bp.role_dtype(model, role)), role
        sizes = bp.tensor_sizes(module)
        assert sum(s.nbytes for s in sizes) == bp.weight_bytes(module)
        assert len({s.name for s in sizes}) == len(sizes)
    # the estimate reads the same bytes (parameter counts, _keep_in_fp32_modules, non-persistent buffers)
    assert bp.summary(comps) == estimate(model)["component_weights_bytes"]


#: (model, role, tensor, dtype after from_pretrained(torch_dtype=the catalog's)) where the loaders' rule is not
#: simply "every floating tensor takes torch_dtype".
LOADED_DTYPES = [
    ("wan2.1-t2v-1.3b", "transformer", "blocks.0.attn1.to_q.weight", torch.bfloat16),
    ("wan2.1-t2v-1.3b", "transformer", "blocks.0.scale_shift_table", torch.float32),  # _keep_in_fp32_modules
    ("wan2.1-t2v-1.3b", "transformer", "condition_embedder.time_embedder.linear_1.weight", torch.float32),
    ("wan2.1-t2v-1.3b", "transformer", "condition_embedder.time_proj.weight", torch.bfloat16),
    ("wan2.1-t2v-1.3b", "vae", "decoder.conv_in.weight", torch.float32),  # the catalog loads Wan's VAE in fp32
    ("cogvideox-2b", "transformer", "patch_embed.pos_embedding", torch.float64),  # non-persistent: never cast
    ("sd15", "text_encoder", "embeddings.position_ids", torch.int64),  # integer buffers keep theirs
    ("qwen-image", "text_encoder", "model.language_model.rotary_emb.inv_freq", torch.float32),  # non-persistent
    ("hunyuanvideo", "vae", "decoder.conv_in.conv.weight", torch.float16),
]


@pytest.mark.parametrize("model, role, name, dtype", LOADED_DTYPES, ids=[f"{c[0]}-{c[2]}" for c in LOADED_DTYPES])
def test_loaded_dtypes(model, role, name, dtype):
    tensors = {t.name: t for t in bp.tensor_sizes(meta_build(model)[role])}
    assert tensors[name].dtype == dtype


def test_explicit_dtype_puts_every_component_in_it():
    vae = bp.build_module("wan2.1-t2v-1.3b", "vae", "meta", dtype="bf16")
    assert {p.dtype for p in vae.parameters()} == {torch.bfloat16}


# ------------------------------------------------------------------------------------------ dtype rule, .to() order


class Block(nn.Module):
    _keep_in_fp32_modules = ["norm"]

    def __init__(self):
        super().__init__()
        self.own = nn.Parameter(torch.ones(2))
        self.register_buffer("table", torch.arange(3, dtype=torch.float64), persistent=False)
        self.register_buffer("scale", torch.full((2,), 3.0))
        self.child = nn.Linear(4, 5)
        self.norm = nn.LayerNorm(4)


def test_tensor_sizes_follow_module_apply_order():
    sizes = bp.tensor_sizes(Block())
    assert [s.name for s in sizes] == ["child.weight", "child.bias", "norm.weight", "norm.bias", "own", "table",
                                       "scale"]
    assert [s.kind for s in sizes] == ["parameter"] * 5 + ["buffer"] * 2
    seen = []
    Block()._apply(lambda t: seen.append(tuple(t.shape)) or t)  # the order nn.Module.to() visits
    assert seen == [s.shape for s in sizes]
    shared = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    shared[1].weight = shared[0].weight  # tied: listed once
    assert [s.name for s in bp.tensor_sizes(shared)] == ["0.weight", "0.bias", "1.bias"]


@pytest.mark.parametrize("library, target, kept", [
    ("diffusers", torch.bfloat16, torch.float32), ("diffusers", torch.float16, torch.float32),
    ("transformers", torch.float16, torch.float32), ("transformers", torch.bfloat16, torch.bfloat16),
    ("diffusers", torch.float32, torch.float32)])
def test_materialize_applies_the_loaders_rule(library, target, kept):
    original = nn.Module.register_parameter
    with bp.parameters_on_meta():
        block = Block()
    assert nn.Module.register_parameter is original
    assert block.own.device.type == "meta" and block.table.device.type == "cpu"
    bp.materialize(block, "cpu", target, bp.keep_fp32_names(block, library, target))
    assert block.child.weight.dtype == target and block.own.dtype == target
    assert block.norm.weight.dtype == kept
    assert block.table.dtype == torch.float64 and block.table.tolist() == [0.0, 1.0, 2.0]  # not in a checkpoint
    assert block.scale.dtype == target and block.scale.tolist() == [3.0, 3.0]  # persistent: cast, value kept
    assert block.child.weight.device.type == "cpu" and float(block.child.weight.float().std()) > 0


@pytest.mark.parametrize("name, dtype", [("fp16", torch.float16), ("bf16", torch.bfloat16), ("fp32", torch.float32),
                                         ("float16", torch.float16), (torch.bfloat16, torch.bfloat16)])
def test_dtype_names(name, dtype):
    assert bp.resolve_dtype(name) == dtype
    assert bp.resolve_dtype(bp.dtype_name(name)) == dtype


def test_unknown_dtype_names_the_argument():
    with pytest.raises(ValueError, match="dtype"):
        bp.resolve_dtype("int4")


# ------------------------------------------------------------------------------------------ tokenizers, configs


def test_clip_tokenizer_counts_one_token_per_word():
    tok = bp.clip_tokenizer()
    assert tok.model_max_length == bp.CLIP_MAX_LENGTH
    for words in random.Random(0).sample(range(0, 120), 8):
        assert len(tok(" ".join(["a"] * words)).input_ids) == words + 2  # bos and eos
    ids = tok(" ".join(["a"] * 100), padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77
    assert tok.convert_ids_to_tokens(tok("the photo").input_ids)[1:3] == ["the</w>", "photo</w>"]  # merges used


def test_role_config_overrides_merge_recursively():
    override = {"vision_config": {"hidden_size": 32}, "projection_dim": 32}
    cfg = bp.role_config("sd15", "safety_checker", override)
    assert cfg["vision_config"]["hidden_size"] == 32 and cfg["projection_dim"] == 32
    bundled = bp.role_config("sd15", "safety_checker")
    assert cfg["vision_config"]["image_size"] == bundled["vision_config"]["image_size"] == 224  # kept
    assert bundled["vision_config"]["hidden_size"] == 1024  # the bundled config untouched
    assert not any(k.startswith("_") for k in bundled)


def test_pipeline_classes_by_task():
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline, StableDiffusionXLImg2ImgPipeline

    assert bp.pipeline_class("sd15") is StableDiffusionPipeline
    assert bp.pipeline_class("sd15", "img2img") is StableDiffusionImg2ImgPipeline
    assert bp.pipeline_class("sdxl", "img2img") is StableDiffusionXLImg2ImgPipeline
    with pytest.raises(ValueError, match="task"):
        bp.pipeline_class("sd15", "inpaint")


def test_sd15_pipeline_shares_its_components():
    comps = meta_build("sd15")
    txt, img = (bp.pipeline_from_components("sd15", comps, task) for task in ("txt2img", "img2img"))
    assert txt.unet is img.unet is comps["unet"]
    assert img.safety_checker is comps["safety_checker"] and img.feature_extractor is not None
    assert type(comps["scheduler"]).__name__ == bp.model_index("sd15")["scheduler"][1]
