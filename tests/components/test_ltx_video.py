"""LTX-Video components (``LTXVideoTransformer3DModel``, ``AutoencoderKLLTXVideo``) against the real diffusers classes:
exact tensors on the ``meta`` device, the dtypes ``from_pretrained(torch_dtype=...)`` gives, and live-bytes traces of
one transformer forward and one VAE decode (``symbolic.harness.meta_trace``) against the components' moments."""
from __future__ import annotations

import json
from importlib import resources

import pytest
import sympy as sp

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from symbolic.components.layers.tensors import numel  # noqa: E402
from symbolic.components.shapes import DecodeShape  # noqa: E402
from symbolic.components.shapes import StepShape  # noqa: E402
from symbolic.components import from_config  # noqa: E402
from symbolic.components.autoencoder_kl_ltx_video import LTXVideoVAE  # noqa: E402
from symbolic.components.ltx_video_transformer import LTXVideoTransformer  # noqa: E402
from symbolic.harness.meta_trace import trace_module  # noqa: E402

HUB = "Lightricks/LTX-Video"
TEXT_TOKENS = 128           # LTXPipeline max_sequence_length (T5 padded to it)
DTYPES = {2: torch.bfloat16, 4: torch.float32}


def bundled(component: str) -> dict:
    path = resources.files("symbolic.configs").joinpath("hub", *HUB.split("/"), component, "config.json")
    return json.loads(path.read_text())


def _kwargs(config: dict) -> dict:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def _meta(cls, config: dict, **override):
    with torch.device("meta"):
        return cls(**{**_kwargs(config), **override})


def _apply_order(module, prefix: str = ""):
    """(name, shape) of every parameter and buffer in ``nn.Module._apply`` order (children, own params, buffers)."""
    for name, child in module.named_children():
        yield from _apply_order(child, f"{prefix}{name}.")
    for group in (module._parameters, module._buffers):
        for name, t in group.items():
            if t is not None:
                yield prefix + name, tuple(t.shape)


# Later LTX-Video releases (not bundled): their VAE / transformer variants exercise the other code paths.
VAE_091 = {"decoder_block_out_channels": [256, 512, 1024], "decoder_layers_per_block": [5, 6, 7, 8],
           "decoder_spatio_temporal_scaling": [True, True, True], "decoder_inject_noise": [True, True, True, False],
           "upsample_residual": [True, True, True], "upsample_factor": [2, 2, 2], "timestep_conditioning": True}
