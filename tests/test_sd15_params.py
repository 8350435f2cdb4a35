"""SD 1.5 parameter counts derived from the configs (symbolic.arch), checked against the measured table's counts and,
when torch and diffusers are installed, against the real diffusers / transformers modules built on the meta device."""
from __future__ import annotations

from collections import Counter

import pytest

from symbolic.arch.tensors import numel
from symbolic.pipelines.sd15 import architecture as arch
from symbolic.pipelines.sd15.api import estimate_sd15

#: data/measurements/README.md: "Parameter and buffer element counts of the built models (params + buffers)".
MEASURED_COUNTS = {
    "unet": 859_520_964,
    "vae": 83_653_863,
    "vae.encoder": 34_163_664,
    "vae.decoder": 49_490_199,
    "text_encoder": 123_060_557,
    "safety_checker": 303_981_845,
}
#: Integer (int64) buffers: CLIP's position_ids, 77 text tokens and 257 vision tokens; every other tensor floats.
INTEGER_ELEMENTS = {"unet": 0, "vae": 0, "vae.encoder": 0, "vae.decoder": 0, "text_encoder": 77, "safety_checker": 257}

OURS = {
    "unet": lambda: arch.unet().tensors,
    "vae": lambda: arch.vae().tensors,
    "vae.encoder": lambda: arch.vae().encoder_tensors,
    "vae.decoder": lambda: arch.vae().decoder_tensors,
    "text_encoder": lambda: arch.text_encoder().tensors,
    "safety_checker": lambda: arch.safety_checker().tensors,
}


@pytest.mark.parametrize("component", list(MEASURED_COUNTS))
def test_parameter_count_matches_measurement(component):
    tensors = OURS[component]()
    assert numel(tensors) == MEASURED_COUNTS[component]
    assert sum(t.numel for t in tensors if not t.floating) == INTEGER_ELEMENTS[component]


@pytest.mark.parametrize("component", list(OURS))
def test_tensor_names_are_unique(component):
    names = [t.name for t in OURS[component]()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("dtype, b", [("fp16", 2), ("bf16", 2), ("fp32", 4)])
@pytest.mark.parametrize("safety_checker", [True, False])
def test_weights_bytes_are_the_parameter_counts(dtype, b, safety_checker):
    """weights_bytes = floating elements x b + int64 buffers x 8, over the components ``from_pretrained`` loads."""
    components = ["unet", "vae", "text_encoder"] + (["safety_checker"] if safety_checker else [])
    integer = sum(INTEGER_ELEMENTS[c] for c in components)
    floating = sum(MEASURED_COUNTS[c] for c in components) - integer
    result = estimate_sd15(dtype=dtype, safety_checker=safety_checker)
    assert result["weights_bytes"] == floating * b + 8 * integer


def test_fp16_weights_bytes_value():
    """The DESIGN note's "~2.74 GB in fp16 incl. the safety checker"."""
    assert estimate_sd15()["weights_bytes"] == 2_740_436_462


# --- the real modules, on the meta device ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_tensors():
    """``{component: [(shape, floating), ...]}`` of the real modules, in ``module.to()`` order."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    build = pytest.importorskip("symbolic.harness.build_sd15")
    builders = {"unet": build.build_unet, "vae": build.build_vae, "text_encoder": build.build_text_encoder,
                "safety_checker": build.build_safety_checker}
    out = {}
    with torch.device("meta"):
        modules = {name: builder(build.load_config(name)) for name, builder in builders.items()}
    for name, module in modules.items():
        out[name] = [(s.shape, s.dtype.is_floating_point) for s in build.tensor_sizes(module)]
    vae = modules["vae"]
    out["vae.encoder"] = [(s.shape, s.dtype.is_floating_point)
                          for part in (vae.encoder, vae.quant_conv) for s in build.tensor_sizes(part)]
    out["vae.decoder"] = [(s.shape, s.dtype.is_floating_point)
                          for part in (vae.decoder, vae.post_quant_conv) for s in build.tensor_sizes(part)]
    return out


def ours(component: str) -> list[tuple[tuple[int, ...], bool]]:
    return [(tuple(t.shape), t.floating) for t in OURS[component]()]


@pytest.mark.parametrize("component", list(OURS))
def test_shapes_match_real_modules(real_tensors, component):
    """The same multiset of (shape, floating) as the real module: names may differ, the tensors may not."""
    real = Counter(real_tensors[component])
    mine = Counter(ours(component))
    assert mine == real, f"only ours: {mine - real}; only real: {real - mine}"


@pytest.mark.parametrize("component", list(MEASURED_COUNTS))
def test_real_modules_have_the_measured_counts(real_tensors, component):
    import math

    assert sum(math.prod(shape) for shape, _ in real_tensors[component]) == MEASURED_COUNTS[component]


@pytest.mark.parametrize("component", ["unet", "vae", "vae.decoder", "text_encoder", "safety_checker", "vae.encoder"])
def test_order_matches_module_to(real_tensors, component):
    """symbolic/arch promises the order ``nn.Module.to()`` allocates tensors in (the allocator replay of the weights'
    load depends on it): the real post-order walk of ``build_sd15.tensor_sizes``."""
    assert ours(component) == real_tensors[component]
