"""CPU cross-check witness: live activation bytes of the real diffusers modules, executed on the ``meta`` device.

Method (``shared/DESIGN.md``, "Cross-checking without a GPU"):

* The real modules (``AutoencoderKL``, ``UNet2DConditionModel``, ``CLIPTextModel``, the safety checker's CLIP vision
  tower; by default SD 1.5's, built from its bundled Hub-layout configs by
  :func:`symbolic.harness.build_pipeline.build_components`), live on the ``meta`` device: every
  op computes shapes, dtypes and strides but no values, so any resolution runs in well under a second.
* :class:`LiveBytesMode`, a ``TorchDispatchMode``, sees every aten op. For each output tensor whose *storage* is new
  (not the storage of one of the op's inputs: views and in-place ops allocate nothing) it adds the storage's bytes
  rounded up to 512 (the CUDA caching allocator's block granularity) and registers a ``weakref.finalize`` on the
  untyped storage that subtracts them when the storage dies. Storages, not tensors, are counted: a view keeps its
  base's storage alive, and a storage is freed when the last view goes, as on the GPU. The maximum of the running
  sum is the stage's peak; the storages live at that moment are kept (size, shape, the aten op that made them and
  the module that was running) as :attr:`TraceResult.live_at_peak`.
* Parameters, buffers and the stage's inputs are created before the mode is entered and are never counted: the
  result is the stage peak *over its start* (``peak_over_start`` in ``measurements/sd15_h100_peak_composition.json``).
* The stage runs under ``torch.inference_mode()`` like the pipeline. Under inference mode the autograd key (where
  composite ops are normally decomposed) is skipped, so the mode would see composite ops such as
  ``scaled_dot_product_attention`` or ``linear`` whole and miss their intermediates; the mode therefore decomposes
  every ``CompositeImplicitAutograd`` op itself (its C++ kernel, run inside the mode) and counts the primitive ops
  underneath, which is what the CUDA dispatcher runs too. ``_safe_softmax`` (math SDPA) is likewise run through its
  composite kernel, as on CUDA (its meta kernel would hide an N x N bool mask).
* Attention backend. ``scaled_dot_product_attention`` asks a per-device stub (``_fused_sdp_choice_stub``, not a
  dispatched op) which kernel to run. ``meta`` has no stub, so on ``meta`` it always runs the math path (an explicit
  softmax(Q K^T) V that stores the N x N scores; fp16/bf16 inputs are upcast to fp32 first, as on CUDA). The mode
  intercepts ``aten.scaled_dot_product_attention`` and, according to ``sdpa_backend``, calls the fused op directly
  or lets the math decomposition run:
  ``"math"`` -> math; ``"efficient"`` -> ``_scaled_dot_product_efficient_attention`` (its meta kernel allocates the
  output and, since no gradient is needed, an empty logsumexp); ``"flash"`` ->
  ``_scaled_dot_product_flash_attention`` (output + fp32 logsumexp B x heads x N); ``"default"`` mirrors the CUDA
  dispatcher's order on an sm80+ GPU: flash when the dtype is fp16/bf16, there is no mask and head_dim <= 256, else
  memory-efficient (so the VAE's single 512-dim head takes the efficient kernel, the UNet's heads flash); ``None``
  leaves the meta answer (math). ``attention="classic"`` sets diffusers' ``AttnProcessor`` (explicit ``baddbmm`` +
  softmax) on the model, ``"sliced"`` its ``SlicedAttnProcessor`` with the slice size that
  ``enable_attention_slicing()`` picks (``attention_head_dim // 2``), ``"sdpa"`` the default ``AttnProcessor2_0``.

What the trace cannot see (why it is a lower bound of the GPU's stage peak): kernel workspaces allocated inside a
CUDA op (cuDNN convolution workspaces, e.g. the 257 MiB block inside ``conv2d`` at the 512 x 512 decode peak,
cuBLAS workspaces), allocator effects (segments, rounding above 512 bytes, fragmentation) and the CUDA context.
"""
from __future__ import annotations

import functools
import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import nn
from torch.nn.attention import SDPBackend
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .build_pipeline import build_components, dtype_name, resolve_dtype
from .torch_memory import ALLOCATOR_ROUND, round_allocation

aten = torch.ops.aten

SDPA_BACKENDS = (None, "default", "math", "efficient", "flash")
ATTENTION_KINDS = ("sdpa", "classic", "sliced")

