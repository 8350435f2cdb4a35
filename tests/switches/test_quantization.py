"""``symbolic.switches.quantization`` against the code it models: the Linear rule against the real classes on meta, the skip
lists against the libraries' own replacement functions, byte totals against the formulas, real quantization of a
small model on the CPU (bitsandbytes, torchao) and published file sizes."""
from __future__ import annotations

import math

import pytest

from symbolic import components
from symbolic.components import component_class
from symbolic.switches import quantization as q
from symbolic.pipelines import catalog
from symbolic.pipelines.model import component

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from tests.components.test_bundled_counts import real_module  # noqa: E402

GB = 10**9
# every bundled (class, config) once
_SEEN: dict[str, tuple[str, str]] = {}
for _entry in catalog.CATALOG.values():
    _source = catalog.load(_entry.id)
    for _role in _source.roles:
        _c = component(_source, _role)
        _key = f"{q.class_name(_c)}:{sorted(_c.config.items()).__repr__()}"
        _SEEN.setdefault(_key, (_entry.id, _role))
BUNDLED = sorted(set(_SEEN.values()))


def _comp(model, role):
    return component(catalog.load(model), role)


def _real_linear_weights(module, exact_type=False):
    nn = torch.nn
    return {f"{name}.weight" for name, m in module.named_modules()
            if (type(m) is nn.Linear if exact_type else isinstance(m, nn.Linear))}


@pytest.mark.parametrize("model, role", BUNDLED, ids=[f"{m}-{r}" for m, r in BUNDLED])
def test_linear_rule_equals_real_nn_linear(model, role):
    comp = _comp(model, role)
    ours = {t.name for t in comp.tensors if q.is_linear_weight(t)}
    real = real_module(comp.config)
    assert ours == _real_linear_weights(real)
    # transformers replaces ``type(module) is nn.Linear``: no subclass in these classes
    assert ours == _real_linear_weights(real, exact_type=True)


def test_keep_lists_are_the_class_attributes():
    import diffusers

    for model, role in BUNDLED:
        comp = _comp(model, role)
        name = q.class_name(comp)
        if comp.library == "diffusers" and comp.kind == "denoiser":
            assert tuple(getattr(diffusers, name)._keep_in_fp32_modules or ()) == tuple(comp.keep_fp32_modules)


# --- the skip lists against the libraries' own code --------------------------------------------------------------------
DENOISERS = [("flux.1-dev", "transformer"), ("sd3.5-large", "transformer"), ("sdxl", "unet"),
             ("wan2.1-t2v-1.3b", "transformer"), ("hunyuanvideo", "transformer")]


@pytest.mark.parametrize("model, role", DENOISERS, ids=[f"{m}-{r}" for m, r in DENOISERS])
@pytest.mark.parametrize("scheme", ["bnb_nf4", "bnb_int8"])
def test_diffusers_bnb_replacement(model, role, scheme):
    bnb = pytest.importorskip("bitsandbytes")
    from diffusers import BitsAndBytesConfig
    from diffusers.quantizers.bitsandbytes.utils import replace_with_bnb_linear

    comp = _comp(model, role)
    module = real_module(comp.config)
    config = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4") if scheme == "bnb_nf4"
              else BitsAndBytesConfig(load_in_8bit=True))
    skips = list(type(module)._keep_in_fp32_modules or [])   # bnb_quantizer: llm_int8_skip_modules None + keep
    module = replace_with_bnb_linear(module, modules_to_not_convert=skips, quantization_config=config)
    real = {n for n, m in module.named_modules() if isinstance(m, (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt))}
    assert q.quantized_modules(comp, scheme) == real


TEXT = [("flux.1-dev", "text_encoder_2"), ("sdxl", "text_encoder_2"), ("flux.1-dev", "text_encoder"),
        ("wan2.1-t2v-14b", "text_encoder"), ("hunyuanvideo", "text_encoder")]


