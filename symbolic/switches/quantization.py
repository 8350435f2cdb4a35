"""Weight quantization (``--quantize COMPONENT=SCHEME``): the bytes each stored tensor of a component takes after
``from_pretrained(..., quantization_config=...)`` and the dequantised copy live during a quantized matmul.

Plain integers, read from the libraries' code (versions read: bitsandbytes 0.50.2, torchao 0.18.0, diffusers 0.42.1,
transformers 5.24.0, gguf-py 0.19.0, city96/ComfyUI-GGUF ``tools/convert.py`` + ``tools/lcpp.patch`` for the files).

Which tensors are quantized
* Which modules are ``nn.Linear`` is decided from names and shapes alone (:func:`is_linear_weight`): a 2-D
  ``<module>.weight`` whose module is not an embedding (``nn.Embedding`` names of the bundled classes). Every
  bundled config is checked against the real class's ``nn.Linear`` set on the meta device
  (``tests/switches/test_quantization.py``).
* bitsandbytes in diffusers (``diffusers/quantizers/bitsandbytes/bnb_quantizer.py``
  ``_process_model_before_weight_loading`` + ``utils._replace_with_bnb_linear``): every ``nn.Linear`` except
  ``modules_to_not_convert`` = ``llm_int8_skip_modules`` (default ``None``) + the class's ``_keep_in_fp32_modules``;
  a Linear is skipped when its own name is in the list or ``key + "."`` is a substring of its dotted path.
* bitsandbytes / torchao in transformers (text encoders; ``transformers/quantizers/base.py``
  ``get_keys_to_not_convert`` + ``get_modules_to_not_convert``, ``quantizers_utils.should_convert_module``): the
  tied weights, the module of the last parameter, the output embeddings (``lm_head``) and ``_keep_in_fp32_modules``
  (T5 / UMT5 ``wo``). bnb matches module names (``wo`` suffix-matches ``...DenseReluDense.wo``: T5's ``wo`` stays
  unquantized); torchao matches *parameter* names (``...wo.weight`` does not end with ``wo``: T5's ``wo`` is
  quantized), exactly as the code does.
* torchao in diffusers (``diffusers/quantizers/torchao/torchao_quantizer.py`` ``check_if_quantized_param``): the
  ``weight`` of every ``nn.Linear`` whose parameter name has no ``key + "."`` of ``modules_to_not_convert``
  (``None`` + ``_keep_in_fp32_modules``). ``Int4WeightOnlyConfig`` leaves a weight whose ``in_features`` is not a
  multiple of ``group_size`` (128) unquantized (``torchao/quantization/quant_api.py``
  ``_int4_weight_only_quantize_tensor``).
* GGUF (pre-quantized files, ``FluxTransformer2DModel.from_single_file(..., quantization_config=
  GGUFQuantizationConfig(compute_dtype=dtype))``): what is quantized is what the file stores quantized.
  ``diffusers/quantizers/gguf/utils._replace_with_gguf_linear`` turns a Linear into ``GGUFLinear`` when its weight
  arrives as a ``GGUFParameter`` (anything but F32 / F16, ``models/model_loading_utils.load_gguf_checkpoint``). The
  published files (city96) come from ``tools/convert.py`` (1-D and <= 1024-element tensors F32) and llama.cpp's
  ``llama-quantize`` patched by ``tools/lcpp.patch``: per architecture the embedders, the final layer and the
  modulation tables stay unquantized and only 2-D tensors are quantized, i.e. the ``nn.Linear`` weights inside the
  repeated blocks (each class's ``gguf_blocks``); a K-quant needs rows divisible by 256 (``QK_K``; otherwise F16). Qwen-Image
  has no rule in that patch; the same "blocks only" rule is assumed. ``gguf_q4_k`` is every quantized tensor in
  Q4_K (city96's FLUX ``Q4_K_S`` file is exactly that: its Q5_K rules for ``to_v`` / ``ffn_down`` match no FLUX
  original-format name).

Storage per quantized ``(N, K)`` weight, n = N*K
* ``bnb_nf4`` / ``bnb_fp4`` (``bitsandbytes/functional.py`` ``quantize_4bit``, ``_ops.py`` fake
  ``quantize_4bit``; ``Params4bit._quantize``): absmax float32 ``ceil(n / 64)`` (blocksize 64, diffusers'
  ``BitsAndBytesConfig`` default ``bnb_4bit_use_double_quant=False``), packed uint8 ``(n + 1) // 2``, the 16-entry
  float32 code table (``get_4bit_type``, one per layer, 64 B). With double quant: absmax uint8 ``ceil(n / 64)``,
  nested absmax float32 ``ceil(ceil(n / 64) / 256)``, nested code 256 float32 and the float32 offset.
* ``bnb_int8`` (``nn/modules.py`` ``Int8Params._quantize`` -> ``functional.int8_vectorwise_quant``): int8 ``n``
  and the float32 row scales ``SCB`` (N).
* ``torchao_int8wo`` (``Int8WeightOnlyConfig()`` = ``Int8Tensor.from_hp(granularity=PerRow())``): int8 ``qdata``
  ``n``, float32 ``scale`` (N, 1), int8 ``zero_point`` (N, 1).
* ``torchao_int4wo`` (``Int4WeightOnlyConfig()`` = group 128, ``Int4PackingFormat.PLAIN`` ->
  ``Int4Tensor.from_hp`` with mslk's ``int4_row_quantize_zp`` + ``pack_int4``): packed ``n / 2`` bytes, ``scale``
  and ``zero_point`` (K / 128, N) each in the weight's dtype (bfloat16). The tinygemm layout
  (``TILE_PACKED_TO_4D``) stores the same bytes (int32-packed ``n / 2`` + a (K/128, N, 2) scale-and-zero).
* ``gguf_q8_0``: 34 bytes per 32 values; ``gguf_q4_k``: 144 bytes per 256 values (``gguf.GGML_QUANT_SIZES``),
  one uint8 tensor (N, K / block * type_size).
Everything not quantized loads as without quantization: ``dtype``, float32 for ``keep_fp32_modules``, the fixed
bytes of ``fixed_dtype_bytes``, int64 for integer buffers.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from symbolic.core.dtypes import BYTES_PER_ELEMENT, FP32, INT64, canonical_dtype
from symbolic.switches.switch import SCHEMES

if TYPE_CHECKING:  # annotations only: the warm path reads SCHEMES without the component library
    from symbolic.components.layers.tensors import Tensor


#: Where each scheme's storage and matmul come from.
SOURCES: dict[str, str] = {
    "bnb_nf4": "diffusers BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4'); "
               "bitsandbytes/functional.py quantize_4bit (blocksize 64, absmax float32, get_4bit_type code), "
               "nn/modules.py Params4bit._quantize / Linear4bit.forward, autograd/_functions.py matmul_4bit, "
               "backends/cuda/ops.py gemm_4bit (_dequant_linear_fallback past M=1536)",
    "bnb_fp4": "diffusers BitsAndBytesConfig(load_in_4bit=True) (bnb_4bit_quant_type default 'fp4'); same code as "
               "bnb_nf4",
    "bnb_int8": "diffusers BitsAndBytesConfig(load_in_8bit=True) (llm_int8_threshold=6.0); bitsandbytes "
                "nn/modules.py Int8Params._quantize (int8_vectorwise_quant: int8 + SCB float32 per row), "
                "autograd/_functions.py MatMul8bitLt.forward, backends/default/ops.py int8_mixed_scaled_mm",
    "torchao_int8wo": "diffusers TorchAoConfig(Int8WeightOnlyConfig()); torchao quantization/quant_api.py "
                      "_int8_weight_only_quantize_tensor -> quantize_/workflows/int8/int8_tensor.py Int8Tensor "
                      "(qdata int8, scale float32 (N,1), zero_point int8 (N,1)); its aten.linear: "
                      "mm(x, qdata.t().to(x.dtype)) * scale",
    "torchao_int4wo": "diffusers TorchAoConfig(Int4WeightOnlyConfig()) (group_size 128, PLAIN packing); torchao "
                      "quant_api.py _int4_weight_only_quantize_tensor -> quantize_/workflows/int4/int4_tensor.py "
                      "Int4Tensor (packed int4, scale + zero_point (K/128, N) in the weight dtype); its linear: "
                      "torch.ops.mslk.bf16i4bf16_rowwise (fused, no dequantised weight)",
    "gguf_q8_0": "diffusers GGUFQuantizationConfig; quantizers/gguf/utils.py GGUFLinear.forward_native -> "
                 "dequantize_gguf_tensor (dequantize_blocks_Q8_0) -> .to(compute_dtype); gguf.GGML_QUANT_SIZES Q8_0 "
                 "(32 values, 34 bytes); city96 ComfyUI-GGUF tools/convert.py + tools/lcpp.patch for which tensors",
    "gguf_q4_k": "diffusers GGUFQuantizationConfig; quantizers/gguf/utils.py dequantize_blocks_Q4_K; "
                 "gguf.GGML_QUANT_SIZES Q4_K (256 values, 144 bytes); city96 tools/lcpp.patch (K-quants need rows "
                 "divisible by 256, else F16)",
}

#: bitsandbytes 4-bit: ``Params4bit`` blocksize default 64; one 16-entry float32 code table per layer.
BNB4_BLOCK = 64
BNB4_CODE_BYTES = 16 * 4
#: Double quantization (``bnb_4bit_use_double_quant=True``): ``quantize_blockwise(absmax - offset, blocksize=256)``
#: with the 256-entry float32 dynamic map.
BNB4_NESTED_BLOCK = 256
BNB4_NESTED_CODE_BYTES = 256 * 4
#: ``backends/cuda/ops.py``: above this many rows ``gemm_4bit`` always dequantizes and calls ``F.linear``; at or
#: below ``_GEMM_4BIT_CUSTOM_FLOOR_M`` (4) it always uses the fused kernel; in between it depends on the GPU.
BNB4_CUSTOM_MAX_M = 1536
BNB4_CUSTOM_FLOOR_M = 4
TORCHAO_INT4_GROUP = 128
#: ``gguf.GGML_QUANT_SIZES``: (values per block, bytes per block).
GGUF_BLOCKS: dict[str, tuple[int, int]] = {"gguf_q8_0": (32, 34), "gguf_q4_k": (256, 144)}

_BNB = ("bnb_nf4", "bnb_fp4", "bnb_int8")
_TORCHAO = ("torchao_int8wo", "torchao_int4wo")
_GGUF = ("gguf_q8_0", "gguf_q4_k")

#: ``nn.Embedding`` modules of the bundled classes (2-D ``.weight`` that is not a Linear).
EMBEDDING_MODULES = frozenset({"shared", "embed_tokens", "token_embedding", "position_embedding",
                               "relative_attention_bias"})

_REFUSED: dict[str, str] = {
    "vae": "diffusers' bitsandbytes / torchao quantizers replace only nn.Linear and a VAE's weights are convolutions "
           "(AutoencoderKL's only Linear layers are its two mid-block attentions, about 2% of its parameters; the "
           "video VAEs have none), and diffusers' GGUF loader replaces only nn.Linear too",
    "safety_checker": "the safety checker is not quantized by any diffusers pipeline recipe; not modelled",
}


# --- which tensors ---------------------------------------------------------------------------------------------------
def class_name(component) -> str:
    from symbolic.components import class_name_of

    return str(class_name_of(component.config))


def is_linear_weight(tensor: Tensor) -> bool:
    """A ``nn.Linear`` weight: a 2-D ``<module>.weight`` whose module is not an ``nn.Embedding``. (Convolutions are
    3-D to 5-D; norms, biases and modulation tables 1-D or not named ``.weight``.)"""
    if not tensor.floating or len(tensor.shape) != 2 or not tensor.name.endswith(".weight"):
        return False
    module = tensor.name[: -len(".weight")]
    return module.rsplit(".", 1)[-1] not in EMBEDDING_MODULES


def _diffusers_skipped(module: str, skips: tuple[str, ...]) -> bool:
    """``_replace_with_bnb_linear``: ``name not in modules_to_not_convert`` and no ``key + "." in path`` /
    ``key == path``; torchao's ``check_if_quantized_param`` applies the substring test to the parameter name."""
    local = module.rsplit(".", 1)[-1]
    return local in skips or any(k + "." in module or k == module for k in skips)