#: ``f(func, args, kwargs, out) -> int``: bytes of a kernel-internal transient buffer (see :class:`LiveBytesMode`).
WorkspaceFn = Callable[[Any, tuple, dict, Any], int]

_CHOICE = {
    "math": int(SDPBackend.MATH),
    "efficient": int(SDPBackend.EFFICIENT_ATTENTION),
    "flash": int(SDPBackend.FLASH_ATTENTION),
}


@dataclass(frozen=True)
class LiveBlock:
    """One storage live at the peak."""

    nbytes: int  # rounded to the allocator block (512 bytes)
    op: str  # aten op that allocated it, e.g. "aten.convolution.default"
    module: str  # qualified name of the innermost module running at that moment ("" = the traced callable)
    shape: tuple[int, ...]
    dtype: torch.dtype

    def __str__(self) -> str:
        return f"{self.nbytes / 2**20:10.3f} MiB  {self.op:<40s} {self.module}  {list(self.shape)} {self.dtype}"


@dataclass
class TraceResult:
    """Live-bytes statistics of one traced stage (activations only: weights and inputs excluded)."""

    stage: str
    peak_bytes: int = 0  # max over the stage of the sum of live (rounded) storages created in it
    end_bytes: int = 0  # still live when the stage returned (its outputs)
    allocated_bytes: int = 0  # sum of every allocation (rounded), freed or not
    num_allocations: int = 0
    peak_op: str = ""  # the op whose allocation set the peak
    peak_module: str = ""
    live_at_peak: list[LiveBlock] = field(default_factory=list)  # largest first
    params: dict[str, Any] = field(default_factory=dict)
    #: with ``record_timeline=True``: ("+"/"-", op, module, bytes, live bytes after) per allocation / free
    timeline: list[tuple[str, str, str, int, int]] | None = None

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / 2**30

    def summary(self, top: int = 10) -> str:
        lines = [f"{self.stage} {self.params}: peak {self.peak_bytes:,} B ({self.peak_gib:.3f} GiB) at "
                 f"{self.peak_op} in {self.peak_module or '<root>'}; {self.num_allocations} allocations, "
                 f"{len(self.live_at_peak)} storages live at the peak"]
        lines += ["  " + str(b) for b in self.live_at_peak[:top]]
        if len(self.live_at_peak) > top:
            rest = sum(b.nbytes for b in self.live_at_peak[top:])
            lines.append(f"  ... {len(self.live_at_peak) - top} more, {rest / 2**20:.3f} MiB")
        return "\n".join(lines)


def _cuda_default_choice(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0, is_causal: bool = False,
                         **_: Any) -> int:
    """What ``_fused_sdp_choice_cuda`` picks on an sm80/sm90 GPU for inference inputs (approximation of
    ``sdp_utils.cpp``: flash needs fp16/bf16, no explicit mask and head_dim <= 256; memory-efficient takes the rest
    that is not exotic)."""
    head_dim = query.size(-1)
    if query.dtype in (torch.float16, torch.bfloat16) and attn_mask is None and head_dim <= 256:
        return _CHOICE["flash"]
    return _CHOICE["efficient"]


