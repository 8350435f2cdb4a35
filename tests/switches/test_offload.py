"""symbolic/switches/offload.py against the real diffusers / accelerate hooks on tiny CPU models.

On CPU there is no CUDA memory to read, so the hooks are instrumented instead: ``ModuleGroup.onload_`` /
``offload_`` record which groups are onloaded (their tensors' bytes, each storage once) and the largest sum during
the second forward (the steady state: with streams the first forward only traces the call order);
``AlignDevicesHook.pre_forward`` records the bytes of the tensors not on ``meta``; ``LayerwiseCastingHook.pre_forward``
records the bytes of all parameters after the upcast.
"""
from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusers.hooks import group_offloading as go  # noqa: E402
from diffusers.hooks import layerwise_casting as lc  # noqa: E402

from symbolic.components import component_class, supported_classes  # noqa: E402
from symbolic.switches import offload  # noqa: E402


# ----------------------------------------------------------------------------------------------------------------
# tiny models and their inputs
# ----------------------------------------------------------------------------------------------------------------

def tiny_flux():
    from diffusers import FluxTransformer2DModel
    torch.manual_seed(0)
    model = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=2, num_single_layers=2,
                                   attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                   pooled_projection_dim=16, guidance_embeds=True, axes_dims_rope=(4, 6, 6)).eval()

    def inputs():
        return dict(hidden_states=torch.randn(1, 16, 16), encoder_hidden_states=torch.randn(1, 8, 32),
                    pooled_projections=torch.randn(1, 16), timestep=torch.tensor([0.5]),
                    img_ids=torch.zeros(16, 3), txt_ids=torch.zeros(8, 3), guidance=torch.tensor([3.5]))
    return model, inputs


def tiny_unet():
    from diffusers import UNet2DConditionModel
    torch.manual_seed(0)
    model = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64),
                                 layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                 attention_head_dim=8, norm_num_groups=32).eval()

    def inputs():
        return dict(sample=torch.randn(1, 4, 8, 8), timestep=torch.tensor([10]),
                    encoder_hidden_states=torch.randn(1, 7, 32))
    return model, inputs


def tiny_vae():
    from diffusers import AutoencoderKL
    torch.manual_seed(0)
    model = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(32, 64),
                          down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                          up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), latent_channels=4,
                          norm_num_groups=32, sample_size=16).eval()

    def inputs():
        return dict(sample=torch.randn(1, 3, 16, 16))
    return model, inputs


MODELS = {"flux": tiny_flux, "unet": tiny_unet, "vae": tiny_vae}


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def names_and_sizes(model):
    """Parameters then buffers, as (name, bytes); order only matters through sibling order, which is passed."""
    out = [(n, nbytes(p)) for n, p in model.named_parameters()]
    out += [(n, nbytes(b)) for n, b in model.named_buffers()]
    return out


def call_order(model, inputs):
    """Module names in pre-forward call order (first call), from a plain forward."""
    names = {m: n for n, m in model.named_modules()}
    order: list[str] = []
    handles = [m.register_forward_pre_hook(lambda mod, args: order.append(names[mod])) for m in model.modules()]
    with torch.no_grad():
        model(**inputs())
    for h in handles:
        h.remove()
    return order


# ----------------------------------------------------------------------------------------------------------------
# group offloading: recorded onloads
# ----------------------------------------------------------------------------------------------------------------

class _FakeStream:
    def synchronize(self):
        pass


class _Recorder:
    def __init__(self):
        self.live: dict[int, go.ModuleGroup] = {}
        self.peak = 0

    @staticmethod
    def tensors(group):
        seen = {}
        for m in group.modules:
            for t in list(m.parameters()) + list(m.buffers()):
                seen[id(t)] = t
        for t in list(group.parameters) + list(group.buffers):
            seen[id(t)] = t
        return seen

    def current(self):
        seen = {}
        for g in self.live.values():
            seen.update(self.tensors(g))
        return sum(nbytes(t) for t in seen.values())

    def onload(self, group):
        self.live[id(group)] = group
        self.peak = max(self.peak, self.current())

    def offload(self, group):
        self.live.pop(id(group), None)


def measured_group_offload(model, inputs, mode, n, stream):
    rec = _Recorder()
    mp = pytest.MonkeyPatch()
    # Only record: onload and offload devices are both the CPU, so the transfers would be no-ops anyway.
    mp.setattr(go.ModuleGroup, "onload_", lambda self: rec.onload(self))
    mp.setattr(go.ModuleGroup, "offload_", lambda self: rec.offload(self))
    try:
        cpu = torch.device("cpu")
        if stream:
            # apply_group_offloading refuses streams on a CPU onload device: build its config by hand with a stream
            # stand-in (low_cpu_mem_usage avoids pinning, which needs CUDA).
            config = go.GroupOffloadingConfig(
                onload_device=cpu, offload_device=cpu, offload_type=go.GroupOffloadingType(mode),
                non_blocking=False, record_stream=False, low_cpu_mem_usage=True, num_blocks_per_group=n,
                stream=_FakeStream(), block_modules=getattr(model, "_group_offload_block_modules", None),
                exclude_kwargs=getattr(model, "_skip_keys", None))
            go._apply_group_offloading(model, config)
        else:
            go.apply_group_offloading(model, onload_device=cpu, offload_device=cpu, offload_type=mode,
                                      num_blocks_per_group=n)
        with torch.no_grad():
            model(**inputs())  # first forward: traces the order (streams)
            rec.peak = rec.current()
            model(**inputs())  # steady state
    finally:
        mp.undo()
    return rec.peak