def _hf_should_convert(full_name: str, patterns: tuple[str, ...]) -> bool:
    """``transformers.quantizers.quantizers_utils.should_convert_module``."""
    boundary = r"(?:(?<=\.)|(?=\.|$))"
    return not any(re.match(rf"(?:{key}){boundary}", full_name) or full_name.endswith(key) for key in patterns)


def _replaces_linears(component) -> bool:
    """diffusers' quantizers replace a denoiser's Linear layers (``_replace_with_bnb_linear``, torchao's
    per-parameter check)."""
    return component.kind == "denoiser" and component.library == "diffusers"


def _transformers_text(component) -> bool:
    """transformers' quantizers on a text encoder (``replace_with_bnb_linear``, ``param_needs_quantization``)."""
    return component.kind == "text_encoder" and component.library == "transformers"


def supported(component) -> tuple[str, ...]:
    """The schemes that apply to a component (its class or an instance): what its declared facts allow."""
    if _replaces_linears(component):
        return _BNB + _TORCHAO + (_GGUF if component.gguf_blocks else ())
    if _transformers_text(component):
        return _BNB + _TORCHAO
    return ()


def applies(component, scheme: str) -> bool:
    return scheme in supported(component)


def _check(component, scheme: str, dtype: str) -> tuple[str, str]:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown quantization scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    name = class_name(component)
    if not applies(component, scheme):
        kind = getattr(component, "kind", "")
        if kind in _REFUSED:
            why = _REFUSED[kind]
        elif scheme in _GGUF and _transformers_text(component):
            why = ("diffusers loads GGUF only for denoisers (GGUFQuantizationConfig via from_single_file); "
                   "transformers dequantizes a GGUF text encoder to full precision on load")
        elif scheme in _GGUF:
            why = ("diffusers cannot load this class from a GGUF file (not in SINGLE_FILE_LOADABLE_CLASSES, or its "
                   "files quantize convolutions, which GGUFLinear does not replace)")
        else:
            why = "no quantization is modelled for this class"
        supported_ = supported(component)
        raise ValueError(f"scheme: {scheme} does not apply to {name}: {why}"
                         + (f"; it supports {', '.join(supported_)}" if supported_ else ""))
    dtype = canonical_dtype(dtype, allowed=("fp32", "fp16", "bf16"))
    if scheme == "torchao_int4wo" and dtype != "bf16":
        raise ValueError(f"quantize: torchao_int4wo needs the bf16 dtype (Int4Tensor's scale / zero_point take the "
                         f"weight's dtype and its mslk bf16i4bf16_rowwise kernel takes bfloat16 activations); the "
                         f"component is loaded in {dtype}")
    return name, dtype