class LiveBytesMode(TorchDispatchMode):
    """Counts live storage bytes of every tensor allocated while the mode is active.

    ``sdpa_backend``: see the module docstring (``None``, ``"default"``, ``"math"``, ``"efficient"``, ``"flash"``).
    ``module_names``: ``{id(module): name}`` used to attribute allocations (filled by :func:`trace_module`).
    ``workspace``: optional ``f(func, args, kwargs, out) -> bytes`` of a transient buffer the real kernel allocates
    after its output and frees before returning (e.g. a cuDNN convolution workspace, invisible on ``meta``); it
    counts towards the peak (as a pseudo-block ``workspace:<op>``) and is freed at once. Default: none.
    """

    def __init__(self, sdpa_backend: str | None = "default", round_to: int = ALLOCATOR_ROUND,
                 record_live: bool = True, module_names: dict[int, str] | None = None,
                 record_timeline: bool = False, workspace: WorkspaceFn | None = None):
        super().__init__()
        self.workspace = workspace
        self.timeline: list[tuple[str, str, str, int, int]] | None = [] if record_timeline else None
        if sdpa_backend not in SDPA_BACKENDS:
            raise ValueError(f"sdpa_backend must be one of {SDPA_BACKENDS}, not {sdpa_backend!r}")
        self.sdpa_backend = sdpa_backend
        self.round_to = round_to
        self.record_live = record_live
        self.module_names = module_names or {}
        self.module_stack: list[str] = []
        self.live: dict[int, LiveBlock] = {}
        self.current = 0
        self.peak = 0
        self.peak_op = ""
        self.peak_module = ""
        self.peak_live: list[LiveBlock] = []
        self.allocated = 0
        self.num_allocations = 0
        self.sdpa_choices: list[int] = []
        self._closed = False

    # -- bookkeeping
    def _free(self, key: int) -> None:
        if self._closed:
            return
        block = self.live.pop(key, None)
        if block is not None:
            self.current -= block.nbytes
            if self.timeline is not None:
                self.timeline.append(("-", block.op, block.module, block.nbytes, self.current))

    def _track(self, func, args, kwargs, out) -> None:
        inputs = {t.untyped_storage()._cdata for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        host_side = _HOST_SIDE_OUTPUTS.get(func, ())
        for i, t in enumerate(tree_leaves(out)):
            if not isinstance(t, torch.Tensor) or t.is_sparse or i in host_side:
                continue
            storage = t.untyped_storage()
            key = storage._cdata
            if key in inputs or key in self.live:
                continue  # a view or an in-place result: nothing new was allocated
            nbytes = round_allocation(storage.nbytes(), self.round_to)
            if nbytes == 0:
                continue
            module = self.module_stack[-1] if self.module_stack else ""
            block = LiveBlock(nbytes, str(func), module, tuple(t.shape), t.dtype)
            self.live[key] = block
            fin = weakref.finalize(storage, self._free, key)
            fin.atexit = False
            self.current += nbytes
            self.allocated += nbytes
            self.num_allocations += 1
            if self.timeline is not None:
                self.timeline.append(("+", block.op, module, nbytes, self.current))
            if self.current > self.peak:
                self.peak = self.current
                self.peak_op = block.op
                self.peak_module = module
                if self.record_live:
                    self.peak_live = list(self.live.values())

    def _transient(self, func, args, kwargs, out) -> None:
        nbytes = round_allocation(int(self.workspace(func, args, kwargs, out)), self.round_to)
        if nbytes <= 0:
            return
        module = self.module_stack[-1] if self.module_stack else ""
        self.allocated += nbytes
        self.num_allocations += 1
        if self.timeline is not None:
            self.timeline.append(("+", f"workspace:{func}", module, nbytes, self.current + nbytes))
            self.timeline.append(("-", f"workspace:{func}", module, nbytes, self.current))
        if self.current + nbytes > self.peak:
            self.peak = self.current + nbytes
            self.peak_op = f"workspace:{func}"
            self.peak_module = module
            if self.record_live:
                self.peak_live = list(self.live.values()) + [
                    LiveBlock(nbytes, f"workspace:{func}", module, (nbytes,), torch.uint8)]

    def close(self) -> None:
        """Stop reacting to frees (storages that outlive the trace die later, harmlessly)."""
        self._closed = True

    # -- dispatch
    def _fused_sdpa(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                    enable_gqa=False):
        """``scaled_dot_product_attention`` with the fused kernel that ``sdpa_backend`` names (inside the mode)."""
        if self.sdpa_backend == "default":
            choice = _cuda_default_choice(query, key, value, attn_mask, dropout_p, is_causal)
        else:
            choice = _CHOICE[self.sdpa_backend]
        self.sdpa_choices.append(choice)
        if choice == _CHOICE["flash"]:
            return aten._scaled_dot_product_flash_attention.default(
                query, key, value, dropout_p, is_causal, False, scale=scale)[0]
        return aten._scaled_dot_product_efficient_attention.default(
            query, key, value, attn_mask, False, dropout_p, is_causal, scale=scale)[0]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is aten.scaled_dot_product_attention.default and self.sdpa_backend not in (None, "math"):
            # The composite SDPA asks a per-device stub which kernel to run; meta has none and runs the math
            # path. A fused backend is mirrored by calling its op (which has a meta kernel) directly.
            with self:
                return self._fused_sdpa(*args, **kwargs)
        if _has_composite_kernel(func):
            # Composite ops reach this mode whole under inference mode: run their C++ decomposition inside the
            # mode so that the intermediates are seen (the CUDA dispatcher runs the same decomposition). The C++
            # kernel, not a Python decomposition (``OpOverload.decompose`` prefers those; they are torch.compile's
            # and differ, e.g. ``upsample_nearest2d.vec`` via an fp32 ``_unsafe_index``).
            with self:
                return func._op_dk(_COMPOSITE, *args, **kwargs)
        if func in _EXPAND_EXPLICIT:
            with self:
                return func._op_dk(_EXPLICIT, *args, **kwargs)
        out = func(*args, **kwargs)
        self._track(func, args, kwargs, out)
        if self.workspace is not None:
            self._transient(func, args, kwargs, out)
        return out


_COMPOSITE = torch._C.DispatchKey.CompositeImplicitAutograd
_EXPLICIT = torch._C.DispatchKey.CompositeExplicitAutograd

#: Outputs of fused attention ops that CUDA keeps on the host without dropout (the philox seed and offset scalars:
#: ``at::empty({}, at::kLong)`` on the CPU), while their meta kernels return meta tensors: not counted.
_HOST_SIDE_OUTPUTS = {
    aten._scaled_dot_product_efficient_attention.default: (2, 3),
    aten._scaled_dot_product_flash_attention.default: (6, 7),
}

#: Ops that CUDA runs through their ``CompositeExplicitAutograd`` kernel (no CUDA kernel of their own) but that have
#: a shape-only Meta kernel, which would hide their intermediates: they are run through the composite kernel inside
#: the mode. ``_safe_softmax`` (the math SDPA's softmax) = softmax + ``eq(-inf)`` (an N x N bool mask, live at the
#: math-SDPA peak on the H100: 256 MiB at 512 x 512, batch 2) + ``all`` + a masked fill.
_EXPAND_EXPLICIT = frozenset({aten._safe_softmax.default})


@functools.lru_cache(maxsize=None)
def _has_composite_kernel(func) -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), _COMPOSITE)