@pytest.mark.parametrize("model, role", TEXT, ids=[f"{m}-{r}" for m, r in TEXT])
def test_transformers_skips(model, role):
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb
    from transformers import BitsAndBytesConfig
    from transformers.integrations import replace_with_bnb_linear
    from transformers.quantizers.base import HfQuantizer, get_keys_to_not_convert
    from transformers.quantizers.quantizers_utils import should_convert_module

    comp = _comp(model, role)
    module = real_module(comp.config)
    assert sorted(get_keys_to_not_convert(module)) == sorted(comp.keys_not_converted)
    skips = HfQuantizer.get_modules_to_not_convert(module, None, module._keep_in_fp32_modules)
    linears = {t.name for t in comp.tensors if q.is_linear_weight(t)}
    # torchao: should_convert_module on parameter names, nn.Linear weights
    torchao = {w[: -len(".weight")] for w in linears if should_convert_module(w, skips)}
    assert q.quantized_modules(comp, "torchao_int8wo") == torchao
    module = replace_with_bnb_linear(module, modules_to_not_convert=skips,
                                     quantization_config=BitsAndBytesConfig(load_in_4bit=True))
    real = {n for n, m in module.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert q.quantized_modules(comp, "bnb_nf4") == real


# --- byte totals against the formulas ----------------------------------------------------------------------------------
def test_flux_transformer_nf4_and_int8_by_hand():
    comp = _comp("flux.1-dev", "transformer")
    assert not comp.keep_fp32_modules
    linear = [t for t in comp.tensors if q.is_linear_weight(t)]
    rest = sum(t.numel for t in comp.tensors if not q.is_linear_weight(t) and t.name not in comp.fixed_dtype_bytes)
    fixed = sum(t.numel * comp.fixed_dtype_bytes[t.name] for t in comp.tensors if t.name in comp.fixed_dtype_bytes)
    # bitsandbytes quantize_4bit: (n + 1) // 2 packed + ceil(n / 64) float32 absmax + 16 float32 code per layer
    nf4 = sum((t.numel + 1) // 2 + math.ceil(t.numel / 64) * 4 + 64 for t in linear) + 2 * rest + fixed
    # Int8Params: int8 n + float32 SCB per output row
    int8 = sum(t.numel + t.shape[0] * 4 for t in linear) + 2 * rest + fixed
    assert q.quantized_bytes(comp, "bnb_nf4", "bf16") == nf4
    assert q.quantized_bytes(comp, "bnb_int8", "bf16") == int8
    assert len(linear) == 504 and len(q.quantized_modules(comp, "bnb_nf4")) == 504


def test_t5_nf4_and_int8_by_hand():
    comp = _comp("flux.1-dev", "text_encoder_2")
    linear = [t for t in comp.tensors if q.is_linear_weight(t)]
    wo = [t for t in linear if t.name.endswith(".wo.weight")]
    quantized = [t for t in linear if t not in wo]
    assert len(wo) == 24 and len(quantized) == 144
    other = sum(t.numel for t in comp.tensors if t not in quantized)
    for dtype, b, wo_b in (("bf16", 2, 2), ("fp16", 2, 4)):   # T5 keeps wo in float32 only under float16
        nf4 = sum((t.numel + 1) // 2 + math.ceil(t.numel / 64) * 4 + 64 for t in quantized)
        int8 = sum(t.numel + t.shape[0] * 4 for t in quantized)
        rest = (other - sum(t.numel for t in wo)) * b + sum(t.numel for t in wo) * wo_b
        assert q.quantized_bytes(comp, "bnb_nf4", dtype) == nf4 + rest
        assert q.quantized_bytes(comp, "bnb_int8", dtype) == int8 + rest


def test_order_replaces_each_weight_in_place():
    comp = _comp("flux.1-dev", "transformer")
    sizes = q.quantized_sizes(comp, "bnb_nf4", "bf16")
    names = [n for n, _ in sizes]
    first = next(t.name for t in comp.tensors if q.is_linear_weight(t))
    i = names.index(first)
    assert names[i - 1: i + 2] == [f"{first}.absmax", first, f"{first}.quant_map"]
    unquantized = [n for n in names if not n.endswith((".absmax", ".quant_map"))]
    assert unquantized == [t.name for t in comp.tensors]


# --- real quantization of a small model on the CPU ---------------------------------------------------------------------
TINY_FLUX = {"_class_name": "FluxTransformer2DModel", "in_channels": 16, "num_layers": 1, "num_single_layers": 1,
             "attention_head_dim": 64, "num_attention_heads": 2, "joint_attention_dim": 128,
             "pooled_projection_dim": 64, "guidance_embeds": True, "axes_dims_rope": [16, 24, 24]}


def _tiny():
    import diffusers

    comp = components.from_config(TINY_FLUX)
    torch.manual_seed(0)
    model = diffusers.FluxTransformer2DModel.from_config(TINY_FLUX).to(torch.bfloat16)
    return comp, model


def _plain_bytes(model, skip_ids=()):
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers())
               if id(t) not in skip_ids)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_bnb_4bit_on_cpu_matches(quant_type):
    bnb = pytest.importorskip("bitsandbytes")
    comp, model = _tiny()
    total = 0
    for name, m in list(model.named_modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, torch.nn.Linear):
                # diffusers _replace_with_bnb_linear + bnb_quantizer.create_quantized_param (Params4bit(...).to(dev))
                new = bnb.nn.Linear4bit(child.in_features, child.out_features, child.bias is not None,
                                        compress_statistics=False, quant_type=quant_type)
                new.weight = bnb.nn.Params4bit(child.weight.data, requires_grad=False, compress_statistics=False,
                                               quant_type=quant_type).to("cpu")
                if child.bias is not None:
                    new.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(m, child_name, new)
    for m in model.modules():
        if isinstance(m, bnb.nn.Linear4bit):
            qs = m.weight.quant_state
            total += m.weight.numel() * m.weight.element_size() + qs.absmax.numel() * 4 + qs.code.numel() * 4
            assert qs.absmax.dtype == torch.float32 and m.weight.dtype == torch.uint8
    skip = {id(m.weight) for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)}
    total += _plain_bytes(model, skip)
    assert q.quantized_bytes(comp, f"bnb_{quant_type}", "bf16") == total


