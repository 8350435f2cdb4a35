"""SD 1.5's parameter counts and weights bytes through the generic path (the components built from the bundled Hub
configs in ``symbolic/configs/hub/stable-diffusion-v1-5/stable-diffusion-v1-5/``), checked against what was measured
on the H100: the element counts of the built models and the bytes allocated once the pipeline is loaded.

Names, shapes and ``.to()`` order against the real diffusers / transformers classes are
``tests/components/test_bundled_counts.py``'s; here the real modules only add what that test does not compare: which
tensors are integer buffers (they keep int64 under ``torch_dtype``) and the VAE's encoder / decoder split.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from symbolic.core.evaluate import printers
from symbolic.pipelines import catalog
from symbolic.pipelines.model import component
from symbolic.pipelines.api import estimate, estimate_sd15, pipeline_model


MEASURED = Path(__file__).resolve().parents[2] / "data" / "measurements" / "sd15_h100.csv"
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
#: torch.int64's element size.
INT64_BYTES = 8
#: The measured rows' weights_allocated_bytes minus the model's resident weights lie within the stage bar of
#: tests/pipelines/test_model.py (the README: "~35 MB left from earlier calls in the same process" on top of the weights).
LEFTOVER_BAR = 0.02


def sd15_tensors(part: str) -> list:
    """Our tensor list of a component, or of the VAE's halves as the README counts them (encoder + quant_conv,
    decoder + post_quant_conv)."""
    source = catalog.load("sd15")
    if part == "vae.encoder":
        vae = component(source, "vae")
        return list(vae.encoder_tensors) + list(vae.quant_conv_tensors)
    if part == "vae.decoder":
        vae = component(source, "vae")
        return list(vae.decoder_tensors) + list(vae.post_quant_conv_tensors)
    return list(component(source, part).tensors)


@pytest.mark.parametrize("part", list(MEASURED_COUNTS))
def test_parameter_count_matches_measurement(part):
    tensors = sd15_tensors(part)
    assert sum(t.numel for t in tensors) == MEASURED_COUNTS[part]
    assert sum(t.numel for t in tensors if not t.floating) == INTEGER_ELEMENTS[part]


def test_vae_halves_are_the_whole_vae():
    names = [t.name for part in ("vae.encoder", "vae.decoder") for t in sd15_tensors(part)]
    assert sorted(names) == sorted(t.name for t in sd15_tensors("vae"))


@pytest.mark.parametrize("dtype, b", [("fp16", 2), ("bf16", 2), ("fp32", 4)])
@pytest.mark.parametrize("safety_checker", [True, False])
@pytest.mark.parametrize("task", ["img2img", "txt2img"])
def test_weights_bytes_are_the_parameter_counts(dtype, b, safety_checker, task):
    """weights_bytes = floating elements x b + int64 buffers x 8, over the components ``from_pretrained`` loads;
    the same per component in ``component_weights_bytes``."""
    roles = ["unet", "vae", "text_encoder"] + (["safety_checker"] if safety_checker else [])
    expected = {role: (MEASURED_COUNTS[role] - INTEGER_ELEMENTS[role]) * b + INT64_BYTES * INTEGER_ELEMENTS[role]
                for role in roles}
    result = estimate("sd15", dtype=dtype, safety_checker=safety_checker, task=task)
    assert result["component_weights_bytes"] == expected
    assert result["weights_bytes"] == sum(expected.values())
    assert estimate_sd15(dtype=dtype, safety_checker=safety_checker, task=task)["weights_bytes"] == sum(expected.values())


def test_fp16_weights_bytes_value():
    """The DESIGN note's "~2.74 GB in fp16 incl. the safety checker"."""
    assert estimate_sd15()["weights_bytes"] == 2_740_436_462


def _measured_rows() -> list[dict]:
    with MEASURED.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("row", _measured_rows(), ids=lambda r: f"{r['task']}-{r['height']}x{r['width']}-"
                         f"{r['attention']}-{r['sdpa_backend']}-{r['memory_option']}-{r['dtype']}")
def test_measured_weights_allocated(row):
    """``torch.cuda.memory_allocated()`` before the call (``weights_allocated_bytes``) holds the loaded weights with
    the allocator's rounding of each tensor (every stage's resident weights, the same in every stage without
    offload) and a little left from earlier calls: weights_bytes <= resident weights <= measured <= 1.02 x resident."""
    options = () if row["memory_option"] == "none" else (row["memory_option"],)
    model = pipeline_model("sd15", task=row["task"], dtype=row["dtype"], attention=row["attention"],
                           attention_backend=row["sdpa_backend"], memory_options=options)
    b = model.config.b_value
    resident = {printers.exact(expr, b=b) for expr in model.stage_weights.values()}
    assert len(resident) == 1, "without offload the resident weights are the same in every stage"
    resident_weights = resident.pop()
    measured = int(row["weights_allocated_bytes"])
    assert printers.exact(model.weights, b=b) <= resident_weights <= measured <= (1 + LEFTOVER_BAR) * resident_weights


# --- the real modules, on the meta device ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_tensors():
    """``{part: [(name, numel, floating), ...]}`` of the real modules built from the same bundled configs."""
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from symbolic.harness.build_pipeline import tensor_sizes
    from tests.components.test_bundled_counts import real_module

    source = catalog.load("sd15")
    modules = {role: real_module(source.config(role)) for role in source.roles}

    def listed(parts, prefix=""):
        return [(f"{prefix}{s.name}", s.numel, s.dtype.is_floating_point) for part, prefix in parts
                for s in tensor_sizes(part)]

    out = {role: listed([(module, "")]) for role, module in modules.items()}
    vae = modules["vae"]
    out["vae.encoder"] = listed([(vae.encoder, "encoder."), (vae.quant_conv, "quant_conv.")])
    out["vae.decoder"] = listed([(vae.decoder, "decoder."), (vae.post_quant_conv, "post_quant_conv.")])
    return out


@pytest.mark.parametrize("part", list(MEASURED_COUNTS))
def test_real_modules_have_the_measured_counts(real_tensors, part):
    assert sum(numel for _, numel, _ in real_tensors[part]) == MEASURED_COUNTS[part]
    assert sum(numel for _, numel, floating in real_tensors[part] if not floating) == INTEGER_ELEMENTS[part]


@pytest.mark.parametrize("part", list(MEASURED_COUNTS))
def test_integer_buffers_are_the_real_ones(real_tensors, part):
    """The tensors we load as int64 (``floating=False``) are exactly the real modules' integer buffers."""
    ours = sorted((t.name, t.numel, t.floating) for t in sd15_tensors(part))
    assert ours == sorted(real_tensors[part])
