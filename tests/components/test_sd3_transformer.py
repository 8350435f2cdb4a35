"""``symbolic.components.sd3_transformer`` against diffusers' ``SD3Transformer2DModel`` on the ``meta`` device, for
every bundled SD3.5 config: exact tensors (names, shapes, ``nn.Module._apply`` order, counts), the dtypes a
half-precision load gives, and the live-bytes trace of one forward (``symbolic.harness.meta_trace.trace_module``,
reduced ``num_layers``: moments are per block) against ``max(moments) + resident_inputs`` within 1%.

The cases keep the batch-2 flash traces where the feed-forward is the peak: under a ``TorchDispatchMode``,
``at::linear`` on a non-contiguous 3-D input (``to_out`` / ``to_add_out`` on the slices of the joint attention
output, batch > 1) adds its bias out of place (``isTensorSubclassLike`` is true while a mode is active), one extra
output-sized buffer that CUDA (``add_`` in place) does not allocate; the model follows CUDA.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from symbolic.components.layers.tensors import numel  # noqa: E402
from symbolic.components.shapes import StepShape  # noqa: E402
from symbolic.components import from_config  # noqa: E402
from symbolic.components.sd3_transformer import SD3Transformer2DModel  # noqa: E402
from symbolic.harness.meta_trace import trace_module  # noqa: E402

HUB = Path(__file__).resolve().parents[2] / "symbolic" / "configs" / "hub" / "stabilityai"
#: Parameters + buffers of the real class built from the bundled config (pos_embed buffer included).
COUNTS = {"stable-diffusion-3.5-medium": 2_469_663_936, "stable-diffusion-3.5-large": 8_146_280_768}
#: Text tokens of StableDiffusion3Pipeline's joint sequence: 77 CLIP + 256 T5 (max_sequence_length).
TEXT_TOKENS = 333
T5_WIDTH = 4096
POOLED_WIDTH = 2048


def _config(repo: str, **override) -> dict:
    return {**json.loads((HUB / repo / "transformer" / "config.json").read_text()), **override}


def _meta(config: dict, dtype=None):
    with torch.device("meta"):
        model = diffusers.SD3Transformer2DModel(**{k: v for k, v in config.items() if not k.startswith("_")})
    return model.to(dtype) if dtype is not None else model


def _apply_order(module, prefix: str = "") -> list[tuple[str, tuple[int, ...]]]:
    """Parameters and buffers in the order ``nn.Module._apply`` visits them: children, own parameters, own buffers."""
    out = []
    for name, child in module.named_children():
        out += _apply_order(child, f"{prefix}{name}.")
    out += [(prefix + n, tuple(p.shape)) for n, p in module._parameters.items() if p is not None]
    return out + [(prefix + n, tuple(b.shape)) for n, b in module._buffers.items() if b is not None]


@pytest.mark.parametrize("repo", sorted(COUNTS))
def test_tensors_equal_the_real_class(repo):
    config = _config(repo)
    real, ours = _meta(config), SD3Transformer2DModel(config)
    assert _apply_order(real) == [(t.name, t.shape) for t in ours.tensors]
    count = sum(p.numel() for p in real.parameters()) + sum(b.numel() for b in real.buffers())
    assert count == numel(ours.tensors) == COUNTS[repo]
    assert isinstance(from_config(config), SD3Transformer2DModel)


@pytest.mark.parametrize("repo", sorted(COUNTS))
def test_half_precision_load_casts_everything(repo):
    """No ``_keep_in_fp32_modules``; the position table is a persistent buffer (in the checkpoint, cast by
    ``from_pretrained(torch_dtype=...)``), so no tensor keeps a fixed dtype."""
    real, ours = _meta(_config(repo)), SD3Transformer2DModel(_config(repo))
    assert not real._keep_in_fp32_modules and ours.keep_fp32_modules == ()
    non_persistent = {f"{n}.{b}" if n else b for n, m in real.named_modules() for b in m._non_persistent_buffers_set}
    assert non_persistent == set() and ours.fixed_dtype_bytes == {}
    assert "pos_embed.pos_embed" in real.state_dict()


@pytest.mark.parametrize("repo", sorted(COUNTS))
def test_moments_have_notes_and_reject_parallel(repo):
    ours = SD3Transformer2DModel(_config(repo))
    shape = StepShape(sp.Integer(2), sp.Integer(4096), sp.Integer(TEXT_TOKENS), sp.Integer(2))
    assert set(ours.moments(shape)) <= set(ours.moment_notes)
    assert (ours.heads * ours.head_dim, ours.patch, ours.joint_text) == (ours.dim, 2, True)
    assert ours.parallel_schemes == ()  # one device only: the pipeline model refuses a scheme (tests/cli)


#: (repo, reduced config, dtype): the medium keeps one dual-attention block, one joint block and the
#: context_pre_only last block; the large a joint block and the last block.
MODELS = {
    "medium": ("stable-diffusion-3.5-medium", {"num_layers": 3, "dual_attention_layers": [0]}, torch.float16),
    "large": ("stable-diffusion-3.5-large", {"num_layers": 2}, torch.bfloat16),
}


@pytest.fixture(scope="module")
def models():
    return {key: (_meta(_config(repo, **over), dtype), SD3Transformer2DModel(_config(repo, **over)), dtype)
            for key, (repo, over, dtype) in MODELS.items()}


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("backend, latent, batch", [("flash", 16, 1), ("flash", 96, 2), ("math", 32, 2)])
def test_step_trace(models, model, backend, latent, batch):
    real, ours, dtype = models[model]
    with torch.device("meta"):
        x = torch.empty(batch, real.config.in_channels, latent, latent, dtype=dtype)
        text = torch.empty(batch, TEXT_TOKENS, T5_WIDTH, dtype=dtype)
        pooled = torch.empty(batch, POOLED_WIDTH, dtype=dtype)
        step = torch.empty(batch, dtype=dtype)
    traced = trace_module(lambda: real(hidden_states=x, encoder_hidden_states=text, pooled_projections=pooled,
                                       timestep=step, return_dict=False)[0], sdpa_backend=backend, root=real)
    tokens = (latent // ours.patch) ** 2
    shape = StepShape(sp.Integer(batch), sp.Integer(tokens), sp.Integer(TEXT_TOKENS), sp.Integer(2), backend)
    predicted = int(sp.Max(*ours.moments(shape).values()) + ours.resident_inputs(shape))
    assert predicted == pytest.approx(traced.peak_bytes, rel=0.01)
