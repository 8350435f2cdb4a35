"""``symbolic.components.clip_text_with_projection`` against transformers' ``CLIPTextModelWithProjection`` on the
``meta`` device, for every bundled config of the class: exact tensors (names, shapes, ``_apply`` order, counts), the
dtypes of a half-precision load, and the live-bytes trace of one ``forward(input_ids, output_hidden_states=True)``
(as StableDiffusion3Pipeline / StableDiffusionXLPipeline call it) against ``max(activation_moments)`` within 1%.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from symbolic.components.clip_text import CLIPText  # noqa: E402
from symbolic.components.layers.tensors import numel  # noqa: E402
from symbolic.components import from_config  # noqa: E402
from symbolic.components.clip_text_with_projection import CLIPTextModelWithProjection  # noqa: E402
from symbolic.harness.meta_trace import trace_module  # noqa: E402

HUB = Path(__file__).resolve().parents[2] / "symbolic" / "configs" / "hub"
CONFIGS = sorted(str(p.relative_to(HUB)) for p in HUB.glob("*/*/*/config.json")
                 if "CLIPTextModelWithProjection" in json.loads(p.read_text()).get("architectures", []))
#: One config per distinct content (SD3.5 medium and large ship the same text encoders): the traces run once each.
UNIQUE = sorted({json.dumps(json.loads((HUB / p).read_text()), sort_keys=True): p for p in CONFIGS}.values())
#: Parameters + buffers (77 int64 position ids) of CLIP ViT-L/14's and OpenCLIP bigG/14's text towers.
COUNTS = {768: 123_650_381, 1280: 694_659_917}
#: The pipelines pad every prompt to the tokenizer's max_length.
TOKENS = 77


def _config(path: str) -> dict:
    return json.loads((HUB / path).read_text())


def _meta(config: dict, dtype=None):
    cls = transformers.CLIPTextModelWithProjection
    with torch.device("meta"):
        model = cls(cls.config_class(**{k: v for k, v in config.items() if not k.startswith("_")}))
    return model.to(dtype) if dtype is not None else model


def _apply_order(module, prefix: str = "") -> list[tuple[str, tuple[int, ...]]]:
    out = []
    for name, child in module.named_children():
        out += _apply_order(child, f"{prefix}{name}.")
    out += [(prefix + n, tuple(p.shape)) for n, p in module._parameters.items() if p is not None]
    return out + [(prefix + n, tuple(b.shape)) for n, b in module._buffers.items() if b is not None]


def test_configs_found():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize("path", CONFIGS)
def test_tensors_equal_the_real_class(path):
    config = _config(path)
    real, ours = _meta(config), CLIPTextModelWithProjection(config)
    assert _apply_order(real) == [(t.name, t.shape) for t in ours.tensors]
    count = sum(p.numel() for p in real.parameters()) + sum(b.numel() for b in real.buffers())
    assert count == numel(ours.tensors) == COUNTS.get(ours.hidden, count)
    # reuses the plain CLIPTextModel's tensors: only text_projection is new
    assert numel(ours.tensors) - numel(CLIPText(config).tensors) == ours.hidden * ours.projection_dim
    assert isinstance(from_config(config), CLIPTextModelWithProjection)
    assert ours.output_dim == config["hidden_size"]


@pytest.mark.parametrize("path", CONFIGS)
def test_half_precision_load(path):
    """No ``_keep_in_fp32_modules``; the only non-floating tensor is the int64 ``position_ids`` buffer."""
    real, ours = _meta(_config(path), torch.float16), CLIPTextModelWithProjection(_config(path))
    assert not real._keep_in_fp32_modules and ours.keep_fp32_modules == () and ours.fixed_dtype_bytes == {}
    dtypes = {n: t.dtype for n, t in [*real.named_parameters(), *real.named_buffers()]}
    assert {n for n, d in dtypes.items() if d != torch.float16} == {t.name for t in ours.tensors if not t.floating}


@pytest.mark.parametrize("path", UNIQUE)
@pytest.mark.parametrize("dtype, backend, batch", [(torch.float16, "flash", 2), (torch.bfloat16, "math", 1),
                                                   (torch.float16, "math", 2), (torch.float32, "flash", 1)])
def test_forward_trace(path, dtype, backend, batch):
    real, ours = _meta(_config(path), dtype), CLIPTextModelWithProjection(_config(path))
    ids = torch.zeros(batch, TOKENS, dtype=torch.long, device="meta")
    traced = trace_module(lambda: real(ids, output_hidden_states=True), sdpa_backend=backend, root=real)
    b = torch.finfo(dtype).bits // 8
    moments = ours.activation_moments(sp.Integer(batch), TOKENS, sp.Integer(b), str(dtype), backend=backend)
    assert set(moments) <= set(ours.moment_notes)
    assert int(sp.Max(*moments.values())) == pytest.approx(traced.peak_bytes, rel=0.01)
