"""Qwen-Image's components against the real diffusers / transformers classes on the ``meta`` device:
``QwenImageTransformer2DModel``, ``AutoencoderKLQwenImage``, ``Qwen2_5_VLForConditionalGeneration``.

1. Parameter + buffer counts, names and shapes equal the real class built from every bundled config of the class.
2. The fp32-kept modules equal ``_keep_in_fp32_modules``; the fixed-dtype tensors have that dtype when the model is
   built under a bf16 default dtype (what ``from_pretrained(torch_dtype=...)`` does during init); the transformer's
   RoPE tables are complex64 plain attributes.
3. Live-bytes traces (``symbolic.harness.meta_trace.trace_module``) of one denoiser forward, one encoder forward
   (with the pipeline's prompt extraction) and one VAE decode / encode, at sizes nobody measured, with reduced layer
   counts (the moments are per block / per layer count): transformer and text encoder within 1% for the flash and
   math SDPA backends; VAE decode: trace <= moments <= 1.10 x trace (the trace misses cuDNN workspaces; the reused
   WanVAE first-frame moment is ~7% conservative); VAE encode within 1%.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

import symbolic.configs  # noqa: E402
from symbolic.components.layers.tensors import numel  # noqa: E402
from symbolic.components.shapes import DecodeShape  # noqa: E402
from symbolic.components.shapes import StepShape  # noqa: E402
from symbolic.components import class_name_of, from_config  # noqa: E402
from symbolic.harness.meta_trace import trace_module  # noqa: E402

HUB = Path(symbolic.configs.__file__).parent / "hub"
CLASSES = ("QwenImageTransformer2DModel", "AutoencoderKLQwenImage", "Qwen2_5_VLForConditionalGeneration")


def _bundled(class_name: str) -> list[Path]:
    paths = [p for p in sorted(HUB.glob("**/config.json")) if class_name_of(json.loads(p.read_text())) == class_name]
    assert paths, f"no bundled config of {class_name}"
    return paths


CASES = [(c, p) for c in CLASSES for p in _bundled(c)]


def _kwargs(config: dict) -> dict:
    """diffusers ``__init__`` kwargs: no private keys, no keys the class ignores (``pooled_projection_dim``)."""
    return {k: v for k, v in config.items() if not k.startswith("_") and k != "pooled_projection_dim"}


def _real(class_name: str, config: dict, dtype=None):
    """The real module on meta; with ``dtype`` built under that default dtype, as from_pretrained's init does."""
    old = torch.get_default_dtype()
    try:
        if dtype is not None:
            torch.set_default_dtype(dtype)
        with torch.device("meta"):
            if class_name == "Qwen2_5_VLForConditionalGeneration":
                return transformers.Qwen2_5_VLForConditionalGeneration(transformers.Qwen2_5_VLConfig(**config))
            return getattr(diffusers, class_name)(**_kwargs(config))
    finally:
        torch.set_default_dtype(old)


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())


# --- 1. counts, names, shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name, path", CASES, ids=[f"{c}:{p.parent.parent.name}" for c, p in CASES])
def test_counts_names_shapes(class_name, path):
    config = json.loads(path.read_text())
    real, ours = _real(class_name, config), from_config(config, str(path))
    assert _count(real) == numel(ours.tensors)
    shapes = {n: tuple(t.shape) for n, t in [*real.named_parameters(), *real.named_buffers()]}
    assert shapes == {t.name: t.shape for t in ours.tensors}


def test_exact_counts_qwen_image():
    """The published Qwen-Image sizes (all parameters + buffers)."""
    root = HUB / "Qwen" / "Qwen-Image"
    expected = {"transformer": 20_430_401_088, "vae": 126_892_531, "text_encoder": 8_292_166_824}
    for component, count in expected.items():
        config = json.loads((root / component / "config.json").read_text())
        assert numel(from_config(config).tensors) == count, component