CASES = [("block_level", 1, False), ("block_level", 2, False), ("block_level", 1, True),
         ("leaf_level", None, False), ("leaf_level", None, True)]


@pytest.mark.parametrize("which", ["flux", "unet", "vae"])
@pytest.mark.parametrize("mode,n,stream", CASES)
def test_group_offload_matches_hooks(which, mode, n, stream):
    model, inputs = MODELS[which]()
    order = call_order(model, inputs)
    ns = names_and_sizes(model)
    block_modules = component_class(type(model).__name__).group_offload_block_modules
    assert tuple(getattr(model, "_group_offload_block_modules", None) or ()) == block_modules
    ours = offload.group_offload_bytes(ns, mode, n, stream, order=order, block_modules=block_modules)
    real = measured_group_offload(model, inputs, mode, n, stream)
    assert ours == real
    total = sum(s for _, s in ns)
    assert 0 < ours <= total


def test_group_offload_definition_order_default():
    """Without ``order`` the definition order is used: block_level and non-stream leaf_level do not depend on it."""
    model, inputs = tiny_flux()
    order = call_order(model, inputs)
    ns = names_and_sizes(model)
    for mode, n, stream in CASES:
        if mode == "leaf_level" and stream:
            continue
        assert offload.group_offload_bytes(ns, mode, n, stream) == \
            offload.group_offload_bytes(ns, mode, n, stream, order=order)


def test_block_level_structure_flux():
    """block_level:1 = unmatched top-level modules + the largest block; :stream = + the largest neighbouring pair."""
    model, _ = tiny_flux()
    ns = names_and_sizes(model)
    blocks: dict[str, int] = {}
    unmatched = 0
    for name, s in ns:
        top = name.split(".")
        if top[0] in ("transformer_blocks", "single_transformer_blocks"):
            key = ".".join(top[:2])
            blocks[key] = blocks.get(key, 0) + s
        else:
            unmatched += s
    seq = list(blocks.values())
    assert offload.group_offload_bytes(ns, "block_level", 1, False) == unmatched + max(seq)
    assert offload.group_offload_bytes(ns, "block_level", 1, True) == \
        unmatched + max(a + b for a, b in zip(seq, seq[1:]))
    # stream forces N = 1
    assert offload.group_offload_bytes(ns, "block_level", 3, True) == \
        offload.group_offload_bytes(ns, "block_level", 1, True)


# ----------------------------------------------------------------------------------------------------------------
# sequential CPU offload (accelerate)
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["flux", "unet", "vae"])
def test_sequential_offload_matches_accelerate(which):
    accelerate = pytest.importorskip("accelerate")
    from accelerate.hooks import AlignDevicesHook
    model, inputs = MODELS[which]()
    order = call_order(model, inputs)
    ns = names_and_sizes(model)
    buffers = {n for n, _ in model.named_buffers()}
    non_persistent = {f"{mn}.{b}" if mn else b for mn, m in model.named_modules()
                      for b in m._non_persistent_buffers_set}
    offload_buffers = len(model._parameters) > 0  # as in DiffusionPipeline.enable_sequential_cpu_offload
    accelerate.cpu_offload(model, torch.device("cpu"), offload_buffers=offload_buffers)
    peak = 0
    original = AlignDevicesHook.pre_forward

    def pre_forward(self, module, *args, **kwargs):
        nonlocal peak
        out = original(self, module, *args, **kwargs)
        live = [t for t in list(model.parameters()) + list(model.buffers()) if t.device.type != "meta"]
        peak = max(peak, sum(nbytes(t) for t in live))
        return out

    mp = pytest.MonkeyPatch()
    mp.setattr(AlignDevicesHook, "pre_forward", pre_forward)
    try:
        with torch.no_grad():
            model(**inputs())
    finally:
        mp.undo()
    ours = offload.sequential_offload_bytes(ns, buffers=buffers, non_persistent=non_persistent, order=order)
    assert ours == peak
    # with no buffers and params only in leaves: the largest module's own parameters
    if which == "flux":
        own: dict[str, int] = {}
        for n, s in ns:
            own[n.rpartition(".")[0]] = own.get(n.rpartition(".")[0], 0) + s
        assert ours == max(own.values())


# ----------------------------------------------------------------------------------------------------------------
# layerwise casting
# ----------------------------------------------------------------------------------------------------------------