def test_bnb_int8_on_cpu_matches():
    bnb = pytest.importorskip("bitsandbytes")
    comp, model = _tiny()
    for m in list(model.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, torch.nn.Linear):
                new = bnb.nn.Linear8bitLt(child.in_features, child.out_features, child.bias is not None,
                                          has_fp16_weights=False, threshold=6.0)
                new.weight = bnb.nn.Int8Params(child.weight.data, requires_grad=False,
                                               has_fp16_weights=False).to("cpu")
                if child.bias is not None:
                    new.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(m, child_name, new)
    total = 0
    for m in model.modules():
        if isinstance(m, bnb.nn.Linear8bitLt):
            assert m.weight.dtype == torch.int8 and m.weight.SCB.dtype == torch.float32
            total += m.weight.numel() + m.weight.SCB.numel() * 4
    skip = {id(m.weight) for m in model.modules() if isinstance(m, bnb.nn.Linear8bitLt)}
    total += _plain_bytes(model, skip)
    assert q.quantized_bytes(comp, "bnb_int8", "bf16") == total


def test_torchao_int8wo_on_cpu_matches():
    pytest.importorskip("torchao")
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    comp, model = _tiny()
    quantize_(model, Int8WeightOnlyConfig())   # diffusers applies the same config to each nn.Linear alone
    total = 0
    for p in list(model.parameters()) + list(model.buffers()):
        if type(p).__name__ == "Int8Tensor" or hasattr(p, "qdata"):
            total += sum(getattr(p, n).numel() * getattr(p, n).element_size() for n in ("qdata", "scale", "zero_point"))
        else:
            total += p.numel() * p.element_size()
    assert q.quantized_bytes(comp, "torchao_int8wo", "bf16") == total


def test_gguf_block_sizes_are_gguf_py():
    gguf = pytest.importorskip("gguf")
    assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0] == q.GGUF_BLOCKS["gguf_q8_0"]
    assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_K] == q.GGUF_BLOCKS["gguf_q4_k"]