VAE_095 = {**VAE_091, "down_block_types": ["LTXVideo095DownBlock3D"] * 4,
           "downsample_type": ["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
           "block_out_channels": [128, 256, 512, 1024, 2048], "layers_per_block": [4, 6, 6, 2, 2],
           "spatio_temporal_scaling": [True, True, True, True]}
CASES = [
    ("transformer", "LTXVideoTransformer3DModel", LTXVideoTransformer, {}, 1_923_385_472),
    ("vae", "AutoencoderKLLTXVideo", LTXVideoVAE, {}, 419_193_905),
    ("transformer", "LTXVideoTransformer3DModel", LTXVideoTransformer,
     {"norm_elementwise_affine": True, "num_layers": 2}, None),
    ("vae", "AutoencoderKLLTXVideo", LTXVideoVAE, VAE_091, None),
    ("vae", "AutoencoderKLLTXVideo", LTXVideoVAE, VAE_095, None),
]


@pytest.mark.parametrize("component, cls_name, ours, override, required", CASES)
def test_tensors_equal_the_real_class(component, cls_name, ours, override, required):
    config = {**bundled(component), **override}
    real = _meta(getattr(diffusers, cls_name), config)
    model = from_config(config)
    assert isinstance(model, ours)
    assert [(t.name, t.shape) for t in model.tensors] == list(_apply_order(real))
    count = sum(p.numel() for p in real.parameters()) + sum(b.numel() for b in real.buffers())
    assert numel(model.tensors) == count
    if required is not None:
        assert count == required
    assert tuple(getattr(real, "_keep_in_fp32_modules", None) or ()) == tuple(model.keep_fp32_modules)


def test_text_encoder_config_is_t5_xxl():
    config = bundled("text_encoder")
    with torch.device("meta"):
        real = transformers.T5EncoderModel(transformers.T5Config(**_kwargs(config)))
    assert numel(from_config(config).tensors) == sum(p.numel() for p in real.parameters())


def test_vae_compression_matches_the_class():
    real = _meta(diffusers.AutoencoderKLLTXVideo, bundled("vae"))
    vae = LTXVideoVAE(bundled("vae"))
    assert (vae.spatial_compression, vae.temporal_compression, vae.latent_channels) == (
        real.spatial_compression_ratio, real.temporal_compression_ratio, real.config.latent_channels) == (32, 8, 128)
    assert (vae.tile_latent, vae.tile_stride) == (real.tile_sample_min_height // vae.spatial_compression,
                                                  real.tile_sample_stride_height // vae.spatial_compression)


TINY = {
    "transformer": {"num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 8, "cross_attention_dim": 16,
                    "caption_channels": 16, "in_channels": 8, "out_channels": 8},
    "vae": {"block_out_channels": [8, 8, 8, 8], "decoder_block_out_channels": [8, 8, 8, 8],
            "layers_per_block": [1, 1, 1, 1, 1], "decoder_layers_per_block": [1, 1, 1, 1, 1], "latent_channels": 8},
}


@pytest.mark.parametrize("component, cls_name", [("transformer", "LTXVideoTransformer3DModel"),
                                                 ("vae", "AutoencoderKLLTXVideo")])
def test_loaded_dtypes(tmp_path, component, cls_name):
    """``from_pretrained(torch_dtype=bfloat16)`` of a saved (tiny) model: every floating tensor is bfloat16 except
    the ones the component keeps in float32 or at a fixed dtype (none for LTX-Video)."""
    cls = getattr(diffusers, cls_name)
    config = {**bundled(component), **TINY[component]}
    cls(**_kwargs(config)).save_pretrained(tmp_path)
    loaded = cls.from_pretrained(tmp_path, torch_dtype=torch.bfloat16)
    model = from_config(config)
    expected = {}
    for t in model.tensors:
        if any(k in t.name.split(".") for k in model.keep_fp32_modules):
            expected[t.name] = torch.float32
        else:
            expected[t.name] = {4: torch.float32, 8: torch.float64}.get(model.fixed_dtype_bytes.get(t.name),
                                                                      torch.bfloat16)
    actual = {n: x.dtype for n, x in list(loaded.named_parameters()) + list(loaded.named_buffers())}
    assert actual == expected


# --- live-bytes traces ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_block():
    """The transformer with one block (moments are per block), in bf16 and fp32, on ``meta``."""
    config = {**bundled("transformer"), "num_layers": 1}
    return {b: _meta(diffusers.LTXVideoTransformer3DModel, config).to(dtype) for b, dtype in DTYPES.items()}


@pytest.mark.parametrize("backend, batch, frames, h, w, b", [
    ("flash", 2, 3, 8, 12, 2),      # CFG batch, 65 frames at 256 x 384: cross-attention q-norm vs rotary
    ("flash", 2, 5, 16, 22, 2),     # 33 frames at 512 x 704
    ("flash", 1, 4, 16, 16, 4),     # float32: the feed-forward
    ("math", 2, 3, 8, 12, 2),       # heads x N x N float32 scores
    ("math", 2, 2, 4, 8, 2),        # tiny N: the moment just after the scores' bmm
    ("math", 1, 2, 8, 8, 4),
])
def test_transformer_step_trace(one_block, backend, batch, frames, h, w, b):
    real = one_block[b]
    dtype = DTYPES[b]
    n = frames * h * w
    with torch.device("meta"):
        x = torch.empty(batch, n, 128, dtype=dtype)
        text = torch.empty(batch, TEXT_TOKENS, 4096, dtype=dtype)
        mask = torch.ones(batch, TEXT_TOKENS, dtype=torch.bool)
        step = torch.empty(batch, dtype=torch.long)
    trace = trace_module(lambda: real(hidden_states=x, encoder_hidden_states=text, timestep=step,
                                      encoder_attention_mask=mask, num_frames=frames, height=h, width=w,
                                      rope_interpolation_scale=(8 / 25, 32, 32), return_dict=False)[0],
                         root=real, sdpa_backend=backend, record_live=False)
    model = LTXVideoTransformer(bundled("transformer"))
    shape = StepShape(sp.Integer(batch), sp.Integer(n), sp.Integer(TEXT_TOKENS), sp.Integer(b), backend)
    ours = max(int(v) for v in model.moments(shape).values()) + int(model.resident_inputs(shape))
    assert ours == pytest.approx(trace.peak_bytes, rel=0.01)


def test_transformer_symbolic_and_checks():
    model = LTXVideoTransformer(bundled("transformer"))
    B, N = sp.symbols("B N", positive=True, integer=True)
    b = sp.Symbol("b", positive=True, integer=True)
    shape = StepShape(B, N, sp.Integer(TEXT_TOKENS), b, "math")
    moments = model.moments(shape)
    assert set(moments) == set(model.moment_notes)
    point = {B: 2, N: 7392, b: 2}
    exact = StepShape(sp.Integer(2), sp.Integer(7392), sp.Integer(TEXT_TOKENS), sp.Integer(2), "math")
    assert {k: int(v.subs(point)) for k, v in moments.items()} == {k: int(v) for k, v in model.moments(exact).items()}
    assert (model.heads, model.head_dim, model.patch, model.joint_text, model.layers) == (32, 64, 1, False, 28)
    with pytest.raises(ValueError):
        model.moments(StepShape(B, N, sp.Integer(TEXT_TOKENS), b, "classic"))
    assert model.parallel_schemes == ()  # one device only: the pipeline model refuses a scheme (tests/cli)


@pytest.fixture(scope="module")
def vaes():
    config = bundled("vae")
    return {b: _meta(diffusers.AutoencoderKLLTXVideo, config).to(dtype) for b, dtype in DTYPES.items()}


@pytest.mark.parametrize("batch, t, h, w, b, tiling, slicing", [
    (1, 2, 2, 2, 2, False, False),      # 9 frames at 64 x 64
    (1, 3, 4, 3, 2, False, False),      # 17 frames at 128 x 96
    (2, 2, 3, 4, 2, False, False),
    (1, 3, 4, 4, 4, False, False),      # float32: the conv with its pad copies
    (2, 2, 3, 4, 2, False, True),       # vae_slicing
    (1, 2, 18, 20, 2, True, False),     # vae_tiling: 2 x 2 tiles of 16 x 16 latent pixels
    (1, 2, 17, 10, 4, True, False),
])
def test_vae_decode_trace(vaes, batch, t, h, w, b, tiling, slicing):
    """The traced decode peak never exceeds the moments' max and is within 10% of it (exact untiled; tiled the
    model holds every other tile's output and a full-size working tile)."""
    vae = vaes[b]
    vae.use_tiling, vae.use_slicing = tiling, slicing
    try:
        z = torch.empty(batch, 128, t, h, w, dtype=DTYPES[b], device="meta")
        trace = trace_module(lambda: vae.decode(z, return_dict=False)[0], root=vae, record_live=False)
    finally:
        vae.use_tiling = vae.use_slicing = False
    model = LTXVideoVAE(bundled("vae"))
    shape = DecodeShape(sp.Integer(batch), sp.Integer(t), sp.Integer(h), sp.Integer(w), sp.Integer(b),
                        tiling=tiling, b_value=b, slicing=slicing)
    moments = {k: int(v) for k, v in model.decode_moments(shape).items() if k != "postprocess"}
    ours = max(moments.values())
    assert trace.peak_bytes <= ours <= 1.10 * trace.peak_bytes, moments
    if not tiling:
        assert ours == pytest.approx(trace.peak_bytes, rel=0.01)


def test_vae_decode_symbolic():
    model = LTXVideoVAE(bundled("vae"))
    B, t, h, w = sp.symbols("B t h w", positive=True, integer=True)
    for tiling in (False, True):
        shape = DecodeShape(B, t, h, w, sp.Integer(2), tiling=tiling, b_value=2)
        moments = model.decode_moments(shape)
        assert set(moments) <= set(model.moment_notes)
        point = {B: 1, t: 21, h: 16, w: 22}          # 161 frames at 512 x 704 (LTXPipeline's defaults)
        exact = DecodeShape(sp.Integer(1), sp.Integer(21), sp.Integer(16), sp.Integer(22), sp.Integer(2),
                            tiling=tiling, b_value=2)
        assert {k: int(v.subs(point)) for k, v in moments.items()} == {
            k: int(v) for k, v in model.decode_moments(exact).items()}
    with pytest.raises(ValueError):
        LTXVideoVAE({**bundled("vae"), **VAE_091}).decode_moments(shape)
