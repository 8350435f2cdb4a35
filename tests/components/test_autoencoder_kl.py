"""``symbolic.components.autoencoder_kl.AutoencoderKL`` against diffusers' ``AutoencoderKL`` and the SD 1.5 terms.

1. Tensors: names, shapes and ``.to()`` order equal to the real class built on ``meta`` from SD 1.5's config, SDXL's
   (SD 1.5's with ``scaling_factor`` 0.13025, ``force_upcast``, ``sample_size`` 1024) and FLUX.1's (16 latent
   channels, no quant convs), plus small variants (3 blocks, one resnet per block, no mid attention).
2. No fp32-kept modules (the class has no ``_keep_in_fp32_modules``), no fixed-dtype buffers; the config-derived
   properties (compression, tile sizes) equal the real instance's.
3. (SD 1.5's decode and encode through the pipeline against the hand-built model the H100 rows validated, recorded
   before it was deleted: ``tests/pipelines/test_model.py::test_every_stage_equals_the_hand_built_model``.)
4. Live-bytes traces of the real module on ``meta`` (``symbolic.harness.meta_trace``): the trace misses cuDNN's
   workspaces, so ours - workspace <= trace <= ours (as ``tests/harness/test_cross_check_meta.py`` for SD 1.5); with tiling
   the held tiles are an upper bound (every tile counted full size), so only trace <= ours.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import sympy as sp

from symbolic.components.layers.tensors import numel
from symbolic.components.shapes import DecodeShape
from symbolic.components import from_config
from symbolic.components.autoencoder_kl import AutoencoderKL
from symbolic.components.shapes import EncodeShape
from symbolic.core.evaluate.printers import exact
from symbolic.pipelines.catalog import hub_config
from symbolic.core.symbols import H, N, W, b
from symbolic.core.terms import Category

DATA = Path(__file__).parent / "data"
HUB = Path(str(resources.files("symbolic.configs"))) / "hub"
SD15 = hub_config("stable-diffusion-v1-5/stable-diffusion-v1-5/vae")
FOUR_CHANNELS, SIXTEEN_CHANNELS = 83_653_863, 83_819_683
#: The brief's three configs, then every bundled Hub config of the class (``symbolic/configs/hub``).
CONFIGS = {
    "sd15": SD15,
    "sdxl": {**SD15, "scaling_factor": 0.13025, "force_upcast": True, "sample_size": 1024},
    "flux": json.loads((DATA / "flux_vae_config.json").read_text()),
    **{str(path.parent.relative_to(HUB)): config for path in sorted(HUB.glob("*/*/*/config.json"))
       if (config := json.loads(path.read_text())).get("_class_name") == "AutoencoderKL"},
}
#: Parameter + buffer elements (diffusers AutoencoderKL on meta; SD 1.5's also in data/measurements/README.md):
#: 4 latent channels with quant_conv / post_quant_conv, or 16 without.
COUNTS = {name: FOUR_CHANNELS if config.get("latent_channels") == 4 else SIXTEEN_CHANNELS
          for name, config in CONFIGS.items()}
_THREE_BLOCKS = {"block_out_channels": [32, 64, 64], "down_block_types": ["DownEncoderBlock2D"] * 3,
                 "up_block_types": ["UpDecoderBlock2D"] * 3, "norm_num_groups": 16}
VARIANTS = {
    "three_blocks_one_layer": {**SD15, **_THREE_BLOCKS, "layers_per_block": 1},
    "no_mid_attention": {**CONFIGS["flux"], "mid_block_add_attention": False},
    "defaults_only": {"_class_name": "AutoencoderKL", "block_out_channels": [32, 64],
                      "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2},
}


def _real(config: dict, dtype=None):
    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    with torch.device("meta"):
        vae = diffusers.AutoencoderKL.from_config(dict(config))
    return vae if dtype is None else vae.to(dtype)


# --- 1. tensors -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS) + list(VARIANTS))
def test_tensors_equal_the_real_class(name):
    build = pytest.importorskip("symbolic.harness.build_pipeline")
    config = {**CONFIGS, **VARIANTS}[name]
    real = build.tensor_sizes(_real(config))
    ours = from_config(config).tensors
    assert [(t.name, t.shape) for t in real] == [(t.name, t.shape) for t in ours]
    assert numel(ours) == sum(t.numel for t in real)
    if name in COUNTS:
        assert numel(ours) == COUNTS[name]


# --- 2. dtypes and config-derived properties --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS))
def test_dtypes_and_properties(name):
    config = CONFIGS[name]
    real = _real(config)
    ours = from_config(config)
    assert isinstance(ours, AutoencoderKL) and ours.kind == "vae"
    assert ours.keep_fp32_modules == tuple(type(real)._keep_in_fp32_modules or ())
    assert ours.fixed_dtype_bytes == {} and not list(real.buffers()) and all(t.floating for t in ours.tensors)
    assert ours.spatial_compression == 2 ** (len(real.config.block_out_channels) - 1) == 8
    assert ours.in_channels == real.config.in_channels and ours.out_channels == real.config.out_channels
    assert ours.temporal_compression == 1
    assert ours.latent_channels == real.config.latent_channels
    assert ours.force_upcast == real.config.force_upcast
    assert ours.scaling_factor == real.config.scaling_factor
    assert ours.shift_factor == real.config.shift_factor
    assert ours.tile_sample_min_size == real.tile_sample_min_size
    assert ours.tile_latent_min_size == real.tile_latent_min_size
    assert ours.tile_latent_stride == int(real.tile_latent_min_size * (1 - real.tile_overlap_factor))
    moments = set(ours.decode_moments(DecodeShape(N, 1, H / 8, W / 8, b))) | set(
        ours.encode_moments(EncodeShape(1, H, W, b)))
    assert moments == set(ours.moment_notes)


def test_refuses_what_it_does_not_model():
    with pytest.raises(ValueError, match="t must be 1"):
        from_config(SD15).decode_moments(DecodeShape(N, 2, H / 8, W / 8, b))
    with pytest.raises(ValueError, match="backend"):
        from_config(SD15).decode_moments(DecodeShape(N, 1, H / 8, W / 8, b, backend="sliced"))
    with pytest.raises(ValueError, match="blocks"):
        from_config({**SD15, "down_block_types": ["AttnDownEncoderBlock2D"] * 4})


# --- 4. the live-bytes trace of the real module ---------------------------------------------------------------------
TRACE_CASES = [
    # (config, stage, height, width, batch, dtype, backend, tiling, slicing)
    ("flux", "decode", 512, 768, 1, "bf16", "default", False, False),
    ("flux", "decode", 1024, 640, 2, "bf16", "default", False, False),
    ("flux", "decode", 384, 512, 3, "bf16", "default", False, True),
    ("flux", "decode", 1152, 1280, 1, "bf16", "default", True, False),
    ("flux", "encode", 640, 512, 2, "bf16", "default", False, False),
    ("sdxl", "decode", 512, 512, 1, "fp32", "math", False, False),
    ("sd15", "decode", 384, 640, 1, "fp16", "classic", False, False),
]
TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
BYTES = {"fp16": 2, "bf16": 2, "fp32": 4}
#: trace backend -> (meta_trace keywords, the component's backend)
TRACE_BACKENDS = {"default": ({}, "flash"), "math": ({"sdpa_backend": "math"}, "math"),
                  "classic": ({"attention": "classic"}, "classic")}


@pytest.fixture(scope="module")
def real_vaes():
    return {}


@pytest.mark.parametrize("name, stage, height, width, batch, dtype, backend, tiling, slicing", TRACE_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}x{c[3]}-B{c[4]}-{c[5]}-{c[6]}{'-tiled' * c[7]}{'-sliced' * c[8]}"
                              for c in TRACE_CASES])
def test_trace_lies_between_ours_without_workspace_and_ours(real_vaes, name, stage, height, width, batch, dtype,
                                                            backend, tiling, slicing):
    torch = pytest.importorskip("torch")
    meta_trace = pytest.importorskip("symbolic.harness.meta_trace")
    torch_dtype = getattr(torch, TORCH_DTYPES[dtype])
    key = (name, dtype)
    if key not in real_vaes:
        real_vaes[key] = _real(CONFIGS[name], torch_dtype)
    keywords, ours_backend = TRACE_BACKENDS[backend]
    tracer = meta_trace.trace_vae_decode if stage == "decode" else meta_trace.trace_vae_encode
    traced = tracer(height, width, batch=batch, dtype=torch_dtype, vae=real_vaes[key], tiling=tiling,
                    slicing=slicing, **keywords)

    vae = from_config(CONFIGS[name])
    s = vae.spatial_compression
    switches = dict(backend=ours_backend, tiling=tiling, slicing=slicing, b_value=BYTES[dtype])
    if stage == "decode":
        terms = vae.decode_terms(DecodeShape(N, 1, sp.floor(H / s), sp.floor(W / s), b, **switches))
    else:
        terms = vae.encode_terms(EncodeShape(N, H, W, b, **switches))
    point = dict(H=height, W=width, N=batch, b=BYTES[dtype])
    moments = {m: sum(exact(t.expr, **point) for t in terms if m in t.moments) for t in terms for m in t.moments}
    ours = max(moments.values())
    workspace = sum(exact(t.expr, **point) for t in terms if t.category == Category.WORKSPACE)
    assert traced.peak_bytes <= ours, traced.summary()
    if not tiling:
        assert ours - workspace <= traced.peak_bytes, traced.summary()