# ------------------------------------------------------------------------------------------------- tracing


def trace_module(fn: Callable[[], Any], *, stage: str = "", sdpa_backend: str | None = "default",
                 root: nn.Module | None = None, params: dict[str, Any] | None = None,
                 record_live: bool = True, record_timeline: bool = False,
                 workspace: WorkspaceFn | None = None) -> TraceResult:
    """Run ``fn()`` under ``torch.inference_mode()`` and :class:`LiveBytesMode`; return its live-bytes statistics.

    Everything ``fn`` reads (weights, inputs) must exist before the call: only tensors allocated inside are counted.
    ``root``: the module whose submodule names label the allocations.
    """
    names: dict[int, str] = {}
    handles = []
    mode = LiveBytesMode(sdpa_backend=sdpa_backend, record_live=record_live, module_names=names,
                         record_timeline=record_timeline, workspace=workspace)
    if root is not None:
        names.update({id(m): n for n, m in root.named_modules()})

        def pre(module, _args):
            mode.module_stack.append(names.get(id(module), type(module).__name__))

        def post(module, _args, _out):
            if mode.module_stack:
                mode.module_stack.pop()

        handles.append(nn.modules.module.register_module_forward_pre_hook(pre))
        handles.append(nn.modules.module.register_module_forward_hook(post, always_call=True))
    try:
        with torch.inference_mode(), mode:
            out = fn()
            end = mode.current
        mode.close()  # the outputs die after the stage: not part of its record
        del out
    finally:
        for h in handles:
            h.remove()
        mode.close()
    return TraceResult(
        stage=stage,
        peak_bytes=mode.peak,
        end_bytes=end,
        allocated_bytes=mode.allocated,
        num_allocations=mode.num_allocations,
        peak_op=mode.peak_op,
        peak_module=mode.peak_module,
        live_at_peak=sorted(mode.peak_live, key=lambda b: -b.nbytes),
        params=dict(params or {}),
        timeline=mode.timeline,
    )


#: The bundled pipeline whose components the ``trace_*`` stage helpers default to.
DEFAULT_MODEL = "sd15"