STORAGE = {"fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}


@pytest.mark.parametrize("which", ["flux", "unet", "vae"])
@pytest.mark.parametrize("storage", ["fp8_e4m3", "fp8_e5m2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_layerwise_casting_matches_hooks(which, storage, dtype):
    model, inputs = MODELS[which]()
    model = model.to(dtype)
    ns = names_and_sizes(model)
    ndims = {n: t.dim() for n, t in list(model.named_parameters()) + list(model.named_buffers())}
    patterns = offload.skip_patterns_for(component_class(type(model).__name__))
    stored, transient = offload.layerwise_casting_sizes(ns, torch.finfo(dtype).bits // 8, storage, patterns,
                                                        ndims=ndims)
    peak = 0
    original = lc.LayerwiseCastingHook.pre_forward

    def pre_forward(self, module, *args, **kwargs):
        nonlocal peak
        out = original(self, module, *args, **kwargs)
        peak = max(peak, sum(s for _, s in names_and_sizes(model)))
        return out

    mp = pytest.MonkeyPatch()
    # patched before the hooks are registered: HookRegistry binds the hook's methods when it wraps forward
    mp.setattr(lc.LayerwiseCastingHook, "pre_forward", pre_forward)
    try:
        model.enable_layerwise_casting(storage_dtype=STORAGE[storage], compute_dtype=dtype)
        real = names_and_sizes(model)
        assert dict(stored) == dict(real)
        assert sum(s for _, s in stored) < sum(s for _, s in ns)
        stored_total = sum(s for _, s in real)
        with torch.no_grad():
            inp = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in inputs().items()}
            model(**inp)
        assert peak > 0
        assert names_and_sizes(model) == real  # cast back after each forward
    finally:
        mp.undo()
    assert peak - stored_total == transient


def test_declared_facts_are_the_diffusers_class_attributes():
    """Every modelled diffusers class declares what its diffusers class sets (looked up by name, so a new
    diffusers release with classes we do not model changes nothing here)."""
    checked = 0
    for name in supported_classes():
        declared = component_class(name)
        if declared.library != "diffusers":
            continue
        real = getattr(diffusers, name)
        assert set(offload.skip_patterns_for(declared)) == set(lc.DEFAULT_SKIP_MODULES_PATTERN) | \
            set(real._keep_in_fp32_modules or ()) | set(real._skip_layerwise_casting_patterns or ()), name
        assert tuple(declared.keep_fp32_modules) == tuple(real._keep_in_fp32_modules or ()), name
        assert declared.supports_group_offloading == real._supports_group_offloading, name
        assert declared.group_offload_block_modules == tuple(getattr(real, "_group_offload_block_modules", None) or ())
        checked += 1
    assert checked >= 14
    assert offload.DEFAULT_SKIP_MODULES_PATTERN == lc.DEFAULT_SKIP_MODULES_PATTERN
    assert set(offload.skip_patterns_for(component_class("FluxTransformer2DModel"))) == \
        {"pos_embed", "patch_embed", "norm", "^proj_in$", "^proj_out$"}


# ----------------------------------------------------------------------------------------------------------------
# switch strings and applicability
# ----------------------------------------------------------------------------------------------------------------

def test_applies():
    from symbolic.components.base import ComponentBase

    assert offload.applies("sequential_cpu_offload", component_class("T5EncoderModel"))
    assert offload.applies("group_offload:leaf_level", component_class("CLIPTextModel"))
    assert offload.applies("group_offload:block_level:1", component_class("FluxTransformer2DModel"))
    refuses = type("NoGroupOffload", (ComponentBase,), {"supports_group_offloading": False})  # diffusers' VQModel
    assert not offload.applies("group_offload:block_level:1", refuses)
    assert offload.applies("layerwise_casting:fp8_e4m3", component_class("AutoencoderKL"))
    assert not offload.applies("layerwise_casting:fp8_e4m3", component_class("T5EncoderModel"))
    # pipeline-level enable_group_offload exists and falls back to apply_group_offloading for non-diffusers modules
    from diffusers import DiffusionPipeline
    assert hasattr(DiffusionPipeline, "enable_group_offload")
    assert not hasattr(DiffusionPipeline, "enable_layerwise_casting")


def test_transformers_encoder_block_level_is_one_group():
    """A transformers encoder has no top-level ModuleList: block_level keeps the whole model in one group."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, vocab_size=100, max_position_embeddings=16)
    model = transformers.CLIPTextModel(cfg).eval()
    ns = names_and_sizes(model)
    params = sum(s for n, s in ns if n in dict(model.named_parameters()))
    ours = offload.group_offload_bytes(ns, "block_level", 1, False)
    assert ours == sum(s for _, s in ns)
    real = measured_group_offload(model, lambda: dict(input_ids=torch.tensor([[1, 2, 3]])), "block_level", 1, False)
    assert real == ours
    assert params <= ours
