"""A pipeline as data: what a diffusers pipeline class does with its components, read from its ``__call__``.

One ``PipelineSpec`` per diffusers pipeline class (``model_index.json``'s ``_class_name``); the components come from
the configs (``symbolic.components``), the per-repository defaults (dtypes the model card loads with) from
``symbolic.pipelines.catalog``. Only what really differs between pipelines is here; everything else is the
components' own knowledge.
"""
from __future__ import annotations

from dataclasses import dataclass

#: How classifier-free guidance runs the denoiser.
#: ``batched``: one forward on [uncond, cond] concatenated (batch G x B; SD, CogVideoX, SD3, LTX-Video).
#: ``separate``: two forwards of batch B, one after the other (Wan, Qwen-Image's true CFG).
#: ``distilled``: guidance is an input of a guidance-distilled model; one forward of batch B (FLUX.1, HunyuanVideo).
GUIDANCE_MODES = ("batched", "separate", "distilled")
#: Latent frames from T frames: ``image`` 1; ``causal`` (T - 1) // s_t + 1 (CogVideoX, HunyuanVideo, LTX-Video);
#: ``wan`` T // s_t + 1 (WanPipeline rounds num_frames to s_t k + 1 first).
FRAME_RULES = ("image", "causal", "wan")


@dataclass(frozen=True)
class TextCall:
    """One text encoder's call in ``encode_prompt``: the component role, the tokens it is fed (padding included)
    and the embedding the pipeline keeps from it (tokens x the encoder's ``output_dim``; 0 tokens for a pooled
    vector only)."""

    role: str
    tokens_in: int
    tokens_kept: int
    #: The pipeline may be loaded without this encoder (``text_encoder_3=None``): ``encode_prompt`` then puts zeros of
    #: the embedding's shape on the device instead (SD 3's ``_get_t5_prompt_embeds``). Switch ``no_<role>``.
    optional: bool = False


@dataclass(frozen=True)
class PipelineSpec:
    class_name: str
    #: The component role that denoises (``transformer`` or ``unet``); its stage is ``<role>_step``.
    denoiser: str
    #: Text encoders in the order ``encode_prompt`` calls them; each is its own stage (``text_encoder``,
    #: ``text_encoder_2``, ...), named by its role.
    text_calls: tuple[TextCall, ...]
    guidance: str
    frame_rule: str
    #: Tokens of the prompt embedding the denoiser receives (joint attention or cross-attention) and the roles whose
    #: ``output_dim`` add up to its width (SDXL concatenates its two CLIP encoders' hidden states).
    denoiser_text_tokens: int
    prompt_embeds_from: tuple[str, ...]
    #: ``prepare_latents`` makes float32 latents (Wan, HunyuanVideo) instead of the model dtype.
    latents_fp32: bool
    #: The denoiser's input is a new tensor each step (``torch.cat`` for CFG, or a dtype cast of float32 latents);
    #: False where the latents themselves are passed (FLUX.1).
    model_input_copy: bool
    #: ``check_inputs``: height and width must be multiples of this.
    multiple: int
    default_guidance_scale: float
    #: None: the denoiser config's ``sample_size`` x the VAE's scale factor, as the SD pipelines' ``__call__``.
    default_height: int | None
    default_width: int | None
    default_frames: int | None
    #: Default dtype of every component when the catalog names none (the diffusers docs' example).
    default_dtype: str
    source: str
    #: Under guidance, ``encode_prompt`` encodes a negative prompt (False: SDXL's ``force_zeros_for_empty_prompt``
    #: makes zeros instead; a guidance-distilled pipeline has none).
    encodes_negative_prompt: bool = True
    #: The decode (and img2img's encode) runs in float32 when the VAE is float16 and its config says
    #: ``force_upcast`` (SDXL's ``upcast_vae``; its img2img ``prepare_latents``).
    vae_upcast: bool = False
    #: What the pipeline class and its image-to-image sibling (same components) do: ``txt2img`` for text-to-image
    #: and text-to-video; ``img2img`` adds the VAE encode of the init image (batch 1: one image, its latent repeated
    #: for the N outputs; sizes rounded down to the VAE's scale factor by the image processor).
    tasks: tuple[str, ...] = ("txt2img",)
    #: The denoiser is a UNet whose attention runs diffusers' processors: the classic ``AttnProcessor`` and
    #: ``enable_attention_slicing`` apply (the transformers modelled here run their own SDPA calls).
    attention_processors: bool = False
    #: Every text encoder is a CLIP of 77 positions feeding a cross-attending UNet, so a long-prompt scheme (compel,
    #: the lpw community pipelines) can encode ceil(L / 75) chunks and concatenate them; diffusers itself truncates.
    chunked_prompts: bool = False

    def __post_init__(self) -> None:
        if self.guidance not in GUIDANCE_MODES:
            raise ValueError(f"{self.class_name}: guidance {self.guidance!r} not in {GUIDANCE_MODES}")
        if self.frame_rule not in FRAME_RULES:
            raise ValueError(f"{self.class_name}: frame_rule {self.frame_rule!r} not in {FRAME_RULES}")

    @property
    def video(self) -> bool:
        return self.frame_rule != "image"

    @property
    def denoiser_stage(self) -> str:
        return f"{self.denoiser}_step"


_SPECS: dict[str, PipelineSpec] = {}


def register_spec(spec: PipelineSpec) -> PipelineSpec:
    if spec.class_name in _SPECS:
        raise ValueError(f"pipeline class {spec.class_name!r} specified twice")
    _SPECS[spec.class_name] = spec
    return spec


def spec_for(class_name: str, where: str = "model_index.json") -> PipelineSpec:
    from symbolic.pipelines import families as specs  # noqa: F401  (registers the bundled specs)

    try:
        return _SPECS[class_name]
    except KeyError:
        raise ValueError(f"{where}: pipeline class {class_name!r} has no spec here; supported: "
                         f"{', '.join(sorted(_SPECS))}") from None