@functools.lru_cache(maxsize=8)
def meta_components(dtype: torch.dtype = torch.float16, model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The full-size components of a bundled pipeline on the ``meta`` device, every one in ``dtype``
    (:func:`symbolic.harness.build_pipeline.build_components` from the bundled Hub-layout configs; cached per
    (dtype, model); no memory, built in about a second)."""
    return build_components(model, "meta", dtype_name(dtype))


def _set_attention(model: nn.Module, attention: str) -> None:
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, not {attention!r}")
    if attention == "sdpa":
        model.set_attn_processor(AttnProcessor2_0())
    elif attention == "classic":
        model.set_attn_processor(AttnProcessor())
    else:  # what pipe.enable_attention_slicing() does: set_attention_slice("auto") on the UNet
        if hasattr(model, "set_attention_slice"):
            model.set_attention_slice("auto")
        else:
            model.set_attn_processor(AttnProcessor2_0())


def _latent_hw(height: int, width: int, factor: int = 8) -> tuple[int, int]:
    return height // factor, width // factor


def _vae_stage(vae: nn.Module, call: Callable[[], Any], stage: str, attention: str, sdpa_backend: str | None,
               tiling: bool, slicing: bool, params: dict[str, Any], record_timeline: bool,
               workspace: WorkspaceFn | None) -> TraceResult:
    _set_attention(vae, "classic" if attention == "classic" else "sdpa")
    vae.use_tiling, vae.use_slicing = tiling, slicing
    try:
        return trace_module(call, stage=stage, sdpa_backend=sdpa_backend, root=vae, params=params,
                            record_timeline=record_timeline, workspace=workspace)
    finally:
        vae.use_tiling = vae.use_slicing = False
        _set_attention(vae, "sdpa")


def trace_vae_decode(height: int, width: int, batch: int = 1, dtype: str | torch.dtype = torch.float16, *,
                     attention: str = "sdpa", sdpa_backend: str | None = "default", tiling: bool = False,
                     slicing: bool = False, vae: nn.Module | None = None, record_timeline: bool = False,
                     workspace: WorkspaceFn | None = None) -> TraceResult:
    """``vae.decode(z)`` of a ``batch x 4 x H/8 x W/8`` latent (the pipeline's decode stage).

    ``attention``: ``"sdpa"`` or ``"classic"`` (the VAE's mid-block attention); ``tiling`` / ``slicing``: as
    ``vae.enable_tiling()`` / ``vae.enable_slicing()``.
    """
    dtype = resolve_dtype(dtype)
    vae = vae if vae is not None else meta_components(dtype)["vae"]
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    h, w = _latent_hw(height, width, factor)
    z = torch.empty(batch, vae.config.latent_channels, h, w, dtype=dtype, device="meta")
    params = dict(height=height, width=width, batch=batch, dtype=str(dtype), attention=attention,
                  sdpa_backend=sdpa_backend, tiling=tiling, slicing=slicing)
    return _vae_stage(vae, lambda: vae.decode(z, return_dict=False)[0], "vae_decode", attention, sdpa_backend,
                      tiling, slicing, params, record_timeline, workspace)


def trace_vae_encode(height: int, width: int, batch: int = 1, dtype: str | torch.dtype = torch.float16, *,
                     attention: str = "sdpa", sdpa_backend: str | None = "default", tiling: bool = False,
                     slicing: bool = False, vae: nn.Module | None = None, record_timeline: bool = False,
                     workspace: WorkspaceFn | None = None) -> TraceResult:
    """``vae.encode(image)`` of a ``batch x 3 x H x W`` image (img2img's encode stage; the pipeline encodes its one
    init image with batch 1, whatever ``num_images_per_prompt``)."""
    dtype = resolve_dtype(dtype)
    vae = vae if vae is not None else meta_components(dtype)["vae"]
    x = torch.empty(batch, vae.config.in_channels, height, width, dtype=dtype, device="meta")
    params = dict(height=height, width=width, batch=batch, dtype=str(dtype), attention=attention,
                  sdpa_backend=sdpa_backend, tiling=tiling, slicing=slicing)
    return _vae_stage(vae, lambda: vae.encode(x, return_dict=False)[0], "vae_encode", attention, sdpa_backend,
                      tiling, slicing, params, record_timeline, workspace)


def trace_unet_step(height: int, width: int, batch: int = 2, dtype: str | torch.dtype = torch.float16, *,
                    attention: str = "sdpa", sdpa_backend: str | None = "default", text_tokens: int = 77,
                    unet: nn.Module | None = None, record_timeline: bool = False,
                    workspace: WorkspaceFn | None = None) -> TraceResult:
    """One ``unet(latents, t, encoder_hidden_states)`` call; ``batch`` is the UNet batch (2 x images with
    classifier-free guidance). ``attention``: ``"sdpa"``, ``"classic"`` or ``"sliced"``."""
    dtype = resolve_dtype(dtype)
    unet = unet if unet is not None else meta_components(dtype)["unet"]
    h, w = _latent_hw(height, width)
    sample = torch.empty(batch, unet.config.in_channels, h, w, dtype=dtype, device="meta")
    timestep = torch.empty((), dtype=torch.int64, device="meta")
    context = torch.empty(batch, text_tokens, unet.config.cross_attention_dim, dtype=dtype, device="meta")
    params = dict(height=height, width=width, batch=batch, dtype=str(dtype), attention=attention,
                  sdpa_backend=sdpa_backend)
    _set_attention(unet, attention)
    try:
        return trace_module(lambda: unet(sample, timestep, encoder_hidden_states=context, return_dict=False)[0],
                            stage="unet_step", sdpa_backend=sdpa_backend, root=unet, params=params,
                            record_timeline=record_timeline, workspace=workspace)
    finally:
        _set_attention(unet, "sdpa")


def trace_text_encoder(batch: int = 1, dtype: str | torch.dtype = torch.float16, *, tokens: int = 77,
                       sdpa_backend: str | None = "default", text_encoder: nn.Module | None = None,
                       record_timeline: bool = False, workspace: WorkspaceFn | None = None) -> TraceResult:
    """``text_encoder(input_ids)`` of ``batch x 77`` token ids. The pipeline calls it once for the prompt and, with
    guidance, once more for the negative prompt, each with batch = number of prompts (1 for one prompt)."""
    dtype = resolve_dtype(dtype)
    te = text_encoder if text_encoder is not None else meta_components(dtype)["text_encoder"]
    ids = torch.zeros(batch, tokens, dtype=torch.int64, device="meta")
    params = dict(batch=batch, tokens=tokens, dtype=str(dtype), sdpa_backend=sdpa_backend)
    return trace_module(lambda: te(ids, attention_mask=None)[0], stage="text_encoder", sdpa_backend=sdpa_backend,
                        root=te, params=params, record_timeline=record_timeline, workspace=workspace)


def trace_safety_checker(batch: int = 1, dtype: str | torch.dtype = torch.float16, *, image_size: int = 224,
                         sdpa_backend: str | None = "default", safety_checker: nn.Module | None = None,
                         record_timeline: bool = False, workspace: WorkspaceFn | None = None) -> TraceResult:
    """The GPU part of ``safety_checker.forward``: CLIP vision tower, projection and the two cosine-distance
    matrices (the rest of ``forward`` copies them to the CPU, which needs values and cannot run on ``meta``)."""
    from diffusers.pipelines.stable_diffusion.safety_checker import cosine_distance

    dtype = resolve_dtype(dtype)
    sc = safety_checker if safety_checker is not None else meta_components(dtype)["safety_checker"]
    x = torch.empty(batch, 3, image_size, image_size, dtype=dtype, device="meta")

    def run():
        embeds = sc.visual_projection(sc.vision_model(x)[1])
        return cosine_distance(embeds, sc.special_care_embeds), cosine_distance(embeds, sc.concept_embeds)

    return trace_module(run, stage="safety_checker", sdpa_backend=sdpa_backend, root=sc,
                        params=dict(batch=batch, dtype=str(dtype), sdpa_backend=sdpa_backend),
                        record_timeline=record_timeline, workspace=workspace)


def scaling_exponent(results: Iterable[TraceResult], key: Callable[[TraceResult], float]) -> float:
    """Least-squares slope of log(peak) against log(key(result)): 1.0 for a peak linear in ``key``."""
    pts = [(math.log(key(r)), math.log(r.peak_bytes)) for r in results if r.peak_bytes > 0]
    n = len(pts)
    if n < 2:
        raise ValueError("need at least two traces")
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def main(argv: list[str] | None = None) -> int:
    """``python -m symbolic.harness.meta_trace``: print the cross-check numbers of the report."""
    import argparse
    import time

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--top", type=int, default=8, help="blocks live at the peak to list")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    runs = [
        lambda: trace_vae_decode(512, 512),
        lambda: trace_vae_decode(1024, 1024),
        lambda: trace_vae_encode(512, 512),
        lambda: trace_vae_encode(1024, 1024),
        lambda: trace_unet_step(512, 512, 2, sdpa_backend="default"),
        lambda: trace_unet_step(512, 512, 2, sdpa_backend="efficient"),
        lambda: trace_unet_step(512, 512, 2, attention="classic"),
        lambda: trace_unet_step(512, 512, 2, sdpa_backend="math"),
        lambda: trace_text_encoder(2),
        lambda: trace_safety_checker(1),
    ]
    for run in runs:
        t = time.perf_counter()
        r = run()
        print(r.summary(args.top))
        print(f"  ({time.perf_counter() - t:.2f} s)")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