# --- 2. dtypes ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name, path", CASES, ids=[f"{c}:{p.parent.parent.name}" for c, p in CASES])
def test_fp32_and_fixed_dtypes(class_name, path):
    config = json.loads(path.read_text())
    real, ours = _real(class_name, config, torch.bfloat16), from_config(config, str(path))
    assert set(getattr(real, "_keep_in_fp32_modules", None) or ()) == set(ours.keep_fp32_modules)
    non_persistent = {f"{m}.{b}" if m else b for m, mod in real.named_modules() for b in mod._non_persistent_buffers_set}
    assert set(ours.fixed_dtype_bytes) == non_persistent
    buffers = dict(real.named_buffers())
    assert all(buffers[n].element_size() == size for n, size in ours.fixed_dtype_bytes.items())
    if class_name == "QwenImageTransformer2DModel":   # plain attributes, not buffers: priced in resident_inputs
        assert real.pos_embed.pos_freqs.dtype == real.pos_embed.neg_freqs.dtype == torch.complex64


# --- 3. traces ------------------------------------------------------------------------------------------------------
def _config(class_name: str) -> dict:
    return json.loads(_bundled(class_name)[0].read_text())


def _transformer(config: dict, dtype):
    with torch.device("meta"):
        model = diffusers.QwenImageTransformer2DModel(**{**_kwargs(config), "num_layers": 1}).to(dtype)
    rope = model.pos_embed   # a real load builds the tables on the CPU; the forward copies them to the device
    rope.pos_freqs = torch.zeros(rope.pos_freqs.shape, dtype=torch.complex64)
    rope.neg_freqs = torch.zeros(rope.neg_freqs.shape, dtype=torch.complex64)
    return model