def quantized_modules(component, scheme: str) -> set[str]:
    """The module names (``<module>.weight`` without ``.weight``) whose weight ``scheme`` stores quantized."""
    keep = tuple(component.keep_fp32_modules)
    out = set()
    for t in component.tensors:
        if not is_linear_weight(t):
            continue
        module = t.name[: -len(".weight")]
        if _transformers_text(component):
            skips = tuple(component.keys_not_converted) + keep
            # bnb matches module names, torchao parameter names (should_convert_module on each)
            if not _hf_should_convert(t.name if scheme in _TORCHAO else module, skips):
                continue
        elif scheme in _GGUF:
            if module.split(".", 1)[0] not in component.gguf_blocks:
                continue
            if any(k in module.split(".") for k in keep):   # _replace_with_gguf_linear / create_quantized_param
                continue
            block, _ = GGUF_BLOCKS[scheme]
            if t.shape[1] % block:                          # lcpp.patch: incompatible rows fall back to F16
                continue
        else:
            if _diffusers_skipped(t.name if scheme in _TORCHAO else module, keep):
                continue
        if scheme == "torchao_int4wo" and t.shape[1] % TORCHAO_INT4_GROUP:
            continue
        out.add(module)
    return out


# --- bytes -----------------------------------------------------------------------------------------------------------
def _quantized_parts(t: Tensor, scheme: str, dtype_bytes: int, double_quant: bool) -> list[tuple[str, int]]:
    n_out, n_in = t.shape
    n = n_out * n_in
    w, module = t.name, t.name[: -len(".weight")]
    if scheme in ("bnb_nf4", "bnb_fp4"):
        blocks = -(-n // BNB4_BLOCK)
        if not double_quant:   # CUDA quantize_4bit allocates absmax, then the packed data, then the code table
            return [(f"{w}.absmax", blocks * FP32), (w, (n + 1) // 2), (f"{w}.quant_map", BNB4_CODE_BYTES)]
        nested = -(-blocks // BNB4_NESTED_BLOCK)
        return [(w, (n + 1) // 2), (f"{w}.absmax", blocks), (f"{w}.nested_absmax", nested * FP32),
                (f"{w}.nested_quant_map", BNB4_NESTED_CODE_BYTES), (f"{w}.quant_map", BNB4_CODE_BYTES),
                (f"{w}.offset", FP32)]
    if scheme == "bnb_int8":
        return [(w, n), (f"{module}.SCB", n_out * FP32)]
    if scheme == "torchao_int8wo":
        return [(f"{w}.qdata", n), (f"{w}.scale", n_out * FP32), (f"{w}.zero_point", n_out)]
    if scheme == "torchao_int4wo":
        groups = n_in // TORCHAO_INT4_GROUP
        return [(f"{w}.qdata", n // 2), (f"{w}.scale", groups * n_out * dtype_bytes),
                (f"{w}.zero_point", groups * n_out * dtype_bytes)]
    block, type_size = GGUF_BLOCKS[scheme]
    return [(w, n_out * (n_in // block) * type_size)]


def quantized_sizes(component, scheme: str, dtype: str, *, double_quant: bool = False) -> list[tuple[str, int]]:
    """Every stored tensor of ``component`` after loading with ``scheme`` and ``torch_dtype=dtype``, as
    ``(name, bytes)`` in ``.to()`` order: each quantized weight replaced by its packed data and quantization state
    (module docstring), the rest at their unquantized bytes. ``double_quant`` models bitsandbytes'
    ``bnb_4bit_use_double_quant=True`` (diffusers' default is False). Bytes are those of the tensors, before the
    caching allocator's 512-byte rounding.

    The load itself (not listed) moves each weight to the GPU in full precision before quantizing it there
    (``Params4bit._quantize``, ``Int8Params._quantize``, torchao's ``create_quantized_param``): one layer's
    full-precision weight is live at a time during ``from_pretrained``."""
    _, dtype = _check(component, scheme, dtype)
    b = BYTES_PER_ELEMENT[dtype]
    keep, fixed = component.keeps_fp32(dtype), dict(component.fixed_dtype_bytes)
    quantized = quantized_modules(component, scheme)
    out: list[tuple[str, int]] = []
    for t in component.tensors:
        if t.name.endswith(".weight") and t.name[: -len(".weight")] in quantized:
            out.extend(_quantized_parts(t, scheme, b, double_quant))
        elif t.name in fixed:
            out.append((t.name, t.numel * fixed[t.name]))
        elif not t.floating:
            out.append((t.name, t.numel * INT64))
        elif any(k in t.name.split(".") for k in keep):
            out.append((t.name, t.numel * FP32))
        else:
            out.append((t.name, t.numel * b))
    return out


def quantized_bytes(component, scheme: str, dtype: str, **kwargs) -> int:
    return sum(size for _, size in quantized_sizes(component, scheme, dtype, **kwargs))


def _compute_dtype(scheme: str, dtype: str, compute_dtype: str | None) -> str:
    """bnb 4-bit: ``Linear4bit.set_compute_type`` keeps a float32 / bfloat16 input's dtype; a float16 input is cast
    to ``bnb_4bit_compute_dtype`` (diffusers' default float32). GGUF: ``GGUFQuantizationConfig.compute_dtype``
    (default float32; the diffusers docs pass the pipeline dtype, which is the default here). Others: the input's."""
    if compute_dtype is not None:
        return canonical_dtype(compute_dtype, argument="compute_dtype", allowed=("fp32", "fp16", "bf16"))
    if scheme in ("bnb_nf4", "bnb_fp4") and dtype == "fp16":
        return "fp32"
    return dtype


def _largest_linear(component, scheme: str) -> tuple[int, int, bool]:
    """(N, K, has bias) of the quantized Linear with the most weight elements."""
    quantized = quantized_modules(component, scheme)
    names = {t.name for t in component.tensors}
    best = (0, 0, False)
    for t in component.tensors:
        if t.name.endswith(".weight") and t.name[: -len(".weight")] in quantized:
            if t.numel > best[0] * best[1]:
                best = (t.shape[0], t.shape[1], f"{t.name[: -len('.weight')]}.bias" in names)
    return best


def _weight_transient(scheme: str, n: int, b: int, compute: str) -> int:
    """Weight-sized temporaries of one quantized Linear's forward, the largest moment (bytes)."""
    bc = BYTES_PER_ELEMENT[compute]
    cast = 0 if compute == "fp16" else n * bc   # .to(compute_dtype) of the float16 dequantised copy
    if scheme in ("bnb_nf4", "bnb_fp4"):
        # gemm_4bit's _dequant_linear_fallback: B_dq = torch.empty(shapeB, dtype=A.dtype), then F.linear
        return n * bc
    if scheme == "bnb_int8":
        # int8_linear_matmul reads the int8 weight directly; only the outlier columns are dequantised
        # (CB[:, outlier_cols] -> float32 -> A.dtype), data-dependent and small: not modelled
        return 0
    if scheme == "torchao_int8wo":
        # Int8Tensor aten.linear, per-row path: torch.mm(x, qdata.t().to(output_dtype)): a full copy in x's dtype
        return n * b
    if scheme == "torchao_int4wo":
        return 0   # mslk bf16i4bf16_rowwise reads the packed int4 weight in the kernel
    # GGUFLinear.forward_native: dequantize_gguf_tensor runs the block functions with dtype=None, so the scales stay
    # float16 and the result is float16 (float16 * int8 / uint8 promotes to float16); then .to(compute_dtype).
    if scheme == "gguf_q8_0":
        # d * x -> float16 copy (2n); .to(compute) while it is alive
        chain = 2 * n + cast
    else:
        # dequantize_blocks_Q4_K: qs >> [0, 4] (uint8, n) ; (qs & 0x0F) (n, while the first is alive);
        # d * qs (float16, 2n) ; - dm (float16, 2n) with qs (n) alive: 5n; then .to(compute) beside the float16 copy
        chain = max(5 * n, 2 * n + cast)
    return max(chain, n * bc)   # then F.linear with the compute-dtype weight


def dequant_transient_bytes(component, scheme: str, dtype: str, *, compute_dtype: str | None = None) -> int:
    """The weight-sized bytes live during one quantized matmul, for the largest quantized Linear of ``component``
    (at most one layer's are live at a time: they die when its forward returns). Add it to the step's peak moment.

    * bnb 4-bit: the dequantised weight in the compute dtype (``gemm_4bit`` on CUDA always dequantizes past 1536
      input rows, which every diffusion step exceeds; :func:`matmul_transient_bytes` gives the small-M case).
    * bnb int8: 0 weight-sized bytes (LLM.int8 multiplies int8 by int8; the activation-sized int8 copy, int32
      product and row scales are in :func:`matmul_transient_bytes`).
    * torchao int8 weight-only: the int8 weight cast to the activation dtype (``qdata.t().to(output_dtype)``).
    * torchao int4 weight-only: 0 (fused mslk kernel).
    * GGUF: ``dequantize_gguf_tensor``'s float16 intermediates, then the compute-dtype copy (Q8_0: 2 bytes per value
      + the cast; Q4_K: 5 bytes per value inside ``dequantize_blocks_Q4_K``)."""
    _, dtype = _check(component, scheme, dtype)
    n_out, n_in, _ = _largest_linear(component, scheme)
    return _weight_transient(scheme, n_out * n_in, BYTES_PER_ELEMENT[dtype],
                             _compute_dtype(scheme, dtype, compute_dtype))


def matmul_transient_bytes(component, scheme: str, dtype: str, rows: int, *,
                           compute_dtype: str | None = None) -> int:
    """The extra bytes of the largest quantized Linear's forward on ``rows`` input rows (batch x tokens) beyond what
    an unquantized ``F.linear`` holds (its input and its output in ``dtype``), the largest moment.

    * bnb 4-bit: ``rows <= 4``: fused kernel, nothing; else the dequantised weight (an upper bound between 5 and
      1536 rows, where the GPU-specific heuristic may pick the fused kernel). Under fp16 with the default float32
      compute dtype also the float32 copy of the input and the float32 output before ``.to(inp_dtype)``.
    * bnb int8 (``MatMul8bitLt.forward``, threshold 6.0): ``A.to(float16)`` (when ``dtype`` is not fp16) while
      ``int8_vectorwise_quant`` makes CA (int8, rows x K) and SCA (float32 rows); then the int32 product (rows x N x 4)
      beside CA / SCA until ``int8_mm_dequant`` writes the output. Outlier columns not modelled.
    * torchao int8wo: the weight copy during ``mm``, then ``m`` (rows x N) beside ``y = m * scale``.
    * torchao int4wo: ``res + bias`` beside ``res`` when the layer has a bias.
    * GGUF: :func:`dequant_transient_bytes` (the chain runs before the output exists)."""
    _, dtype = _check(component, scheme, dtype)
    n_out, n_in, bias = _largest_linear(component, scheme)
    compute = _compute_dtype(scheme, dtype, compute_dtype)
    b, bc = BYTES_PER_ELEMENT[dtype], BYTES_PER_ELEMENT[compute]
    n = n_out * n_in
    if scheme in ("bnb_nf4", "bnb_fp4"):
        weight = 0 if rows <= BNB4_CUSTOM_FLOOR_M else n * bc
        if bc == b:
            return weight
        # x_c (rows*K*bc) beside x; W_dq + out_c (rows*N*bc) in place of out (rows*N*b); then out beside out_c
        return max(rows * n_in * bc + weight + rows * n_out * (bc - b), rows * n_in * bc + rows * n_out * bc)
    if scheme == "bnb_int8":
        cast = rows * n_in * 2 if dtype != "fp16" else 0
        quant = rows * n_in + rows * FP32
        return max(cast + quant, quant + rows * n_out * 4)
    if scheme == "torchao_int8wo":
        return max(n * b, rows * n_out * b)
    if scheme == "torchao_int4wo":
        return rows * n_out * b if bias else 0
    return _weight_transient(scheme, n, b, compute)


def describe(component, scheme: str, dtype: str) -> str:
    """One line: how many Linear weights are quantized and how many bytes remain."""
    _check(component, scheme, dtype)
    quantized = quantized_modules(component, scheme)
    linears = [t for t in component.tensors if is_linear_weight(t)]
    total = quantized_bytes(component, scheme, dtype)
    return (f"{class_name(component)} {scheme} ({dtype}): {len(quantized)} of {len(linears)} Linear weights "
            f"quantized, {total} bytes ({total / 2**30:.3f} GiB)")


__all__ = ["SCHEMES", "SOURCES", "applies", "supported", "quantized_sizes", "quantized_bytes",
           "dequant_transient_bytes", "matmul_transient_bytes", "quantized_modules", "is_linear_weight"]
