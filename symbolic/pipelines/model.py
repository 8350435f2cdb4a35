"""One closed-form model for any pipeline: a spec (``symbolic.pipelines.spec``) + its components' configs.

peak_allocated = resident + Max over stages (the text encoders in order, img2img's VAE encode, the denoiser step, the
VAE decode, the SD safety checker) of the stage's transient, a stage's transient being the Max over its *moments* of the terms live then
(``symbolic.core.terms.StagedModel``). Every term below is one decorated function whose docstring is its derivation; what
a component class does inside a call is the component's own knowledge (``symbolic.components``: ``moments``,
``activation_moments``, ``decode_moments``, each with its notes), what the pipeline does around the calls is its
spec's. Symbols: T frames, H x W pixels, B batch (images or videos), G classifier-free-guidance copies, b bytes per
element of the denoiser's dtype, P devices.

Switches modelled here: ``model_cpu_offload`` (``enable_model_cpu_offload``: only the running component's weights
on the GPU), ``sequential_cpu_offload`` and ``group_offload:...`` (only the running module's or group's weights,
``symbolic.switches.offload``), ``layerwise_casting:fp8_*`` (the denoiser stored in fp8, one layer upcast at a time),
quantized components (``symbolic.switches.quantization``: packed weights, quantization state, the dequantised weight of
one matmul), ``vae_tiling`` / ``vae_slicing`` (``vae.enable_tiling()`` / ``enable_slicing()``, the VAE's own moments),
``attention_slicing`` (the UNet's sliced processor), ``text_encoder_cpu`` (the text encoders run on the CPU), the
attention kernel (fused SDPA, math SDPA, diffusers' classic ``AttnProcessor`` in UNet pipelines), and many
GPUs (``devices`` = P): ``ulysses`` / ``ring`` sequence parallelism split the denoiser's token-wise activations over
P devices (weights replicated); ``fsdp`` shards the denoiser's and text encoders' repeated blocks and all-gathers
one block at a time (plus the prefetched next).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from symbolic import components
from symbolic.switches import offload
from symbolic.switches.switch import parse_switch
from symbolic.switches import quantization
from symbolic.runtime.allocator import load_allocated_bytes, min_device_bytes
from symbolic.components.shapes import DecodeShape, StepShape
from symbolic.core.dtypes import BYTES_PER_ELEMENT, FP32, INT64
from symbolic.pipelines.catalog import PipelineSource
from symbolic.pipelines.config import PipelineConfig
from symbolic.pipelines.spec import FrameRule, GuidanceMode
from symbolic.runtime.reserved import RESERVED_CACHE_BYTES, RESERVED_TRANSIENT_FRACTION
from symbolic.core.symbols import B, G, H, L, P, T, W, b
from symbolic.core.terms import Binding, BoundStage, Category, Per, Stage, StagedModel, Term, TermRegistry

PIPELINE_TERMS = TermRegistry("pipeline")



# --- components and shapes -----------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
@lru_cache(maxsize=None)
def component(source: PipelineSource, role: str):
    """The component of ``role``, refused (naming its file) when its class is not the kind the pipeline uses there
    (a UNet folder holding a FLUX transformer's config, say)."""
    where = f"{source.folder}/{role}/config.json"
    built = components.from_config(source.config(role), where)
    source.spec.check_role(role, type(built).__name__, built.kind, where)
    return built


def denoiser(config: PipelineConfig):
    return component(config.source, config.spec.denoiser)


def vae(config: PipelineConfig):
    return component(config.source, "vae")


def latent_frames(config: PipelineConfig) -> sp.Expr:
    """1 for images; the causal rule ``(T - 1) // s_t + 1`` (CogVideoX, HunyuanVideo, LTX-Video); WanPipeline rounds
    ``num_frames`` to ``num_frames // s_t * s_t + 1`` first (a warning, not an error), which gives ``T // s_t + 1``."""
    rule, s_t = config.spec.frame_rule, vae(config).temporal_compression
    if rule is FrameRule.IMAGE:
        return sp.Integer(1)
    if rule is FrameRule.WAN:
        return sp.floor(T / s_t) + 1
    return sp.floor((T - 1) / s_t) + 1


def latent_hw(config: PipelineConfig) -> tuple[sp.Expr, sp.Expr]:
    """``height // vae_scale_factor_spatial`` in every pipeline's ``prepare_latents``."""
    s = vae(config).spatial_compression
    return sp.floor(H / s), sp.floor(W / s)


def latent_elements(config: PipelineConfig) -> sp.Expr:
    lh, lw = latent_hw(config)
    return B * vae(config).latent_channels * latent_frames(config) * lh * lw


def denoiser_tokens(config: PipelineConfig) -> sp.Expr:
    """Latent tokens after the denoiser's spatial patch (p x p latent pixels per token; no temporal patch in the
    modelled transformers)."""
    lh, lw = latent_hw(config)
    p = denoiser(config).patch
    return latent_frames(config) * sp.floor(lh / p) * sp.floor(lw / p)


def joint_text_tokens(config: PipelineConfig) -> int:
    """Text tokens in the denoiser's self-attention sequence (0 where it cross-attends)."""
    return config.spec.denoiser_text_tokens if denoiser(config).joint_text else 0


#: Prompt tokens per chunk in a long-prompt scheme: CLIP's 77 positions minus bos and eos.
CHUNK_PROMPT_TOKENS = 75


def text_chunks(config: PipelineConfig) -> sp.Expr:
    """Encoder calls per prompt and encoder: 1 (diffusers truncates to the tokenizer's length), or ceil(L / 75) in
    a long-prompt scheme (each chunk bos + 75 tokens + eos, padded to 77)."""
    return sp.ceiling(L / CHUNK_PROMPT_TOKENS) if config.long_prompt else sp.Integer(1)


def denoiser_text_tokens(config: PipelineConfig) -> sp.Expr:
    """Tokens of the prompt embedding the denoiser receives: the spec's, times the chunks of a long prompt."""
    return config.spec.denoiser_text_tokens * text_chunks(config)


def denoiser_batch(config: PipelineConfig) -> sp.Expr:
    return B * G if config.spec.guidance is GuidanceMode.BATCHED else B


@lru_cache(maxsize=None)
def step_shape(config: PipelineConfig) -> StepShape:
    """What one denoiser forward sees; a multi-device scheme the denoiser's class is not modelled under is refused."""
    step = denoiser(config)
    if config.parallel is not None and config.parallel not in step.parallel_schemes:
        modelled = sorted(name for name in components.supported_classes()
                          if config.parallel in components.component_class(name).parallel_schemes)
        raise ValueError(f"parallel: {config.parallel} over devices is not modelled for {type(step).__name__} (its "
                         f"step is modelled on one device; {config.parallel} is for {', '.join(modelled)}); leave "
                         f"parallel and devices out")
    return StepShape(denoiser_batch(config), denoiser_tokens(config), denoiser_text_tokens(config),
                     b, config.denoiser_attention, config.parallel, P, latent_hw(config))


@lru_cache(maxsize=None)
def denoiser_moments(config: PipelineConfig) -> dict[str, sp.Expr]:
    return denoiser(config).moments(step_shape(config))


def default_size(config: PipelineConfig) -> tuple[int, int]:
    """The spec's default height and width, or the denoiser config's ``sample_size`` x the VAE's scale factor."""
    spec = config.spec
    if spec.default_height is not None:
        return spec.default_height, spec.default_width
    side = int(denoiser(config).config["sample_size"]) * vae(config).spatial_compression
    return side, side


def upcast_vae(config: PipelineConfig) -> bool:
    """SDXL's ``upcast_vae``: a float16 VAE whose config says ``force_upcast`` decodes in float32."""
    return (config.spec.vae_upcast and config.dtype_of("vae") == "fp16"
            and bool(getattr(vae(config), "force_upcast", False)))


def decode_bytes(config: PipelineConfig) -> sp.Expr:
    """Bytes per element of the decode's tensors."""
    return sp.Integer(FP32) if upcast_vae(config) else config.bytes_of("vae")


def check_vae_switches(config: PipelineConfig) -> None:
    """``vae_slicing`` only where the VAE's moments follow it (an option never silently ignored)."""
    if config.has("vae_slicing") and not getattr(vae(config), "models_slicing", False):
        raise ValueError(f"memory_options: vae_slicing is not modelled for {type(vae(config)).__name__}")


@lru_cache(maxsize=None)
def decode_shape(config: PipelineConfig) -> DecodeShape:
    check_vae_switches(config)
    lh, lw = latent_hw(config)
    return DecodeShape(B, latent_frames(config), lh, lw, decode_bytes(config), config.attention,
                       config.has("vae_tiling"), vae_b_value(config), config.has("vae_slicing"))


def vae_b_value(config: PipelineConfig) -> int:
    return FP32 if upcast_vae(config) else BYTES_PER_ELEMENT[config.dtype_of("vae")]


#: One prompt per call: ``encode_prompt`` runs the text encoders on the prompt batch and repeats the embeddings for
#: the B outputs (``num_images_per_prompt`` / ``num_videos_per_prompt``); img2img encodes one init image and repeats
#: its latent.
PROMPTS = 1
SAFETY_CHECKER = "safety_checker"
#: The feature extractor's crop (``CLIPImageProcessor``), float32 on the GPU, then cast to the model dtype.
IMAGE_CHANNELS = 3
INIT_IMAGES = 1


@lru_cache(maxsize=None)
def encode_shape(config: PipelineConfig):
    """What ``vae.encode`` receives in img2img: the init image, resized down to multiples of the VAE's scale."""
    from symbolic.components.shapes import EncodeShape

    lh, lw = latent_hw(config)
    s = vae(config).spatial_compression
    return EncodeShape(sp.Integer(INIT_IMAGES), s * lh, s * lw, decode_bytes(config), config.attention,
                       config.has("vae_tiling"), config.has("vae_slicing"), vae_b_value(config))


@lru_cache(maxsize=None)
def decode_moments(config: PipelineConfig) -> dict[str, sp.Expr]:
    return vae(config).decode_moments(decode_shape(config))


def prompt_embeds_bytes(config: PipelineConfig, roles: tuple[str, ...], tokens: int) -> sp.Expr:
    """One prompt embedding of B x tokens x the encoders' output widths (concatenated), in their dtypes."""
    return sp.Add(*(B * tokens * component(config.source, role).output_dim * config.bytes_of(role) for role in roles))


# --- weights -------------------------------------------------------------------------------------------------------
_BLOCK = re.compile(r"^(.*?(?:blocks|transformer_blocks|single_transformer_blocks|refiner_blocks|block|layers)\.\d+)\.")


@dataclass(frozen=True)
class WeightBreakdown:
    """A component's tensors split by the bytes per element they take after ``from_pretrained(torch_dtype=...)``."""

    model_dtype: int      # elements in the component's dtype
    fp32: int             # elements kept in float32 (``_keep_in_fp32_modules``)
    fixed_bytes: int      # bytes of tensors with a fixed dtype (float64 / int64 / float32 buffers)
    largest_block: int    # elements of the largest repeated block (what FSDP all-gathers at once)
    block_elements: int   # elements inside repeated blocks (what FSDP shards)
    sizes: tuple[int, ...]  # each tensor's bytes, in ``.to()`` order (for the allocator replay)
    names: tuple[str, ...] = ()  # the tensors' names, beside ``sizes`` (for the offload groups)

    def expr(self, b_comp: sp.Expr) -> sp.Expr:
        return self.model_dtype * b_comp + self.fp32 * FP32 + self.fixed_bytes


@lru_cache(maxsize=None)
def loaded_tensors(config: PipelineConfig, role: str) -> tuple[tuple[str, int, str], ...]:
    """Each tensor as ``from_pretrained(torch_dtype=...)`` loads it: (name, bytes, kind), kind ``model`` (the
    component's dtype), ``fp32`` (a module the library keeps in float32) or ``fixed`` (a non-persistent buffer in
    its init dtype, an integer buffer)."""
    comp, dtype = component(config.source, role), config.dtype_of(role)
    keep, fixed = comp.keeps_fp32(dtype), dict(comp.fixed_dtype_bytes)
    out = []
    for t in comp.tensors:
        if t.name in fixed:
            out.append((t.name, t.numel * fixed[t.name], "fixed"))
        elif not t.floating:
            out.append((t.name, t.numel * INT64, "fixed"))
        elif any(k in t.name.split(".") for k in keep):
            out.append((t.name, t.numel * FP32, "fp32"))
        else:
            out.append((t.name, t.numel * BYTES_PER_ELEMENT[dtype], "model"))
    return tuple(out)


@lru_cache(maxsize=None)
def weights_of(config: PipelineConfig, role: str) -> WeightBreakdown:
    comp = component(config.source, role)
    loaded = loaded_tensors(config, role)
    model = sum(t.numel for t, (_, _, kind) in zip(comp.tensors, loaded) if kind == "model")
    fp32 = sum(t.numel for t, (_, _, kind) in zip(comp.tensors, loaded) if kind == "fp32")
    fixed_bytes = sum(size for _, size, kind in loaded if kind == "fixed")
    blocks: dict[str, int] = {}
    for t in comp.tensors:
        match = _BLOCK.match(t.name)
        if match:
            blocks[match.group(1)] = blocks.get(match.group(1), 0) + t.numel
    names, sizes = tuple(name for name, _, _ in loaded), tuple(size for _, size, _ in loaded)
    stored = stored_sizes(config, role)
    if stored is not None:  # quantized or cast: every byte is fixed by the scheme at this dtype
        names, sizes = tuple(n for n, _ in stored), tuple(size for _, size in stored)
        model, fp32, fixed_bytes = 0, 0, sum(sizes)
    return WeightBreakdown(model, fp32, fixed_bytes, max(blocks.values(), default=0), sum(blocks.values()), sizes,
                           names)


def stored_sizes(config: PipelineConfig, role: str) -> list[tuple[str, int]] | None:
    """The tensors as stored when the component is quantized (``symbolic.switches.quantization.quantized_sizes``) or, for
    the denoiser under ``layerwise_casting``, cast to fp8 storage (``symbolic.switches.offload.layerwise_casting_sizes`` with
    diffusers' skip patterns for its class); None when neither applies."""
    scheme = config.scheme_of(role)
    if scheme is not None:
        return quantization.quantized_sizes(component(config.source, role), scheme, config.dtype_of(role))
    if role == config.spec.denoiser and config.layerwise_casting:
        return casting(config)[0]
    return None


@lru_cache(maxsize=None)
def casting(config: PipelineConfig) -> tuple[list[tuple[str, int]], int]:
    """(stored sizes, upcast transient) of the denoiser under ``layerwise_casting`` (``symbolic.switches.offload``)."""
    role = config.spec.denoiser
    comp = component(config.source, role)
    inputs = offload.component_inputs(comp, [size for _, size, _ in loaded_tensors(config, role)])
    return offload.layerwise_casting_sizes(inputs["names_and_sizes"], BYTES_PER_ELEMENT[config.dtype_of(role)],
                                           config.layerwise_casting,
                                           offload.skip_patterns_for(comp),
                                           ndims=inputs["ndims"], uncastable=inputs["uncastable"])



def component_bytes(config: PipelineConfig, role: str) -> sp.Expr:
    return weights_of(config, role).expr(config.bytes_of(role))


@lru_cache(maxsize=None)
def allocator_rounding(config: PipelineConfig, role: str) -> tuple[int, int]:
    """(allocated - raw, reserved - allocated) bytes of moving the component's tensors to the GPU one by one
    through the caching allocator model (``symbolic.runtime.allocator``: 512-byte rounding, un-split block remainders,
    2 / 20 MiB segments)."""
    sizes = list(weights_of(config, role).sizes)
    allocated, reserved = load_allocated_bytes(sizes)
    return allocated - sum(sizes), reserved - allocated


def loaded_roles(config: PipelineConfig) -> tuple[str, ...]:
    """Every model component ``from_pretrained`` loads and ``.to("cuda")`` moves (the VAE's encoder too)."""
    return config.roles


@lru_cache(maxsize=None)
def resident_replay(config: PipelineConfig) -> tuple[int, int]:
    """(allocated - raw, reserved - allocated) bytes of ``pipe.to("cuda")``: every resident component's tensors
    through one caching-allocator model, in the order ``DiffusionPipeline.to`` moves them (its
    ``_get_signature_keys`` sorts the ``__init__`` argument names, so components go in sorted role order)."""
    sizes = [size for role in sorted(loaded_roles(config)) if resident(config, role)
             for size in weights_of(config, role).sizes]
    allocated, reserved = load_allocated_bytes(sizes)
    return allocated - sum(sizes), reserved - allocated


def text_roles(config: PipelineConfig) -> tuple[str, ...]:
    """The text encoders that are loaded and run, in call order (an optional one left out under ``no_<role>``: its
    zeros are counted with the embeddings, ``text.kept_embeddings``)."""
    return tuple(call.role for call in config.spec.text_calls if call.role in config.roles)


def _is_text(config: PipelineConfig, role: str) -> bool:
    return role in text_roles(config)


def _fsdp(config: PipelineConfig, role: str) -> bool:
    return config.parallel == "fsdp" and (role == config.spec.denoiser or _is_text(config, role))


def weights_on_device(config: PipelineConfig, role: str) -> sp.Expr:
    """The component's bytes on one device: whole, or under FSDP its repeated blocks sharded over P (each block a
    flat parameter split evenly) with the rest (embeddings, heads) unsharded."""
    if not _fsdp(config, role):
        return component_bytes(config, role)
    w = weights_of(config, role)
    whole, blocks = component_bytes(config, role), w.block_elements * config.bytes_of(role)
    return whole - blocks + sp.ceiling(blocks / P)


def gathered_blocks(config: PipelineConfig, role: str) -> sp.Expr:
    """FSDP all-gathers a block's full parameters before its forward and prefetches the next one: two unsharded
    blocks live at once (minus the device's own shard of each)."""
    if not _fsdp(config, role):
        return sp.Integer(0)
    block = weights_of(config, role).largest_block * config.bytes_of(role)
    return 2 * (block - sp.ceiling(block / P))


def _on_cpu(config: PipelineConfig, role: str) -> bool:
    return _is_text(config, role) and config.has("text_encoder_cpu")


def resident(config: PipelineConfig, role: str) -> bool:
    return not _on_cpu(config, role) and config.offload is None


def onloaded_bytes(config: PipelineConfig, role: str) -> sp.Expr:
    """The component's weights on the GPU while its stage runs, under the offload switch in force: all of them
    (``model_cpu_offload``), the largest module's own tensors (``sequential_cpu_offload``), or the largest group
    with the one prefetched beside it (``group_offload``; ``symbolic.switches.offload``)."""
    mode = config.offload
    if mode == "model_cpu_offload":
        return weights_on_device(config, role)
    w = weights_of(config, role)
    comp = component(config.source, role)
    inputs = offload.component_inputs(comp, list(w.sizes)) if w.names == tuple(t.name for t in comp.tensors) \
        else {"names_and_sizes": list(zip(w.names, w.sizes)), "buffers": (), "non_persistent": ()}
    if mode == "sequential_cpu_offload":
        return sp.Integer(offload.sequential_offload_bytes(inputs["names_and_sizes"], buffers=inputs["buffers"],
                                                           non_persistent=inputs["non_persistent"]))
    switch = parse_switch(mode)
    return sp.Integer(offload.group_offload_bytes(inputs["names_and_sizes"], switch.mode, switch.blocks_per_group,
                                                  switch.stream, block_modules=comp.group_offload_block_modules))


def stage_of(config: PipelineConfig, role: str) -> str | None:
    """The stage in which a component runs (None: loaded, never called). The SD pipelines run a loaded safety
    checker on the decoded images (``run_safety_checker``: ``if self.safety_checker is None`` skips it). With
    model offload the VAE comes in for img2img's encode and again for the decode; its weights are counted in the
    decode (the larger stage of the two in every modelled pipeline)."""
    if _is_text(config, role):
        return role
    if role == config.spec.denoiser:
        return config.spec.denoiser_stage
    return {"vae": "vae_decode", SAFETY_CHECKER: SAFETY_CHECKER}.get(role)


# --- terms ---------------------------------------------------------------------------------------------------------
@PIPELINE_TERMS.register("weights", category=Category.WEIGHTS, stage=Stage.RESIDENT, per=Per.ROLE,
                         source="symbolic/components (each class's tensors)")
def weights_resident(config, role):
    """The component's parameters and buffers: elements x the component's bytes per element, float32 for the
    modules the library keeps in float32 (``_keep_in_fp32_modules``), and the init dtype for non-persistent buffers
    absent from the checkpoint (RoPE tables, position ids). Resident unless model offload is on (or it runs on the
    CPU). Per device under FSDP."""
    return weights_on_device(config, role) if resident(config, role) else 0


@PIPELINE_TERMS.register("offloaded_weights", category=Category.WEIGHTS, stage=BoundStage.OWN, per=Per.ROLE,
                         source="diffusers DiffusionPipeline.enable_model_cpu_offload (accelerate cpu_offload_with_hook)")
def weights_offloaded(config, role):
    """With model CPU offload a component is moved to the GPU when its forward is called and back when the next
    component's hook fires: its stage holds its weights only. With sequential or group offload only the running
    module or group (and the prefetched next one) is on the GPU (``onloaded_bytes``)."""
    if _on_cpu(config, role) or config.offload is None or not stage_of(config, role):
        return 0
    return onloaded_bytes(config, role)


@PIPELINE_TERMS.register("quantization.dequantized_weight", category=Category.WORKSPACE, stage=BoundStage.OWN, per=Per.ROLE,
                         source="bitsandbytes / torchao / diffusers GGUF linear forwards (symbolic/switches/quantization.py)")
def dequantized_weight(config, role):
    """A quantized component's matmul works on a dequantised copy of one Linear's weight (bnb 4-bit, torchao int8
    weight-only, GGUF; none for bnb int8 and torchao int4): the largest one is live during its layer's forward
    (``quantization.dequant_transient_bytes``), counted at every moment of the stage."""
    scheme = config.scheme_of(role)
    if scheme is None or _on_cpu(config, role) or not stage_of(config, role):
        return 0
    return quantization.dequant_transient_bytes(component(config.source, role), scheme, config.dtype_of(role))


@PIPELINE_TERMS.register("layerwise_casting.upcast", category=Category.WORKSPACE, stage=BoundStage.DENOISER,
                         source="diffusers hooks/layerwise_casting.py LayerwiseCastingHook")
def layerwise_upcast(config):
    """Under ``layerwise_casting`` each cast layer's weights are upcast to the compute dtype for its forward and
    cast back after: the largest layer's extra bytes are live during it (``offload.layerwise_casting_sizes``)."""
    return casting(config)[1] if config.layerwise_casting else 0


@PIPELINE_TERMS.register("allocator.weights_rounding", category=Category.ALLOCATOR, stage=Stage.RESIDENT,
                         source="symbolic/runtime/allocator.py (c10 CUDACachingAllocator rules)")
def weights_rounding(config):
    """What ``memory_allocated`` counts beyond the raw bytes after the weights are moved: each tensor rounded to
    512 bytes, and blocks whose remainder is too small to split handed out whole (caching-allocator model replaying
    ``pipe.to("cuda")``, ``resident_replay``). Not modelled under FSDP (flat parameters pack differently)."""
    return 0 if config.parallel == "fsdp" else resident_replay(config)[0]


@PIPELINE_TERMS.register("workspace.cublas", category=Category.WORKSPACE, stage=Stage.RESIDENT,
                         source="symbolic/runtime/framework.py cublas_workspace_bytes")
def cublas_workspace(config):
    """cuBLAS workspace allocated through the caching allocator on the first matmul (in the text encoder) and
    kept: 32 MiB + 1 MiB on Hopper (``Framework.cublas_workspace_bytes``)."""
    return config.framework.cublas_workspace_bytes


@PIPELINE_TERMS.register("text.activations", category=Category.ACTIVATIONS, stage=BoundStage.OWN, per=Per.TEXT,
                         source="the text encoder's activation_moments (symbolic/components, symbolic/arch)")
def text_activations(config, role):
    """One encoder call on the prompt (the negative prompt is a second call of the same size), at the tokens the
    pipeline feeds it (padding included): the component's own moments. The embeddings are repeated for the B
    outputs after the call (``text.kept_embeddings``)."""
    if _on_cpu(config, role):
        return {}
    call = next(c for c in config.spec.text_calls if c.role == role)
    return component(config.source, role).activation_moments(PROMPTS, call.tokens_in, config.bytes_of(role),
                                                             config.dtype_of(role), config.text_attention)


@PIPELINE_TERMS.register("text.fsdp_gathered", category=Category.WEIGHTS, stage=BoundStage.OWN, per=Per.TEXT,
                         source="torch FSDP (all-gather per wrapped block, forward prefetch)")
def text_gathered(config, role):
    """Under FSDP the text encoder's current and prefetched blocks are all-gathered to full size."""
    return 0 if _on_cpu(config, role) else gathered_blocks(config, role)


@PIPELINE_TERMS.register("text.kept_embeddings", category=Category.ACTIVATIONS, stage=BoundStage.OWN, per=Per.TEXT,
                         source="encode_prompt of each pipeline")
def text_kept(config, role):
    """Embeddings already computed while this encoder's last call runs. ``encode_prompt`` encodes the positive
    prompt with every encoder, then (G = 2) the negative one: during the negative call of encoder i all positive
    embeddings and the negatives of the encoders before i are held; without guidance, the embeddings of the
    encoders before i. A guidance-distilled pipeline encodes no negative prompt."""
    if _on_cpu(config, role):
        return 0
    calls = config.spec.text_calls
    i = [c.role for c in calls].index(role)
    chunks = text_chunks(config)
    out = [prompt_embeds_bytes(config, (c.role,), c.tokens_kept * chunks) for c in calls]
    before, every = sp.Add(*out[:i]), sp.Add(*out)
    encodes = config.spec.encodes_negative_prompt and config.spec.guidance is not GuidanceMode.DISTILLED
    negatives = G - 1 if encodes else 0
    # A long prompt's earlier chunks of this call (one prompt, 77 tokens each) wait for the concatenation.
    earlier_chunks = (chunks - 1) * calls[i].tokens_kept * component(config.source, role).output_dim * config.bytes_of(role)
    return before + negatives * every + earlier_chunks


@PIPELINE_TERMS.register("denoiser.step_inputs", category=Category.ACTIVATIONS, stage=BoundStage.DENOISER,
                         source="the denoising loop of each pipeline's __call__")
def step_inputs(config):
    """Live through the whole step, outside the denoiser: the latents (float32 where ``prepare_latents`` makes them
    so), the model input (``torch.cat([latents] * 2)`` with batched guidance, a dtype cast otherwise) and the
    prompt embeddings: with batched guidance ``torch.cat([negative_prompt_embeds, prompt_embeds])`` next to the
    negative half it was built from ((2G - 1) x B x L x d); with separate passes both embeddings (G x B x L x d) and,
    during the unconditional pass, the conditional ``noise_pred``; guidance-distilled: B x L x d."""
    spec, lat = config.spec, latent_elements(config)
    latents = lat * (FP32 if spec.latents_fp32 else b)
    model_input = (G if spec.guidance is GuidanceMode.BATCHED else 1) * lat * b if spec.model_input_copy else 0
    embeds = prompt_embeds_bytes(config, spec.prompt_embeds_from, denoiser_text_tokens(config))
    if spec.guidance is GuidanceMode.BATCHED:
        return latents + model_input + (2 * G - 1) * embeds
    if spec.guidance is GuidanceMode.SEPARATE:
        return latents + model_input + G * embeds + (G - 1) * lat * b
    return latents + model_input + embeds


@PIPELINE_TERMS.register("denoiser.resident_inputs", category=Category.ACTIVATIONS, stage=BoundStage.DENOISER,
                         source="the denoiser's resident_inputs (symbolic/components, symbolic/arch)")
def denoiser_resident_inputs(config):
    """Inside the denoiser but live across its blocks: rotary tables expanded to the token grid (float32, per
    device), projected text (Wan), refined text tokens (HunyuanVideo)."""
    return denoiser(config).resident_inputs(step_shape(config))


@PIPELINE_TERMS.register("denoiser.fsdp_gathered", category=Category.WEIGHTS, stage=BoundStage.DENOISER,
                         source="torch FSDP (all-gather per wrapped block, forward prefetch)")
def denoiser_gathered(config):
    """Under FSDP the running block and the prefetched next one are all-gathered (full size, less the device's own
    shards)."""
    return gathered_blocks(config, config.spec.denoiser)


@PIPELINE_TERMS.register("denoiser.moments", category=Category.ACTIVATIONS, stage=BoundStage.DENOISER, per=Per.MOMENT,
                         source="the denoiser's moments (symbolic/components, symbolic/arch)")
def denoiser_block_moments(config):
    """The block transients at each moment of one denoiser forward that can be its peak (the component's
    ``moments``; its ``moment_notes`` say what each holds)."""
    return denoiser_moments(config)


@PIPELINE_TERMS.register("vae.encode_input", category=Category.ACTIVATIONS, stage="vae_encode",
                         source="diffusers pipeline_stable_diffusion_img2img.py / _xl_img2img.py prepare_latents")
def vae_encode_input(config):
    """img2img: the preprocessed init image on the GPU (one image, 3 x H' x W', H' and W' rounded down to the VAE's
    scale factor), in the encode's dtype."""
    if config.task != "img2img":
        return 0
    return vae(config).encode_input(encode_shape(config))


@PIPELINE_TERMS.register("vae.encode_moments", category=Category.ACTIVATIONS, stage="vae_encode", per=Per.MOMENT,
                         source="the VAE's encode_moments (symbolic/components)")
def vae_encode_moments(config):
    """The encoder's working set at each moment that can be its peak (the component's ``encode_moments``)."""
    return vae(config).encode_moments(encode_shape(config)) if config.task == "img2img" else {}


@PIPELINE_TERMS.register("vae.encode_upcast_weights", category=Category.WEIGHTS, stage="vae_encode",
                         source="diffusers pipeline_stable_diffusion_xl_img2img.py prepare_latents")
def vae_encode_upcast_weights(config):
    """SDXL img2img with a float16 VAE whose config says ``force_upcast``: ``prepare_latents`` moves the VAE to
    float32 for the encode (and back after it): 2 more bytes per VAE parameter during the encode."""
    return vae_upcast_weights(config) if config.task == "img2img" else 0


@PIPELINE_TERMS.register("vae.latents", category=Category.ACTIVATIONS, stage="vae_decode",
                         source="decode_latents / the pipelines' decode block")
def vae_latents(config):
    """The final latents handed to ``vae.decode``: the loop's latents and their cast / scaled copy in the VAE dtype
    (``latents / scaling_factor`` or ``latents / latents_std + latents_mean``)."""
    lat = latent_elements(config)
    return lat * (FP32 if config.spec.latents_fp32 else b) + lat * decode_bytes(config)


@PIPELINE_TERMS.register("vae.upcast_weights", category=Category.WEIGHTS, stage="vae_decode",
                         source="diffusers pipeline_stable_diffusion_xl.py upcast_vae (vae.to(torch.float32))")
def vae_upcast_weights(config):
    """SDXL with a float16 VAE whose config says ``force_upcast``: ``upcast_vae`` converts the VAE to float32 for the
    decode (and back after it), so the decode stage holds 2 more bytes per VAE parameter."""
    if not upcast_vae(config):
        return 0
    return weights_of(config, "vae").model_dtype * (FP32 - BYTES_PER_ELEMENT["fp16"])


@PIPELINE_TERMS.register("vae.moments", category=Category.ACTIVATIONS, stage="vae_decode", per=Per.MOMENT,
                         source="the VAE's decode_moments (symbolic/components, symbolic/arch)")
def vae_decode_moments(config):
    """The decode's working set at each moment that can be its peak (the component's ``decode_moments``; its
    ``moment_notes`` say what each holds)."""
    return decode_moments(config)


@PIPELINE_TERMS.register("safety_checker.inputs", category=Category.ACTIVATIONS, stage=SAFETY_CHECKER,
                         source="diffusers pipeline_stable_diffusion.py run_safety_checker")
def safety_checker_inputs(config):
    """``run_safety_checker`` keeps the decoded images on the GPU (B x 3 x H' x W' in the VAE's dtype) and feeds the
    vision tower the feature extractor's 224 x 224 crop: float32 ``pixel_values`` moved to the GPU and their cast
    to the checker's dtype."""
    if SAFETY_CHECKER not in loaded_roles(config):
        return 0
    lh, lw = latent_hw(config)
    s, size = vae(config).spatial_compression, component(config.source, SAFETY_CHECKER).image_size
    return (B * IMAGE_CHANNELS * s**2 * lh * lw * config.bytes_of("vae")
            + B * IMAGE_CHANNELS * size**2 * (FP32 + config.bytes_of(SAFETY_CHECKER)))


@PIPELINE_TERMS.register("safety_checker.moments", category=Category.ACTIVATIONS, stage=SAFETY_CHECKER,
                         per=Per.MOMENT, source="the safety checker's activation_moments (symbolic/components/clip_text.py)")
def safety_checker_moments(config):
    """The vision tower's peak per moment (MLP or self-attention of a layer, 257 tokens per image)."""
    if SAFETY_CHECKER not in loaded_roles(config):
        return {}
    return component(config.source, SAFETY_CHECKER).activation_moments(B, config.bytes_of(SAFETY_CHECKER),
                                                                        config.text_attention)


# --- the model -----------------------------------------------------------------------------------------------------
class _PipelineBinding(Binding):
    """How a pipeline configuration binds ``PIPELINE_TERMS``: per loaded role or text encoder, the ``own`` stage the
    role's, ``denoiser`` the spec's denoiser stage, moment notes from the component the term is about."""

    spreads = True

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config

    def roles(self, per: Per) -> tuple[str, ...]:
        return loaded_roles(self.config) if per is Per.ROLE else text_roles(self.config)

    def stage(self, stage, role):
        if stage is BoundStage.OWN:
            return stage_of(self.config, role)
        if stage is BoundStage.DENOISER:
            return self.config.spec.denoiser_stage
        return stage.value

    def moment_notes(self, spec, role):
        config = self.config
        if role is not None:
            return component(config.source, role).moment_notes
        if spec.stage == SAFETY_CHECKER:
            return component(config.source, SAFETY_CHECKER).moment_notes
        if spec.stage is BoundStage.DENOISER:
            return denoiser(config).moment_notes
        return vae(config).moment_notes


def stages_of(config: PipelineConfig) -> tuple[str, ...]:
    """The stages that run, in pipeline order: the text encoders, img2img's VAE encode, the denoiser step, the VAE
    decode."""
    encode = ("vae_encode",) if config.task == "img2img" else ()
    checker = (SAFETY_CHECKER,) if SAFETY_CHECKER in loaded_roles(config) else ()
    return text_roles(config) + encode + (config.spec.denoiser_stage, "vae_decode") + checker


@dataclass(frozen=True)
class PipelineModel(StagedModel):
    """The closed-form model of one configuration: its terms, each stage's moments and peak, the peak."""

    config: PipelineConfig

    @cached_property
    def terms(self) -> list[Term]:
        return PIPELINE_TERMS.bind(self.config, _PipelineBinding(self.config))

    @cached_property
    def stages(self) -> tuple[str, ...]:
        return stages_of(self.config)

    @staticmethod
    def _weights(terms) -> sp.Expr:
        return sp.Add(*(t.expr for t in terms if (t.category == Category.WEIGHTS and "fsdp_gathered" not in t.name)
                        or t.category == Category.ALLOCATOR))

    @cached_property
    def own_stage_weights(self) -> dict[str, sp.Expr]:
        """Weights brought in for one stage only (an offloaded component while it runs)."""
        return {stage: self._weights(self.terms_of(stage)) for stage in self.stages}

    @cached_property
    def stage_weights(self) -> dict[str, sp.Expr]:
        """Weights (and their allocator rounding) resident during each stage."""
        always = self._weights(self.terms_of(Stage.RESIDENT))
        return {stage: always + self.own_stage_weights[stage] for stage in self.stages}

    @cached_property
    def stage_activations(self) -> dict[str, sp.Expr]:
        return {stage: self.stage_peaks[stage] - self.stage_weights[stage] for stage in self.stages}

    @cached_property
    def component_weights(self) -> dict[str, sp.Expr]:
        """Parameters and buffers of every loaded component, per device (whether resident or offloaded)."""
        return {role: weights_on_device(self.config, role) for role in loaded_roles(self.config)}

    @cached_property
    def weights(self) -> sp.Expr:
        return sp.Add(*self.component_weights.values())

    @cached_property
    def weights_segment_slack(self) -> int:
        return 0 if self.config.parallel == "fsdp" else resident_replay(self.config)[1]

    @cached_property
    def peak_reserved(self) -> sp.Expr:
        # The VAE decoder's upsamplers leave the segments cached before them too small for the blocks after them
        # (symbolic/runtime/reserved.py): its transient (the decode's own terms, as fitted), not the largest stage's, sets
        # the fragmentation.
        decode = self.transients["vae_decode"] - self.own_stage_weights["vae_decode"]
        fragmentation = sp.floor(RESERVED_TRANSIENT_FRACTION * decode, evaluate=False)
        return self.peak_allocated + self.weights_segment_slack + RESERVED_CACHE_BYTES + fragmentation

    @cached_property
    def nvidia_smi(self) -> sp.Expr:
        fw = self.config.framework
        return self.peak_reserved + fw.cuda_context_bytes + fw.driver_extra_bytes

    @cached_property
    def latent_shape(self) -> tuple[sp.Expr, ...]:
        lh, lw = latent_hw(self.config)
        channels = sp.Integer(vae(self.config).latent_channels)
        if self.config.spec.video:
            return (B, channels, latent_frames(self.config), lh, lw)
        return (B, channels, lh, lw)

    @cached_property
    def tokens(self) -> sp.Expr:
        """Sequence length of the denoiser's self-attention (latent tokens + joint text tokens)."""
        return denoiser_tokens(self.config) + joint_text_tokens(self.config)

    @cached_property
    def min_gpu_memory(self) -> sp.Expr:
        """The smallest device memory with which the call completes (``symbolic.runtime.allocator.min_device_bytes``)."""
        return min_device_bytes(self.peak_allocated, self.weights_segment_slack, self.config.framework)

    def outputs(self) -> dict[str, sp.Expr]:
        out = {"peak_allocated_bytes": self.peak_allocated, "peak_reserved_bytes": self.peak_reserved,
               "min_gpu_memory_bytes": self.min_gpu_memory,
               "nvidia_smi_bytes": self.nvidia_smi, "weights_bytes": self.weights, "tokens": self.tokens}
        out.update({f"stage:{s}": e for s, e in self.stage_peaks.items()})
        out.update({f"activation:{s}": e for s, e in self.stage_activations.items()})
        out.update({f"component:{c}": e for c, e in self.component_weights.items()})
        out.update({f"latent:{i}": e for i, e in enumerate(self.latent_shape)})
        return out


@lru_cache(maxsize=None)
def model_of_config(config: PipelineConfig) -> PipelineModel:
    return PipelineModel(config)