@pytest.mark.parametrize("batch, h, w, text, backend, dtype", [
    (1, 96, 128, 300, "flash", torch.bfloat16),     # image feed-forward
    (1, 32, 32, 600, "flash", torch.bfloat16),      # text feed-forward
    (2, 40, 40, 280, "flash", torch.bfloat16),      # attention output, batch > 1 (.contiguous() copies)
    (2, 64, 48, 150, "math", torch.bfloat16),
    (1, 48, 64, 100, "math", torch.float32),
])
def test_transformer_step_trace(batch, h, w, text, backend, dtype):
    config = _config("QwenImageTransformer2DModel")
    arch, model = from_config(config), _transformer(config, dtype)
    n_image = (h // arch.patch) * (w // arch.patch)
    with torch.device("meta"):
        x = torch.empty(batch, n_image, int(config["in_channels"]), dtype=dtype)
        prompt = torch.empty(batch, text, int(config["joint_attention_dim"]), dtype=dtype)
        step = torch.empty(batch, dtype=dtype)
    shapes = [[(1, h // arch.patch, w // arch.patch)]] * batch
    traced = trace_module(lambda: model(hidden_states=x, encoder_hidden_states=prompt, encoder_hidden_states_mask=None,
                                        timestep=step, img_shapes=shapes, return_dict=False)[0],
                          sdpa_backend=backend, root=model).peak_bytes
    b = sp.Integer(torch.finfo(dtype).bits // 8)
    shape = StepShape(sp.Integer(batch), sp.Integer(n_image), sp.Integer(text), b, backend)
    ours = int(sp.Max(*arch.moments(shape).values()) + arch.resident_inputs(shape))
    assert ours == pytest.approx(traced, rel=0.01)
    assert set(arch.moment_notes) == set(arch.moments(shape))


def test_transformer_is_modelled_on_one_device():
    arch = from_config(_config("QwenImageTransformer2DModel"))
    assert arch.parallel_schemes == ()  # the pipeline model refuses a scheme, naming --parallel (tests/cli)


def _text_encoder(config: dict, layers: int, dtype):
    small = json.loads(json.dumps(config))
    small["text_config"].update(num_hidden_layers=layers, layer_types=["full_attention"] * layers)
    small["vision_config"].update(depth=1, fullatt_block_indexes=[0])
    with torch.device("meta"):
        model = transformers.Qwen2_5_VLForConditionalGeneration(transformers.Qwen2_5_VLConfig(**small))
    return small, model.to(dtype).eval()


@pytest.mark.parametrize("layers, tokens, batch, backend, dtype", [
    (2, 600, 1, "flash", torch.bfloat16),
    (3, 300, 2, "flash", torch.bfloat16),
    (2, 1500, 1, "math", torch.bfloat16),   # the math scores outgrow the logits
    (3, 900, 1, "math", torch.bfloat16),
])
def test_text_encoder_trace(layers, tokens, batch, backend, dtype):
    """``QwenImagePipeline._get_qwen_prompt_embeds`` for ``batch`` prompts of ``tokens`` tokens (no padding: the
    all-ones mask is passed as None, which is what transformers' mask code turns it into; on meta it cannot read
    the mask's values). The boolean-mask selection is mirrored by an index_select of the same rows."""
    config, model = _text_encoder(_config("Qwen2_5_VLForConditionalGeneration"), layers, dtype)
    arch = from_config(config)
    from symbolic.components.qwen2_5_vl_text import PROMPT_DROP_IDX as drop
    with torch.device("meta"):
        ids = torch.zeros(batch, tokens, dtype=torch.long)

    def encode():
        output = model(input_ids=ids, attention_mask=None, output_hidden_states=True)   # referenced until return
        selected = output.hidden_states[-1].flatten(0, 1).index_select(0, torch.arange(batch * tokens, device="meta"))
        split = [e[drop:] for e in torch.split(selected, [tokens] * batch, dim=0)]
        longest = max(e.size(0) for e in split)
        return torch.stack([torch.cat([u, u.new_zeros(longest - u.size(0), u.size(1))]) for u in split])

    traced = trace_module(encode, sdpa_backend=backend, root=model).peak_bytes
    b = sp.Integer(torch.finfo(dtype).bits // 8)
    moments = arch.activation_moments(sp.Integer(batch), tokens, b, str(dtype), backend=backend)
    assert int(sp.Max(*moments.values())) == pytest.approx(traced, rel=0.01)
    assert set(arch.moment_notes) == set(moments)


def _vae(dtype, tiling=False, slicing=False):
    config = _config("AutoencoderKLQwenImage")
    with torch.device("meta"):
        model = diffusers.AutoencoderKLQwenImage(**_kwargs(config)).to(dtype)
    if tiling:
        model.enable_tiling()
    if slicing:
        model.enable_slicing()
    return from_config(config), model


@pytest.mark.parametrize("batch, h, w, dtype, tiling, slicing", [
    (1, 48, 40, torch.bfloat16, False, False),
    (2, 32, 48, torch.bfloat16, False, True),
    (1, 72, 40, torch.bfloat16, True, False),
    (1, 40, 32, torch.float32, False, False),
])
def test_vae_decode_trace(batch, h, w, dtype, tiling, slicing):
    arch, model = _vae(dtype, tiling, slicing)
    with torch.device("meta"):
        z = torch.empty(batch, arch.latent_channels, 1, h, w, dtype=dtype)
    traced = trace_module(lambda: model.decode(z, return_dict=False)[0], sdpa_backend="flash", root=model).peak_bytes
    size = torch.finfo(dtype).bits // 8
    shape = DecodeShape(sp.Integer(batch), sp.Integer(1), sp.Integer(h), sp.Integer(w), size, tiling=tiling,
                        b_value=size, slicing=slicing)
    moments = {k: int(v) for k, v in arch.decode_moments(shape).items() if k != "postprocess"}
    assert traced <= max(moments.values()) <= 1.10 * traced
    assert set(arch.decode_moments(shape)) <= set(arch.moment_notes)


@pytest.mark.parametrize("batch, height, width, dtype", [(1, 256, 384, torch.bfloat16), (2, 256, 256, torch.float32)])
def test_vae_encode_trace(batch, height, width, dtype):
    arch, model = _vae(dtype)
    with torch.device("meta"):
        x = torch.empty(batch, arch.input_channels, 1, height, width, dtype=dtype)
    traced = trace_module(lambda: model.encode(x, return_dict=False)[0].parameters, sdpa_backend="flash",
                          root=model).peak_bytes
    size = torch.finfo(dtype).bits // 8
    s = arch.spatial_compression
    shape = DecodeShape(sp.Integer(batch), sp.Integer(1), sp.Integer(height // s), sp.Integer(width // s), size,
                        b_value=size)
    assert int(sp.Max(*arch.encode_moments(shape).values())) == pytest.approx(traced, rel=0.01)


def test_vae_protocol_fields():
    arch = from_config(_config("AutoencoderKLQwenImage"))
    assert (arch.spatial_compression, arch.temporal_compression, arch.latent_channels) == (8, 4, 16)