def test_gguf_q8_0_dequant_chain_is_float16():
    """dequantize_gguf_tensor calls the block function without a dtype: the Q8_0 / Q4_K results are float16, so
    GGUFLinear.forward_native's .to(compute_dtype) makes a second copy under bfloat16 (the transient we model)."""
    pytest.importorskip("gguf")
    import gguf
    import numpy as np
    from diffusers.quantizers.gguf.utils import GGUFParameter, dequantize_gguf_tensor

    data = np.random.default_rng(0).standard_normal((8, 256)).astype(np.float32)
    packed = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
    param = GGUFParameter(torch.from_numpy(packed), quant_type=gguf.GGMLQuantizationType.Q8_0)
    assert packed.nbytes == 8 * 256 // 32 * 34
    assert dequantize_gguf_tensor(param).dtype == torch.float16
    raw = torch.zeros((8, 256 // 256 * 144), dtype=torch.uint8)
    param = GGUFParameter(raw, quant_type=gguf.GGMLQuantizationType.Q4_K)
    assert dequantize_gguf_tensor(param).dtype == torch.float16


# --- published sizes ---------------------------------------------------------------------------------------------------
def test_flux_published_sizes():
    comp = _comp("flux.1-dev", "transformer")
    # huggingface.co/city96/FLUX.1-dev-gguf file list: flux1-dev-Q8_0.gguf 12.7 GB, flux1-dev-Q4_K_S.gguf 6.81 GB
    # (the file keeps its unquantized tensors in F32 / F16; loaded, they take bf16: a few MB)
    assert q.quantized_bytes(comp, "gguf_q8_0", "bf16") == pytest.approx(12.7 * GB, rel=0.01)
    assert q.quantized_bytes(comp, "gguf_q4_k", "bf16") == pytest.approx(6.81 * GB, rel=0.02)
    # diffusers quantization docs / blog: FLUX.1-dev transformer in NF4 about 6.7 GB
    assert q.quantized_bytes(comp, "bnb_nf4", "bf16") == pytest.approx(6.7 * GB, rel=0.03)


# --- applicability and transients --------------------------------------------------------------------------------------
def test_refusals_name_the_argument():
    vae = _comp("flux.1-dev", "vae")
    with pytest.raises(ValueError, match="scheme: bnb_nf4 does not apply to AutoencoderKL"):
        q.quantized_sizes(vae, "bnb_nf4", "bf16")
    t5 = _comp("flux.1-dev", "text_encoder_2")
    with pytest.raises(ValueError, match="scheme: gguf_q8_0 does not apply to T5EncoderModel"):
        q.quantized_sizes(t5, "gguf_q8_0", "bf16")
    with pytest.raises(ValueError, match="scheme: gguf_q4_k does not apply to UNet2DConditionModel"):
        q.quantized_sizes(_comp("sdxl", "unet"), "gguf_q4_k", "fp16")
    with pytest.raises(ValueError, match="scheme: unknown"):
        q.quantized_sizes(t5, "awq", "bf16")
    with pytest.raises(ValueError, match="quantize: torchao_int4wo needs the bf16 dtype"):
        q.quantized_sizes(_comp("sdxl", "unet"), "torchao_int4wo", "fp16")
    assert q.supported(component_class("AutoencoderKL")) == ()
    assert q.applies(component_class("FluxTransformer2DModel"), "gguf_q4_k")
    assert not q.applies(component_class("CogVideoXTransformer3DModel"), "gguf_q8_0")


def test_dequant_transients():
    comp = _comp("flux.1-dev", "transformer")
    largest = max(t.numel for t in comp.tensors if q.is_linear_weight(t))
    assert q.dequant_transient_bytes(comp, "bnb_nf4", "bf16") == largest * 2
    assert q.dequant_transient_bytes(comp, "bnb_nf4", "fp16") == largest * 4   # default compute dtype float32
    assert q.dequant_transient_bytes(comp, "bnb_int8", "bf16") == 0
    assert q.dequant_transient_bytes(comp, "torchao_int8wo", "bf16") == largest * 2
    assert q.dequant_transient_bytes(comp, "torchao_int4wo", "bf16") == 0
    assert q.dequant_transient_bytes(comp, "gguf_q8_0", "bf16") == largest * 4
    assert q.dequant_transient_bytes(comp, "gguf_q4_k", "bf16") == largest * 5
    assert q.dequant_transient_bytes(comp, "gguf_q8_0", "bf16", compute_dtype="fp16") == largest * 2
    assert q.dequant_transient_bytes(comp, "gguf_q8_0", "fp32") == largest * 6
    assert q.matmul_transient_bytes(comp, "bnb_nf4", "bf16", rows=2) == 0
    assert q.matmul_transient_bytes(comp, "bnb_nf4", "bf16", rows=4608) == largest * 2
